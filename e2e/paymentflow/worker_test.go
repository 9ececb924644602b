package paymentflow_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/events"
	pay "tokapi.io/tok/shared/payments"
	"tokapi.io/tok/shared/tenant"
)

// killAfterStatus is a registry whose connectors run kill right after the bank answered a
// status call: the worker dies between the bank's answer and its own commit.
type killAfterStatus struct {
	pay.Connectors
	kill func()
}

func (k killAfterStatus) For(env, bankID string) (bank.Connector, error) {
	c, err := k.Connectors.For(env, bankID)
	return killingConnector{Connector: c, kill: k.kill}, err
}

type killingConnector struct {
	bank.Connector
	kill func()
}

func (k killingConnector) PaymentStatus(ctx context.Context, s bank.Session, product, id string) (bank.PaymentState, error) {
	st, err := k.Connector.PaymentStatus(ctx, s, product, id)
	k.kill()
	return st, err
}

// flakyPublisher fails its next failures publishes (the worker dies before publishing), or
// publishes and then kills the worker (it dies before clearing its outbox).
type flakyPublisher struct {
	inner      pay.Publisher
	failures   atomic.Int32
	killAfter  func()
	published  atomic.Int32
	killedOnce atomic.Bool
}

func (p *flakyPublisher) Publish(ctx context.Context, t tenant.Tenant, e events.Event) error {
	if p.failures.Add(-1) >= 0 {
		return errors.New("killed before publishing")
	}
	err := p.inner.Publish(ctx, t, e)
	p.published.Add(1)
	if p.killAfter != nil && !p.killedOnce.Swap(true) {
		p.killAfter()
	}
	return err
}

// TestWorkerKilledAndRedelivered kills the status worker at each point of a poll and runs
// the redelivered request: the payment completes once, its status only moves forwards, and
// payment.completed goes out once (with the same derived ID when the worker died after
// publishing but before recording it).
func TestWorkerKilledAndRedelivered(t *testing.T) {
	f, org, keys := setup(t)
	tn := tenant.Tenant{Env: tenant.Sandbox, OrgID: org.ID}
	// authorised creates a payment, authorises it as demo, takes its created and authorized
	// events and moves the clock to its first poll.
	authorised := func() string {
		p := f.Expect(f.Call("POST", "/v1/payments", keys.SandboxKey, seed("")), 201, "create")
		f.authorise(p["redirectUrl"].(string), "demo", "approve")
		paymentEvents(t, f.events, 2)
		f.clock.Add(3 * time.Second)
		return p["id"].(string)
	}
	// with is the poller with other parts.
	with := func(conns pay.Connectors, events pay.Publisher) *pay.Service {
		svc, st := *f.svc, *f.svc.Store
		if conns != nil {
			svc.Connectors = conns
		}
		if events != nil {
			st.Events = events
		}
		svc.Store = &st
		return &svc
	}
	completedEvents := func(id string) []events.Event {
		var out []events.Event
		for _, e := range paymentEvents(t, f.events, 100) {
			if e.Type == pay.EventCompleted && strings.Contains(string(e.Data), id) {
				out = append(out, e)
			}
		}
		return out
	}
	checkForwards := func(id string) {
		t.Helper()
		p, err := f.svc.Store.Get(f.Ctx, f.svc.Store.Scope(tn), id)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{pay.StatusAwaiting, pay.StatusPending, pay.StatusCompleted}
		if len(p.StatusHistory) != len(want) || p.Status != pay.StatusCompleted || p.PollLease != nil || p.OutboxPending {
			t.Fatalf("payment %+v", p)
		}
		for i, h := range p.StatusHistory {
			if h.Status != want[i] {
				t.Fatalf("history %+v", p.StatusHistory)
			}
		}
	}

	// completedOnce checks the payment completed, moving only forwards, and payment.completed
	// went out once.
	completedOnce := func(t *testing.T, id string) {
		t.Helper()
		checkForwards(id)
		if evs := completedEvents(id); len(evs) != 1 {
			t.Fatalf("payment.completed published %d times", len(evs))
		}
	}

	t.Run("killed between the bank's answer and the commit", func(t *testing.T) {
		id := authorised()
		ctx, kill := context.WithCancel(f.Ctx)
		if err := with(killAfterStatus{f.svc.Connectors, kill}, nil).Poll(ctx, tn, id); err == nil {
			t.Fatal("the killed worker reported success")
		}
		if g := f.Expect(f.Call("GET", "/v1/payments/"+id, keys.SandboxKey, ""), 200, "after the kill"); g["status"] != pay.StatusPending {
			t.Fatalf("after the kill: %v", g["status"])
		}
		// Redelivered while the dead worker's lease holds: nothing happens.
		if err := f.svc.Poll(f.Ctx, tn, id); err != nil {
			t.Fatal(err)
		}
		if g := f.Expect(f.Call("GET", "/v1/payments/"+id, keys.SandboxKey, ""), 200, "within the lease"); g["status"] != pay.StatusPending {
			t.Fatalf("a second poller ran within the lease: %v", g["status"])
		}
		f.clock.Add(2 * time.Minute) // the lease expires
		if err := f.svc.Poll(f.Ctx, tn, id); err != nil {
			t.Fatal(err)
		}
		completedOnce(t, id)
	})

	t.Run("killed between the commit and publishing", func(t *testing.T) {
		id := authorised()
		pub := &flakyPublisher{inner: f.svc.Store.Events}
		pub.failures.Store(1)
		if err := with(nil, pub).Poll(f.Ctx, tn, id); err != nil {
			t.Fatal(err)
		}
		if evs := completedEvents(id); len(evs) != 0 {
			t.Fatalf("published although publishing failed: %d", len(evs))
		}
		p, _ := f.svc.Store.Get(f.Ctx, f.svc.Store.Scope(tn), id)
		if p.Status != pay.StatusCompleted || !p.OutboxPending {
			t.Fatalf("after the failed publish: %s, outbox pending %v", p.Status, p.OutboxPending)
		}
		// The redelivered request (or the sweep) publishes what the outbox holds, once.
		if err := f.svc.Poll(f.Ctx, tn, id); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Poll(f.Ctx, tn, id); err != nil {
			t.Fatal(err)
		}
		completedOnce(t, id)
	})

	t.Run("killed between publishing and clearing the outbox", func(t *testing.T) {
		id := authorised()
		ctx, kill := context.WithCancel(f.Ctx)
		pub := &flakyPublisher{inner: f.svc.Store.Events, killAfter: kill}
		_ = with(nil, pub).Poll(ctx, tn, id)
		if res, err := f.svc.Sweep(f.Ctx); err != nil || res.Flushed != 1 {
			t.Fatalf("sweep: %+v %v", res, err)
		}
		checkForwards(id)
		evs := completedEvents(id)
		// At-least-once publishing: the event may go out again, but as the same event, which
		// the event log and the webhook fan-out (deliveries keyed by event ID) take once.
		if len(evs) == 0 || len(evs) > 2 || evs[0].ID != pay.EventID(tn, id, pay.EventCompleted) || evs[len(evs)-1].ID != evs[0].ID {
			t.Fatalf("payment.completed: %+v", evs)
		}
	})
}

