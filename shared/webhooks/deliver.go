package webhooks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/tenant"
)

// UserAgent identifies Tok's deliveries.
const UserAgent = "Tok-Webhooks/1.0 (+https://tokapi.io/docs/webhooks)"

// Deliver makes the one attempt a Task asks for and records it: the result, and the next
// attempt or the dead letter. A stale Task (its delivery moved on) is dropped. An error means
// Tok could not record the outcome (Pub/Sub then redelivers the Task); a failed POST is not
// an error.
func (s *Service) Deliver(ctx context.Context, task Task) error {
	t := tenant.Tenant{Env: task.Env, OrgID: task.OrgID}
	ref := s.deliveries(t, task.WebhookID).Doc(task.DeliveryID)
	// One read for both documents.
	snaps, err := s.fs.GetAll(ctx, []*firestore.DocumentRef{ref, s.endpoints(t).Doc(task.WebhookID)})
	if err != nil {
		return fmt.Errorf("read delivery %s: %w", task.DeliveryID, err)
	}
	if !snaps[0].Exists() {
		_, err := s.queueRef(task.DeliveryID).Delete(ctx)
		return err
	}
	var d Delivery
	if err := snaps[0].DataTo(&d); err != nil {
		return err
	}
	if !task.Manual && (d.Status != StatusPending || len(d.Attempts) != task.Seq) {
		slog.DebugContext(ctx, "stale delivery task dropped", "delivery", d.ID, "seq", task.Seq, "attempts", len(d.Attempts))
		return nil
	}
	if !snaps[1].Exists() {
		return s.cancel(ctx, t, d, "The endpoint was deleted.")
	}
	var ep Endpoint
	if err := snaps[1].DataTo(&ep); err != nil {
		return err
	}
	if !ep.Enabled {
		if task.Manual {
			return nil
		}
		return s.cancel(ctx, t, d, "The endpoint is disabled.")
	}
	now := s.clock()
	tg, err := s.newTarget(ctx, t, ep, now)
	if err != nil {
		return err
	}
	// Manual redeliveries are a person's request, rare, and not held back.
	if !task.Manual && !s.load.acquire(ep.ID) {
		return s.postpone(ctx, task, now.Add(BusyDelay))
	}
	attemptCtx, cancel := context.WithTimeout(ctx, Timeout)
	att := s.post(attemptCtx, tg, d.EventID, []byte(d.Payload), now)
	cancel()
	if !task.Manual {
		s.load.release(ep.ID, time.Duration(att.LatencyMs)*time.Millisecond)
	}
	att.Trigger = TriggerAutomatic
	if task.Manual {
		att.Trigger = TriggerManual
	}
	if _, err := s.record(ctx, t, task, att); err != nil {
		return err
	}
	return s.updateHealth(ctx, t, ep, att)
}

// postpone moves a queued attempt that was not made to at, keeping its lease otherwise.
func (s *Service) postpone(ctx context.Context, task Task, at time.Time) error {
	_, err := s.queueRef(task.DeliveryID).Update(ctx, []firestore.Update{{Path: "dueAt", Value: at}})
	if isNotFound(err) {
		return nil
	}
	return err
}

// post sends tg payload, the event eventID as JSON, once, signed at now, and describes what
// happened. ctx is the attempt's, with its deadline (the client has none: it would be a
// second timer per request).
func (s *Service) post(ctx context.Context, tg *target, eventID string, payload []byte, now time.Time) Attempt {
	att := Attempt{At: now}
	if tg.url == nil {
		att.Error = tg.refused
		return att
	}
	req, notSent := tg.request(ctx, eventID, payload, now)
	if req == nil {
		att.Error = notSent
		return att
	}
	start := time.Now()
	// The transport itself, not an http.Client: redirects are never followed and the context
	// is the only deadline, so the client would only copy the headers for redirects it does
	// not make. Its errors name the request as the client's would.
	resp, err := tg.transport.RoundTrip(req)
	if err != nil {
		att.LatencyMs = time.Since(start).Milliseconds()
		att.Error = describe(&url.Error{Op: "Post", URL: tg.url.Redacted(), Err: err})
		return att
	}
	buf := responseBuffers.Get().(*[MaxResponseBody + 1]byte)
	n, _ := io.ReadFull(resp.Body, buf[:])
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	_ = resp.Body.Close()
	att.LatencyMs = time.Since(start).Milliseconds()
	att.StatusCode = resp.StatusCode
	att.Success = resp.StatusCode >= 200 && resp.StatusCode < 300
	att.ResponseBody = truncate(buf[:n])
	responseBuffers.Put(buf)
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		att.Error = "redirect not followed (Location: " + truncate([]byte(resp.Header.Get("Location"))) + ")"
	}
	return att
}

