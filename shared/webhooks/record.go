package webhooks

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/tenant"
)

// fanoutRecord is the one document a fan-out writes for its event (FanoutsCollection, keyed
// by the event ID), in the commit that records every first attempt: the payload once and, by
// endpoint, each delivery whose first attempt succeeded. That is the common case, so a
// fan-out to n healthy endpoints writes one document, not n (Firestore sustains about one
// write a second per document and bills per document written). Every other delivery of the
// event (a failed first attempt, one still running, one not made yet) has a document of its
// own under its endpoint, with the payload, as the retry path reads it; a delivered entry
// moves there when it is redelivered. So each delivery is in exactly one place.
//
// The record also marks the event as fanned out: a redelivered event message reads this one
// document and finds every delivery of the event recorded (they were all written in the same
// commit).
//
// Its size is bounded by the endpoints of a tenant (MaxEndpoints), each entry an attempt or
// a few with at most MaxResponseBody of response, plus the payload.
type fanoutRecord struct {
	EventID   string    `firestore:"eventId"`
	EventType string    `firestore:"eventType"`
	Payload   string    `firestore:"payload"`
	CreatedAt time.Time `firestore:"createdAt"`
	ExpireAt  time.Time `firestore:"expireAt"`
	// Delivered holds, by endpoint ID, the attempts of each delivery that succeeded at once,
	// encoded as one JSON value: nothing queries inside it, and a Firestore map costs the
	// database per field on every write.
	Delivered []byte `firestore:"delivered"`
	// WebhookIDs are the endpoints of the delivered entries: an array-contains query on it,
	// newest first (a composite index with createdAt), lists one endpoint's delivered entries.
	// (A map of each entry's place in its endpoint's list cost the database a field per
	// endpoint on every write, for a query a person makes now and then.)
	WebhookIDs []string `firestore:"webhookIds"`
	// DeliveryIDs are the delivered entries' IDs, so one is found from its ID alone.
	DeliveryIDs []string `firestore:"deliveryIds"`
}

// delivered is fanoutRecord.Delivered decoded.
type delivered map[string][]Attempt

// Fields of fanoutRecord that queries and updates name.
const (
	fieldDelivered   = "delivered"
	fieldWebhookIDs  = "webhookIds"
	fieldDeliveryIDs = "deliveryIds"
	fieldCreatedAt   = "createdAt"
)

// newFanoutRecord is the record of ev's fan-out at now with the deliveries in ok, each
// given with its ID and its first attempt.
func newFanoutRecord(eventID, eventType, payload string, now time.Time, ok map[string]deliveredEntry) (fanoutRecord, error) {
	rec := fanoutRecord{EventID: eventID, EventType: eventType, Payload: payload, CreatedAt: now,
		ExpireAt: now.Add(DeliveryRetention), WebhookIDs: make([]string, 0, len(ok)), DeliveryIDs: make([]string, 0, len(ok))}
	atts := make(delivered, len(ok))
	for webhookID, e := range ok {
		atts[webhookID] = []Attempt{e.att}
		rec.WebhookIDs = append(rec.WebhookIDs, webhookID)
		rec.DeliveryIDs = append(rec.DeliveryIDs, e.id)
	}
	var err error
	rec.Delivered, err = json.Marshal(atts)
	return rec, err
}

// deliveredEntry is a delivery whose first attempt succeeded, before it is recorded.
type deliveredEntry struct {
	id  string
	att Attempt
}

// attempts decodes the delivered entries.
func (r fanoutRecord) attempts() (delivered, error) {
	var atts delivered
	if err := json.Unmarshal(r.Delivered, &atts); err != nil {
		return nil, fmt.Errorf("decode delivered attempts of %s: %w", r.EventID, err)
	}
	return atts, nil
}

// delivery is webhookID's delivered entry as a Delivery; ok is false if the record holds none.
func (r fanoutRecord) delivery(atts delivered, webhookID string) (d Delivery, ok bool) {
	as, ok := atts[webhookID]
	if !ok || len(as) == 0 {
		return Delivery{}, false
	}
	return Delivery{ID: DeliveryID(r.EventID, webhookID), WebhookID: webhookID, EventID: r.EventID, EventType: r.EventType,
		Payload: r.Payload, Status: StatusSucceeded, CreatedAt: r.CreatedAt, Attempts: as, FirstAttemptAt: &as[0].At,
		ExpireAt: r.ExpireAt}, true
}

// decodeRecord reads a fan-out record and its delivered entries from its snapshot.
func decodeRecord(snap *firestore.DocumentSnapshot) (fanoutRecord, delivered, error) {
	var rec fanoutRecord
	if err := snap.DataTo(&rec); err != nil {
		return rec, nil, fmt.Errorf("decode %s: %w", snap.Ref.Path, err)
	}
	atts, err := rec.attempts()
	return rec, atts, err
}

func (s *Service) fanouts(t tenant.Tenant) *firestore.CollectionRef {
	return store.For(s.fs, t).Collection(FanoutsCollection)
}

