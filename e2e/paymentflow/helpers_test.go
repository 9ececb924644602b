package paymentflow_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"github.com/getkin/kin-openapi/openapi3filter"

	"tokapi.io/tok/functions/accounts"
	"tokapi.io/tok/functions/callback"
	"tokapi.io/tok/functions/consents"
	"tokapi.io/tok/functions/organisation"
	"tokapi.io/tok/functions/payments"
	"tokapi.io/tok/functions/sandbox"
	vrpfn "tokapi.io/tok/functions/vrp"
	"tokapi.io/tok/shared/banksync"
	"tokapi.io/tok/shared/events"
	"tokapi.io/tok/shared/orgs"
	pay "tokapi.io/tok/shared/payments"
	"tokapi.io/tok/shared/testing/flowtest"
	"tokapi.io/tok/shared/testing/sandboxtest"
	"tokapi.io/tok/shared/vrp"
)

func init() {
	// The callback's 400 is an HTML page; let the spec check read it.
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.FileBodyDecoder)
}

// clock is a settable clock shared by the sandbox bank and Tok.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

const publicURL = flowtest.PublicURL

// fixture is the stack with the payments, consents, accounts and callback functions, on a
// settable clock.
type fixture struct {
	*flowtest.Stack
	clock  *clock
	svc    *pay.Service
	vrp    *vrp.Service
	events *pubsub.Subscriber
	polls  *pubsub.Subscriber
	worker *banksync.Worker
}

// setup is the stack with its first organisation, which every test starts from; it runs
// the test in parallel with the package's others: each has its own project on the
// emulators, its own bank, clock and organisations.
func setup(t *testing.T) (*fixture, orgs.Org, orgs.NewKeyPair) {
	t.Helper()
	t.Parallel()
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
	st := flowtest.New(t, flowtest.Options{Now: clk.Now, Topics: []string{flowtest.EventsTopic, pay.StatusTopic}, BankSlowDelay: time.Millisecond})
	svc := pay.ForConnections(st.Conns, st.Repo, pay.NewPollPublisher(st.PS, ""), publicURL)
	svc.QuickPolls = []time.Duration{0}
	vs := vrp.New(svc, st.Repo)
	ph := payments.NewHandler(svc)
	vh := vrpfn.NewHandler(vs)
	ch := consents.NewHandler(&consents.Server{Conns: st.Conns, States: st.States, Orgs: st.Repo, PublicURL: publicURL, Now: clk.Now})
	mux := http.NewServeMux()
	mux.Handle("/v1/payments", ph)
	mux.Handle("/v1/payments/", ph)
	mux.Handle("/v1/consents", ch)
	mux.Handle("/v1/funds-confirmations", ph)
	for _, p := range []string{"/v1/vrp-consents", "/v1/vrp-consents/", "/v1/vrps", "/v1/vrps/"} {
		mux.Handle(p, vh)
	}
	for _, p := range []string{"/v1/refunds", "/v1/refunds/", "/v1/refund-batches", "/v1/refund-batches/"} {
		mux.Handle(p, ph)
	}
	mux.Handle("/v1/sandbox/", sandbox.NewHandler(&sandbox.Server{Conns: st.Conns, VRP: vs, Now: clk.Now}))
	mux.Handle("/v1/organisation", organisation.NewHandler(st.Repo, svc.Store, st.Conns.Repo, clk.Now))
	ah := accounts.NewHandler(&accounts.Deps{Repo: st.Conns.Repo})
	mux.Handle("/v1/accounts", ah)
	mux.Handle("/v1/accounts/", ah)
	// These flows read the callback's own answer, however slowly a loaded machine runs it
	// (the waiting page is functions/callback's stack test).
	st.Serve(mux, callback.NewHandler(&callback.Server{Patience: time.Minute, Conns: st.Conns, States: st.States, PublicURL: publicURL, Now: clk.Now, Payments: svc, VRP: vs}))
	worker := &banksync.Worker{FS: st.FS, Sessions: st.Conns, Connections: st.Conns.Repo, Accounts: st.Conns, Events: st.Conns.Events, Now: clk.Now,
		Reconciler: &pay.Reconciler{Store: svc.Store}}
	f := &fixture{Stack: st, clock: clk, svc: svc, vrp: vs, events: st.Subs[flowtest.EventsTopic], polls: st.Subs[pay.StatusTopic], worker: worker}
	org, keys := f.Org()
	return f, org, keys
}

// authorise walks the bank's SCA as user with decision and sends the bank's redirect to
// the callback; it returns the callback's redirect to the organisation's app.
func (f *fixture) authorise(redirectURL, user, decision string) *url.URL {
	f.T.Helper()
	return f.follow(sandboxtest.SCA(f.T, f.Browser, redirectURL, user, user, decision))
}

// follow sends the bank's redirect to the callback and returns where it sent the browser.
func (f *fixture) follow(loc *url.URL) *url.URL {
	f.T.Helper()
	if !strings.HasPrefix(loc.String(), publicURL+"/v1/callback?") {
		f.T.Fatalf("bank redirect %q", loc)
	}
	rec := f.Back(loc)
	if rec.Code != http.StatusSeeOther {
		f.T.Fatalf("callback: %d %s", rec.Code, rec.Body)
	}
	to, err := url.Parse(rec.Header().Get("Location"))
	if err != nil {
		f.T.Fatal(err)
	}
	return to
}

// authoriseAtBankOnly completes the SCA at the bank but never follows its redirect to Tok
// (the customer closed the browser).
func (f *fixture) authoriseAtBankOnly(redirectURL, user string) {
	f.T.Helper()
	sandboxtest.SCA(f.T, f.Browser, redirectURL, user, user, "approve")
}

// paymentEvents pulls the payment events published so far, by ID.
func paymentEvents(t *testing.T, sub *pubsub.Subscriber, want int) []events.Event {
	t.Helper()
	return eventsOf(t, sub, "payment.", want)
}

// eventsOf pulls the published events whose type starts with prefix.
func eventsOf(t *testing.T, sub *pubsub.Subscriber, prefix string, want int) []events.Event {
	t.Helper()
	var out []events.Event
	for _, m := range flowtest.Received(t, sub, want, 5*time.Second) {
		var e events.Event
		if err := json.Unmarshal(m.Data, &e); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(e.Type, prefix) {
			out = append(out, e)
		}
	}
	return out
}

// count is the number of payments stored under the tenant of key's organisation.
func (f *fixture) count(orgID string) int {
	f.T.Helper()
	n := 0
	for _, env := range []string{"live", "sandbox"} {
		docs, err := f.FS.Collection("envs").Doc(env).Collection("orgs").Doc(orgID).Collection(pay.Collection).Documents(f.Ctx).GetAll()
		if err != nil {
			f.T.Fatal(err)
		}
		n += len(docs)
	}
	return n
}
