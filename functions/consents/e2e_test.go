package consents_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tokapi.io/tok/emulators/localstack/localstacktest"
	"tokapi.io/tok/shared/orgs"
	"tokapi.io/tok/shared/testing/sandboxtest"
	"tokapi.io/tok/shared/testing/webhookstest"
)

// TestEndToEnd runs the consent flow through the whole local stack (every function as its
// own process behind the gateway, as make dev runs it): over HTTP, then clicking through
// the sandbox bank's pages in headless Chromium.
func TestEndToEnd(t *testing.T) {
	st := localstacktest.Run(t, 5*time.Minute)
	_, keys := st.Org("E2E Ltd", orgs.TierPro, "https://app.example.com")
	call, api := st.Call, st.API
	app := localstacktest.NewApp(t)

	t.Run("over HTTP", func(t *testing.T) {
		hooks := webhookstest.NewReceiver(t, nil)
		code, w := call("POST", "/v1/webhooks", keys.SandboxKey,
			`{"url":"`+hooks.URL+`/hooks","events":["consent.authorized","transactions.created"]}`)
		if code != 201 {
			t.Fatalf("register webhook: %d %v", code, w)
		}
		code, c := call("POST", "/v1/consents", keys.SandboxKey, `{"bankId":"sandbox-rs","callbackUrl":"`+app.CallbackURL()+`"}`)
		if code != 201 {
			t.Fatalf("create: %d %v", code, c)
		}
		loc := sandboxtest.SCA(t, api.HTTP, c["redirectUrl"].(string), "demo", "demo", "approve")
		if !strings.HasPrefix(loc.String(), st.URL+"/v1/callback?") {
			t.Fatalf("bank redirect %q", loc)
		}
		resp := st.Callback(loc)
		if resp.Status != http.StatusSeeOther {
			t.Fatalf("callback: %d %s", resp.Status, resp.Body)
		}
		back, err := http.Get(resp.Header.Get("Location")) //nolint:noctx // the test's own app server
		if err != nil {
			t.Fatal(err)
		}
		_ = back.Body.Close()
		app.Back(t, "consentId", c["id"].(string), "AUTHORIZED")
		// Replaying the bank's redirect changes nothing.
		replay, err := api.HTTP.Get(loc.String())
		if err != nil {
			t.Fatal(err)
		}
		_ = replay.Body.Close()
		if replay.StatusCode != 400 {
			t.Fatalf("replay: %d", replay.StatusCode)
		}
		code, l := call("GET", "/v1/accounts", keys.SandboxKey, "")
		data, _ := l["data"].([]any)
		currencies := map[any]bool{}
		for _, a := range data {
			currencies[a.(map[string]any)["currency"]] = true
		}
		if code != 200 || len(data) < 2 || len(currencies) < 2 {
			t.Fatalf("accounts: %d %v", code, l)
		}
		accountID := data[0].(map[string]any)["id"].(string)
		for _, a := range data {
			// The local-currency current account has the card payments (pending, then booked).
			if a := a.(map[string]any); a["currency"] == "RSD" {
				checkTransactionsSynced(t, call, keys.SandboxKey, a["id"].(string))
			}
		}
		// The organisation's endpoint got both events, signed to the Standard Webhooks spec.
		t.Logf("webhook endpoint received %v", hooks.WaitForTypes(t, w["secret"].(string), time.Minute, "consent.authorized", "transactions.created"))
		if code, _ := call("GET", "/v1/consents/"+c["id"].(string), keys.LiveKey, ""); code != 404 {
			t.Errorf("live key reads a sandbox consent: %d", code)
		}
		if code, d := call("DELETE", "/v1/consents/"+c["id"].(string), keys.SandboxKey, ""); code != 200 || d["status"] != "REVOKED" {
			t.Fatalf("delete: %d %v", code, d)
		}
		if code, e := call("GET", "/v1/accounts/"+accountID, keys.SandboxKey, ""); code != 403 || e["error"].(map[string]any)["code"] != "CONSENT_REVOKED" {
			t.Errorf("account after revocation: %d %v", code, e)
		}
		// No function logged the authorisation code.
		files, _ := filepath.Glob(filepath.Join(st.LogDir, "*.log"))
		for _, file := range files {
			b, _ := os.ReadFile(file)
			if strings.Contains(string(b), loc.Query().Get("code")) {
				t.Errorf("%s logged the authorisation code", filepath.Base(file))
			}
		}
	})

	t.Run("in headless Chromium", func(t *testing.T) {
		code, c := call("POST", "/v1/consents", keys.SandboxKey, `{"bankId":"sandbox-hr","callbackUrl":"`+app.CallbackURL()+`"}`)
		if code != 201 {
			t.Fatalf("create: %d %v", code, c)
		}
		b := localstacktest.NewBrowser(t, 90*time.Second, "consents")
		b.Approve(c["redirectUrl"].(string), "demo", b.Shot("back-at-the-app"))
		app.Back(t, "consentId", c["id"].(string), "AUTHORIZED")
		code, l := call("GET", "/v1/accounts?consentId="+c["id"].(string), keys.SandboxKey, "")
		if data, _ := l["data"].([]any); code != 200 || len(data) < 2 {
			t.Fatalf("accounts after browser consent: %d %v", code, l)
		}
		t.Logf("screenshots in %s", b.Dir)
	})
}

