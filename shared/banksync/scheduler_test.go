package banksync_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/banksync"
	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/syncdue"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/testing/testenv"
)

// connectionSet is a number of synthetic active connections spread over organisations, the
// first due of them due now and the rest later in the day, each with its due entry as the
// worker writes it.
type connectionSet struct {
	fs      *firestore.Client
	now     time.Time
	refs    []*firestore.DocumentRef
	tenants []tenant.Tenant
}

// schedule writes a connection's nextSyncAt and its due entry in bw.
func (cs *connectionSet) schedule(t testing.TB, bw *firestore.BulkWriter, i int, at time.Time, data map[string]any) []*firestore.BulkWriterJob {
	t.Helper()
	data["nextSyncAt"] = at
	j1, err := bw.Set(cs.refs[i], data, firestore.MergeAll)
	if err != nil {
		t.Fatal(err)
	}
	ref, e := syncdue.For(cs.fs, cs.tenants[i], cs.refs[i].ID, at, cs.now)
	j2, err := bw.Set(ref, e)
	if err != nil {
		t.Fatal(err)
	}
	return []*firestore.BulkWriterJob{j1, j2}
}

func waitJobs(t testing.TB, jobs []*firestore.BulkWriterJob) {
	t.Helper()
	for _, j := range jobs {
		if _, err := j.Results(); err != nil {
			t.Fatal(err)
		}
	}
}

func seedConnections(t testing.TB, total, perOrg int) *connectionSet {
	t.Helper()
	project := testenv.Project(t)
	testenv.DropFirestoreWhenDone(t, project)
	cs := &connectionSet{fs: testenv.Firestore(t, project), now: time.Now().UTC().Truncate(time.Second)}
	bw := cs.fs.BulkWriter(context.Background())
	var jobs []*firestore.BulkWriterJob
	var tn tenant.Tenant
	for i := range total {
		if i%perOrg == 0 {
			tn = tenant.Tenant{Env: tenant.Sandbox, OrgID: ids.New(ids.Organisation)}
		}
		cs.refs = append(cs.refs, store.For(cs.fs, tn).Collection("connections").Doc(ids.New(ids.Consent)))
		cs.tenants = append(cs.tenants, tn)
		jobs = append(jobs, cs.schedule(t, bw, i, cs.now.Add(time.Hour+time.Duration(i)*time.Second), map[string]any{"status": connections.StatusActive})...)
	}
	bw.End()
	waitJobs(t, jobs)
	return cs
}

// makeDue makes the first n connections due (a minute ago).
func (cs *connectionSet) makeDue(t testing.TB, n int) {
	t.Helper()
	bw := cs.fs.BulkWriter(context.Background())
	var jobs []*firestore.BulkWriterJob
	for i := range n {
		jobs = append(jobs, cs.schedule(t, bw, i, cs.now.Add(-time.Minute), map[string]any{})...)
	}
	bw.End()
	waitJobs(t, jobs)
}

// recorder collects published requests.
type recorder struct {
	mu   sync.Mutex
	reqs []banksync.Request
}

func (r *recorder) publish(_ context.Context, req banksync.Request) error {
	r.mu.Lock()
	r.reqs = append(r.reqs, req)
	r.mu.Unlock()
	return nil
}

