// Package sdktest prepares the local stack for the SDK tests of every language: a running
// stack with a connected sandbox bank, the keys and IDs a test needs, a fault-injecting proxy
// in front of the gateway, and webhook signatures made by Tok's own signing code. It hands all
// of it to a test as environment variables (Env.Vars), so tests in other languages run as
// subprocesses with the same setup. Only tests import it.
package sdktest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/emulators/localstack"
	"tokapi.io/tok/emulators/localstack/localstacktest"
	"tokapi.io/tok/shared/orgs"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/testing/apitest"
	"tokapi.io/tok/shared/testing/testenv"
)

// Env is a prepared stack. Every field is also in Vars.
type Env struct {
	APIURL           string // the gateway's sandbox host, /v1 (TOK_API_URL): every key here is a sandbox key
	FaultURL         string // the fault proxy's /v1 base URL (TOK_FAULT_URL); control at Faults.Control
	APIKey           string // a Pro organisation's sandbox admin key (TOK_API_KEY)
	FreeAPIKey       string // a Free organisation's sandbox key, for 429s (TOK_FREE_API_KEY)
	ReadOnlyAPIKey   string // a read_only sandbox key of the Pro organisation (TOK_READONLY_API_KEY)
	AccountID        string // the demo persona's RSD account, synced, hundreds of transactions (TOK_ACCOUNT_ID)
	RevokedAccountID string // the Free organisation's account of a revoked consent (TOK_REVOKED_ACCOUNT_ID)
	RevokedConsentID string // that revoked consent (TOK_REVOKED_CONSENT_ID)
	ExpiredAccountID string // the Free organisation's account of an expired consent (TOK_EXPIRED_ACCOUNT_ID)
	CallbackURL      string // a callbackUrl sandbox consents accept (TOK_CALLBACK_URL)
	WebhookFixtures  string // a JSON file of signed webhook messages (TOK_WEBHOOK_FIXTURES)
	OperationsFile   string // the spec's operations as JSON, for coverage tests (TOK_SPEC_OPERATIONS; see Operation)
	HostedURL        string // where Tok's hosted pages start, for a redirectUrl without a bank (TOK_HOSTED_URL)
	Faults           *FaultProxy
	PSU              *PSU // the customer's browser (TOK_PSU_URL)
}

// Vars is the environment a subprocess test runs with: the process's own plus the Env.
func (e *Env) Vars() []string {
	return append(os.Environ(),
		"TOK_API_URL="+e.APIURL,
		"TOK_FAULT_URL="+e.FaultURL,
		"TOK_FAULT_CONTROL="+e.Faults.Control,
		"TOK_API_KEY="+e.APIKey,
		"TOK_FREE_API_KEY="+e.FreeAPIKey,
		"TOK_READONLY_API_KEY="+e.ReadOnlyAPIKey,
		"TOK_ACCOUNT_ID="+e.AccountID,
		"TOK_REVOKED_ACCOUNT_ID="+e.RevokedAccountID,
		"TOK_REVOKED_CONSENT_ID="+e.RevokedConsentID,
		"TOK_EXPIRED_ACCOUNT_ID="+e.ExpiredAccountID,
		"TOK_CALLBACK_URL="+e.CallbackURL,
		"TOK_WEBHOOK_FIXTURES="+e.WebhookFixtures,
		"TOK_SPEC_OPERATIONS="+e.OperationsFile,
		"TOK_HOSTED_URL="+e.HostedURL,
		"TOK_PSU_URL="+e.PSU.URL,
	)
}

// Stack is a running local stack that SDK tests share. Each test prepares an Env of its own
// on it, with organisations of its own, so tests can run at once without seeing each other's
// data, rate limits or armed faults.
type Stack struct{ session *localstacktest.Session }

// StartStack starts the stack (see localstacktest.Run).
func StartStack(t *testing.T) *Stack {
	t.Helper()
	return &Stack{session: localstacktest.Run(t, 5*time.Minute)}
}

// Start starts a stack and prepares one Env on it.
func Start(t *testing.T) *Env {
	t.Helper()
	return StartStack(t).Env(t, "SDK")
}

