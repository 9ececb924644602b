package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"tokapi.io/tok/shared/events"
	"tokapi.io/tok/shared/gcp"
	"tokapi.io/tok/shared/orgs"
	"tokapi.io/tok/shared/platform"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/testing/apitest"
	"tokapi.io/tok/shared/testing/orgstest"
	"tokapi.io/tok/shared/testing/testenv"
	"tokapi.io/tok/shared/testing/webhookstest"
	wh "tokapi.io/tok/shared/webhooks"
)

type fixture struct {
	h        http.Handler
	svc      *wh.Service
	q        *webhookstest.Queue
	clock    *webhookstest.Clock
	org      orgs.Org
	keys     orgs.NewKeyPair
	readOnly orgs.NewKeyPair
	other    orgs.NewKeyPair // another organisation's keys
}

func setup(t *testing.T) *fixture {
	t.Helper()
	project := testenv.Project(t)
	fs := testenv.Firestore(t, project)
	repo := orgs.New(fs, orgstest.PepperSecret(t, project))
	f := &fixture{q: &webhookstest.Queue{}, clock: webhookstest.NewClock(time.Now().UTC().Truncate(time.Millisecond))}
	f.org, f.keys = orgstest.Org(t, repo, orgs.TierEnterprise)
	f.readOnly = orgstest.KeyPair(t, repo, f.org.ID, "read_only")
	_, f.other = orgstest.Org(t, repo, orgs.TierEnterprise)
	// As in the local stack: sandbox endpoints may be the test's receivers on loopback.
	f.svc = wh.New(fs, webhookstest.Sealer(t, project), f.q, wh.WithClock(f.clock.Now), wh.WithPolicy(wh.Policy{Loopback: true}))
	// The events topic, in process: publishing fans out at once.
	publish := func(ctx context.Context, t tenant.Tenant, e events.Event) error {
		_, err := f.svc.Fanout(ctx, t, e)
		return err
	}
	env := platform.NewEnvFrom(platform.Config{GCP: gcp.Config{ProjectID: project, KMSEndpoint: testenv.KMSEndpoint(t), SecretManagerEndpoint: testenv.SecretManagerEndpoint(t)}})
	f.h = platform.LazyHTTP(func(context.Context, *platform.Env) (http.Handler, error) {
		return NewHandler(f.svc, publish, f.clock.Now), nil
	}, func(context.Context) (*platform.Env, error) { return env, nil })
	return f
}

// do sends a request through auth and the handler, checks the response against the spec,
// and decodes its JSON body.
func (f *fixture) do(t *testing.T, method, path, key string, body any) (int, map[string]any) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req := httptest.NewRequest(method, path, rd)
	req.Header.Set("Authorization", "ApiKey "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := apitest.Do(t, f.h, req)
	var out map[string]any
	if rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s %s: non-JSON body %q", method, path, rec.Body.String())
		}
	}
	return rec.Code, out
}

func errCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func (f *fixture) create(t *testing.T, key, u string, evs ...string) (string, string) {
	t.Helper()
	if len(evs) == 0 {
		evs = []string{"*"}
	}
	code, body := f.do(t, "POST", "/v1/webhooks", key, map[string]any{"url": u, "events": evs, "description": "test"})
	if code != 201 {
		t.Fatalf("create %s: %d %v", u, code, body)
	}
	return body["id"].(string), body["secret"].(string)
}

