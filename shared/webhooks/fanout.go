package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"tokapi.io/tok/shared/events"
	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/tenant"
)

// PingData is the payload of a webhook.ping event: it goes to WebhookID only.
type PingData struct {
	WebhookID string `json:"webhookId"`
	Message   string `json:"message"`
}

// DeliveryID is the ID of event eventID's delivery to webhookID: derived (a hash, not
// time-ordered) so a redelivered event message finds the delivery it already made.
func DeliveryID(eventID, webhookID string) string {
	return ids.Derive(ids.Delivery, eventID, webhookID)
}

// Fanout makes one delivery per enabled endpoint of t subscribed to ev's type (a ping goes
// only to the endpoint it names) and makes each first attempt inline: the POSTs run at once,
// and one batched commit records every delivery with its attempt (a success is one write;
// a failure adds its retry queue entry). An attempt still running after InlineBudget, or to
// an endpoint at its bound, is committed pending with a leased queue entry instead, so the
// retry scheduler sends it if this instance dies; a running one is recorded when it ends.
// Fanout is idempotent: a delivery that exists already is left alone. An error means the
// deliveries were not recorded and the event must be redelivered.
func (s *Service) Fanout(ctx context.Context, t tenant.Tenant, ev events.Event) (int, error) {
	targets, err := s.targets(ctx, t, ev)
	if err != nil || len(targets) == 0 {
		return 0, err
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return 0, err
	}
	now := s.clock()
	jobs, err := s.newJobs(ctx, t, targets, ev, string(payload), now)
	if err != nil || len(jobs) == 0 {
		return 0, err
	}
	for _, j := range jobs {
		if s.load.acquire(j.ep.ID) {
			j.start(ctx, s, t.Env, now)
		}
	}
	waitInline(jobs, InlineBudget, s.load.markSlow)
	queued, err := s.commitFirst(ctx, t, jobs, ev, string(payload), now)
	if err != nil {
		return 0, err
	}
	var errs []error
	for _, j := range jobs {
		switch {
		case j.finished:
			errs = append(errs, s.updateHealth(ctx, t, j.ep, j.att))
		case j.started:
			go s.recordLate(ctx, t, j)
		}
	}
	errs = append(errs, s.enqueue(ctx, queued))
	return len(jobs), errors.Join(errs...)
}

// targets are the enabled endpoints of t that get ev.
func (s *Service) targets(ctx context.Context, t tenant.Tenant, ev events.Event) ([]Endpoint, error) {
	var ping PingData
	if ev.Type == EventPing {
		if err := json.Unmarshal(ev.Data, &ping); err != nil || ping.WebhookID == "" {
			return nil, nil // a ping without a target goes nowhere
		}
	}
	docs, err := s.endpoints(t).Where("enabled", "==", true).Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("list endpoints: %w", err)
	}
	var targets []Endpoint
	for _, d := range docs {
		var ep Endpoint
		if err := d.DataTo(&ep); err != nil {
			return nil, err
		}
		if (ev.Type == EventPing && ep.ID == ping.WebhookID) || (ev.Type != EventPing && ep.Subscribed(ev.Type)) {
			targets = append(targets, ep)
		}
	}
	return targets, nil
}

// firstAttempt is one delivery of a fan-out and its inline attempt.
type firstAttempt struct {
	ep      Endpoint
	d       Delivery
	secrets []string
	// started: the POST runs (the endpoint had a free slot); finished: it ended within the
	// fan-out's budget. done is closed when att holds the outcome.
	started, finished bool
	done              chan struct{}
	att               Attempt
}

func (j *firstAttempt) task(t tenant.Tenant) Task {
	return Task{Env: t.Env, OrgID: t.OrgID, WebhookID: j.ep.ID, DeliveryID: j.d.ID}
}

// newJobs reads which deliveries of ev exist already (the event may be redelivered) and
// prepares the others, their signing secrets opened before anything is sent.
func (s *Service) newJobs(ctx context.Context, t tenant.Tenant, targets []Endpoint, ev events.Event, payload string, now time.Time) ([]*firstAttempt, error) {
	refs := make([]*firestore.DocumentRef, len(targets))
	for i, ep := range targets {
		refs[i] = s.deliveries(t, ep.ID).Doc(DeliveryID(ev.ID, ep.ID))
	}
	snaps, err := s.fs.GetAll(ctx, refs)
	if err != nil {
		return nil, fmt.Errorf("read deliveries of %s: %w", ev.ID, err)
	}
	var jobs []*firstAttempt
	for i, ep := range targets {
		if snaps[i].Exists() {
			continue
		}
		secrets, err := s.activeSecrets(ctx, t, ep, now)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, &firstAttempt{ep: ep, secrets: secrets, done: make(chan struct{}), d: Delivery{
			ID: refs[i].ID, WebhookID: ep.ID, EventID: ev.ID, EventType: ev.Type,
			Payload: payload, Status: StatusPending, CreatedAt: now, Attempts: []Attempt{},
			NextAttemptAt: &now, ExpireAt: now.Add(DeliveryRetention),
		}})
	}
	return jobs, nil
}

// start sends the attempt in the background. It may outlive the fan-out's request (it is
// then recorded by recordLate), so it runs on its own deadline, the client's Timeout.
func (j *firstAttempt) start(ctx context.Context, s *Service, env string, now time.Time) {
	j.started = true
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), Timeout)
	go func() {
		defer cancel()
		defer close(j.done)
		att := s.post(ctx, env, j.ep, j.d, j.secrets, now)
		att.Trigger = TriggerAutomatic
		s.load.release(j.ep.ID, time.Duration(att.LatencyMs)*time.Millisecond)
		j.att = att
	}()
}