// TestTickReadsOnlyDue: of 800 connections, the 130 due are read in pages, claimed and
// published once each, the others never read (the first tick of a deployment looks back
// over Lookback's empty buckets); a second tick finds nothing; two ticks at once publish
// each due connection once between them.
func TestTickReadsOnlyDue(t *testing.T) {
	cs := seedConnections(t, 800, 100)
	cs.makeDue(t, 130)
	rec := &recorder{}
	s := &banksync.Scheduler{FS: cs.fs, Publish: rec.publish, Now: func() time.Time { return cs.now }, Page: 50}
	st, err := s.Tick(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// The cursor, then each entry and the connection it names.
	wantQueries := int(syncdue.Lookback/syncdue.Width) + 3
	if st.Read != 1+2*130 || st.Claimed != 130 || st.Published != 130 || st.Queries != wantQueries {
		t.Errorf("tick: %+v, want 261 read, 130 claimed and published in %d queries", st, wantQueries)
	}
	var got []string
	for _, r := range rec.reqs {
		got = append(got, r.ConnectionID)
	}
	var want []string
	for _, ref := range cs.refs[:130] {
		want = append(want, ref.ID)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("published %d connections, not the 130 due", len(got))
	}
	if st, err := s.Tick(t.Context()); err != nil || st.Read != 1 || st.Published != 0 || st.Queries > 2 {
		t.Errorf("second tick: %+v %v, want the cursor read and at most two empty buckets", st, err)
	}

	cs.makeDue(t, 130)
	rec.reqs = nil
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if _, err := s.Tick(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	seen := map[string]int{}
	for _, r := range rec.reqs {
		seen[r.ConnectionID]++
	}
	if len(seen) != 130 || len(rec.reqs) != 130 {
		t.Errorf("two concurrent ticks published %d requests for %d connections, want 130 for 130", len(rec.reqs), len(seen))
	}
}

// TestTickBounded: a tick stops at MaxPerTick; the rest is published by the next.
func TestTickBounded(t *testing.T) {
	cs := seedConnections(t, 300, 300)
	cs.makeDue(t, 250)
	rec := &recorder{}
	s := &banksync.Scheduler{FS: cs.fs, Publish: rec.publish, Now: func() time.Time { return cs.now }, Page: 100, MaxPerTick: 120}
	if st, err := s.Tick(t.Context()); err != nil || st.Published != 120 || st.Read != 1+2*120 {
		t.Fatalf("bounded tick: %+v %v", st, err)
	}
	if st, err := s.Tick(t.Context()); err != nil || st.Published != 120 {
		t.Fatalf("next tick: %+v %v", st, err)
	}
	if st, err := s.Tick(t.Context()); err != nil || st.Published != 10 {
		t.Fatalf("last tick: %+v %v", st, err)
	}
}

// TestNextSlotSpreads: 20,000 connections synced in the same second get next slots spread
// evenly over the period (no minute holds more than twice the mean), each at least three
// quarters of a period and less than 1.75 periods ahead, and a connection keeps its phase.
func TestNextSlotSpreads(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	const n = 20000
	period := 8 * time.Hour // 4 a day, one kept for standing orders
	perMinute := map[int64]int{}
	for range n {
		id := ids.New(ids.Consent)
		next := banksync.NextSlot(id, now, 4, true)
		if d := next.Sub(now); d < period*3/4-time.Second || d >= period*7/4 {
			t.Fatalf("next slot %v after now", d)
		}
		if again := banksync.NextSlot(id, next, 4, true); again.Sub(next) != period {
			t.Fatalf("the following slot is %v later, want one period", again.Sub(next))
		}
		perMinute[next.Unix()/60]++
	}
	mean := float64(n) / period.Minutes()
	peak := 0
	for _, c := range perMinute {
		peak = max(peak, c)
	}
	t.Logf("%d connections over %d minutes: mean %.1f a minute, busiest minute %d", n, len(perMinute), mean, peak)
	if float64(peak) > 2*mean {
		t.Errorf("busiest minute has %d syncs, mean %.1f", peak, mean)
	}
}

// TestTickSkipsEntriesNoLongerDue: an entry whose connection was revoked, deleted or synced
// since (its nextSyncAt moved on) publishes nothing and is deleted; the due one is published.
func TestTickSkipsEntriesNoLongerDue(t *testing.T) {
	cs := seedConnections(t, 4, 4)
	cs.makeDue(t, 4)
	ctx := t.Context()
	if _, err := cs.refs[1].Update(ctx, []firestore.Update{{Path: "status", Value: connections.StatusRevoked}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.refs[2].Delete(ctx); err != nil {
		t.Fatal(err)
	}
	// Synced by the worker: the connection is due later, with an entry of its own.
	repo := connections.NewRepo(cs.fs)
	next := cs.now.Add(6 * time.Hour)
	if err := repo.Synced(ctx, store.For(cs.fs, cs.tenants[3]), cs.refs[3].ID, &cs.now, next); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	s := &banksync.Scheduler{FS: cs.fs, Publish: rec.publish, Now: func() time.Time { return cs.now }}
	st, err := s.Tick(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Published != 1 || len(rec.reqs) != 1 || rec.reqs[0].ConnectionID != cs.refs[0].ID || st.Skipped != 3 {
		t.Fatalf("tick: %+v, published %v; want only %s, 3 skipped", st, rec.reqs, cs.refs[0].ID)
	}
	left, err := syncdue.Entries(cs.fs, syncdue.Bucket(cs.now)).Documents(ctx).GetAll()
	if err != nil || len(left) != 0 {
		t.Errorf("the due bucket keeps %d entries (%v), want none", len(left), err)
	}
	// The synced connection comes due at its new time, from the entry Synced wrote (with
	// the first, whose claim has run out unsynced); the revoked and deleted ones never.
	rec.reqs = nil
	later := &banksync.Scheduler{FS: cs.fs, Publish: rec.publish, Now: func() time.Time { return next.Add(time.Minute) }}
	st, err = later.Tick(ctx)
	var got []string
	for _, r := range rec.reqs {
		got = append(got, r.ConnectionID)
	}
	slices.Sort(got)
	want := []string{cs.refs[0].ID, cs.refs[3].ID}
	slices.Sort(want)
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("tick at the synced connection's next time: %+v %v, published %v, want %v", st, err, got, want)
	}
}

// TestClaimLostComesDueAgain: a claimed connection whose request Pub/Sub refused is due
// again once its claim runs out, and only then.
func TestClaimLostComesDueAgain(t *testing.T) {
	cs := seedConnections(t, 2, 2)
	cs.makeDue(t, 1)
	ctx := t.Context()
	failing := &banksync.Scheduler{FS: cs.fs, Now: func() time.Time { return cs.now },
		Publish: func(context.Context, banksync.Request) error { return errors.New("pub/sub down") }}
	if st, err := failing.Tick(ctx); err == nil || st.Claimed != 1 || st.Published != 0 {
		t.Fatalf("failing tick: %+v %v, want one claimed, none published and the error", st, err)
	}
	rec := &recorder{}
	at := func(t time.Time) *banksync.Scheduler {
		return &banksync.Scheduler{FS: cs.fs, Publish: rec.publish, Now: func() time.Time { return t }}
	}
	if st, err := at(cs.now.Add(banksync.DefaultClaimFor / 2)).Tick(ctx); err != nil || st.Published != 0 {
		t.Fatalf("tick within the claim: %+v %v, want nothing published", st, err)
	}
	expired := cs.now.Add(banksync.DefaultClaimFor + banksync.ClaimSpread + time.Minute)
	if st, err := at(expired).Tick(ctx); err != nil || len(rec.reqs) != 1 || rec.reqs[0].ConnectionID != cs.refs[0].ID {
		t.Fatalf("tick after the claim ran out: %+v %v, published %v; want %s", st, err, rec.reqs, cs.refs[0].ID)
	}
}

// TestTickRereadsBucketsWithinGrace: a tick a minute into a bucket reads it and the one
// before, and does not finish the one before: an entry committed there late (by a writer
// whose clock was still in it) is published by the next tick.
func TestTickRereadsBucketsWithinGrace(t *testing.T) {
	cs := seedConnections(t, 2, 2)
	ctx := t.Context()
	boundary := syncdue.Bucket(cs.now).Add(syncdue.Width)
	tickAt := boundary.Add(time.Minute)
	write := func(i int, at, writerNow time.Time) {
		bw := cs.fs.BulkWriter(ctx)
		if _, err := bw.Update(cs.refs[i], []firestore.Update{{Path: "nextSyncAt", Value: at}}); err != nil {
			t.Fatal(err)
		}
		ref, e := syncdue.For(cs.fs, cs.tenants[i], cs.refs[i].ID, at, writerNow)
		j, err := bw.Set(ref, e)
		if err != nil {
			t.Fatal(err)
		}
		bw.End()
		waitJobs(t, []*firestore.BulkWriterJob{j})
	}
	write(0, tickAt.Add(-30*time.Second), tickAt.Add(-30*time.Second)) // due in the new bucket
	rec := &recorder{}
	s := &banksync.Scheduler{FS: cs.fs, Publish: rec.publish, Now: func() time.Time { return tickAt }}
	if st, err := s.Tick(ctx); err != nil || len(rec.reqs) != 1 || rec.reqs[0].ConnectionID != cs.refs[0].ID {
		t.Fatalf("tick a minute into the bucket: %+v %v, published %v", st, err, rec.reqs)
	}
	write(1, boundary.Add(-time.Second), boundary.Add(-time.Second)) // lands in the bucket before
	rec.reqs = nil
	next := &banksync.Scheduler{FS: cs.fs, Publish: rec.publish, Now: func() time.Time { return tickAt.Add(time.Minute) }}
	if st, err := next.Tick(ctx); err != nil || len(rec.reqs) != 1 || rec.reqs[0].ConnectionID != cs.refs[1].ID {
		t.Fatalf("next tick: %+v %v, published %v; want the late entry's %s", st, err, rec.reqs, cs.refs[1].ID)
	}
}
