package webhooks_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"tokapi.io/tok/shared/events"
	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/testing/testenv"
	"tokapi.io/tok/shared/testing/webhookstest"
	"tokapi.io/tok/shared/webhooks"
)

type fixture struct {
	fs     *firestore.Client
	svc    *webhooks.Service
	q      *webhookstest.Queue
	clock  *webhookstest.Clock
	t      tenant.Tenant
	sealer webhooks.Sealer
	opts   []webhooks.Option
}

func newFixture(t testing.TB, env string, opts ...webhooks.Option) *fixture {
	t.Helper()
	project := testenv.Project(t)
	f := &fixture{fs: testenv.Firestore(t, project), q: &webhookstest.Queue{},
		clock: webhookstest.NewClock(time.Now().UTC().Truncate(time.Second)),
		t:     tenant.Tenant{Env: env, OrgID: ids.New(ids.Organisation)}}
	opts = append([]webhooks.Option{webhooks.WithClock(f.clock.Now)}, opts...)
	if env == tenant.Sandbox {
		// As the local stack runs: sandbox endpoints may be the tests' receivers on loopback.
		opts = append([]webhooks.Option{webhooks.WithPolicy(webhooks.Policy{Loopback: true})}, opts...)
	}
	f.sealer, f.opts = webhookstest.Sealer(t, project), opts
	f.svc = webhooks.New(f.fs, f.sealer, f.q, opts...)
	return f
}

// instance is another instance of the service on the same database and key (as the API and
// the fan-out function are), with its own queue.
func (f *fixture) instance() (*webhooks.Service, *webhookstest.Queue) {
	q := &webhookstest.Queue{}
	return webhooks.New(f.fs, f.sealer, q, f.opts...), q
}

func ptr[T any](v T) *T { return &v }

func (f *fixture) endpoint(t testing.TB, url string, evs ...string) (webhooks.Endpoint, string) {
	t.Helper()
	if len(evs) == 0 {
		evs = []string{"*"}
	}
	ep, secret, err := f.svc.CreateEndpoint(context.Background(), f.t, webhooks.EndpointInput{URL: &url, Events: &evs})
	if err != nil {
		t.Fatalf("create endpoint %s: %v", url, err)
	}
	return ep, secret
}

func (f *fixture) event(t testing.TB, typ string, data any) events.Event {
	t.Helper()
	ev, err := events.New(typ, data, f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Fanout(context.Background(), f.t, ev); err != nil {
		t.Fatalf("fan out: %v", err)
	}
	return ev
}

func (f *fixture) delivery(t testing.TB, webhookID, eventID string) webhooks.Delivery {
	t.Helper()
	d, err := f.svc.GetDelivery(context.Background(), f.t, webhookID, webhooks.DeliveryID(eventID, webhookID))
	if err != nil {
		t.Fatalf("get delivery: %v", err)
	}
	return d
}

func verify(t testing.TB, secret string, r webhookstest.Request) error {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	return wh.Verify(r.Body, r.Header)
}

// TestDeliveryVerifiedByStandardWebhooksLibrary: a sandbox endpoint on 127.0.0.1 gets the
// event body, signed so that the published Standard Webhooks library verifies it.
func TestDeliveryVerifiedByStandardWebhooksLibrary(t *testing.T) {
	f := newFixture(t, tenant.Sandbox)
	rcv := webhookstest.NewReceiver(t, nil)
	ep, secret := f.endpoint(t, rcv.URL+"/hooks/tok", "consent.authorized")
	f.clock.Set(time.Now().UTC()) // the library checks the timestamp against the real clock
	ev := f.event(t, "consent.authorized", map[string]string{"consentId": ids.New(ids.Consent), "bankId": "sandbox-hr", "status": "valid"})
	// The fan-out made the first attempt itself: nothing was queued.
	if n := f.q.Drain(t, f.svc); n != 0 {
		t.Fatalf("%d tasks ran, want 0", n)
	}
	reqs := rcv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("receiver got %d requests", len(reqs))
	}
	r := reqs[0]
	if err := verify(t, secret, r); err != nil {
		t.Fatalf("Standard Webhooks library rejects the delivery: %v\nheaders %v", err, r.Header)
	}
	if r.Header.Get("webhook-id") != ev.ID || r.Header.Get("Content-Type") != "application/json" || r.Path != "/hooks/tok" {
		t.Errorf("headers %v path %s", r.Header, r.Path)
	}
	var body struct {
		ID, Type, CreatedAt string
		Data                map[string]any
	}
	if err := json.Unmarshal(r.Body, &body); err != nil || body.ID != ev.ID || body.Type != ev.Type || body.Data["bankId"] != "sandbox-hr" {
		t.Errorf("body %s (%v)", r.Body, err)
	}
	d := f.delivery(t, ep.ID, ev.ID)
	if d.Status != webhooks.StatusSucceeded || len(d.Attempts) != 1 || d.Attempts[0].StatusCode != 204 || d.NextAttemptAt != nil {
		t.Errorf("delivery %+v", d)
	}
}

