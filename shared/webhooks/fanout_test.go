package webhooks_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"tokapi.io/tok/shared/events"
	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/lists"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/testing/rpccount"
	"tokapi.io/tok/shared/testing/webhookstest"
	"tokapi.io/tok/shared/webhooks"
)

// docs returns the IDs of the documents in col.
func docs(t testing.TB, col *firestore.CollectionRef) []string {
	t.Helper()
	snaps, err := col.Documents(t.Context()).GetAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range snaps {
		out = append(out, s.Ref.ID)
	}
	return out
}

func (f *fixture) ownDeliveries(t testing.TB, webhookID string) []string {
	return docs(t, store.For(f.fs, f.t).Collection(webhooks.EndpointsCollection).Doc(webhookID).Collection(webhooks.DeliveriesCollection))
}

func (f *fixture) records(t testing.TB) []string {
	return docs(t, store.For(f.fs, f.t).Collection(webhooks.FanoutsCollection))
}

func (f *fixture) queued(t testing.TB) []string {
	return docs(t, f.fs.Collection(webhooks.RetryQueueCollection))
}

// closedURL is the URL of a server that no longer listens: a connection there is refused.
func closedURL(t testing.TB) string {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	return srv.URL
}

// TestFanoutRecordsEveryFirstAttempt: a fan-out to healthy, failing and unreachable endpoints
// POSTs to each once and records each attempt where the API finds it; the successes make one
// document (the event's fan-out record), each failure its own with a retry scheduled. The
// fan-out reads one call's worth (the record and the endpoints' version), queries the
// endpoints and commits once; a redelivered event then reads one call and writes nothing.
func TestFanoutRecordsEveryFirstAttempt(t *testing.T) {
	proxy := rpccount.New(t, os.Getenv("FIRESTORE_EMULATOR_HOST"))
	t.Setenv("FIRESTORE_EMULATOR_HOST", proxy.Addr)
	f := newFixture(t, tenant.Sandbox)
	ok := webhookstest.NewReceiver(t, nil)
	failing := webhookstest.NewReceiver(t, func(int) int { return http.StatusServiceUnavailable })
	var healthy, broken []webhooks.Endpoint
	for i := range 3 {
		ep, _ := f.endpoint(t, fmt.Sprintf("%s/%d", ok.URL, i))
		healthy = append(healthy, ep)
	}
	for i := range 2 {
		ep, _ := f.endpoint(t, fmt.Sprintf("%s/%d", failing.URL, i))
		broken = append(broken, ep)
	}
	refused, _ := f.endpoint(t, closedURL(t)+"/hook")
	broken = append(broken, refused)

	ev, err := events.New("sync.failed", map[string]any{"connectionId": "c"}, f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	proxy.Reset()
	n, err := f.svc.Fanout(t.Context(), f.t, ev)
	if err != nil || n != 6 {
		t.Fatalf("fan-out: %d deliveries, %v", n, err)
	}
	// Besides, each endpoint failing for the first time is marked so (a transaction each).
	if got := proxy.Counts(); got["BatchGetDocuments"] != 1+3 || got["RunQuery"] != 1 || got["Commit"] != 1+3 || got["BeginTransaction"] != 3 || len(got) != 4 {
		t.Errorf("fan-out calls %v, want one read, one endpoints query and one commit, and three health transactions", got)
	}
	paths := func(r *webhookstest.Receiver) []string {
		var out []string
		for _, req := range r.Requests() {
			out = append(out, req.Path)
		}
		slices.Sort(out)
		return out
	}
	if got := paths(ok); !slices.Equal(got, []string{"/0", "/1", "/2"}) {
		t.Errorf("healthy endpoints got %v", got)
	}
	if got := paths(failing); !slices.Equal(got, []string{"/0", "/1"}) {
		t.Errorf("failing endpoints got %v", got)
	}
	// Where each attempt is stored: the successes in the one record, each failure in its own
	// document with its queue entry.
	if recs := f.records(t); !slices.Equal(recs, []string{ev.ID}) {
		t.Errorf("fan-out records %v, want the event's one", recs)
	}
	var wantQueued []string
	for _, ep := range healthy {
		if own := f.ownDeliveries(t, ep.ID); len(own) != 0 {
			t.Errorf("healthy endpoint %s has delivery documents %v", ep.ID, own)
		}
	}
	for _, ep := range broken {
		id := webhooks.DeliveryID(ev.ID, ep.ID)
		if own := f.ownDeliveries(t, ep.ID); !slices.Equal(own, []string{id}) {
			t.Errorf("failing endpoint %s has delivery documents %v", ep.ID, own)
		}
		wantQueued = append(wantQueued, id)
	}
	slices.Sort(wantQueued)
	if q := f.queued(t); !slices.Equal(q, wantQueued) {
		t.Errorf("retry queue %v, want the failed deliveries %v", q, wantQueued)
	}
	// What the API reads: each endpoint's one delivery, listed and by ID, with its attempt.
	var latest time.Time
	for _, ep := range append(slices.Clone(healthy), broken...) {
		ds, err := f.svc.ListDeliveries(t.Context(), f.t, ep.ID, 10, nil)
		if err != nil || len(ds) != 1 {
			t.Fatalf("endpoint %s lists %d deliveries (%v)", ep.ID, len(ds), err)
		}
		d := f.delivery(t, ep.ID, ev.ID)
		if d.ID != ds[0].ID || d.EventID != ev.ID || d.EventType != ev.Type || len(d.Attempts) != 1 || !strings.Contains(d.Payload, ev.ID) {
			t.Errorf("endpoint %s: delivery %+v, listed %+v", ep.ID, d, ds[0])
		}
		healthyEP := slices.ContainsFunc(healthy, func(h webhooks.Endpoint) bool { return h.ID == ep.ID })
		switch a := d.Attempts[0]; {
		case healthyEP && (d.Status != webhooks.StatusSucceeded || !a.Success || a.StatusCode != http.StatusNoContent || d.NextAttemptAt != nil):
			t.Errorf("healthy endpoint %s: %s, attempt %+v", ep.ID, d.Status, a)
		case !healthyEP && (d.Status != webhooks.StatusPending || a.Success || d.NextAttemptAt == nil):
			t.Errorf("failing endpoint %s: %s, attempt %+v", ep.ID, d.Status, a)
		case !healthyEP:
			if wait := d.NextAttemptAt.Sub(a.At); wait < 4*time.Second || wait > 6*time.Second {
				t.Errorf("failing endpoint %s: first retry after %v, want 5 s ± 20 %%", ep.ID, wait)
			}
			if d.NextAttemptAt.After(latest) {
				latest = *d.NextAttemptAt
			}
		}
	}
	if d := f.delivery(t, refused.ID, ev.ID); d.Attempts[0].StatusCode != 0 || d.Attempts[0].Error == "" {
		t.Errorf("refused endpoint's attempt %+v, want an error and no status", d.Attempts[0])
	}
	// The retries are sent when due.
	f.clock.Set(latest)
	if n, err := f.svc.DispatchDue(t.Context()); n != len(broken) || err != nil {
		t.Fatalf("dispatch: %d %v, want %d", n, err, len(broken))
	}
	f.q.Drain(t, f.svc)
	if got := paths(failing); !slices.Equal(got, []string{"/0", "/0", "/1", "/1"}) {
		t.Errorf("after the retries the failing endpoints got %v", got)
	}
	for _, ep := range broken {
		if d := f.delivery(t, ep.ID, ev.ID); len(d.Attempts) != 2 || d.Status != webhooks.StatusPending {
			t.Errorf("endpoint %s after its retry: %s with %d attempts", ep.ID, d.Status, len(d.Attempts))
		}
	}
	// Pub/Sub redelivers the event: one read, nothing sent or written.
	before := len(ok.Requests()) + len(failing.Requests())
	proxy.Reset()
	if n, err := f.svc.Fanout(t.Context(), f.t, ev); n != 0 || err != nil {
		t.Fatalf("redelivered fan-out: %d %v", n, err)
	}
	if got := proxy.Counts(); got["BatchGetDocuments"] != 1 || len(got) != 1 {
		t.Errorf("redelivered fan-out calls %v, want one read", got)
	}
	if after := len(ok.Requests()) + len(failing.Requests()); after != before {
		t.Errorf("the redelivered event was sent again: %d POSTs, then %d", before, after)
	}
	// With the endpoints' health settled, a fan-out is one read and one commit, the endpoints
	// queried again only after they changed (the health marks above).
	for i, wantQueries := range []int{1, 0} {
		proxy.Reset()
		if _, err := f.svc.Fanout(t.Context(), f.t, events.Event{ID: ids.New(ids.Event), Type: "sync.failed", CreatedAt: f.clock.Now(), Data: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
		if got := proxy.Counts(); got["BatchGetDocuments"] != 1 || got["RunQuery"] != wantQueries || got["Commit"] != 1 || len(got) != 2+wantQueries {
			t.Errorf("fan-out %d after the first: calls %v, want one read, %d queries, one commit", i+1, got, wantQueries)
		}
	}
}

// TestFanoutKilledBeforeCommitIsRedelivered: a fan-out that POSTed but could not record
// (its request ended before the commit) fails, so Pub/Sub redelivers the event; the new run
// sends again (at least once) and records a delivery for every endpoint.
func TestFanoutKilledBeforeCommitIsRedelivered(t *testing.T) {
	f := newFixture(t, tenant.Sandbox)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	rcv := webhookstest.NewReceiver(t, func(n int) int {
		if n == 2 { // the last POST of the first run: its request is cut off now
			cancel()
		}
		return http.StatusNoContent
	})
	var eps []webhooks.Endpoint
	for i := range 3 {
		ep, _ := f.endpoint(t, fmt.Sprintf("%s/%d", rcv.URL, i))
		eps = append(eps, ep)
	}
	ev, err := events.New("consent.revoked", map[string]any{}, f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Fanout(ctx, f.t, ev); !errors.Is(err, context.Canceled) && status.Code(err) != codes.Canceled {
		t.Fatalf("fan-out cut off before its commit: %v, want the cancellation", err)
	}
	if len(rcv.Requests()) != 3 || len(f.records(t)) != 0 {
		t.Fatalf("first run: %d POSTs, records %v", len(rcv.Requests()), f.records(t))
	}
	if n, err := f.svc.Fanout(t.Context(), f.t, ev); n != 3 || err != nil {
		t.Fatalf("redelivered fan-out: %d %v", n, err)
	}
	if len(rcv.Requests()) != 6 {
		t.Errorf("%d POSTs, want each endpoint's twice", len(rcv.Requests()))
	}
	for _, ep := range eps {
		if d := f.delivery(t, ep.ID, ev.ID); d.Status != webhooks.StatusSucceeded || len(d.Attempts) != 1 {
			t.Errorf("endpoint %s: %s with %d attempts", ep.ID, d.Status, len(d.Attempts))
		}
	}
}

// TestDeliveriesListMergesRecords: an endpoint whose deliveries are partly delivered entries
// of fan-out records and partly documents of their own (failures, a redelivered success)
// lists each once, newest first with ties in ID order, across pages; each is found by ID.
func TestDeliveriesListMergesRecords(t *testing.T) {
	f := newFixture(t, tenant.Sandbox)
	rcv := webhookstest.NewReceiver(t, func(n int) int {
		if n%3 == 1 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	ep, _ := f.endpoint(t, rcv.URL+"/hook")
	var want []string
	for i := range 9 {
		if i%3 == 0 {
			f.clock.Add(time.Second) // three events at each instant: ties broken by ID
		}
		ev := f.event(t, "transactions.created", map[string]any{"n": i})
		want = append(want, webhooks.DeliveryID(ev.ID, ep.ID))
	}
	// Redelivering a success moves it to a document of its own; it stays one delivery.
	redelivered := f.delivery(t, ep.ID, rcvEvent(t, rcv, 0))
	if _, err := f.svc.Redeliver(t.Context(), f.t, ep.ID, redelivered.ID); err != nil {
		t.Fatal(err)
	}
	f.q.Drain(t, f.svc)
	if own := f.ownDeliveries(t, ep.ID); len(own) != 4 {
		t.Fatalf("%d delivery documents, want the 3 failures and the redelivered one", len(own))
	}
	all, err := f.svc.ListDeliveries(t.Context(), f.t, ep.ID, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.IsSortedFunc(all, func(a, b webhooks.Delivery) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	}) {
		t.Errorf("not newest first, ties by ID descending: %v", all)
	}
	var got []string
	var after *lists.CreatedID
	for pages := 0; ; pages++ {
		page, err := f.svc.ListDeliveries(t.Context(), f.t, ep.ID, 2, after)
		if err != nil {
			t.Fatal(err)
		}
		for i, d := range page {
			if d.ID != all[len(got)+i].ID {
				t.Fatalf("page %d item %d is %s, want %s", pages, i, d.ID, all[len(got)+i].ID)
			}
		}
		for _, d := range page {
			got = append(got, d.ID)
		}
		if len(page) < 2 {
			break
		}
		last := page[len(page)-1]
		after = &lists.CreatedID{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("pages hold %v, want each delivery once: %v", got, want)
	}
	for _, d := range all {
		g, err := f.svc.GetDelivery(t.Context(), f.t, ep.ID, d.ID)
		if err != nil || g.ID != d.ID || len(g.Attempts) != len(d.Attempts) {
			t.Errorf("get %s: %+v %v", d.ID, g, err)
		}
		wantAttempts := 1
		if d.ID == redelivered.ID {
			wantAttempts = 2
		}
		if len(d.Attempts) != wantAttempts {
			t.Errorf("delivery %s has %d attempts, want %d", d.ID, len(d.Attempts), wantAttempts)
		}
	}
	if last := f.delivery(t, ep.ID, redelivered.EventID).Attempts; last[1].Trigger != webhooks.TriggerManual || !last[1].Success {
		t.Errorf("redelivered attempts %+v", last)
	}
	if _, err := f.svc.GetDelivery(t.Context(), f.t, ep.ID, webhooks.DeliveryID("evt_00000000000000000000000000", ep.ID)); !errors.Is(err, webhooks.ErrNotFound) {
		t.Errorf("unknown delivery: %v", err)
	}
}

// TestDeliveredEntriesPageAcrossInstants: delivered entries that share an instant are listed in
// ID order whatever page size cuts them, each endpoint lists only its own, and an entry moved
// to a document of its own is listed once.
func TestDeliveredEntriesPageAcrossInstants(t *testing.T) {
	f := newFixture(t, tenant.Sandbox)
	rcv := webhookstest.NewReceiver(t, nil)
	a, _ := f.endpoint(t, rcv.URL+"/a")
	b, _ := f.endpoint(t, rcv.URL+"/b")
	var events []string
	for i, n := range []int{1, 7, 2, 5} { // events at each of four instants
		f.clock.Add(time.Second)
		for range n {
			events = append(events, f.event(t, "transactions.created", map[string]any{"instant": i}).ID)
		}
	}
	moved := webhooks.DeliveryID(events[3], a.ID)
	if _, err := f.svc.Redeliver(t.Context(), f.t, a.ID, moved); err != nil {
		t.Fatal(err)
	}
	f.q.Drain(t, f.svc)
	for _, ep := range []webhooks.Endpoint{a, b} {
		var want []webhooks.Delivery
		for _, ev := range events {
			d := f.delivery(t, ep.ID, ev)
			want = append(want, d)
		}
		slices.SortFunc(want, func(x, y webhooks.Delivery) int {
			if c := y.CreatedAt.Compare(x.CreatedAt); c != 0 {
				return c
			}
			return strings.Compare(y.ID, x.ID)
		})
		for size := 1; size <= 6; size++ {
			var got []string
			var after *lists.CreatedID
			for {
				page, err := f.svc.ListDeliveries(t.Context(), f.t, ep.ID, size, after)
				if err != nil {
					t.Fatal(err)
				}
				for _, d := range page {
					got = append(got, d.ID)
				}
				if len(page) < size {
					break
				}
				last := page[len(page)-1]
				after = &lists.CreatedID{CreatedAt: last.CreatedAt, ID: last.ID}
			}
			var wantIDs []string
			for _, d := range want {
				wantIDs = append(wantIDs, d.ID)
			}
			if !slices.Equal(got, wantIDs) {
				t.Errorf("endpoint %s, pages of %d: %v, want %v", ep.ID, size, got, wantIDs)
			}
		}
	}
}

// rcvEvent is the event ID of the receiver's n-th request.
func rcvEvent(t testing.TB, rcv *webhookstest.Receiver, n int) string {
	t.Helper()
	return rcv.Requests()[n].Header.Get(webhooks.HeaderID)
}

// TestFanoutSeesEndpointChangesOfOtherInstances: an instance that fanned out before keeps no
// stale view of the endpoints (nor of what it prepared from them: URLs, opened secrets):
// after another instance (the API's) disables one, adds one, moves one to another URL and
// rotates a secret, its next fan-out follows every change.
func TestFanoutSeesEndpointChangesOfOtherInstances(t *testing.T) {
	f := newFixture(t, tenant.Sandbox)
	api, _ := f.instance()
	rcv := webhookstest.NewReceiver(t, nil)
	a, oldSecret := f.endpoint(t, rcv.URL+"/a")
	b, _ := f.endpoint(t, rcv.URL+"/b")
	m, _ := f.endpoint(t, rcv.URL+"/m")
	f.event(t, "payment.completed", map[string]any{})
	if _, err := api.UpdateEndpoint(t.Context(), f.t, b.ID, webhooks.EndpointInput{Enabled: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.UpdateEndpoint(t.Context(), f.t, m.ID, webhooks.EndpointInput{URL: ptr(rcv.URL + "/m2")}); err != nil {
		t.Fatal(err)
	}
	u, evs := rcv.URL+"/c", []string{"payment.completed"}
	if _, _, err := api.CreateEndpoint(t.Context(), f.t, webhooks.EndpointInput{URL: &u, Events: &evs}); err != nil {
		t.Fatal(err)
	}
	_, newSecret, _, err := api.RotateSecret(t.Context(), f.t, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	f.event(t, "payment.completed", map[string]any{})
	reqs := rcv.Requests()
	var second []string
	for _, r := range reqs[3:] {
		second = append(second, r.Path)
		if r.Path != "/a" {
			continue
		}
		if sigs := strings.Fields(r.Header.Get(webhooks.HeaderSignature)); len(sigs) != 2 {
			t.Errorf("after the rotation /a is signed %d times, want by the old and the new secret", len(sigs))
		}
		for _, secret := range []string{newSecret, oldSecret} {
			if err := verify(t, secret, r); err != nil {
				t.Errorf("after the rotation /a's delivery does not verify with each secret: %v", err)
			}
		}
	}
	slices.Sort(second)
	if len(reqs) != 6 || !slices.Equal(second, []string{"/a", "/c", "/m2"}) {
		t.Errorf("second event went to %v, want /a, /c and /m2", second)
	}
	// A deleted endpoint gets nothing more.
	if err := api.DeleteEndpoint(t.Context(), f.t, a.ID); err != nil {
		t.Fatal(err)
	}
	f.event(t, "payment.completed", map[string]any{})
	third := rcv.Requests()[6:]
	var paths []string
	for _, r := range third {
		paths = append(paths, r.Path)
	}
	slices.Sort(paths)
	if !slices.Equal(paths, []string{"/c", "/m2"}) {
		t.Errorf("after deleting /a the third event went to %v, want /c and /m2", paths)
	}
}