// findDelivered returns webhookID's delivery deliveryID from the fan-out record that holds it
// as a delivered entry, and that record; or ErrNotFound.
func (s *Service) findDelivered(ctx context.Context, t tenant.Tenant, webhookID, deliveryID string) (Delivery, *firestore.DocumentRef, error) {
	docs, err := s.fanouts(t).Where(fieldDeliveryIDs, "array-contains", deliveryID).Limit(1).Documents(ctx).GetAll()
	if err != nil {
		return Delivery{}, nil, fmt.Errorf("find webhook delivery %s: %w", deliveryID, err)
	}
	if len(docs) == 0 {
		return Delivery{}, nil, ErrNotFound
	}
	rec, atts, err := decodeRecord(docs[0])
	if err != nil {
		return Delivery{}, nil, err
	}
	d, ok := rec.delivery(atts, webhookID)
	if !ok || d.ID != deliveryID {
		return Delivery{}, nil, ErrNotFound
	}
	return d, docs[0].Ref, nil
}

// listDelivered returns up to limit of webhookID's delivered entries, newest first (creation
// time, then ID, both descending), after the position (a zero afterID: from the newest).
// The records are ordered by creation time only, and within one instant their entries' IDs
// are in no order of the records', so every instant read is read whole and sorted here: the
// position's own instant, then the older ones, the last of those completed if the limit cut it.
func (s *Service) listDelivered(ctx context.Context, t tenant.Tenant, webhookID string, limit int, afterCreated time.Time, afterID string) ([]Delivery, error) {
	mine := s.fanouts(t).Where(fieldWebhookIDs, "array-contains", webhookID)
	var out []Delivery
	// read adds the entries q finds after the position; it returns how many records it read
	// and the creation time of the last.
	read := func(q firestore.Query) (int, time.Time, error) {
		docs, err := q.Documents(ctx).GetAll()
		if err != nil {
			return 0, time.Time{}, fmt.Errorf("list delivered entries of %s: %w", webhookID, err)
		}
		var last time.Time
		for _, doc := range docs {
			rec, atts, err := decodeRecord(doc)
			if err != nil {
				return 0, last, err
			}
			last = rec.CreatedAt
			if d, ok := rec.delivery(atts, webhookID); ok && (afterID == "" || before(Delivery{CreatedAt: afterCreated, ID: afterID}, d)) {
				out = append(out, d)
			}
		}
		return len(docs), last, nil
	}
	older := mine.OrderBy(fieldCreatedAt, firestore.Desc)
	if afterID != "" {
		if _, _, err := read(mine.Where(fieldCreatedAt, "==", afterCreated)); err != nil {
			return nil, err
		}
		older = older.Where(fieldCreatedAt, "<", afterCreated)
	}
	if want := limit - len(out); want > 0 {
		n, last, err := read(older.Limit(want))
		if err != nil {
			return nil, err
		}
		if n == want {
			// The limit may have cut the oldest instant read: read it whole.
			out = slices.DeleteFunc(out, func(d Delivery) bool { return d.CreatedAt.Equal(last) })
			if _, _, err := read(mine.Where(fieldCreatedAt, "==", last)); err != nil {
				return nil, err
			}
		}
	}
	slices.SortFunc(out, newestFirst)
	return out[:min(limit, len(out))], nil
}

// materialise moves webhookID's delivered entry of the record at ref into a delivery document
// of its own (before a redelivery appends to it), in one transaction.
func (s *Service) materialise(ctx context.Context, t tenant.Tenant, webhookID string, ref *firestore.DocumentRef, deliveryID string) error {
	own := s.deliveries(t, webhookID).Doc(deliveryID)
	err := s.fs.RunTransaction(ctx, func(_ context.Context, tx *firestore.Transaction) error {
		snaps, err := tx.GetAll([]*firestore.DocumentRef{own, ref})
		if err != nil {
			return err
		}
		if snaps[0].Exists() || !snaps[1].Exists() {
			return nil // moved already, or expired with its record
		}
		rec, atts, err := decodeRecord(snaps[1])
		if err != nil {
			return err
		}
		d, ok := rec.delivery(atts, webhookID)
		if !ok {
			return nil
		}
		if err := tx.Create(own, d); err != nil {
			return err
		}
		delete(atts, webhookID)
		rest, err := json.Marshal(atts)
		if err != nil {
			return err
		}
		return tx.Update(ref, []firestore.Update{
			{Path: fieldDelivered, Value: rest},
			{Path: fieldWebhookIDs, Value: firestore.ArrayRemove(webhookID)},
			{Path: fieldDeliveryIDs, Value: firestore.ArrayRemove(deliveryID)},
		})
	})
	if err != nil {
		return fmt.Errorf("move webhook delivery %s to its own record: %w", deliveryID, err)
	}
	return nil
}

// appendDelivered adds att to webhookID's delivered entry of the record at ref, in tx; the
// delivery stays succeeded.
func appendDelivered(tx *firestore.Transaction, ref *firestore.DocumentRef, atts delivered, webhookID string, att Attempt) error {
	atts[webhookID] = append(atts[webhookID], att)
	b, err := json.Marshal(atts)
	if err != nil {
		return err
	}
	return tx.Update(ref, []firestore.Update{{Path: fieldDelivered, Value: b}})
}
