package localstacktest

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"testing"
	"time"

	"tokapi.io/tok/emulators/localstack"
	"tokapi.io/tok/shared/orgs"
	"tokapi.io/tok/shared/testing/testenv"
)

// Session is one test's run of the whole local stack: the stack, a context that ends after
// the test's time or with the test, and a Client of the stack's API.
type Session struct {
	*localstack.Stack
	Ctx context.Context
	API *Client
	t   testing.TB
}

// Run requires the emulators (failing the test without them), starts the stack (see Start)
// and returns its Session, whose context ends after timeout.
func Run(t testing.TB, timeout time.Duration) *Session {
	t.Helper()
	testenv.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	st := Start(t)
	return &Session{Stack: st, Ctx: ctx, API: NewClient(t, st), t: t}
}

// Org creates an organisation allowed origins (see localstack.Stack.CreateOrg) and fails
// the test if it cannot.
func (s *Session) Org(name, tier string, origins ...string) (orgs.Org, orgs.NewKeyPair) {
	s.t.Helper()
	org, keys, err := s.CreateOrg(s.Ctx, name, tier, origins)
	if err != nil {
		s.t.Fatal(err)
	}
	return org, keys
}

// Call sends a request as Client.Call does, on the session's context, and waits out a 429
// as its Retry-After says, as a client of Tok should; it returns the status and the answer.
func (s *Session) Call(method, path, key, body string, headers ...string) (int, map[string]any) {
	s.t.Helper()
	for {
		code, m, h := s.API.Call(s.Ctx, method, path, key, body, headers...)
		if code != http.StatusTooManyRequests {
			return code, m
		}
		secs, err := strconv.Atoi(h.Get("Retry-After"))
		if err != nil || secs < 1 || secs > 60 {
			s.t.Fatalf("%s %s: 429 with Retry-After %q", method, path, h.Get("Retry-After"))
		}
		time.Sleep(time.Duration(secs) * time.Second)
	}
}

// Strangers answers the keys that must find nothing of what the organisation of keys made
// in the sandbox: the sandbox key of another organisation, new, of tier, and the live key of
// the same organisation.
func (s *Session) Strangers(keys orgs.NewKeyPair, tier string) []string {
	s.t.Helper()
	_, other := s.Org("Other Ltd", tier, "https://other.example.com")
	return []string{other.SandboxKey, keys.LiveKey}
}

// continueLink is the waiting page's link to the callback's answer.
var continueLink = regexp.MustCompile(`<a id="continue" href="(/v1/callback/outcomes/[A-Za-z0-9_-]+)">`)

// Callback follows the bank's redirect to Tok's callback, loc, as a browser does and
// returns the callback's answer (a redirect to the callbackUrl, or a page). On a loaded
// machine the callback may show its waiting page first: Callback then goes on through the
// page's link, as the page itself sends the browser, until that answer is there.
func (s *Session) Callback(loc *url.URL) Answer {
	s.t.Helper()
	next := loc.String()
	for {
		req, err := http.NewRequestWithContext(s.Ctx, http.MethodGet, next, nil)
		if err != nil {
			s.t.Fatal(err)
		}
		a := Do(s.t, s.API.HTTP, req)
		link := continueLink.FindSubmatch(a.Body)
		if a.Status != http.StatusOK || link == nil {
			return a
		}
		if next == s.URL+string(link[1]) {
			// The outcome is not there yet: the page refreshes itself every 2 s.
			time.Sleep(200 * time.Millisecond)
		}
		next = s.URL + string(link[1])
	}
}