// TestAbandonedAuthorisation: a payment whose customer never finished the SCA fails with
// AUTHORIZATION_EXPIRED after the window; one whose customer authorised at the bank but
// never came back is followed from the bank's status instead.
func TestAbandonedAuthorisation(t *testing.T) {
	f, _, keys := setup(t)
	abandoned := f.Expect(f.Call("POST", "/v1/payments", keys.SandboxKey, seed("")), 201, "create")
	lost := f.Expect(f.Call("POST", "/v1/payments", keys.SandboxKey, seed("")), 201, "create")
	f.authoriseAtBankOnly(lost["redirectUrl"].(string), "demo")
	paymentEvents(t, f.events, 2)
	if res, err := f.svc.Sweep(f.Ctx); err != nil || res.Expired != 0 {
		t.Fatalf("sweep within the window: %+v %v", res, err)
	}
	f.clock.Add(16 * time.Minute)
	if g := f.Expect(f.Call("GET", "/v1/payments/"+abandoned["id"].(string), keys.SandboxKey, ""), 200, "get"); g["status"] != pay.StatusFailed || g["statusReason"] != pay.ReasonAuthorizationExpired {
		t.Fatalf("past the window before the sweep: %v %v", g["status"], g["statusReason"])
	}
	res, err := f.svc.Sweep(f.Ctx)
	if err != nil || res.Expired != 2 {
		t.Fatalf("sweep: %+v %v", res, err)
	}
	if g := f.Expect(f.Call("GET", "/v1/payments/"+abandoned["id"].(string), keys.SandboxKey, ""), 200, "get"); g["status"] != pay.StatusFailed {
		t.Fatalf("abandoned: %v", g["status"])
	}
	if g := f.Expect(f.Call("GET", "/v1/payments/"+lost["id"].(string), keys.SandboxKey, ""), 200, "get"); g["status"] != pay.StatusCompleted && g["status"] != pay.StatusPending {
		t.Fatalf("authorised at the bank only: %v", g["status"])
	}
	var types []string
	for _, e := range paymentEvents(t, f.events, 3) {
		types = append(types, e.Type)
	}
	if strings.Count(strings.Join(types, " "), pay.EventFailed) != 1 || !strings.Contains(strings.Join(types, " "), pay.EventAuthorized) {
		t.Fatalf("events after the sweep: %v", types)
	}
	// A second sweep changes nothing.
	if res, err := f.svc.Sweep(f.Ctx); err != nil || res.Expired != 0 {
		t.Fatalf("second sweep: %+v %v", res, err)
	}
}