// waitInline waits up to budget for the started attempts and marks those that ended
// finished; each endpoint with an attempt still running is reported to slow.
func waitInline(jobs []*firstAttempt, budget time.Duration, slow func(webhookID string)) {
	timer := time.NewTimer(budget)
	defer timer.Stop()
	expired := false
	for _, j := range jobs {
		if !j.started {
			continue
		}
		if !expired {
			select {
			case <-j.done:
				j.finished = true
				continue
			case <-timer.C:
				expired = true
			}
		}
		select {
		case <-j.done:
			j.finished = true
		default:
			slow(j.ep.ID)
		}
	}
}

// commitFirst records every delivery of the fan-out in one batched commit and returns the
// Tasks to enqueue. If another run of the same event message created some of them at the
// same moment, the commit fails as a whole and each delivery is created or added to on its
// own, so no attempt goes unrecorded.
func (s *Service) commitFirst(ctx context.Context, t tenant.Tenant, jobs []*firstAttempt, ev events.Event, payload string, now time.Time) ([]Task, error) {
	// A WriteBatch is one atomic Commit: a transaction would add a BeginTransaction round
	// trip, and BulkWriter is not atomic (a delivery without its queue entry could be lost).
	batch := s.fs.Batch() //nolint:staticcheck // see above: the one-RPC atomic commit
	var queued []Task
	for _, j := range jobs {
		ref, queue := s.deliveries(t, j.ep.ID).Doc(j.d.ID), s.queueRef(j.d.ID)
		if !j.finished {
			// Leased: the retry scheduler sends it if it is neither recorded nor sent in time.
			batch.Create(ref, j.d)
			batch.Set(queue, queueEntry{Task: j.task(t), DueAt: now.Add(Lease)})
			if !j.started {
				queued = append(queued, j.task(t))
			}
			continue
		}
		d := j.d
		next, _ := s.apply(t, &d, j.att, false)
		batch.Create(ref, d)
		if next != nil {
			batch.Set(queue, *next)
		}
	}
	_, err := batch.Commit(ctx)
	if status.Code(err) != codes.AlreadyExists {
		if err != nil {
			return nil, fmt.Errorf("record deliveries of %s: %w", ev.ID, err)
		}
		return queued, nil
	}
	eps := make([]Endpoint, len(jobs))
	for i, j := range jobs {
		eps[i] = j.ep
	}
	if _, err := s.createDeliveries(ctx, t, eps, ev, payload, now); err != nil {
		return nil, err
	}
	for _, j := range jobs {
		if j.finished {
			if _, err := s.record(ctx, t, j.task(t), j.att); err != nil {
				return nil, err
			}
		}
	}
	return queued, nil
}

// recordLate records an attempt that outlived its fan-out's budget once it ends.
func (s *Service) recordLate(ctx context.Context, t tenant.Tenant, j *firstAttempt) {
	<-j.done
	// The fan-out has answered by now: the record gets its own deadline.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lateRecordTimeout)
	defer cancel()
	err := func() error {
		if _, err := s.record(ctx, t, j.task(t), j.att); err != nil {
			return err
		}
		return s.updateHealth(ctx, t, j.ep, j.att)
	}()
	if err != nil {
		// The delivery keeps its leased queue entry: the retry scheduler sends it again.
		slog.ErrorContext(ctx, "recording a late webhook attempt failed", "delivery", j.d.ID, "error", err)
	}
}

// lateRecordTimeout bounds the recording of an attempt that outlived its fan-out.
const lateRecordTimeout = 10 * time.Second

// enqueue publishes tasks concurrently. On an error the deliveries still have their leased
// queue entries, so the retry scheduler sends them.
func (s *Service) enqueue(ctx context.Context, tasks []Task) error {
	errs := make(chan error, len(tasks))
	for _, task := range tasks {
		go func() { errs <- s.queue.Enqueue(ctx, task) }()
	}
	var all []error
	for range tasks {
		all = append(all, <-errs)
	}
	return errors.Join(all...)
}

// createDeliveries creates, in one transaction, the deliveries of ev to targets that do not
// exist yet (the event may be redelivered) with their queue entries, leased so that a lost
// first Task is sent again by the retry scheduler, and returns the Tasks to enqueue.
func (s *Service) createDeliveries(ctx context.Context, t tenant.Tenant, targets []Endpoint, ev events.Event, payload string, now time.Time) ([]Task, error) {
	refs := make([]*firestore.DocumentRef, len(targets))
	for i, ep := range targets {
		refs[i] = s.deliveries(t, ep.ID).Doc(DeliveryID(ev.ID, ep.ID))
	}
	var tasks []Task
	err := s.fs.RunTransaction(ctx, func(_ context.Context, tx *firestore.Transaction) error {
		tasks = tasks[:0]
		snaps, err := tx.GetAll(refs)
		if err != nil {
			return err
		}
		for i, ep := range targets {
			if snaps[i].Exists() {
				continue
			}
			d := Delivery{
				ID: refs[i].ID, WebhookID: ep.ID, EventID: ev.ID, EventType: ev.Type,
				Payload: payload, Status: StatusPending, CreatedAt: now, Attempts: []Attempt{},
				NextAttemptAt: &now, ExpireAt: now.Add(DeliveryRetention),
			}
			task := Task{Env: t.Env, OrgID: t.OrgID, WebhookID: ep.ID, DeliveryID: d.ID}
			if err := tx.Create(refs[i], d); err != nil {
				return err
			}
			if err := tx.Set(s.queueRef(d.ID), queueEntry{Task: task, DueAt: now.Add(Lease)}); err != nil {
				return err
			}
			tasks = append(tasks, task)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("create deliveries of %s: %w", ev.ID, err)
	}
	return tasks, nil
}