// TestFanoutRouting: only enabled, subscribed endpoints get an event; a ping goes to the one
// it names; fanning the same event out twice makes no second delivery.
func TestFanoutRouting(t *testing.T) {
	f := newFixture(t, tenant.Sandbox)
	rcv := webhookstest.NewReceiver(t, nil)
	all, _ := f.endpoint(t, rcv.URL+"/all")
	consents, _ := f.endpoint(t, rcv.URL+"/consents", "consent.authorized", "consent.revoked")
	off, _ := f.endpoint(t, rcv.URL+"/off")
	if _, err := f.svc.UpdateEndpoint(t.Context(), f.t, off.ID, webhooks.EndpointInput{Enabled: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	ev := f.event(t, "transactions.created", map[string]any{"accountId": "acc_x", "transactionIds": []string{}})
	if _, err := f.svc.Fanout(t.Context(), f.t, ev); err != nil { // Pub/Sub redelivered the event
		t.Fatal(err)
	}
	f.event(t, "consent.revoked", map[string]any{})
	f.event(t, webhooks.EventPing, webhooks.PingData{WebhookID: consents.ID, Message: "hi"})
	f.q.Drain(t, f.svc)
	paths := map[string]int{}
	for _, r := range rcv.Requests() {
		paths[r.Path]++
	}
	want := map[string]int{"/all": 2, "/consents": 2}
	if fmt.Sprint(paths) != fmt.Sprint(want) {
		t.Errorf("received %v, want %v", paths, want)
	}
	ds, err := f.svc.ListDeliveries(t.Context(), f.t, all.ID, 10, nil)
	if err != nil || len(ds) != 2 {
		t.Errorf("deliveries of the * endpoint: %d %v", len(ds), err)
	}
	// Another tenant sees nothing.
	other := tenant.Tenant{Env: tenant.Live, OrgID: f.t.OrgID}
	if _, err := f.svc.GetEndpoint(t.Context(), other, all.ID); !errors.Is(err, webhooks.ErrNotFound) {
		t.Errorf("live tenant reads a sandbox endpoint: %v", err)
	}
}

type flipResolver struct {
	mu    sync.Mutex
	addrs map[string][]netip.Addr
}

func (r *flipResolver) set(host, addr string) {
	r.mu.Lock()
	r.addrs[host] = []netip.Addr{netip.MustParseAddr(addr)}
	r.mu.Unlock()
}

func (r *flipResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if a, ok := r.addrs[host]; ok {
		return a, nil
	}
	return nil, errors.New("no such host")
}

// TestPrivateAddressRefusedForLive: a live endpoint cannot be registered on a private
// address, and one whose name is rebound to a private address after registration is not
// connected to at delivery.
func TestPrivateAddressRefusedForLive(t *testing.T) {
	res := &flipResolver{addrs: map[string][]netip.Addr{}}
	res.set("hooks.example.com", "93.184.216.34")
	res.set("intranet.example.com", "10.20.30.40")
	f := newFixture(t, tenant.Live, webhooks.WithResolver(res))
	for _, u := range []string{"https://10.0.0.1/hook", "https://127.0.0.1/hook", "https://localhost/hook", "https://169.254.169.254/",
		"https://intranet.example.com/hook", "https://[fd00::1]/", "https://100.100.100.100/", "http://hooks.example.com/hook"} {
		evs := []string{"*"}
		_, _, err := f.svc.CreateEndpoint(t.Context(), f.t, webhooks.EndpointInput{URL: &u, Events: &evs})
		var ve *webhooks.ValidationError
		if !errors.As(err, &ve) || ve.Field != "url" {
			t.Errorf("live %s: %v, want a url validation error", u, err)
		}
	}
	// A TLS receiver on 127.0.0.1; the endpoint's name first resolves publicly, then is
	// rebound to 127.0.0.1 (where the receiver is).
	rcv := webhookstest.NewReceiver(t, nil)
	port := rcv.URL[strings.LastIndex(rcv.URL, ":")+1:]
	ep, _ := f.endpoint(t, "https://hooks.example.com:"+port+"/hook")
	res.set("hooks.example.com", "127.0.0.1")
	ev := f.event(t, "consent.authorized", map[string]any{})
	f.q.Drain(t, f.svc)
	if n := len(rcv.Requests()); n != 0 {
		t.Fatalf("the rebound endpoint was reached %d times", n)
	}
	d := f.delivery(t, ep.ID, ev.ID)
	if len(d.Attempts) != 1 || d.Attempts[0].Success || !strings.Contains(d.Attempts[0].Error, "not public") || d.Status != webhooks.StatusPending {
		t.Errorf("delivery %+v", d)
	}
	// PATCHing the URL to a private address is refused too.
	if _, err := f.svc.UpdateEndpoint(t.Context(), f.t, ep.ID, webhooks.EndpointInput{URL: ptr("https://192.168.1.10/")}); err == nil {
		t.Error("PATCH to a private address accepted")
	}
}

// TestRotationSignsWithBoth: after a rotation each delivery carries two signatures, one per
// secret, for 24 hours; then only the new secret signs.
func TestRotationSignsWithBoth(t *testing.T) {
	f := newFixture(t, tenant.Sandbox)
	rcv := webhookstest.NewReceiver(t, nil)
	ep, oldSecret := f.endpoint(t, rcv.URL)
	_, newSecret, until, err := f.svc.RotateSecret(t.Context(), f.t, ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	if newSecret == oldSecret || until.Sub(f.clock.Now()) != webhooks.SecretOverlap {
		t.Fatalf("rotation: %v until %v", newSecret == oldSecret, until)
	}
	f.event(t, "sync.failed", map[string]any{})
	f.q.Drain(t, f.svc)
	f.clock.Add(webhooks.SecretOverlap + time.Second)
	f.event(t, "sync.failed", map[string]any{})
	f.q.Drain(t, f.svc)
	reqs := rcv.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	check := func(r webhookstest.Request, secret string) error {
		wh, _ := standardwebhooks.NewWebhook(secret)
		return wh.VerifyIgnoringTimestamp(r.Body, r.Header)
	}
	if sigs := strings.Fields(reqs[0].Header.Get("webhook-signature")); len(sigs) != 2 {
		t.Errorf("during the overlap: %d signatures", len(sigs))
	}
	if check(reqs[0], oldSecret) != nil || check(reqs[0], newSecret) != nil {
		t.Error("during the overlap, a secret does not verify")
	}
	if sigs := strings.Fields(reqs[1].Header.Get("webhook-signature")); len(sigs) != 1 {
		t.Errorf("after the overlap: %d signatures", len(sigs))
	}
	if check(reqs[1], newSecret) != nil || check(reqs[1], oldSecret) == nil {
		t.Error("after the overlap, the new secret must verify and the old must not")
	}
	// The stored secrets are sealed, never plain.
	snap, err := store.For(f.fs, f.t).Collection(webhooks.EndpointsCollection).Doc(ep.ID).Get(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	raw := fmt.Sprint(snap.Data())
	if strings.Contains(raw, strings.TrimPrefix(oldSecret, "whsec_")) || strings.Contains(raw, strings.TrimPrefix(newSecret, "whsec_")) {
		t.Error("a signing secret is stored in plain text")
	}
}

// TestDeadLetterAndDisable drives the whole schedule with the injected clock: a receiver
// that always fails gets retried for at least 24 hours (first two retries within a minute),
// then the delivery is dead-lettered; after 3 days of nothing but failures the endpoint is
// disabled with a notice, and its pending deliveries are cancelled.
func TestDeadLetterAndDisable(t *testing.T) {
	f := newFixture(t, tenant.Sandbox)
	rcv := webhookstest.NewReceiver(t, func(int) int { return http.StatusServiceUnavailable })
	ep, _ := f.endpoint(t, rcv.URL)
	start := f.clock.Now()
	ev := f.event(t, "transactions.created", map[string]any{})
	f.q.Drain(t, f.svc)
	for i := 0; i < 50; i++ {
		d := f.delivery(t, ep.ID, ev.ID)
		if d.Status != webhooks.StatusPending {
			break
		}
		// Nothing is due before nextAttemptAt.
		if n, err := f.svc.DispatchDue(t.Context()); err != nil || n != 0 {
			t.Fatalf("dispatch before due: %d %v", n, err)
		}
		f.clock.Set(*d.NextAttemptAt)
		if n, err := f.svc.DispatchDue(t.Context()); err != nil || n != 1 {
			t.Fatalf("dispatch when due: %d %v", n, err)
		}
		f.q.Drain(t, f.svc)
	}
	d := f.delivery(t, ep.ID, ev.ID)
	if d.Status != webhooks.StatusDeadLettered || d.DeadLetteredAt == nil {
		t.Fatalf("delivery not dead-lettered: %s after %d attempts", d.Status, len(d.Attempts))
	}
	at := d.Attempts
	if len(rcv.Requests()) != len(at) {
		t.Errorf("receiver saw %d requests, log has %d attempts", len(rcv.Requests()), len(at))
	}
	if at[2].At.Sub(at[0].At) > time.Minute {
		t.Errorf("first two retries at +%v and +%v, want within a minute", at[1].At.Sub(at[0].At), at[2].At.Sub(at[0].At))
	}
	if span := at[len(at)-1].At.Sub(at[0].At); span < webhooks.RetryWindow {
		t.Errorf("retried for only %v", span)
	}
	// Gaps grow (up to the 8 h cap, where ±20 % jitter may make one a little shorter).
	for i := 3; i < len(at); i++ {
		if 3*at[i].At.Sub(at[i-1].At) < 2*at[i-2].At.Sub(at[i-3].At) {
			t.Errorf("gap %d shorter than gap %d", i, i-2)
		}
	}
	for _, r := range rcv.Requests() {
		if r.Header.Get("webhook-id") != ev.ID {
			t.Errorf("webhook-id %s, want %s on every retry", r.Header.Get("webhook-id"), ev.ID)
		}
	}
	t.Logf("%d attempts over %v; gaps:", len(at), at[len(at)-1].At.Sub(start))
	for i := 1; i < len(at); i++ {
		t.Logf("  retry %2d at +%v", i, at[i].At.Sub(at[0].At).Round(time.Second))
	}
	cur, _ := f.svc.GetEndpoint(t.Context(), f.t, ep.ID)
	if !cur.Enabled || cur.FailingSince == nil || !cur.FailingSince.Equal(at[0].At) {
		t.Fatalf("after one dead letter: enabled %v failingSince %v", cur.Enabled, cur.FailingSince)
	}
	// Another failing event while < 3 days: still enabled.
	ev2 := f.event(t, "transactions.created", map[string]any{})
	f.q.Drain(t, f.svc)
	if cur, _ = f.svc.GetEndpoint(t.Context(), f.t, ep.ID); !cur.Enabled {
		t.Fatal("disabled before 3 days")
	}
	// Three days after the first failure, one more failure disables it.
	f.clock.Set(at[0].At.Add(webhooks.DisableAfter))
	f.event(t, "transactions.created", map[string]any{})
	f.q.Drain(t, f.svc)
	cur, _ = f.svc.GetEndpoint(t.Context(), f.t, ep.ID)
	if cur.Enabled || cur.DisabledAt == nil || !strings.Contains(cur.DisabledReason, "failed") {
		t.Fatalf("after 3 days of failures: enabled %v, notice %q", cur.Enabled, cur.DisabledReason)
	}
	// ev2's pending delivery is cancelled when it comes due.
	f.clock.Add(time.Hour)
	if _, err := f.svc.DispatchDue(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.q.Drain(t, f.svc)
	if d2 := f.delivery(t, ep.ID, ev2.ID); d2.Status != webhooks.StatusCancelled {
		t.Errorf("pending delivery of a disabled endpoint: %s", d2.Status)
	}
	// Redelivery of the dead letter is refused while disabled, works once re-enabled.
	if _, err := f.svc.Redeliver(t.Context(), f.t, ep.ID, d.ID); err == nil {
		t.Error("redelivery to a disabled endpoint accepted")
	}
	if cur, err := f.svc.UpdateEndpoint(t.Context(), f.t, ep.ID, webhooks.EndpointInput{Enabled: ptr(true)}); err != nil || cur.DisabledReason != "" || cur.FailingSince != nil {
		t.Fatalf("re-enable: %+v %v", cur, err)
	}
	rcv.Status = nil
	if _, err := f.svc.Redeliver(t.Context(), f.t, ep.ID, d.ID); err != nil {
		t.Fatal(err)
	}
	f.q.Drain(t, f.svc)
	d = f.delivery(t, ep.ID, ev.ID)
	if last := d.Attempts[len(d.Attempts)-1]; d.Status != webhooks.StatusSucceeded || last.Trigger != webhooks.TriggerManual || !last.Success {
		t.Errorf("after redelivery: %s %+v", d.Status, last)
	}
}

// TestDispatchLeases: two schedulers polling at once publish each due delivery once, and a
// stale or duplicate Task makes no second attempt.
func TestDispatchLeases(t *testing.T) {
	f := newFixture(t, tenant.Sandbox)
	rcv := webhookstest.NewReceiver(t, func(n int) int {
		if n < 5 {
			return 500
		}
		return 200
	})
	ep, _ := f.endpoint(t, rcv.URL)
	var evs []events.Event
	for range 5 {
		evs = append(evs, f.event(t, "consent.expired", map[string]any{}))
	}
	// A duplicate of the already-made first attempt's Task is dropped.
	stale := webhooks.Task{Env: f.t.Env, OrgID: f.t.OrgID, WebhookID: ep.ID, DeliveryID: webhooks.DeliveryID(evs[0].ID, ep.ID)}
	if err := f.svc.Deliver(t.Context(), stale); err != nil {
		t.Fatal(err)
	}
	if n := len(rcv.Requests()); n != 5 {
		t.Fatalf("%d requests after 5 first attempts and a duplicate", n)
	}
	f.clock.Add(time.Minute)
	var wg sync.WaitGroup
	counts := make([]int, 4)
	for i := range counts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := f.svc.DispatchDue(context.Background())
			if err != nil {
				t.Error(err)
			}
			counts[i] = n
		}()
	}
	wg.Wait()
	total := 0
	for _, n := range counts {
		total += n
	}
	if total != 5 {
		t.Errorf("concurrent schedulers published %v (total %d), want 5 in all", counts, total)
	}
	f.q.Drain(t, f.svc)
	for _, ev := range evs {
		if d := f.delivery(t, ep.ID, ev.ID); d.Status != webhooks.StatusSucceeded || len(d.Attempts) != 2 {
			t.Errorf("delivery %s: %s with %d attempts", d.ID, d.Status, len(d.Attempts))
		}
	}
	// Nothing left in the queue.
	f.clock.Add(24 * time.Hour)
	if n, err := f.svc.DispatchDue(t.Context()); n != 0 || err != nil {
		t.Errorf("queue not empty: %d %v", n, err)
	}
}

// TestEndpointLimitAndValidation: at most 10 endpoints per tenant; events are validated.
func TestEndpointLimitAndValidation(t *testing.T) {
	f := newFixture(t, tenant.Sandbox)
	for i := range webhooks.MaxEndpoints {
		f.endpoint(t, fmt.Sprintf("http://127.0.0.1:9/%d", i))
	}
	u, evs := "http://127.0.0.1:9/x", []string{"*"}
	var ce *webhooks.ConflictError
	if _, _, err := f.svc.CreateEndpoint(t.Context(), f.t, webhooks.EndpointInput{URL: &u, Events: &evs}); !errors.As(err, &ce) {
		t.Errorf("11th endpoint: %v", err)
	}
	other := tenant.Tenant{Env: tenant.Live, OrgID: f.t.OrgID}
	u2 := "https://93.184.216.34/hook"
	if _, _, err := f.svc.CreateEndpoint(t.Context(), other, webhooks.EndpointInput{URL: &u2, Events: &evs}); err != nil {
		t.Errorf("the live environment has its own limit: %v", err)
	}
	for _, bad := range [][]string{{}, {"*", "consent.authorized"}, {"consent.authorised"}, {"sync.failed", "sync.failed"}} {
		if _, err := f.svc.UpdateEndpoint(t.Context(), f.t, "whk_0000000000000000000000000Z", webhooks.EndpointInput{Events: &bad}); err == nil {
			t.Errorf("events %v accepted", bad)
		}
	}
}

// TestSlowEndpointDoesNotHoldFanout: an endpoint that does not answer holds the fan-out for
// InlineBudget at most, its delivery handed over pending and leased while the other endpoint's
// is recorded; while it still hangs, the next event does not attempt it inline but queues
// it; when it answers, the late attempt is recorded, and the queued one is delivered.
func TestSlowEndpointDoesNotHoldFanout(t *testing.T) {
	f := newFixture(t, tenant.Sandbox)
	fast := webhookstest.NewReceiver(t, nil)
	gate := make(chan struct{})
	var mu sync.Mutex
	slowHits := 0
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		slowHits++
		mu.Unlock()
		<-gate
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() {
		select {
		case <-gate:
		default:
			close(gate)
		}
	})
	a, _ := f.endpoint(t, fast.URL+"/a")
	s, _ := f.endpoint(t, slow.URL+"/s")
	ev1 := f.event(t, "consent.authorized", map[string]any{})
	if d := f.delivery(t, a.ID, ev1.ID); d.Status != webhooks.StatusSucceeded || len(d.Attempts) != 1 {
		t.Fatalf("fast endpoint's delivery: %s with %d attempts", d.Status, len(d.Attempts))
	}
	if d := f.delivery(t, s.ID, ev1.ID); d.Status != webhooks.StatusPending || len(d.Attempts) != 0 {
		t.Fatalf("slow endpoint's delivery while it hangs: %s with %d attempts", d.Status, len(d.Attempts))
	}
	if n := f.q.All; n != 0 {
		t.Fatalf("%d Tasks queued for an attempt that is running", n)
	}
	ev2 := f.event(t, "consent.authorized", map[string]any{})
	if d := f.delivery(t, a.ID, ev2.ID); d.Status != webhooks.StatusSucceeded {
		t.Fatalf("fast endpoint's second delivery: %s", d.Status)
	}
	mu.Lock()
	hits := slowHits
	mu.Unlock()
	if hits != 1 || f.q.All != 1 {
		t.Fatalf("while the slow endpoint hangs: %d requests to it, %d Tasks queued; want 1 and 1", hits, f.q.All)
	}
	close(gate)
	deadline := time.Now().Add(15 * time.Second)
	for d := f.delivery(t, s.ID, ev1.ID); d.Status != webhooks.StatusSucceeded; d = f.delivery(t, s.ID, ev1.ID) {
		if time.Now().After(deadline) {
			t.Fatalf("the late attempt was never recorded: %s with %d attempts", d.Status, len(d.Attempts))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := f.q.Drain(t, f.svc); n != 1 {
		t.Fatalf("%d queued Tasks ran", n)
	}
	if d := f.delivery(t, s.ID, ev2.ID); d.Status != webhooks.StatusSucceeded || len(d.Attempts) != 1 {
		t.Errorf("queued delivery: %s with %d attempts", d.Status, len(d.Attempts))
	}
}

// barrier returns a receiver status function that holds each request until n requests
// arrived (at most 5 s), then answers code.
func barrier(n, code int) func(int) int {
	all := make(chan struct{})
	var once sync.Once
	return func(i int) int {
		if i == n-1 {
			once.Do(func() { close(all) })
		}
		select {
		case <-all:
		case <-time.After(5 * time.Second):
		}
		return code
	}
}

// TestConcurrentFanoutRecordsEveryAttempt: one event message fanned out twice at the same
// moment (Pub/Sub may deliver it twice; each run POSTs before either records) makes one
// delivery per endpoint, and every POST an endpoint received is an attempt in its delivery's
// log, wherever the run that recorded the fan-out first put it: in the event's record (a
// success), in its own document (a failure, whose retry stays scheduled once), or pending
// (an attempt that outlived the inline budget, recorded when it ends).
func TestConcurrentFanoutRecordsEveryAttempt(t *testing.T) {
	f := newFixture(t, tenant.Sandbox)
	const fast = 5
	rcv := webhookstest.NewReceiver(t, barrier(2*fast, http.StatusNoContent))
	failing := webhookstest.NewReceiver(t, barrier(2, http.StatusBadGateway))
	slow := webhookstest.NewReceiver(t, func(int) int {
		time.Sleep(webhooks.InlineBudget + 500*time.Millisecond)
		return http.StatusNoContent
	})
	var eps []webhooks.Endpoint
	for i := range fast {
		ep, _ := f.endpoint(t, fmt.Sprintf("%s/%d", rcv.URL, i))
		eps = append(eps, ep)
	}
	bad, _ := f.endpoint(t, failing.URL+"/bad")
	late, _ := f.endpoint(t, slow.URL+"/late")
	eps = append(eps, bad, late)
	ev, err := events.New("sync.failed", map[string]any{}, f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				if _, err := f.svc.Fanout(t.Context(), f.t, ev); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	if n := len(rcv.Requests()); n != 2*fast {
		t.Fatalf("%d POSTs to the healthy endpoints, want both runs' %d", n, 2*fast)
	}
	// The late attempts are recorded when they end.
	deadline := time.Now().Add(10 * time.Second)
	for d := f.delivery(t, late.ID, ev.ID); len(d.Attempts) < len(slow.Requests()); d = f.delivery(t, late.ID, ev.ID) {
		if time.Now().After(deadline) {
			t.Fatalf("the slow endpoint got %d POSTs, its delivery holds %d attempts", len(slow.Requests()), len(d.Attempts))
		}
		time.Sleep(20 * time.Millisecond)
	}
	f.q.Drain(t, f.svc)
	attempts := 0
	for _, ep := range eps {
		ds, err := f.svc.ListDeliveries(t.Context(), f.t, ep.ID, 10, nil)
		if err != nil || len(ds) != 1 {
			t.Fatalf("endpoint %s: %d deliveries (%v)", ep.ID, len(ds), err)
		}
		want := webhooks.StatusSucceeded
		if ep.ID == bad.ID {
			want = webhooks.StatusPending
		}
		if ds[0].Status != want {
			t.Errorf("delivery %s: %s, want %s", ds[0].ID, ds[0].Status, want)
		}
		attempts += len(ds[0].Attempts)
	}
	if got := len(rcv.Requests()) + len(failing.Requests()) + len(slow.Requests()); got != attempts {
		t.Errorf("receivers got %d POSTs, the logs hold %d attempts", got, attempts)
	}
	if q, err := f.fs.Collection(webhooks.RetryQueueCollection).Documents(t.Context()).GetAll(); err != nil || len(q) != 1 || q[0].Ref.ID != webhooks.DeliveryID(ev.ID, bad.ID) {
		t.Errorf("retry queue: %d entries (%v), want the failing delivery's", len(q), err)
	}
}
