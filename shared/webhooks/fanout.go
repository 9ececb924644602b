package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
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
// and one batched commit records them all: the event's fan-out record (fanoutRecord) with
// every delivery whose first attempt succeeded, and a document of its own with its retry
// queue entry for each other one. An attempt still running after InlineBudget, or to an
// endpoint at its bound, is committed pending with a leased queue entry, so the retry
// scheduler sends it if this instance dies; a running one is recorded when it ends.
// Fanout is idempotent: once the record exists, a redelivered event does nothing more. An
// error means the deliveries were not recorded and the event must be redelivered.
func (s *Service) Fanout(ctx context.Context, t tenant.Tenant, ev events.Event) (int, error) {
	record := s.fanouts(t).Doc(ev.ID)
	// One call reads the record and the version of the tenant's endpoints.
	snaps, err := s.reads.do(ctx, []*firestore.DocumentRef{record, s.endpointsVersion(t)})
	if err != nil {
		return 0, fmt.Errorf("read fan-out record of %s: %w", ev.ID, err)
	}
	if snaps[0].Exists() {
		return 0, nil // fanned out already: every delivery was recorded with the record
	}
	version, err := versionOf(snaps[1])
	if err != nil {
		return 0, err
	}
	targets, err := s.targets(ctx, t, ev, version)
	if err != nil || len(targets) == 0 {
		return 0, err
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return 0, err
	}
	now := s.clock()
	body := string(payload) // as the records keep it
	jobs := newJobs(targets, ev, body, now)
	s.start(ctx, jobs, payload, now)
	waitInline(jobs, InlineBudget, s.load.markSlow)
	queued, err := s.commitFirst(ctx, t, record, jobs, ev, body, now)
	if err != nil {
		return 0, err
	}
	var errs []error
	for _, j := range jobs {
		switch {
		case j.finished:
			errs = append(errs, s.updateHealth(ctx, t, j.tg.ep, j.att))
		case j.started:
			go s.recordLate(ctx, t, record, j)
		}
	}
	errs = append(errs, s.enqueue(ctx, queued))
	return len(jobs), errors.Join(errs...)
}

// targets are the enabled endpoints of t that get ev, as of the endpoints' version.
func (s *Service) targets(ctx context.Context, t tenant.Tenant, ev events.Event, version int64) ([]*target, error) {
	var ping PingData
	if ev.Type == EventPing {
		if err := json.Unmarshal(ev.Data, &ping); err != nil || ping.WebhookID == "" {
			return nil, nil // a ping without a target goes nowhere
		}
	}
	enabled, err := s.enabledEndpoints(ctx, t, version)
	if err != nil {
		return nil, fmt.Errorf("list endpoints: %w", err)
	}
	var targets []*target
	for _, tg := range enabled {
		if (ev.Type == EventPing && tg.ep.ID == ping.WebhookID) || (ev.Type != EventPing && tg.ep.Subscribed(ev.Type)) {
			targets = append(targets, tg)
		}
	}
	return targets, nil
}

// firstAttempt is one delivery of a fan-out and its inline attempt.
type firstAttempt struct {
	tg *target
	d  Delivery
	// started: the POST runs (the endpoint had a free slot); finished: it ended within the
	// fan-out's budget. done is closed when att holds the outcome.
	started, finished bool
	done              chan struct{}
	att               Attempt
}

func (j *firstAttempt) task(t tenant.Tenant) Task {
	return Task{Env: t.Env, OrgID: t.OrgID, WebhookID: j.tg.ep.ID, DeliveryID: j.d.ID}
}

// newJobs prepares a delivery of payload, ev as JSON, to each target.
func newJobs(targets []*target, ev events.Event, payload string, now time.Time) []*firstAttempt {
	jobs := make([]*firstAttempt, len(targets))
	for i, tg := range targets {
		jobs[i] = &firstAttempt{tg: tg, done: make(chan struct{}), d: Delivery{
			ID: DeliveryID(ev.ID, tg.ep.ID), WebhookID: tg.ep.ID, EventID: ev.ID, EventType: ev.Type,
			Payload: payload, Status: StatusPending, CreatedAt: now, Attempts: []Attempt{},
			NextAttemptAt: &now, ExpireAt: now.Add(DeliveryRetention),
		}}
	}
	return jobs
}

// start sends, in the background, the attempt of payload (the deliveries') of each job whose
// endpoint has a free slot. They may outlive the fan-out's request (they are then recorded
// by recordLate), so they run on a deadline of their own, Timeout from now, which they share.
func (s *Service) start(ctx context.Context, jobs []*firstAttempt, payload []byte, now time.Time) {
	var started []*firstAttempt
	for _, j := range jobs {
		if j.started = s.load.acquire(j.tg.ep.ID); j.started {
			started = append(started, j)
		}
	}
	if len(started) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), Timeout)
	var running atomic.Int64
	running.Store(int64(len(started)))
	ended := func() {
		if running.Add(-1) == 0 {
			cancel()
		}
	}
	for _, j := range started {
		s.workers.run(func() {
			att := s.post(ctx, j.tg, j.d.EventID, payload, now)
			att.Trigger = TriggerAutomatic
			s.load.release(j.tg.ep.ID, time.Duration(att.LatencyMs)*time.Millisecond)
			j.att = att
			close(j.done)
			ended()
		})
	}
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
			slow(j.tg.ep.ID)
		}
	}
}