// checkTransactionsSynced waits for the first sync (requested over Pub/Sub at authorisation,
// run by the syncworker process) to land the demo persona's transactions, then pages through
// them and checks the filters.
func checkTransactionsSynced(t *testing.T, call func(method, path, key, body string, headers ...string) (int, map[string]any), key, accountID string) {
	t.Helper()
	base := "/v1/accounts/" + accountID + "/transactions"
	start := time.Now()
	for {
		code, l := call("GET", base+"?limit=1", key, "")
		if code != 200 {
			t.Fatalf("transactions: %d %v", code, l)
		}
		if d, _ := l["data"].([]any); len(d) > 0 {
			break
		}
		if time.Since(start) > time.Minute {
			t.Fatal("no transactions synced within a minute of authorisation")
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("first transactions visible %s after authorisation", time.Since(start).Round(10*time.Millisecond))
	// The sync of an account is complete when its transactions.created event is out: the
	// worker publishes it only after every row is written.
	for synced := false; !synced; {
		code, l := call("GET", "/v1/events?type=transactions.created", key, "")
		if code != 200 {
			t.Fatalf("events: %d %v", code, l)
		}
		for _, e := range l["data"].([]any) {
			if d, _ := e.(map[string]any)["data"].(map[string]any); d["accountId"] == accountID {
				synced = true
			}
		}
		if time.Since(start) > time.Minute {
			t.Fatal("no transactions.created event within a minute of authorisation")
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Logf("first sync complete %s after authorisation", time.Since(start).Round(10*time.Millisecond))
	walk := func(query string) []map[string]any {
		var rows []map[string]any
		cursor := ""
		for pages := 0; pages < 1000; pages++ {
			q := base + "?limit=100" + query
			if cursor != "" {
				q += "&cursor=" + cursor
			}
			code, l := call("GET", q, key, "")
			if code != 200 {
				t.Fatalf("page %d: %d %v", pages, code, l)
			}
			for _, r := range l["data"].([]any) {
				rows = append(rows, r.(map[string]any))
			}
			next, _ := l["nextCursor"].(string)
			if l["hasMore"] != true || next == "" {
				return rows
			}
			cursor = next
		}
		t.Fatal("pagination did not end")
		return nil
	}
	all := walk("&status=all")
	seen := map[string]bool{}
	statuses := map[string]int{}
	for i, r := range all {
		id := r["id"].(string)
		if seen[id] {
			t.Fatalf("transaction %s appears twice in the walk", id)
		}
		seen[id] = true
		statuses[r["status"].(string)]++
		if i > 0 && r["bookingDate"] != nil && all[i-1]["bookingDate"] != nil && r["bookingDate"].(string) > all[i-1]["bookingDate"].(string) {
			t.Fatalf("not newest first at row %d", i)
		}
	}
	if len(all) < 100 || statuses["booked"] == 0 || statuses["pending"] == 0 {
		t.Fatalf("demo persona synced %d transactions (%v)", len(all), statuses)
	}
	booked := walk("&status=booked")
	if len(booked) != statuses["booked"] {
		t.Errorf("status=booked gave %d, the walk saw %d booked", len(booked), statuses["booked"])
	}
	from, to := "2026-01-01", "2026-03-31"
	window := walk("&dateFrom=" + from + "&dateTo=" + to)
	for _, r := range window {
		if d, _ := r["bookingDate"].(string); d != "" && (d < from || d > to) {
			t.Errorf("date filter let %s through", d)
		}
	}
	t.Logf("%d transactions (%v), %d booked, %d in %s..%s", len(all), statuses, len(booked), len(window), from, to)
}

// TestEndedAtBankThroughStack: a connection made in headless Chromium as the revoke persona
// (and as the expire persona) through the whole local stack; the first sync, which the
// Pub/Sub emulator pushes to the syncworker process, meets the bank's answer, and within it
// the consent is REVOKED with revokedBy bank (EXPIRED), every data call through the gateway
// answers 403 CONSENT_REVOKED (CONSENT_EXPIRED), and consent.revoked (consent.expired)
// reaches the organisation's endpoint once, signed.
func TestEndedAtBankThroughStack(t *testing.T) {
	st := localstacktest.Run(t, 5*time.Minute)
	_, keys := st.Org("Ended Ltd", orgs.TierEnterprise, "https://app.example.com")
	app := localstacktest.NewApp(t)
	for _, c := range []struct {
		persona, bankID, status, event, code string
		revokedBy                            any
	}{
		{"revoke", "sandbox-si", "REVOKED", "consent.revoked", "CONSENT_REVOKED", "bank"},
		{"expire", "sandbox-hr", "EXPIRED", "consent.expired", "CONSENT_EXPIRED", nil}, // expiry is nobody's act
	} {
		t.Run(c.persona, func(t *testing.T) {
			hooks := webhookstest.NewReceiver(t, nil)
			code, w := st.Call("POST", "/v1/webhooks", keys.SandboxKey,
				`{"url":"`+hooks.URL+`/hooks","events":["consent.revoked","consent.expired"]}`)
			if code != 201 {
				t.Fatalf("register webhook: %d %v", code, w)
			}
			code, k := st.Call("POST", "/v1/consents", keys.SandboxKey, `{"bankId":"`+c.bankID+`","callbackUrl":"`+app.CallbackURL()+`"}`)
			if code != 201 {
				t.Fatalf("create: %d %v", code, k)
			}
			id := k["id"].(string)
			b := localstacktest.NewBrowser(t, 3*time.Minute, "ended-at-bank-"+c.persona)
			b.Approve(k["redirectUrl"].(string), c.persona, b.Shot("back-at-the-app"))
			app.Back(t, "consentId", id, "AUTHORIZED")
			authorised := time.Now()
			var got map[string]any
			for {
				_, got = st.Call("GET", "/v1/consents/"+id, keys.SandboxKey, "")
				if got["status"] != "AUTHORIZED" {
					break
				}
				if time.Since(authorised) > time.Minute {
					t.Fatalf("still AUTHORIZED a minute after the first sync was requested: %v", got)
				}
				time.Sleep(250 * time.Millisecond)
			}
			if got["status"] != c.status || got["revokedBy"] != c.revokedBy {
				t.Fatalf("consent after the first sync: %v", got)
			}
			t.Logf("%s (revokedBy %v) %s after the authorisation", c.status, c.revokedBy, time.Since(authorised).Round(10*time.Millisecond))
			code, l := st.Call("GET", "/v1/accounts?consentId="+id, keys.SandboxKey, "")
			accounts, _ := l["data"].([]any)
			if code != 200 || len(accounts) == 0 {
				t.Fatalf("accounts of the consent: %d %v", code, l)
			}
			for _, a := range accounts {
				a := a.(map[string]any)
				if a["consentStatus"] != c.status {
					t.Errorf("account %s shows consentStatus %v", a["id"], a["consentStatus"])
				}
				for _, sub := range []string{"", "/balances", "/transactions", "/transactions/changes", "/standing-orders"} {
					code, e := st.Call("GET", "/v1/accounts/"+a["id"].(string)+sub, keys.SandboxKey, "")
					if errBody, _ := e["error"].(map[string]any); code != 403 || errBody["code"] != c.code {
						t.Errorf("GET account%s: %d %v", sub, code, e)
					}
				}
			}
			hooks.WaitForTypes(t, w["secret"].(string), time.Minute, c.event)
			time.Sleep(2 * time.Second) // a second delivery of the event would show now
			if types := webhookstest.Verified(t, w["secret"].(string), hooks.Requests()); types[c.event] != 1 || len(types) != 1 {
				t.Errorf("webhook endpoint received %v, want %s once", types, c.event)
			}
		})
	}
}