// Env creates the organisations (their names start with name) and keys, connects the demo
// persona at the Serbian sandbox bank and waits for its first sync, connects and revokes a
// second consent, writes the webhook fixtures, and starts the fault proxy and the customer's
// browser.
func (s *Stack) Env(t *testing.T, name string) *Env {
	t.Helper()
	st := s.session
	_, pro := st.Org(name+" Pro Ltd", orgs.TierPro, "https://app.example.com")
	freeOrg, free := st.Org(name+" Free Ltd", orgs.TierFree, "https://app.example.com")
	a := &admin{t: t, ctx: st.Ctx, base: st.SandboxURL + "/v1", key: pro.SandboxKey,
		http: &http.Client{Transport: apitest.Transport{T: t}, Timeout: 30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	e := &Env{APIURL: a.base, APIKey: pro.SandboxKey, FreeAPIKey: free.SandboxKey,
		CallbackURL: "http://127.0.0.1:9/banking/callback"}

	// Minting keys needs the live admin key.
	live := *a
	live.key, live.base = pro.LiveKey, st.URL+"/v1"
	var ro struct{ SandboxKey string }
	live.call("POST", "/api-keys", `{"role":"read_only"}`, 201, &ro)
	e.ReadOnlyAPIKey = ro.SandboxKey

	consent := a.connect("sandbox-rs", e.CallbackURL)
	e.AccountID = a.waitSynced(consent, "RSD")
	// The revoked consent is the Free organisation's, so the Pro one's accounts all work.
	fa := *a
	fa.key = free.SandboxKey
	revoked := fa.connect("sandbox-hr", e.CallbackURL)
	var accounts struct{ Data []struct{ ID string } }
	fa.call("GET", "/accounts?consentId="+revoked, "", 200, &accounts)
	if len(accounts.Data) == 0 {
		t.Fatal("sdktest: the second consent has no accounts")
	}
	e.RevokedAccountID = accounts.Data[0].ID
	fa.call("DELETE", "/consents/"+revoked, "", 200, nil)
	e.RevokedConsentID = revoked
	e.ExpiredAccountID = fa.expired(st.Stack, freeOrg.ID, e.CallbackURL)

	e.WebhookFixtures = writeWebhookFixtures(t, a)
	e.Faults = startFaultProxy(t, st.SandboxURL)
	e.FaultURL = e.Faults.URL + "/v1"
	e.PSU = startPSU(t)
	e.OperationsFile = writeOperations(t)
	e.HostedURL = st.URL + "/v1/hosted/"
	return e
}

// admin calls the API with the Pro organisation's admin key, checking every response
// against the spec.
type admin struct {
	t    *testing.T
	ctx  context.Context //nolint:containedctx // one setup, one deadline
	base string
	key  string
	http *http.Client
}

// call sends a request and decodes the answer into out, failing the test unless the status
// is want.
func (a *admin) call(method, path, body string, want int, out any) http.Header {
	a.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(a.ctx, method, a.base+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Authorization", "ApiKey "+a.key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.http.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		a.t.Fatalf("sdktest: %s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			a.t.Fatalf("sdktest: %s %s: %v", method, path, err)
		}
	}
	return resp.Header
}

// connect creates a sandbox consent, walks the bank's SCA as the demo persona and Tok's
// callback, and returns the authorised consent's ID.
func (a *admin) connect(bankID, callbackURL string) string {
	a.t.Helper()
	var c struct{ ID, RedirectURL string }
	a.call("POST", "/consents", fmt.Sprintf(`{"bankId":%q,"callbackUrl":%q}`, bankID, callbackURL), 201, &c)
	walked, err := (&PSU{t: a.t}).Do(Walk{URL: c.RedirectURL})
	if err != nil || walked.CallbackQuery().Get("status") != "AUTHORIZED" {
		a.t.Fatalf("sdktest: connecting %s: %v, back at %s", bankID, err, walked.Callback)
	}
	return c.ID
}

// expired connects a consent at the Bosnian sandbox bank and moves its bank connection past
// its validity, as 180 days would (the API refuses a validUntil less than an hour ahead), and
// returns its account's ID.
func (a *admin) expired(st *localstack.Stack, orgID, callbackURL string) string {
	a.t.Helper()
	var c struct{ ConnectionID string }
	a.call("GET", "/consents/"+a.connect("sandbox-ba", callbackURL), "", 200, &c)
	var accounts struct{ Data []struct{ ID string } }
	a.call("GET", "/accounts?bankId=sandbox-ba", "", 200, &accounts)
	if len(accounts.Data) == 0 {
		a.t.Fatal("sdktest: the consent to expire has no accounts")
	}
	fs := testenv.Firestore(a.t, st.Project)
	cxn := store.For(fs, tenant.Tenant{Env: tenant.Sandbox, OrgID: orgID}).Collection("connections").Doc(c.ConnectionID)
	if _, err := cxn.Update(a.ctx, []firestore.Update{{Path: "validUntil", Value: time.Now().Add(-time.Minute)}}); err != nil {
		a.t.Fatal(err)
	}
	return accounts.Data[0].ID
}

// waitSynced waits until the consent's account in currency has its first sync complete
// (its transactions.created event is out, which the worker publishes after every row is
// written) and returns the account's ID.
func (a *admin) waitSynced(consentID, currency string) string {
	a.t.Helper()
	var accounts struct {
		Data []struct{ ID, Currency string }
	}
	a.call("GET", "/accounts?consentId="+consentID, "", 200, &accounts)
	id := ""
	for _, acc := range accounts.Data {
		if acc.Currency == currency {
			id = acc.ID
		}
	}
	if id == "" {
		a.t.Fatalf("sdktest: no %s account in %+v", currency, accounts)
	}
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(300 * time.Millisecond) {
		var events struct {
			Data []struct{ Data struct{ AccountID string } }
		}
		a.call("GET", "/events?type=transactions.created", "", 200, &events)
		for _, ev := range events.Data {
			if ev.Data.AccountID == id {
				return id
			}
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("sdktest: account %s not synced within 2 minutes", id)
		}
	}
}
