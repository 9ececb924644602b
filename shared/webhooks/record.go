package webhooks

import (
	"context"
	"encoding/json"
	"fmt"
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
	// Listed holds, by endpoint ID, each delivered entry's place in that endpoint's list of
	// deliveries (listKey): ordering on it, Firestore's automatic single-field index of that
	// key yields one endpoint's delivered entries, newest first, and nothing of the others.
	Listed map[string]string `firestore:"listed"`
	// DeliveryIDs are the delivered entries' IDs, so one is found from its ID alone.
	DeliveryIDs []string `firestore:"deliveryIds"`
}

// delivered is fanoutRecord.Delivered decoded.
type delivered map[string][]Attempt

// Fields of fanoutRecord that queries and updates name.
const (
	fieldDelivered   = "delivered"
	fieldListed      = "listed"
	fieldDeliveryIDs = "deliveryIds"
)

// newFanoutRecord is the record of ev's fan-out at now with the deliveries in ok, each
// given with its ID and its first attempt.
func newFanoutRecord(eventID, eventType, payload string, now time.Time, ok map[string]deliveredEntry) (fanoutRecord, error) {
	rec := fanoutRecord{EventID: eventID, EventType: eventType, Payload: payload, CreatedAt: now,
		ExpireAt: now.Add(DeliveryRetention), Listed: make(map[string]string, len(ok)), DeliveryIDs: make([]string, 0, len(ok))}
	atts := make(delivered, len(ok))
	for webhookID, e := range ok {
		atts[webhookID] = []Attempt{e.att}
		rec.Listed[webhookID] = listKey(now, e.id)
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

// listKey orders deliveries as the API lists them (creation time, then ID) in one string:
// the time in a fixed-width UTC layout sorts as the time does.
func listKey(createdAt time.Time, deliveryID string) string {
	return createdAt.UTC().Format("2006-01-02T15:04:05.000000000Z") + " " + deliveryID
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

// listDelivered returns up to limit of webhookID's delivered entries, newest first, after the
// position (a zero afterID: from the newest).
func (s *Service) listDelivered(ctx context.Context, t tenant.Tenant, webhookID string, limit int, afterCreated time.Time, afterID string) ([]Delivery, error) {
	q := s.fanouts(t).OrderByPath(firestore.FieldPath{fieldListed, webhookID}, firestore.Desc)
	if afterID != "" {
		q = q.StartAfter(listKey(afterCreated, afterID))
	}
	docs, err := q.Limit(limit).Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("list delivered entries of %s: %w", webhookID, err)
	}
	out := make([]Delivery, 0, len(docs))
	for _, doc := range docs {
		rec, atts, err := decodeRecord(doc)
		if err != nil {
			return nil, err
		}
		if d, ok := rec.delivery(atts, webhookID); ok {
			out = append(out, d)
		}
	}
	return out, nil
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
			{FieldPath: firestore.FieldPath{fieldListed, webhookID}, Value: firestore.Delete},
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
