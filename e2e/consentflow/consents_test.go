package consentflow_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/functions/consentexpiry"
	"tokapi.io/tok/shared/authstate"
	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/banksync"
	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/connectors"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/testing/apitest"
	"tokapi.io/tok/shared/tokenvault"
)

// TestConsentFlow runs the whole PSD2 flow against the sandbox bank over HTTP: consent,
// SCA, callback, accounts; then replay/forgery, tenancy, renewal, the vault, revocation,
// and checks that no token ever reached a log line or a response.
func TestConsentFlow(t *testing.T) {
	f, org, keys := setupLogged(t)
	_, other := f.Org()
	sandbox := tenant.Tenant{Env: tenant.Sandbox, OrgID: org.ID}
	scope := store.For(f.FS, sandbox)
	var bodies strings.Builder // every API body, to check no token leaks into responses

	create := f.Call("POST", "/v1/consents", keys.SandboxKey, `{"bankId":"sandbox-hr","callbackUrl":"https://app.example.com/cb?x=1","access":["balances","transactions"]}`)
	c := f.Expect(create, 201, "create")
	bodies.Write(create.Body)
	consentID := c["id"].(string)
	if c["status"] != "AWAITING_AUTHORIZATION" || c["bankId"] != "sandbox-hr" || !strings.Contains(c["redirectUrl"].(string), "/oauth2/authorize?") {
		t.Fatalf("created %v", c)
	}
	until, _ := time.Parse(time.RFC3339, c["validUntil"].(string))
	if d := time.Until(until); d > 181*24*time.Hour || d < 170*24*time.Hour {
		t.Errorf("validUntil %v", until)
	}

	loc := f.sca(c["redirectUrl"].(string), "demo", "demo", "approve")
	rec := f.Back(loc)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("callback: %d %s", rec.Code, rec.Body)
	}
	to, _ := url.Parse(rec.Header().Get("Location"))
	if to.Host != "app.example.com" || to.Query().Get("consentId") != consentID || to.Query().Get("status") != "AUTHORIZED" || to.Query().Get("x") != "1" {
		t.Fatalf("redirected to %s", to)
	}

	t.Run("replayed and forged states change nothing", func(t *testing.T) {
		before, _ := scope.Collection("consents").Doc(consentID).Get(f.Ctx)
		for name, u := range map[string]string{
			"replayed":                 loc.RequestURI(),
			"forged":                   "/v1/callback?code=abc&state=" + url.QueryEscape("forged-state-value"),
			"no state":                 "/v1/callback?code=abc",
			"denial with forged state": "/v1/callback?error=access_denied&state=xyz",
		} {
			r := apitest.Do(t, f.Callback, httptest.NewRequest("GET", u, nil))
			if r.Code != 400 || !strings.HasPrefix(r.Header().Get("Content-Type"), "text/html") || !strings.Contains(r.Body.String(), "no longer valid") {
				t.Errorf("%s: %d %s", name, r.Code, r.Body)
			}
		}
		after, _ := scope.Collection("consents").Doc(consentID).Get(f.Ctx)
		if !after.UpdateTime.Equal(before.UpdateTime) {
			t.Error("a replayed callback changed the consent")
		}
	})

	var accountIDs []string
	t.Run("accounts", func(t *testing.T) {
		r := f.Call("GET", "/v1/accounts", keys.SandboxKey, "")
		l := f.Expect(r, 200, "list accounts")
		bodies.Write(r.Body)
		data := l["data"].([]any)
		currencies := map[string]bool{}
		for _, d := range data {
			a := d.(map[string]any)
			accountIDs = append(accountIDs, a["id"].(string))
			currencies[a["currency"].(string)] = true
			if a["consentStatus"] != "AUTHORIZED" || a["bankName"] == "" || a["balance"] == nil || a["iban"] == nil {
				t.Errorf("account %v", a)
			}
		}
		if len(data) < 2 || len(currencies) < 2 {
			t.Fatalf("accounts: %s", r.Body)
		}
		one := f.Expect(f.Call("GET", "/v1/accounts/"+accountIDs[0], keys.SandboxKey, ""), 200, "get account")
		if one["id"] != accountIDs[0] {
			t.Errorf("account %v", one)
		}
		b := f.Expect(f.Call("GET", "/v1/accounts/"+accountIDs[0]+"/balances", keys.SandboxKey, ""), 200, "balances")
		if len(b["balances"].([]any)) == 0 {
			t.Errorf("balances %v", b)
		}
		l = f.Expect(f.Call("GET", "/v1/accounts?limit=1", keys.SandboxKey, ""), 200, "page 1")
		next := l["nextCursor"].(string)
		l2 := f.Expect(f.Call("GET", "/v1/accounts?limit=1&cursor="+next, keys.SandboxKey, ""), 200, "page 2")
		if l2["data"].([]any)[0].(map[string]any)["id"] == l["data"].([]any)[0].(map[string]any)["id"] {
			t.Error("page 2 repeats page 1")
		}
		cur := data[0].(map[string]any)["currency"].(string)
		l = f.Expect(f.Call("GET", "/v1/accounts?currency="+cur+"&consentId="+consentID, keys.SandboxKey, ""), 200, "filter")
		if n := len(l["data"].([]any)); n < 1 || n >= len(data) {
			t.Errorf("currency filter: %d of %d", n, len(data))
		}
		f.Expect(f.Call("GET", "/v1/accounts?cursor=!!", keys.SandboxKey, ""), 400, "bad cursor")
	})

	t.Run("first sync requested and event published", func(t *testing.T) {
		msgs := received(t, f.syncSub, 1, 10*time.Second)
		if len(msgs) != 1 {
			t.Fatalf("sync requests: %d", len(msgs))
		}
		var req banksync.Request
		_ = json.Unmarshal(msgs[0], &req)
		if !req.Attended || req.OrgID != org.ID || req.Env != "sandbox" || !strings.HasPrefix(req.ConnectionID, "cxn_") {
			t.Errorf("sync request %+v", req)
		}
		evs := received(t, f.eventSub, 1, 10*time.Second)
		if len(evs) != 1 || !strings.Contains(string(evs[0]), `"consent.authorized"`) || !strings.Contains(string(evs[0]), consentID) {
			t.Errorf("events %q", evs)
		}
	})

	t.Run("other organisations and the live key see nothing", func(t *testing.T) {
		for _, key := range []string{other.SandboxKey, other.LiveKey, keys.LiveKey} {
			for _, p := range []string{"/v1/consents/" + consentID, "/v1/accounts/" + accountIDs[0], "/v1/accounts/" + accountIDs[0] + "/balances"} {
				if r := f.Call("GET", p, key, ""); r.Code != 404 || r.ErrCode(t) != "NOT_FOUND" {
					t.Errorf("%s with %s: %d %s", p, key[:12], r.Code, r.Body)
				}
			}
			if r := f.Call("DELETE", "/v1/consents/"+consentID, key, ""); r.Code != 404 {
				t.Errorf("delete with %s: %d", key[:12], r.Code)
			}
			for _, p := range []string{"/v1/consents", "/v1/accounts"} {
				l := f.Expect(f.Call("GET", p, key, ""), 200, p)
				if len(l["data"].([]any)) != 0 {
					t.Errorf("%s with %s: %v", p, key[:12], l)
				}
			}
		}
		l := f.Expect(f.Call("GET", "/v1/consents?status=AUTHORIZED&bankId=sandbox-hr", keys.SandboxKey, ""), 200, "filtered list")
		if len(l["data"].([]any)) != 1 {
			t.Errorf("filtered consents %v", l)
		}
	})

	cxnID := c["connectionId"].(string)
	var tok bank.Tokens
	t.Run("vault: session, concurrent refresh, rotated token persisted", func(t *testing.T) {
		v := f.withVault(func(tv *tokenvault.Vault) { tv.RefreshBefore = 2 * time.Hour }) // every stored token is "about to expire"
		before, _ := f.Conns.Repo.Get(f.Ctx, scope, cxnID)
		var wg sync.WaitGroup
		errs := make(chan error, 5)
		for range 5 {
			wg.Go(func() {
				s, conn, err := v.Session(f.Ctx, scope, cxnID, &connections.PSU{IPAddress: "203.0.113.1"})
				if err == nil {
					_, err = conn.Accounts(f.Ctx, s)
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("concurrent session: %v", err)
			}
		}
		after, _ := f.Conns.Repo.Get(f.Ctx, scope, cxnID)
		if string(after.Tokens) == string(before.Tokens) || after.RefreshLease != nil {
			t.Errorf("tokens not rotated or lease left: %v", after.RefreshLease)
		}
		// The stored refresh token works (it was the last one the bank issued).
		s, _, err := f.Conns.Session(f.Ctx, scope, cxnID, &connections.PSU{IPAddress: "203.0.113.1"})
		if err != nil || !s.PSUPresent {
			t.Fatalf("session after refresh: %v", err)
		}
		tok.AccessToken = s.AccessToken
		if s2, _, err := v.Session(f.Ctx, scope, cxnID, nil); err != nil || s2.AccessToken == s.AccessToken {
			t.Fatalf("refresh with the stored refresh token: %v", err)
		}
	})

	t.Run("renewal keeps account IDs", func(t *testing.T) {
		r := f.Call("POST", "/v1/consents/"+consentID+"/renew", keys.SandboxKey, "")
		n := f.Expect(r, 201, "renew")
		if n["connectionId"] != cxnID || n["renews"] != consentID {
			t.Fatalf("renewal %v", n)
		}
		rec := f.Back(f.sca(n["redirectUrl"].(string), "demo", "demo", "approve"))
		if rec.Code != 303 || !strings.Contains(rec.Header().Get("Location"), "status=AUTHORIZED") {
			t.Fatalf("renew callback %d %v", rec.Code, rec.Header())
		}
		old := f.Expect(f.Call("GET", "/v1/consents/"+consentID, keys.SandboxKey, ""), 200, "old consent")
		if old["status"] != "REPLACED" || old["replacedBy"] != n["id"] {
			t.Errorf("old consent %v", old)
		}
		l := f.Expect(f.Call("GET", "/v1/accounts?consentId="+n["id"].(string), keys.SandboxKey, ""), 200, "accounts after renewal")
		got := map[string]bool{}
		for _, d := range l["data"].([]any) {
			got[d.(map[string]any)["id"].(string)] = true
		}
		for _, id := range accountIDs {
			if !got[id] {
				t.Errorf("account %s lost its ID on renewal: %v", id, got)
			}
		}
		all := f.Expect(f.Call("GET", "/v1/accounts", keys.SandboxKey, ""), 200, "all accounts")
		if len(all["data"].([]any)) != len(accountIDs) {
			t.Errorf("renewal duplicated accounts: %d vs %d", len(all["data"].([]any)), len(accountIDs))
		}
		consentID = n["id"].(string)
	})

	t.Run("a flipped byte in the stored tokens fails closed", func(t *testing.T) {
		ref := scope.Collection("connections").Doc(cxnID)
		cx, _ := f.Conns.Repo.Get(f.Ctx, scope, cxnID)
		good := append([]byte(nil), cx.Tokens...)
		bad := append([]byte(nil), good...)
		bad[len(bad)-5] ^= 0x01
		if _, err := ref.Update(f.Ctx, []firestore.Update{{Path: "tokens", Value: bad}}); err != nil {
			t.Fatal(err)
		}
		_, conn, err := f.Conns.Session(f.Ctx, scope, cxnID, nil)
		if !errors.Is(err, tokenvault.ErrUnreadable) || conn != nil || !strings.Contains(err.Error(), "integrity check") {
			t.Fatalf("tampered tokens: %v", err)
		}
		// Tokens moved from another record fail the same way.
		if _, err := ref.Update(f.Ctx, []firestore.Update{{Path: "tokens", Value: good}, {Path: "orgId", Value: other.ID}}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.Conns.Session(f.Ctx, scope, cxnID, nil); !errors.Is(err, tokenvault.ErrUnreadable) {
			t.Fatalf("tokens under another organisation's AAD: %v", err)
		}
		if _, err := ref.Update(f.Ctx, []firestore.Update{{Path: "orgId", Value: org.ID}}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.Conns.Session(f.Ctx, scope, cxnID, nil); err != nil {
			t.Fatalf("restored tokens: %v", err)
		}
	})

	t.Run("delete revokes; account reads answer 403 CONSENT_REVOKED", func(t *testing.T) {
		r := f.Call("DELETE", "/v1/consents/"+consentID, keys.SandboxKey, "")
		d := f.Expect(r, 200, "delete")
		if d["status"] != "REVOKED" || d["revokedAt"] == nil {
			t.Errorf("deleted %v", d)
		}
		for _, p := range []string{"/v1/accounts/" + accountIDs[0], "/v1/accounts/" + accountIDs[1] + "/balances"} {
			if r := f.Call("GET", p, keys.SandboxKey, ""); r.Code != 403 || r.ErrCode(t) != "CONSENT_REVOKED" {
				t.Errorf("%s after revocation: %d %s", p, r.Code, r.Body)
			}
		}
		cx, _ := f.Conns.Repo.Get(f.Ctx, scope, cxnID)
		if len(cx.Tokens) != 0 || cx.Status != connections.StatusRevoked {
			t.Errorf("connection after revocation: %s, %d token bytes", cx.Status, len(cx.Tokens))
		}
		if _, _, err := f.Conns.Session(f.Ctx, scope, cxnID, nil); bank.KindOf(err) != bank.ConsentRevoked {
			t.Errorf("session after revocation: %v", err)
		}
		f.Expect(f.Call("DELETE", "/v1/consents/"+consentID, keys.SandboxKey, ""), 200, "delete again")
		if r := f.Call("POST", "/v1/consents/"+consentID+"/renew", keys.SandboxKey, ""); r.Code != 409 {
			t.Errorf("renew revoked: %d", r.Code)
		}
	})

	t.Run("no token in any log line or response", func(t *testing.T) {
		logs := f.logs.String()
		if !strings.Contains(logs, "consent authorised") {
			t.Fatalf("logs were not captured: %.300s", logs)
		}
		// The state is in redirectUrl by design (it goes to the browser); the code and the
		// tokens never leave Tok and the bank.
		secrets := []string{tok.AccessToken, loc.Query().Get("code")}
		if strings.Contains(logs, loc.Query().Get("state")) {
			t.Error("the OAuth state was logged")
		}
		for i, s := range secrets {
			if s == "" {
				t.Fatal("missing a secret to look for")
			}
			if strings.Contains(logs, s) || strings.Contains(bodies.String(), s) {
				t.Errorf("secret %d leaked into the logs (%v) or a response (%v)", i, strings.Contains(logs, s), strings.Contains(bodies.String(), s))
				if j := strings.Index(logs, s); j >= 0 {
					t.Logf("%s", logs[max(0, j-300):j+50])
				}
			}
		}
	})
}

func TestConsentValidationAndIdempotency(t *testing.T) {
	f, org, keys := setup(t)
	ro := f.repoKey(org.ID, "read_only")
	for name, tc := range map[string]struct {
		key, body string
		code      int
		errCode   string
	}{
		"http callback, live":        {keys.LiveKey, `{"bankId":"erste-hr","callbackUrl":"http://localhost:3000/cb"}`, 400, "VALIDATION_ERROR"},
		"foreign origin":             {keys.SandboxKey, `{"bankId":"sandbox-hr","callbackUrl":"https://evil.example/cb"}`, 400, "VALIDATION_ERROR"},
		"live bank with sandbox key": {keys.SandboxKey, `{"bankId":"erste-hr","callbackUrl":"https://app.example.com/cb"}`, 400, "VALIDATION_ERROR"},
		"unknown access":             {keys.SandboxKey, `{"bankId":"sandbox-hr","callbackUrl":"https://app.example.com/cb","access":["payments"]}`, 400, "VALIDATION_ERROR"},
		"validUntil too far":         {keys.SandboxKey, `{"bankId":"sandbox-hr","callbackUrl":"https://app.example.com/cb","validUntil":"2099-01-01"}`, 400, "VALIDATION_ERROR"},
		"read-only key":              {ro, `{"bankId":"sandbox-hr","callbackUrl":"https://app.example.com/cb"}`, 403, "FORBIDDEN"},
		"unknown locale":             {keys.SandboxKey, `{"callbackUrl":"https://app.example.com/cb","locale":"de"}`, 400, "VALIDATION_ERROR"},
		"hosted, foreign origin":     {keys.SandboxKey, `{"callbackUrl":"https://evil.example/cb"}`, 400, "VALIDATION_ERROR"},
		"bad status filter":          {keys.SandboxKey, "", 400, "VALIDATION_ERROR"},
	} {
		t.Run(name, func(t *testing.T) {
			method, path := "POST", "/v1/consents"
			if tc.body == "" {
				method, path = "GET", "/v1/consents?status=NOPE"
			}
			r := f.Call(method, path, tc.key, tc.body)
			if r.Code != tc.code || r.ErrCode(t) != tc.errCode {
				t.Errorf("%d %s", r.Code, r.Body)
			}
		})
	}
	// A bank listed but not configured says so.
	if r := f.Call("POST", "/v1/consents", keys.LiveKey, `{"bankId":"intesa-rs","callbackUrl":"https://app.example.com/cb"}`); r.Code != 400 || !strings.Contains(string(r.Body), "not yet available") {
		t.Errorf("unconfigured bank: %d %s", r.Code, r.Body)
	}
	// Sandbox keys may call back to localhost on any port.
	f.Expect(f.Call("POST", "/v1/consents", keys.SandboxKey, `{"bankId":"sandbox-rs","callbackUrl":"http://127.0.0.1:4567/cb"}`), 201, "localhost callback")

	body := `{"bankId":"sandbox-si","callbackUrl":"https://app.example.com/cb"}`
	first := f.Expect(f.Call("POST", "/v1/consents", keys.SandboxKey, body, "Idempotency-Key", "k-1"), 201, "first")
	again := f.Call("POST", "/v1/consents", keys.SandboxKey, body, "Idempotency-Key", "k-1")
	if f.Expect(again, 201, "again")["id"] != first["id"] || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay: %s", again.Body)
	}
	if r := f.Call("POST", "/v1/consents", keys.SandboxKey, `{"bankId":"sandbox-bg","callbackUrl":"https://app.example.com/cb"}`, "Idempotency-Key", "k-1"); r.Code != 422 || r.ErrCode(t) != "IDEMPOTENCY_KEY_REUSED" {
		t.Errorf("reuse: %d %s", r.Code, r.Body)
	}
	// Concurrent duplicates create one consent.
	var wg sync.WaitGroup
	ids := make(chan string, 6)
	for range 6 {
		wg.Go(func() {
			r := f.Call("POST", "/v1/consents", keys.SandboxKey, `{"bankId":"sandbox-ro","callbackUrl":"https://app.example.com/cb"}`, "Idempotency-Key", "k-concurrent")
			if r.Code == 201 {
				ids <- r.JSON(t)["id"].(string)
			} else {
				t.Errorf("concurrent duplicate: %d %s", r.Code, r.Body)
			}
		})
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		seen[id] = true
	}
	l := f.Expect(f.Call("GET", "/v1/consents?bankId=sandbox-ro", keys.SandboxKey, ""), 200, "list")
	if len(seen) != 1 || len(l["data"].([]any)) != 1 {
		t.Errorf("concurrent duplicates made %d consents (%d ids)", len(l["data"].([]any)), len(seen))
	}
}

func TestDenialAndExpiry(t *testing.T) {
	f, org, keys := setup(t)
	scope := store.For(f.FS, tenant.Tenant{Env: tenant.Sandbox, OrgID: org.ID})

	// Denied at the bank: REJECTED, redirected with the error.
	c := f.Expect(f.Call("POST", "/v1/consents", keys.SandboxKey, `{"bankId":"sandbox-rs","callbackUrl":"https://app.example.com/cb"}`), 201, "create")
	rec := f.Back(f.sca(c["redirectUrl"].(string), "deny", "deny", "approve"))
	to, _ := url.Parse(rec.Header().Get("Location"))
	if rec.Code != 303 || to.Query().Get("status") != "REJECTED" || to.Query().Get("error") != "access_denied" {
		t.Fatalf("denial: %d %s", rec.Code, to)
	}

	// Never authorised: FAILED once the window closes.
	pending := f.Expect(f.Call("POST", "/v1/consents", keys.SandboxKey, `{"bankId":"sandbox-rs","callbackUrl":"https://app.example.com/cb"}`), 201, "create")
	// Authorised, then expired.
	consentID, q := f.connect(keys.SandboxKey, "sandbox-me", "demo")
	if q.Get("status") != "AUTHORIZED" {
		t.Fatalf("connect: %v", q)
	}
	got := f.Expect(f.Call("GET", "/v1/consents/"+consentID, keys.SandboxKey, ""), 200, "get")
	cxnID := got["connectionId"].(string)
	l := f.Expect(f.Call("GET", "/v1/accounts?consentId="+consentID, keys.SandboxKey, ""), 200, "accounts")
	accountID := l["data"].([]any)[0].(map[string]any)["id"].(string)

	job := &consentexpiry.Job{Conns: f.Conns, States: authstate.Store{Client: f.FS}, Now: func() time.Time { return time.Now().Add(16 * time.Minute) }}
	res, err := job.Run(f.Ctx)
	if err != nil || res.Failed != 1 || res.Expired != 0 || res.Expiring != 0 {
		t.Fatalf("first tick: %+v %v", res, err)
	}
	if p := f.Expect(f.Call("GET", "/v1/consents/"+pending["id"].(string), keys.SandboxKey, ""), 200, "pending"); p["status"] != "FAILED" || p["error"] != "authorization_timeout" {
		t.Errorf("unauthorised consent %v", p)
	}
	cx, _ := f.Conns.Repo.Get(f.Ctx, scope, cxnID)
	job.Now = func() time.Time { return cx.ValidUntil.Add(-3 * 24 * time.Hour) }
	if res, err = job.Run(f.Ctx); err != nil || res.Expiring != 1 {
		t.Fatalf("expiring tick: %+v %v", res, err)
	}
	if res, _ = job.Run(f.Ctx); res.Expiring != 0 {
		t.Errorf("consent.expiring published twice")
	}
	job.Now = func() time.Time { return cx.ValidUntil.Add(time.Minute) }
	if res, err = job.Run(f.Ctx); err != nil || res.Expired != 1 {
		t.Fatalf("expiry tick: %+v %v", res, err)
	}
	if r := f.Call("GET", "/v1/accounts/"+accountID, keys.SandboxKey, ""); r.Code != 403 || r.ErrCode(t) != "CONSENT_EXPIRED" {
		t.Errorf("expired account read: %d %s", r.Code, r.Body)
	}
	if k := f.Expect(f.Call("GET", "/v1/consents/"+consentID, keys.SandboxKey, ""), 200, "expired"); k["status"] != "EXPIRED" {
		t.Errorf("expired consent %v", k)
	}
	// An expired consent can be renewed onto the same connection.
	f.Expect(f.Call("POST", "/v1/consents/"+consentID+"/renew", keys.SandboxKey, `{"callbackUrl":"https://app.example.com/again"}`), 201, "renew expired")
}

// TestBankFailureIsConsentFailed: an authorisation the bank fails (not the PSU's refusal)
// leaves the consent FAILED and publishes consent.failed, not consent.rejected.
func TestBankFailureIsConsentFailed(t *testing.T) {
	f, _, keys := setup(t)
	_, q := f.connect(keys.SandboxKey, "sandbox-rs", "down")
	if q.Get("status") != "FAILED" {
		t.Fatalf("down persona: %v", q)
	}
	evs := received(t, f.eventSub, 1, 10*time.Second)
	if len(evs) != 1 || !strings.Contains(string(evs[0]), `"type":"consent.failed"`) || !strings.Contains(string(evs[0]), `"status":"FAILED"`) {
		t.Errorf("events %q", evs)
	}
}

// TestRevokedAtBank: a consent the PSU revokes at the bank is noticed by the next bank call
// and handled as a deletion: connection and consent REVOKED, tokens gone, reads 403.
func TestRevokedAtBank(t *testing.T) {
	f, org, keys := setup(t)
	scope := store.For(f.FS, tenant.Tenant{Env: tenant.Sandbox, OrgID: org.ID})
	consentID, q := f.connect(keys.SandboxKey, "sandbox-si", "revoke")
	if q.Get("status") != "AUTHORIZED" {
		t.Fatalf("connect: %v", q)
	}
	c := f.Expect(f.Call("GET", "/v1/consents/"+consentID, keys.SandboxKey, ""), 200, "consent")
	cxnID := c["connectionId"].(string)
	l := f.Expect(f.Call("GET", "/v1/accounts", keys.SandboxKey, ""), 200, "accounts")
	accountID := l["data"].([]any)[0].(map[string]any)["id"].(string)
	var bankErr error
	for range 5 {
		s, conn, err := f.Conns.Session(f.Ctx, scope, cxnID, &connections.PSU{IPAddress: "203.0.113.5"})
		if err != nil {
			t.Fatal(err)
		}
		if _, bankErr = conn.Accounts(f.Ctx, s); bankErr != nil {
			break
		}
	}
	if bank.KindOf(bankErr) != bank.ConsentRevoked {
		t.Fatalf("the bank never reported the revocation: %v", bankErr)
	}
	if ended, err := f.Conns.EndAtBank(f.Ctx, scope, cxnID, bankErr); err != nil || !ended {
		t.Fatalf("EndAtBank: %v, %v", ended, err)
	}
	if k := f.Expect(f.Call("GET", "/v1/consents/"+consentID, keys.SandboxKey, ""), 200, "consent"); k["revokedBy"] != "bank" {
		t.Errorf("consent revokedBy %v, want bank", k["revokedBy"])
	}
	apiErr := connectors.APIError(bankErr)
	if !strings.Contains(apiErr.Error(), "CONSENT_REVOKED") {
		t.Errorf("mapped to %v", apiErr)
	}
	if r := f.Call("GET", "/v1/accounts/"+accountID, keys.SandboxKey, ""); r.Code != 403 || r.ErrCode(t) != "CONSENT_REVOKED" {
		t.Errorf("account read: %d %s", r.Code, r.Body)
	}
	if k := f.Expect(f.Call("GET", "/v1/consents/"+consentID, keys.SandboxKey, ""), 200, "consent"); k["status"] != "REVOKED" {
		t.Errorf("consent %v", k)
	}
	evs := received(t, f.eventSub, 2, 10*time.Second)
	if len(evs) != 2 || !strings.Contains(string(evs[0])+string(evs[1]), `"consent.revoked"`) {
		t.Errorf("events %q", evs)
	}
}