// responseBuffers hold the start of a response while it is read: most are empty or short, and
// a buffer per attempt was a fan-out's largest allocation.
var responseBuffers = sync.Pool{New: func() any { return new([MaxResponseBody + 1]byte) }}

// truncate is b, at most MaxResponseBody of it, as valid UTF-8 (a copy: b may be reused).
func truncate(b []byte) string {
	if len(b) > MaxResponseBody {
		b = b[:MaxResponseBody]
	}
	return strings.ToValidUTF8(string(b), "")
}

// describe turns a transport error into what the attempt log shows.
func describe(err error) string {
	var ue interface{ Timeout() bool }
	switch {
	case errors.Is(err, ErrBlockedAddress):
		return "refused: the endpoint resolves to an address that is not public"
	case errors.Is(err, ErrUnresolvable):
		return "refused: the endpoint's host name does not resolve"
	case errors.As(err, &ue) && ue.Timeout(), errors.Is(err, context.DeadlineExceeded):
		return "timed out after " + Timeout.String()
	}
	msg := err.Error()
	if len(msg) > 300 {
		msg = msg[:300]
	}
	return msg
}

// record appends att to the delivery and moves its schedule on, in one transaction with the
// retry queue entry.
func (s *Service) record(ctx context.Context, t tenant.Tenant, task Task, att Attempt) (Delivery, error) {
	ref := s.deliveries(t, task.WebhookID).Doc(task.DeliveryID)
	queue := s.queueRef(task.DeliveryID)
	var d Delivery
	err := s.fs.RunTransaction(ctx, func(_ context.Context, tx *firestore.Transaction) error {
		snap, err := tx.Get(ref)
		if isNotFound(err) {
			return tx.Delete(queue)
		}
		if err != nil {
			return err
		}
		d = Delivery{}
		if err := snap.DataTo(&d); err != nil {
			return err
		}
		return s.put(tx, t, ref, queue, &d, att, task.Manual)
	})
	if err != nil {
		return Delivery{}, fmt.Errorf("record attempt of %s: %w", task.DeliveryID, err)
	}
	s.logDeadLetter(ctx, t, d, att)
	return d, nil
}

// put appends att to d, stored at ref, and writes both with the queue entry the outcome
// calls for, in tx.
func (s *Service) put(tx *firestore.Transaction, t tenant.Tenant, ref, queue *firestore.DocumentRef, d *Delivery, att Attempt, manual bool) error {
	switch next, dequeue := s.apply(t, d, att, manual); {
	case next != nil:
		if err := tx.Set(queue, *next); err != nil {
			return err
		}
	case dequeue:
		if err := tx.Delete(queue); err != nil {
			return err
		}
	}
	return tx.Set(ref, *d)
}

// apply appends att to d and moves its schedule on. It returns the retry queue entry to
// write (next), or whether to delete it (dequeue); neither leaves the entry as it is.
func (s *Service) apply(t tenant.Tenant, d *Delivery, att Attempt, manual bool) (next *queueEntry, dequeue bool) {
	d.Attempts = append(d.Attempts, att)
	if d.FirstAttemptAt == nil {
		d.FirstAttemptAt = &att.At
	}
	entry := queueEntry{Task: Task{Env: t.Env, OrgID: t.OrgID, WebhookID: d.WebhookID, DeliveryID: d.ID, Seq: len(d.Attempts)}}
	switch {
	case att.Success:
		d.Status, d.NextAttemptAt = StatusSucceeded, nil
		return nil, true
	case d.Status == StatusPending && !manual:
		failures := 0
		for _, a := range d.Attempts {
			if !a.Success {
				failures++
			}
		}
		at, ok := s.schedule.Next(*d.FirstAttemptAt, failures, att.At)
		if !ok {
			d.Status, d.NextAttemptAt, d.DeadLetteredAt = StatusDeadLettered, nil, &att.At
			return nil, true
		}
		d.NextAttemptAt, entry.DueAt = &at, at
		return &entry, false
	case d.Status == StatusPending && d.NextAttemptAt != nil:
		// A failed manual attempt of a pending delivery: the schedule goes on.
		entry.DueAt = *d.NextAttemptAt
		return &entry, false
	}
	return nil, false
}

