package consentflow_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"tokapi.io/tok/shared/authstate"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/testing/apitest"
)

// TestCallbackNeedsTheBanksAnswer holds the callback to the rule that only the bank's answer
// for a consent changes it: whoever holds a valid state (it travels in the browser's address
// bar) cannot push the consent to FAILED with another consent's code, no code, a huge code
// or malformed parameters. Each is a 400 page that changes nothing and leaves the state to
// the customer's real redirect, which then authorises the consent.
func TestCallbackNeedsTheBanksAnswer(t *testing.T) {
	f, org, keys := setup(t)
	scope := store.For(f.FS, tenant.Tenant{Env: tenant.Sandbox, OrgID: org.ID})
	pending := func() (string, *url.URL) {
		c := f.Expect(f.Call("POST", "/v1/consents", keys.SandboxKey, `{"bankId":"sandbox-rs","callbackUrl":"https://app.example.com/cb"}`), 201, "create")
		return c["id"].(string), f.sca(c["redirectUrl"].(string), "demo", "demo", "approve")
	}
	idA, locA := pending()
	idB, locB := pending()
	stateA, codeB := locA.Query().Get("state"), locB.Query().Get("code")
	if stateA == "" || codeB == "" {
		t.Fatalf("bank redirects %s, %s", locA, locB)
	}
	before, err := scope.Collection("consents").Doc(idA).Get(f.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	s := url.QueryEscape(stateA)
	for name, raw := range map[string]string{
		"another consent's code":    "state=" + s + "&code=" + url.QueryEscape(codeB),
		"a made-up code":            "state=" + s + "&code=made-up",
		"no code":                   "state=" + s,
		"an empty code":             "state=" + s + "&code=",
		"a 100,000-character code":  "state=" + s + "&code=" + strings.Repeat("c", 100_000),
		"a code with a control":     "state=" + s + "&code=ab%00cd",
		"two codes":                 "state=" + s + "&code=" + url.QueryEscape(codeB) + "&code=x",
		"code and error":            "state=" + s + "&code=x&error=access_denied",
		"an unknown error":          "state=" + s + "&error=consent_failed_lol",
		"an empty error":            "state=" + s + "&error=",
		"two states":                "state=" + s + "&state=" + s + "&error=access_denied",
		"a malformed query":         "state=" + s + "&error=access_denied&x=%zz",
		"a 100,000-character state": "state=" + strings.Repeat("s", 100_000) + "&error=access_denied",
	} {
		r := apitest.Do(t, f.Callback, httptest.NewRequest(http.MethodGet, "/v1/callback?"+raw, nil))
		if r.Code != http.StatusBadRequest || !strings.HasPrefix(r.Header().Get("Content-Type"), "text/html") {
			t.Errorf("%s: %d %.200s", name, r.Code, r.Body)
		}
		if strings.Contains(r.Body.String(), stateA) || strings.Contains(r.Body.String(), codeB) {
			t.Errorf("%s: the page echoes the state or the code", name)
		}
	}
	after, err := scope.Collection("consents").Doc(idA).Get(f.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !after.UpdateTime.Equal(before.UpdateTime) {
		t.Errorf("a forged callback changed the consent: %v", after.Data())
	}
	if _, err := f.FS.Collection(authstate.Collection).Doc(authstate.Hash(stateA)).Get(f.Ctx); err != nil {
		t.Fatalf("a forged callback consumed the state: %v", err)
	}
	// The real redirects still work, B's code included: the bank did not give it to A.
	for id, loc := range map[string]*url.URL{idA: locA, idB: locB} {
		rec := f.Back(loc)
		to, _ := url.Parse(rec.Header().Get("Location"))
		if rec.Code != http.StatusSeeOther || to.Query().Get("consentId") != id || to.Query().Get("status") != "AUTHORIZED" {
			t.Errorf("real redirect of %s: %d %s", id, rec.Code, to)
		}
	}
	// Now consumed, the state is refused like any used one, and A stays authorised.
	if r := f.Back(locA); r.Code != http.StatusBadRequest || !strings.Contains(r.Body.String(), "no longer valid") {
		t.Errorf("replay: %d %.200s", r.Code, r.Body)
	}
	if c := f.Expect(f.Call("GET", "/v1/consents/"+idA, keys.SandboxKey, ""), 200, "get"); c["status"] != "AUTHORIZED" {
		t.Errorf("consent A is %v", c["status"])
	}
}

// TestCallbackCodeAttemptsAreBounded: whoever holds a consent's state may try codes, but
// exactly authstate.MaxCodeAttempts reach the bank, however many are sent at once; the
// others consume the state and answer 400, and the consent stays awaiting, to end as an
// abandoned authorisation does when its window closes.
func TestCallbackCodeAttemptsAreBounded(t *testing.T) {
	f, _, keys := setup(t)
	c := f.Expect(f.Call("POST", "/v1/consents", keys.SandboxKey, `{"bankId":"sandbox-rs","callbackUrl":"https://app.example.com/cb"}`), 201, "create")
	loc := f.sca(c["redirectUrl"].(string), "demo", "demo", "approve")
	state := loc.Query().Get("state")
	const tries = 3 * authstate.MaxCodeAttempts
	pages := make(chan string, tries)
	var wg sync.WaitGroup
	for i := range tries {
		wg.Go(func() {
			r := apitest.Do(t, f.Callback, httptest.NewRequest(http.MethodGet,
				"/v1/callback?state="+url.QueryEscape(state)+"&code=made-up-"+strconv.Itoa(i), nil))
			switch {
			case r.Code == http.StatusBadRequest && strings.Contains(r.Body.String(), "could not be read"):
				pages <- "refused by the bank"
			case r.Code == http.StatusBadRequest && (strings.Contains(r.Body.String(), "Too many attempts") || strings.Contains(r.Body.String(), "no longer valid")):
				pages <- "refused before the bank"
			default:
				pages <- fmt.Sprintf("%d %.200s", r.Code, r.Body)
			}
		})
	}
	wg.Wait()
	close(pages)
	count := map[string]int{}
	for p := range pages {
		count[p]++
	}
	if n := count["refused by the bank"]; n != authstate.MaxCodeAttempts || n+count["refused before the bank"] != tries {
		t.Errorf("%d concurrent made-up codes: %v, want exactly %d refused by the bank and the rest before it", tries, count, authstate.MaxCodeAttempts)
	}
	if r := f.Back(loc); r.Code != http.StatusBadRequest {
		t.Errorf("the real redirect after the attempts were spent: %d %.200s", r.Code, r.Body)
	}
	if got := f.Expect(f.Call("GET", "/v1/consents/"+c["id"].(string), keys.SandboxKey, ""), 200, "get"); got["status"] != "AWAITING_AUTHORIZATION" {
		t.Errorf("refused codes moved the consent to %v", got["status"])
	}
}
