package banksync_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/banksync"
	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/testing/testenv"
)

// connectionSet is a number of synthetic active connections spread over organisations, the
// first due of them due now and the rest later in the day.
type connectionSet struct {
	fs   *firestore.Client
	now  time.Time
	refs []*firestore.DocumentRef
}

func seedConnections(t testing.TB, total, perOrg int) *connectionSet {
	t.Helper()
	cs := &connectionSet{fs: testenv.Firestore(t, testenv.Project(t)), now: time.Now().UTC().Truncate(time.Second)}
	bw := cs.fs.BulkWriter(context.Background())
	var jobs []*firestore.BulkWriterJob
	var scope store.Scope
	for i := range total {
		if i%perOrg == 0 {
			scope = store.For(cs.fs, tenant.Tenant{Env: tenant.Sandbox, OrgID: ids.New(ids.Organisation)})
		}
		ref := scope.Collection("connections").Doc(ids.New(ids.Consent))
		j, err := bw.Set(ref, map[string]any{"status": connections.StatusActive, "nextSyncAt": cs.now.Add(time.Hour + time.Duration(i)*time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, j)
		cs.refs = append(cs.refs, ref)
	}
	bw.End()
	for _, j := range jobs {
		if _, err := j.Results(); err != nil {
			t.Fatal(err)
		}
	}
	return cs
}

// makeDue makes the first n connections due (a minute ago).
func (cs *connectionSet) makeDue(t testing.TB, n int) {
	t.Helper()
	bw := cs.fs.BulkWriter(context.Background())
	var jobs []*firestore.BulkWriterJob
	for _, ref := range cs.refs[:n] {
		j, err := bw.Update(ref, []firestore.Update{{Path: "nextSyncAt", Value: cs.now.Add(-time.Minute)}})
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, j)
	}
	bw.End()
	for _, j := range jobs {
		if _, err := j.Results(); err != nil {
			t.Fatal(err)
		}
	}
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
// published once each, the others never read; a second tick finds nothing; two ticks at
// once publish each due connection once between them.
func TestTickReadsOnlyDue(t *testing.T) {
	cs := seedConnections(t, 800, 100)
	cs.makeDue(t, 130)
	rec := &recorder{}
	s := &banksync.Scheduler{FS: cs.fs, Publish: rec.publish, Now: func() time.Time { return cs.now }, Page: 50}
	st, err := s.Tick(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.Read != 130 || st.Claimed != 130 || st.Published != 130 || st.Queries != 3 {
		t.Errorf("tick: %+v, want 130 read, claimed and published in 3 queries", st)
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
	if st, err := s.Tick(t.Context()); err != nil || st.Read != 0 || st.Published != 0 {
		t.Errorf("second tick: %+v %v", st, err)
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
	if st, err := s.Tick(t.Context()); err != nil || st.Published != 120 || st.Read != 120 {
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