// logDeadLetter warns when att was the attempt that dead-lettered d.
func (s *Service) logDeadLetter(ctx context.Context, t tenant.Tenant, d Delivery, att Attempt) {
	if d.Status == StatusDeadLettered && !att.Success && d.DeadLetteredAt != nil && d.DeadLetteredAt.Equal(att.At) {
		slog.WarnContext(ctx, "webhook delivery dead-lettered", "delivery", d.ID, "webhook", d.WebhookID,
			"event", d.EventID, "attempts", len(d.Attempts), "org", t.OrgID, "env", t.Env)
	}
}

// cancel ends a delivery that can no longer be attempted.
func (s *Service) cancel(ctx context.Context, t tenant.Tenant, d Delivery, reason string) error {
	ref := s.deliveries(t, d.WebhookID).Doc(d.ID)
	err := s.fs.RunTransaction(ctx, func(_ context.Context, tx *firestore.Transaction) error {
		if err := tx.Update(ref, []firestore.Update{{Path: "status", Value: StatusCancelled},
			{Path: "cancelReason", Value: reason}, {Path: "nextAttemptAt", Value: nil}}); err != nil && !isNotFound(err) {
			return err
		}
		return tx.Delete(s.queueRef(d.ID))
	})
	if isNotFound(err) {
		return nil
	}
	return err
}

// updateHealth tracks an endpoint's failing streak and disables it after DisableAfter of
// nothing but failures, recording the notice on the endpoint. It writes only on a change,
// so a busy endpoint's deliveries do not contend on its document.
func (s *Service) updateHealth(ctx context.Context, t tenant.Tenant, ep Endpoint, att Attempt) error {
	unchanged := (att.Success && ep.FailingSince == nil) ||
		(!att.Success && ep.FailingSince != nil && att.At.Sub(*ep.FailingSince) < DisableAfter)
	if unchanged {
		return nil // as the endpoint was read: the common case, which allocates nothing
	}
	return s.recordHealth(ctx, t, ep.ID, att)
}

// recordHealth is updateHealth's transaction, on the endpoint as it is now.
func (s *Service) recordHealth(ctx context.Context, t tenant.Tenant, webhookID string, att Attempt) error {
	healthy := att.Success
	ref := s.endpoints(t).Doc(webhookID)
	var disabled *Endpoint
	err := s.fs.RunTransaction(ctx, func(_ context.Context, tx *firestore.Transaction) error {
		disabled = nil
		snap, err := tx.Get(ref)
		if isNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		var cur Endpoint
		if err := snap.DataTo(&cur); err != nil {
			return err
		}
		var change []firestore.Update
		switch {
		case healthy && cur.FailingSince != nil:
			change = []firestore.Update{{Path: "failingSince", Value: nil}}
		case !healthy && cur.FailingSince == nil:
			change = []firestore.Update{{Path: "failingSince", Value: att.At}}
		case !healthy && cur.Enabled && att.At.Sub(*cur.FailingSince) >= DisableAfter:
			reason := fmt.Sprintf("Disabled by Tok at %s: every delivery attempt failed since %s (%s). Fix the endpoint, then PATCH it with enabled=true.",
				att.At.Format(time.RFC3339), cur.FailingSince.Format(time.RFC3339), "3 days")
			cur.Enabled, cur.DisabledAt, cur.DisabledReason, cur.UpdatedAt = false, &att.At, reason, att.At
			disabled = &cur
			change = []firestore.Update{{Path: "enabled", Value: false}, {Path: "disabledAt", Value: att.At},
				{Path: "disabledReason", Value: reason}, {Path: "updatedAt", Value: att.At}}
		default:
			return nil
		}
		if err := tx.Update(ref, change); err != nil {
			return err
		}
		// Fan-outs decide from their cached endpoints whether health changed: they read again.
		return s.touchEndpoints(tx, t)
	})
	if err != nil {
		return fmt.Errorf("update endpoint %s health: %w", webhookID, err)
	}
	if disabled != nil {
		slog.WarnContext(ctx, "webhook endpoint disabled", "webhook", webhookID, "org", t.OrgID, "env", t.Env, "reason", disabled.DisabledReason)
	}
	return nil
}
