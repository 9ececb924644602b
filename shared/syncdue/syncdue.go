// Package syncdue is the sync scheduler's index of when connections are due: one small
// entry per connection and scheduled time, in one collection per ten-minute bucket
// (syncDue/{bucket}/due{bucket}/{env}.{org}.{connection}). Each bucket's collection has a
// name of its own: a query of one collection costs what the collections of that name hold
// wherever an index does not serve it (the emulator scans them all). A tick reads only the buckets that have
// come due, so its cost follows what is due and never how many connections exist; a
// collection-group query over every connection grows with the total wherever the index does
// not serve it (the emulator scans), and its index on nextSyncAt takes every write of the
// next slot.
//
// The connection's nextSyncAt stays the truth. An entry is written in the same commit as
// the nextSyncAt it names, so a connection with a nextSyncAt always has one; an entry whose
// time no longer matches its connection is stale, and the scheduler deletes it when it
// reads it. A tick reads every entry of a bucket that has passed, so every entry is deleted
// in the end and none needs a TTL.
package syncdue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/tenant"
)

const (
	// Width is one bucket's span.
	Width = 10 * time.Minute
	// entries prefixes the name of a bucket's collection of entries.
	entries   = "due"
	bucketFmt = "20060102T1504Z"
)

// Entry is one connection due at At.
type Entry struct {
	Tenant       tenant.Tenant `firestore:"tenant"`
	ConnectionID string        `firestore:"connectionId"`
	At           time.Time     `firestore:"at"`
}

// Matches reports whether the entry names the connection's current nextSyncAt (Firestore
// keeps microseconds).
func (e Entry) Matches(nextSyncAt time.Time) bool {
	return e.At.Truncate(time.Microsecond).Equal(nextSyncAt.Truncate(time.Microsecond))
}

// Bucket is the start of the bucket holding time t.
func Bucket(t time.Time) time.Time { return t.UTC().Truncate(Width) }

// Entries is the collection of the bucket starting at bucket.
func Entries(fs *firestore.Client, bucket time.Time) *firestore.CollectionRef {
	id := bucket.UTC().Format(bucketFmt)
	return fs.Collection(store.SyncDue).Doc(id).Collection(entries + id)
}

// For returns the entry of a connection due at at, written at now, and where it goes: the
// bucket of at, or of now when at has passed, so an entry never lands in a bucket the
// scheduler may already have finished.
func For(fs *firestore.Client, t tenant.Tenant, connectionID string, at, now time.Time) (*firestore.DocumentRef, Entry) {
	bucket := Bucket(at)
	if b := Bucket(now); b.After(bucket) {
		bucket = b
	}
	id := strings.Join([]string{t.Env, t.OrgID, connectionID}, ".")
	return Entries(fs, bucket).Doc(id), Entry{Tenant: t, ConnectionID: connectionID, At: at.UTC()}
}

// Decode reads an entry, checking that it names a valid tenant.
func Decode(snap *firestore.DocumentSnapshot) (Entry, error) {
	var e Entry
	if err := snap.DataTo(&e); err != nil {
		return e, fmt.Errorf("decode due entry %s: %w", snap.Ref.ID, err)
	}
	if !e.Tenant.Valid() || e.ConnectionID == "" {
		return e, fmt.Errorf("due entry %s names no connection", snap.Ref.ID)
	}
	return e, nil
}

// The scheduler's cursor: the last bucket it has finished, so a tick starts after it.
const (
	// Grace is how long after a bucket ends a tick still reads it: longer than any write's
	// deadline, so an entry committed just after its bucket ended is not passed over.
	Grace = 5 * time.Minute
	// Lookback is how far back the first tick of a deployment (no cursor yet) reads.
	Lookback = 2 * time.Hour
	cursorID = "cursor"
)

type cursor struct {
	DoneThrough time.Time `firestore:"doneThrough"`
}

func cursorRef(fs *firestore.Client) *firestore.DocumentRef {
	return fs.Collection(store.SyncDue).Doc(cursorID)
}

// Resume returns the first bucket a tick at now reads: the one after the last finished, or
// Lookback before now when none has been; never later than now's own bucket.
func Resume(ctx context.Context, fs *firestore.Client, now time.Time) (time.Time, error) {
	current := Bucket(now)
	c, err := store.Get[cursor](ctx, cursorRef(fs), "scheduler cursor", errNoCursor)
	switch {
	case errors.Is(err, errNoCursor):
		return Bucket(now.Add(-Lookback)), nil
	case err != nil:
		return time.Time{}, err
	}
	if next := Bucket(c.DoneThrough).Add(Width); next.Before(current) {
		return next, nil
	}
	return current, nil
}

var errNoCursor = errors.New("no scheduler cursor")

// Finishable reports whether a tick at now that has read every due entry of bucket may
// record it as finished: the bucket and its grace have passed.
func Finishable(bucket, now time.Time) bool {
	return !bucket.Add(Width + Grace).After(now)
}

// Finish records bucket as the last finished. Two ticks may race; the later bucket can be
// overwritten by an earlier one, which only means reading a few empty buckets again.
func Finish(ctx context.Context, fs *firestore.Client, bucket time.Time) error {
	if _, err := cursorRef(fs).Set(ctx, cursor{DoneThrough: bucket.UTC()}); err != nil {
		return fmt.Errorf("record the scheduler cursor: %w", err)
	}
	return nil
}