func TestWebhooksAPI(t *testing.T) {
	f := setup(t)
	rcv := webhookstest.NewReceiver(t, nil)
	sb := f.keys.SandboxKey
	id, secret := f.create(t, sb, rcv.URL+"/hook", "consent.authorized", "transactions.created")
	if !strings.HasPrefix(secret, "whsec_") || !strings.HasPrefix(id, "whk_") {
		t.Fatalf("id %s secret %s", id, secret)
	}
	code, body := f.do(t, "GET", "/v1/webhooks", f.readOnly.SandboxKey, nil)
	if data, _ := body["data"].([]any); code != 200 || len(data) != 1 || strings.Contains(fmt.Sprint(body), "whsec_") {
		t.Errorf("list: %d %v", code, body)
	}
	if code, body := f.do(t, "GET", "/v1/webhooks/"+id, sb, nil); code != 200 || body["environment"] != "sandbox" || body["enabled"] != true || body["secret"] != nil {
		t.Errorf("get: %d %v", code, body)
	}
	// Each environment and organisation sees only its own.
	for _, key := range []string{f.keys.LiveKey, f.other.SandboxKey} {
		if code, body := f.do(t, "GET", "/v1/webhooks/"+id, key, nil); code != 404 || errCode(body) != "NOT_FOUND" {
			t.Errorf("foreign get: %d %v", code, body)
		}
		if code, _ := f.do(t, "DELETE", "/v1/webhooks/"+id, key, nil); code != 404 {
			t.Errorf("foreign delete: %d", code)
		}
	}
	if code, body := f.do(t, "PATCH", "/v1/webhooks/"+id, sb, map[string]any{"events": []string{"*"}, "enabled": false}); code != 200 || body["enabled"] != false || fmt.Sprint(body["events"]) != "[*]" {
		t.Errorf("patch: %d %v", code, body)
	}
	if code, body := f.do(t, "POST", "/v1/webhooks", f.readOnly.SandboxKey, map[string]any{"url": rcv.URL, "events": []string{"*"}}); code != 403 || errCode(body) != "FORBIDDEN" {
		t.Errorf("read_only create: %d %v", code, body)
	}
	for _, bad := range []map[string]any{
		{"url": rcv.URL}, {"events": []string{"*"}}, {"url": rcv.URL, "events": []string{"consent.authorised"}},
		{"url": rcv.URL, "events": []string{}}, {"url": "ftp://x", "events": []string{"*"}}, {"url": rcv.URL, "events": []string{"*"}, "secret": "mine"},
		{"url": "http://example.com/hook", "events": []string{"*"}},
	} {
		if code, body := f.do(t, "POST", "/v1/webhooks", sb, bad); code != 400 || errCode(body) != "VALIDATION_ERROR" {
			t.Errorf("create %v: %d %v", bad, code, body)
		}
	}
	// Live keys: https to public addresses only.
	for _, u := range []string{"https://10.0.0.1/hook", "https://127.0.0.1/hook", "http://127.0.0.1:8080/hook", "https://localhost/hook",
		"https://169.254.169.254/latest", "https://[::1]/", "https://100.64.0.9/", "https://192.168.0.10/",
		"https://[::a9fe:a9fe]/", "https://[::ffff:0:a9fe:a9fe]/", "https://[::127.0.0.1]/", "https://[::a00:1]/",
		"https://[::ffff:a9fe:a9fe]/", "https://[64:ff9b::a9fe:a9fe]/", "https://[2002:a9fe:a9fe::1]/", "https://[2001:0:a9fe:a9fe::1]/",
		"https://2130706433/", "https://127.1/", "https://0x7f.0.0.1/"} {
		code, body := f.do(t, "POST", "/v1/webhooks", f.keys.LiveKey, map[string]any{"url": u, "events": []string{"*"}})
		details, _ := body["error"].(map[string]any)["details"].([]any)
		if code != 400 || errCode(body) != "VALIDATION_ERROR" || len(details) == 0 || details[0].(map[string]any)["field"] != "url" {
			t.Errorf("live %s: %d %v", u, code, body)
		}
	}
	// Rotation: a new secret, the old one signing until previousSecretExpiresAt.
	code, body = f.do(t, "POST", "/v1/webhooks/"+id+"/rotate-secret", sb, nil)
	if code != 200 || body["secret"] == secret || body["previousSecretExpiresAt"] == nil {
		t.Errorf("rotate: %d %v", code, body)
	}
	// The limit: 10 per organisation and environment.
	for i := 1; i < wh.MaxEndpoints; i++ {
		f.create(t, sb, fmt.Sprintf("%s/%d", rcv.URL, i))
	}
	if code, body := f.do(t, "POST", "/v1/webhooks", sb, map[string]any{"url": rcv.URL, "events": []string{"*"}}); code != 409 || errCode(body) != "CONFLICT" {
		t.Errorf("11th endpoint: %d %v", code, body)
	}
	if code, _ := f.do(t, "DELETE", "/v1/webhooks/"+id, sb, nil); code != 204 {
		t.Errorf("delete: %d", code)
	}
	if code, _ := f.do(t, "GET", "/v1/webhooks/"+id, sb, nil); code != 404 {
		t.Errorf("get after delete: %d", code)
	}
	if code, _ := f.do(t, "GET", "/v1/webhooks/whk_nonsense", sb, nil); code != 400 {
		t.Errorf("malformed id: %d, want the spec's 400", code)
	}
	if code, _ := f.do(t, "GET", "/v1/webhooks/whk_00000000000000000000000000", sb, nil); code != 404 {
		t.Errorf("well-formed unknown id: %d", code)
	}
}

