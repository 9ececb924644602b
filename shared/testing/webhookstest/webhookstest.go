// Package webhookstest holds what webhook tests share: an injectable clock, an in-memory
// delivery queue that runs Tasks on demand, a recording receiver, and a KMS envelope on the
// emulator. Only tests import it.
package webhookstest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	kms "cloud.google.com/go/kms/apiv1"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"tokapi.io/tok/shared/envelope"
	"tokapi.io/tok/shared/gcp"
	"tokapi.io/tok/shared/testing/testclock"
	"tokapi.io/tok/shared/testing/testenv"
	"tokapi.io/tok/shared/webhooks"
)

// Clock is the settable test clock.
type Clock = testclock.Clock

// NewClock starts a Clock at t.
func NewClock(t time.Time) *Clock { return testclock.New(t) }

// Queue is an in-memory webhooks.Queue: Tasks wait until Drain runs them.
type Queue struct {
	mu    sync.Mutex
	tasks []webhooks.Task
	// All counts every Task ever enqueued.
	All int
}

// Enqueue implements webhooks.Queue.
func (q *Queue) Enqueue(_ context.Context, t webhooks.Task) error {
	q.mu.Lock()
	q.tasks = append(q.tasks, t)
	q.All++
	q.mu.Unlock()
	return nil
}

// Take removes and returns the waiting Tasks.
func (q *Queue) Take() []webhooks.Task {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.tasks
	q.tasks = nil
	return out
}

// Drain runs every waiting Task (and any they enqueue) with svc.Deliver, concurrently, and
// returns how many ran.
func (q *Queue) Drain(t testing.TB, svc *webhooks.Service) int {
	t.Helper()
	n := 0
	for {
		tasks := q.Take()
		if len(tasks) == 0 {
			return n
		}
		var wg sync.WaitGroup
		errs := make(chan error, len(tasks))
		for _, task := range tasks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- svc.Deliver(context.Background(), task)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("deliver: %v", err)
			}
		}
		n += len(tasks)
	}
}

// Request is what a receiver got.
type Request struct {
	Header http.Header
	Body   []byte
	Path   string
}

// Receiver is a local HTTP endpoint that records requests and answers with Status(n) for
// the n-th request (0-based), 204 by default.
type Receiver struct {
	*httptest.Server
	mu     sync.Mutex
	reqs   []Request
	Status func(n int) int
	got    chan struct{}
}

// NewReceiver starts a receiver on 127.0.0.1, closed when the test ends.
func NewReceiver(t testing.TB, status func(n int) int) *Receiver {
	r := &Receiver{Status: status, got: make(chan struct{}, 1024)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		n := len(r.reqs)
		r.reqs = append(r.reqs, Request{Header: req.Header.Clone(), Body: body, Path: req.URL.Path})
		r.mu.Unlock()
		code := http.StatusNoContent
		if r.Status != nil {
			code = r.Status(n)
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, http.StatusText(code))
		select {
		case r.got <- struct{}{}:
		default:
		}
	}))
	t.Cleanup(r.Close)
	return r
}

// Requests returns what was received so far.
func (r *Receiver) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.reqs...)
}

// WaitFor waits until n requests arrived or timeout passed, and returns them.
func (r *Receiver) WaitFor(n int, timeout time.Duration) []Request {
	deadline := time.After(timeout)
	for {
		if got := r.Requests(); len(got) >= n {
			return got
		}
		select {
		case <-r.got:
		case <-deadline:
			return r.Requests()
		}
	}
}

// Sealer returns a KMS envelope on the emulator with a fresh key in project.
func Sealer(t testing.TB, project string) *envelope.Sealer {
	t.Helper()
	kc, err := kms.NewKeyManagementClient(context.Background(), gcp.EmulatorOptions(testenv.KMSEndpoint(t))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kc.Close() })
	s, err := envelope.New(envelope.NewKMS(kc), testenv.KMSKey(t, project))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Verified checks that every request verifies under secret with the published Standard
// Webhooks library and that its webhook-id is the event's ID, and counts the event types.
func Verified(t testing.TB, secret string, reqs []Request) map[string]int {
	t.Helper()
	hook, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]int{}
	for _, r := range reqs {
		var ev struct{ ID, Type string }
		if err := json.Unmarshal(r.Body, &ev); err != nil {
			t.Fatalf("delivery body %q: %v", r.Body, err)
		}
		if err := hook.Verify(r.Body, r.Header); err != nil {
			t.Fatalf("%s delivery does not verify: %v", ev.Type, err)
		}
		if ev.ID != r.Header.Get("webhook-id") {
			t.Fatalf("webhook-id %q is not the event ID %q", r.Header.Get("webhook-id"), ev.ID)
		}
		types[ev.Type]++
	}
	return types
}

// WaitForTypes waits up to timeout until the verified deliveries include every type of
// want (each at least once) and returns the verified counts by type.
func (r *Receiver) WaitForTypes(t testing.TB, secret string, timeout time.Duration, want ...string) map[string]int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := Verified(t, secret, r.Requests())
		missing := false
		for _, typ := range want {
			missing = missing || got[typ] == 0
		}
		if !missing {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook endpoint never received all of %v (got %v)", want, got)
		}
		select {
		case <-r.got:
		case <-time.After(200 * time.Millisecond):
		}
	}
}