// commitFirst records the fan-out in one atomic commit (one document for the deliveries
// that succeeded, one with its queue entry for each other), grouped with other fan-outs'
// (group), and returns the Tasks to enqueue.
// If another run of the same event message recorded it first, the commit fails as a whole
// and each attempt of this run is added to its delivery wherever that run put it, so no
// attempt goes unrecorded.
func (s *Service) commitFirst(ctx context.Context, t tenant.Tenant, record *firestore.DocumentRef, jobs []*firstAttempt, ev events.Event, payload string, now time.Time) ([]Task, error) {
	ok := make(map[string]deliveredEntry, len(jobs))
	var writes []write
	var queued []Task
	for _, j := range jobs {
		if j.finished && j.att.Success {
			ok[j.tg.ep.ID] = deliveredEntry{id: j.d.ID, att: j.att}
			continue
		}
		own, queue := s.deliveries(t, j.tg.ep.ID).Doc(j.d.ID), s.queueRef(j.d.ID)
		if j.finished {
			d := j.d
			next, _ := s.apply(t, &d, j.att, false)
			writes = append(writes, write{ref: own, data: d, create: true})
			if next != nil {
				writes = append(writes, write{ref: queue, data: *next})
			}
			continue
		}
		// Leased: the retry scheduler sends it if it is neither recorded nor sent in time.
		writes = append(writes, write{ref: own, data: j.d, create: true},
			write{ref: queue, data: queueEntry{Task: j.task(t), DueAt: now.Add(Lease)}})
		if !j.started {
			queued = append(queued, j.task(t))
		}
	}
	rec, err := newFanoutRecord(ev.ID, ev.Type, payload, now, ok)
	if err != nil {
		return nil, err
	}
	_, err = s.commits.do(ctx, append(writes, write{ref: record, data: rec, create: true}))
	if status.Code(err) != codes.AlreadyExists {
		if err != nil {
			return nil, fmt.Errorf("record deliveries of %s: %w", ev.ID, err)
		}
		return queued, nil
	}
	queued = queued[:0]
	for _, j := range jobs {
		if j.finished {
			if err := s.recordFirst(ctx, t, record, j); err != nil {
				return nil, err
			}
			continue
		}
		created, err := s.ensurePending(ctx, t, record, j, now)
		if err != nil {
			return nil, err
		}
		if created && !j.started {
			queued = append(queued, j.task(t))
		}
	}
	return queued, nil
}

// recordFirst records j's attempt in its delivery wherever it is: a document of its own, a
// delivered entry of the event's fan-out record, or, if no run made it yet, a new document,
// with the retry queue entry its outcome calls for, in one transaction.
func (s *Service) recordFirst(ctx context.Context, t tenant.Tenant, record *firestore.DocumentRef, j *firstAttempt) error {
	own, queue := s.deliveries(t, j.tg.ep.ID).Doc(j.d.ID), s.queueRef(j.d.ID)
	var d Delivery
	err := s.fs.RunTransaction(ctx, func(_ context.Context, tx *firestore.Transaction) error {
		snaps, err := tx.GetAll([]*firestore.DocumentRef{own, record})
		if err != nil {
			return err
		}
		d = j.d
		if snaps[0].Exists() {
			d = Delivery{}
			if err := snaps[0].DataTo(&d); err != nil {
				return err
			}
		} else if snaps[1].Exists() {
			_, atts, err := decodeRecord(snaps[1])
			if err != nil {
				return err
			}
			if _, ok := atts[j.tg.ep.ID]; ok {
				return appendDelivered(tx, record, atts, j.tg.ep.ID, j.att)
			}
		}
		return s.put(tx, t, own, queue, &d, j.att, false)
	})
	if err != nil {
		return fmt.Errorf("record attempt of %s: %w", j.d.ID, err)
	}
	s.logDeadLetter(ctx, t, d, j.att)
	return nil
}

// ensurePending creates j's delivery pending, with a leased queue entry, unless a run of the
// event made it already; created reports whether it did.
func (s *Service) ensurePending(ctx context.Context, t tenant.Tenant, record *firestore.DocumentRef, j *firstAttempt, now time.Time) (created bool, err error) {
	own := s.deliveries(t, j.tg.ep.ID).Doc(j.d.ID)
	err = s.fs.RunTransaction(ctx, func(_ context.Context, tx *firestore.Transaction) error {
		created = false
		snaps, err := tx.GetAll([]*firestore.DocumentRef{own, record})
		if err != nil {
			return err
		}
		if snaps[0].Exists() {
			return nil
		}
		if snaps[1].Exists() {
			_, atts, err := decodeRecord(snaps[1])
			if err != nil {
				return err
			}
			if _, ok := atts[j.tg.ep.ID]; ok {
				return nil
			}
		}
		created = true
		if err := tx.Create(own, j.d); err != nil {
			return err
		}
		return tx.Set(s.queueRef(j.d.ID), queueEntry{Task: j.task(t), DueAt: now.Add(Lease)})
	})
	if err != nil {
		return false, fmt.Errorf("create delivery %s: %w", j.d.ID, err)
	}
	return created, nil
}

// recordLate records an attempt that outlived its fan-out's budget once it ends.
func (s *Service) recordLate(ctx context.Context, t tenant.Tenant, record *firestore.DocumentRef, j *firstAttempt) {
	<-j.done
	// The fan-out has answered by now: the record gets its own deadline.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lateRecordTimeout)
	defer cancel()
	err := func() error {
		if err := s.recordFirst(ctx, t, record, j); err != nil {
			return err
		}
		return s.updateHealth(ctx, t, j.tg.ep, j.att)
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