// deliveries returns an endpoint's deliveries through the API.
func (f *fixture) deliveries(t *testing.T, id, query string) ([]map[string]any, map[string]any) {
	t.Helper()
	code, body := f.do(t, "GET", "/v1/webhooks/"+id+"/deliveries"+query, f.readOnly.SandboxKey, nil)
	if code != 200 {
		t.Fatalf("deliveries: %d %v", code, body)
	}
	var out []map[string]any
	for _, d := range body["data"].([]any) {
		out = append(out, d.(map[string]any))
	}
	return out, body
}

// TestRetriedDeliveryLog: a receiver failing twice then succeeding gets the same webhook-id
// three times, and the deliveries API shows the three attempts.
func TestRetriedDeliveryLog(t *testing.T) {
	f := setup(t)
	rcv := webhookstest.NewReceiver(t, func(n int) int {
		if n < 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	id, secret := f.create(t, f.keys.SandboxKey, rcv.URL+"/hook", "consent.authorized")
	ev, _ := events.New("consent.authorized", map[string]string{"consentId": "con_x"}, f.clock.Now())
	if _, err := f.svc.Fanout(t.Context(), tenant.Tenant{Env: tenant.Sandbox, OrgID: f.org.ID}, ev); err != nil {
		t.Fatal(err)
	}
	f.q.Drain(t, f.svc)
	for range 2 {
		ds, _ := f.deliveries(t, id, "")
		next, err := time.Parse(time.RFC3339Nano, ds[0]["nextAttemptAt"].(string))
		if err != nil {
			t.Fatalf("nextAttemptAt: %v", ds[0])
		}
		if next.Sub(f.clock.Now()) > time.Minute {
			t.Errorf("retry %v after the failure, want within a minute", next.Sub(f.clock.Now()))
		}
		f.clock.Set(next)
		if n, err := f.svc.DispatchDue(t.Context()); n != 1 || err != nil {
			t.Fatalf("dispatch: %d %v", n, err)
		}
		f.q.Drain(t, f.svc)
	}
	reqs := rcv.Requests()
	if len(reqs) != 3 {
		t.Fatalf("receiver got %d requests, want 3", len(reqs))
	}
	for i, r := range reqs {
		if r.Header.Get("webhook-id") != ev.ID {
			t.Errorf("request %d: webhook-id %q, want %q", i, r.Header.Get("webhook-id"), ev.ID)
		}
		w, _ := standardwebhooks.NewWebhook(secret)
		if err := w.Verify(r.Body, r.Header); err != nil {
			t.Errorf("request %d does not verify: %v", i, err)
		}
	}
	ds, _ := f.deliveries(t, id, "")
	if len(ds) != 1 {
		t.Fatalf("%d deliveries", len(ds))
	}
	d := ds[0]
	atts := d["attempts"].([]any)
	if d["status"] != "succeeded" || d["eventId"] != ev.ID || len(atts) != 3 || d["nextAttemptAt"] != nil {
		t.Fatalf("delivery %v", d)
	}
	for i, want := range []float64{500, 500, 200} {
		a := atts[i].(map[string]any)
		if a["statusCode"] != want || a["trigger"] != "automatic" || a["success"] != (want == 200) || a["responseBody"] == nil {
			t.Errorf("attempt %d: %v", i, a)
		}
	}
}

// TestPingRedeliverAndPages: POST /test sends a signed webhook.ping to that endpoint only;
// redelivery sends the same webhook-id again and logs a manual attempt; the deliveries list
// pages with cursors.
func TestPingRedeliverAndPages(t *testing.T) {
	f := setup(t)
	rcv := webhookstest.NewReceiver(t, nil)
	sb := f.keys.SandboxKey
	id, secret := f.create(t, sb, rcv.URL+"/a", "consent.authorized")
	f.create(t, sb, rcv.URL+"/b")
	code, body := f.do(t, "POST", "/v1/webhooks/"+id+"/test", sb, nil)
	if code != 202 || body["type"] != "webhook.ping" {
		t.Fatalf("test: %d %v", code, body)
	}
	evID := body["id"].(string)
	f.q.Drain(t, f.svc)
	reqs := rcv.Requests()
	if len(reqs) != 1 || reqs[0].Path != "/a" || reqs[0].Header.Get("webhook-id") != evID {
		t.Fatalf("ping requests %v", reqs)
	}
	w, _ := standardwebhooks.NewWebhook(secret)
	if err := w.Verify(reqs[0].Body, reqs[0].Header); err != nil {
		t.Fatalf("ping does not verify: %v", err)
	}
	ds, _ := f.deliveries(t, id, "")
	dlv := ds[0]["id"].(string)
	code, body = f.do(t, "POST", "/v1/webhooks/"+id+"/deliveries/"+dlv+"/redeliver", sb, nil)
	if code != 202 || body["id"] != dlv {
		t.Fatalf("redeliver: %d %v", code, body)
	}
	f.q.Drain(t, f.svc)
	reqs = rcv.Requests()
	if len(reqs) != 2 || reqs[1].Header.Get("webhook-id") != evID || reqs[1].Header.Get("webhook-signature") == "" {
		t.Fatalf("after redelivery: %d requests", len(reqs))
	}
	code, body = f.do(t, "GET", "/v1/webhooks/"+id+"/deliveries/"+dlv, sb, nil)
	atts, _ := body["attempts"].([]any)
	if code != 200 || len(atts) != 2 || atts[1].(map[string]any)["trigger"] != "manual" {
		t.Fatalf("delivery after redelivery: %d %v", code, body)
	}
	if code, _ := f.do(t, "POST", "/v1/webhooks/"+id+"/deliveries/dlv_00000000000000000000000000/redeliver", sb, nil); code != 404 {
		t.Errorf("redeliver unknown: %d", code)
	}
	if code, _ := f.do(t, "GET", "/v1/webhooks/"+id+"/deliveries", f.other.SandboxKey, nil); code != 404 {
		t.Errorf("foreign deliveries: %d", code)
	}
	// Pages: 4 more events → 5 deliveries to /a.
	for range 4 {
		f.clock.Add(time.Second)
		ev, _ := events.New("consent.authorized", map[string]string{}, f.clock.Now())
		if _, err := f.svc.Fanout(t.Context(), tenant.Tenant{Env: tenant.Sandbox, OrgID: f.org.ID}, ev); err != nil {
			t.Fatal(err)
		}
	}
	f.q.Drain(t, f.svc)
	seen := map[string]bool{}
	query := "?limit=2"
	for pages := 0; ; pages++ {
		page, body := f.deliveries(t, id, query)
		for _, d := range page {
			seen[d["id"].(string)] = true
		}
		if body["hasMore"] != true {
			if pages != 2 {
				t.Errorf("%d pages, want 3", pages+1)
			}
			break
		}
		query = "?limit=2&cursor=" + url.QueryEscape(body["nextCursor"].(string))
	}
	if len(seen) != 5 {
		t.Errorf("pages held %d distinct deliveries, want 5", len(seen))
	}
	for _, q := range []string{"?cursor=nonsense", "?limit=0", "?limit=501"} {
		if code, body := f.do(t, "GET", "/v1/webhooks/"+id+"/deliveries"+q, sb, nil); code != 400 || errCode(body) != "VALIDATION_ERROR" {
			t.Errorf("%s: %d %v", q, code, body)
		}
	}
}
