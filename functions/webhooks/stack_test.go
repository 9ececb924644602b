package webhooks

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"tokapi.io/tok/emulators/localstack/localstacktest"
	"tokapi.io/tok/shared/events"
	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/orgs"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/testing/apitest"
	"tokapi.io/tok/shared/testing/testenv"
	"tokapi.io/tok/shared/testing/webhookstest"
)

// TestThroughLocalStack runs every function as its own process behind the gateway, with the
// Pub/Sub emulator pushing to the event functions, as make dev does: an endpoint registered
// with the sandbox key on http://127.0.0.1:<port> receives a signed webhook.ping from
// POST /v1/webhooks/{id}/test and signed consent.authorized and transactions.created events
// published to tok-events; the deliveries and the event log show them.
func TestThroughLocalStack(t *testing.T) {
	st := localstacktest.Run(t, 5*time.Minute)
	ps := testenv.PubSub(t, st.Project)
	defer func() {
		if t.Failed() {
			for _, f := range []string{"webhooks", "webhookfanout", "webhookdeliver", "eventlog"} {
				b, _ := os.ReadFile(filepath.Join(st.LogDir, f+".log"))
				t.Logf("%s.log:\n%s", f, tail(b, 3000))
			}
		}
	}()
	org, keys := st.Org("Hooks Ltd", orgs.TierPro)
	call := func(method, path string, body any) (int, map[string]any) {
		t.Helper()
		var raw string
		if body != nil {
			b, _ := json.Marshal(body)
			raw = string(b)
		}
		return st.Call(method, path, keys.SandboxKey, raw)
	}

	rcv := webhookstest.NewReceiver(t, nil)
	code, body := call("POST", "/v1/webhooks", map[string]any{"url": rcv.URL + "/tok", "events": []string{"consent.authorized", "transactions.created"}})
	if code != 201 {
		t.Fatalf("create: %d %v", code, body)
	}
	id, secret := body["id"].(string), body["secret"].(string)
	verifier, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	code, body = call("POST", "/v1/webhooks/"+id+"/test", nil)
	if code != 202 {
		t.Fatalf("test: %d %v", code, body)
	}
	pingID := body["id"].(string)
	reqs := rcv.WaitFor(1, 60*time.Second)
	if len(reqs) != 1 {
		t.Fatalf("ping not received (%d requests)", len(reqs))
	}
	if err := verifier.Verify(reqs[0].Body, reqs[0].Header); err != nil || reqs[0].Header.Get("webhook-id") != pingID {
		t.Fatalf("ping: %v, webhook-id %q want %q", err, reqs[0].Header.Get("webhook-id"), pingID)
	}
	apitest.CheckWebhook(t, reqs[0].Header, reqs[0].Body)

	// Events published to tok-events by other functions (here directly).
	tn := tenant.Tenant{Env: tenant.Sandbox, OrgID: org.ID}
	pub := events.NewPublisher(ps, "tok-events")
	want := map[string]string{}
	for typ, data := range map[string]any{
		"consent.authorized":   map[string]any{"consentId": ids.New(ids.Consent), "bankId": "sandbox-hr", "status": "valid"},
		"transactions.created": map[string]any{"accountId": ids.New(ids.Account), "transactionIds": []string{ids.New(ids.Transaction)}},
		"sync.failed":          map[string]any{"connectionId": "x", "bankId": "sandbox-hr", "reason": "test"}, // not subscribed
	} {
		ev, err := events.New(typ, data, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := pub.Publish(st.Ctx, tn, ev); err != nil {
			t.Fatal(err)
		}
		want[ev.ID] = typ
	}
	rcv.WaitFor(3, 60*time.Second)
	time.Sleep(2 * time.Second) // a stray fourth delivery would show now
	reqs = rcv.Requests()
	if len(reqs) != 3 {
		t.Fatalf("received %d requests, want the ping and 2 subscribed events", len(reqs))
	}
	for _, r := range reqs[1:] {
		var ev struct{ ID, Type string }
		_ = json.Unmarshal(r.Body, &ev)
		if err := verifier.Verify(r.Body, r.Header); err != nil {
			t.Errorf("%s does not verify: %v", ev.Type, err)
		}
		apitest.CheckWebhook(t, r.Header, r.Body)
		if want[ev.ID] != ev.Type || ev.Type == "sync.failed" || r.Header.Get("webhook-id") != ev.ID {
			t.Errorf("unexpected delivery %s %s (webhook-id %s)", ev.ID, ev.Type, r.Header.Get("webhook-id"))
		}
	}
	// The deliveries log and the event log through the gateway.
	code, body = call("GET", "/v1/webhooks/"+id+"/deliveries", nil)
	if data, _ := body["data"].([]any); code != 200 || len(data) != 3 {
		t.Fatalf("deliveries: %d %v", code, body)
	}
	for _, d := range body["data"].([]any) {
		if dm := d.(map[string]any); dm["status"] != "succeeded" || len(dm["attempts"].([]any)) != 1 {
			t.Errorf("delivery %v", dm)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body = call("GET", "/v1/events", nil)
		if data, _ := body["data"].([]any); code == 200 && len(data) == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("event log: %d %v", code, body)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
