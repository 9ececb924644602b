package localstack_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/emulators/localstack/localstacktest"
	"tokapi.io/tok/shared/apitest"
	"tokapi.io/tok/shared/events"
	"tokapi.io/tok/shared/orgs"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/testenv"
)

// TestStack runs every function as its own process behind the gateway, exactly as make dev
// does, on the test emulators.
func TestStack(t *testing.T) {
	testenv.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st := localstacktest.Start(t)
	fs := testenv.Firestore(t, st.Project)
	pubsubClient := testenv.PubSub(t, st.Project)
	org, keys, err := st.CreateOrg(ctx, "E2E Ltd", orgs.TierPro, nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: apitest.Transport{T: t}, Timeout: 30 * time.Second}
	get := func(path, key string) (int, http.Header, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, st.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if key != "" {
			req.Header.Set("Authorization", "ApiKey "+key)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Header, body
	}

	t.Run("banks through the gateway", func(t *testing.T) {
		type bankList struct {
			Data []struct{ ID, Country, Environment string } `json:"data"`
		}
		for key, env := range map[string]string{keys.LiveKey: tenant.Live, keys.SandboxKey: tenant.Sandbox} {
			code, h, body := get("/v1/banks", key)
			if code != 200 {
				t.Fatalf("%s banks: %d %s", env, code, body)
			}
			if h.Get("X-Request-Id") == "" || h.Get("X-RateLimit-Limit") != "300" {
				t.Errorf("headers %v", h)
			}
			var list bankList
			if err := json.Unmarshal(body, &list); err != nil {
				t.Fatal(err)
			}
			countries := map[string]bool{}
			for _, b := range list.Data {
				countries[b.Country] = true
				if b.Environment != env {
					t.Errorf("%s key sees %s bank %s", env, b.Environment, b.ID)
				}
			}
			if env == tenant.Live && (len(list.Data) < 20 || len(countries) < 8) {
				t.Errorf("live catalogue: %d banks in %d countries", len(list.Data), len(countries))
			}
		}
		if code, _, body := get("/v1/banks/no-such-bank", keys.LiveKey); code != 404 || !strings.Contains(string(body), `"NOT_FOUND"`) {
			t.Errorf("unknown bank: %d %s", code, body)
		}
		if code, h, body := get("/v1/banks", "tok_live_0000000000000000000000000000000000000000"); code != 401 ||
			!strings.Contains(string(body), `"INVALID_API_KEY"`) || h.Get("X-RateLimit-Limit") == "" {
			t.Errorf("bad key: %d %v %s", code, h, body)
		}
		if code, _, body := get("/v1/nowhere", keys.LiveKey); code != 404 || !strings.Contains(string(body), `"NOT_FOUND"`) {
			t.Errorf("unrouted path: %d %s", code, body)
		}
	})

	t.Run("a free organisation is limited after its burst of 10", func(t *testing.T) {
		_, free, err := st.CreateOrg(ctx, "Free Ltd", orgs.TierFree, nil)
		if err != nil {
			t.Fatal(err)
		}
		firstRefused, refused := 0, 0
		for i := 1; i <= 40; i++ {
			code, h, body := get("/v1/banks", free.SandboxKey)
			switch code {
			case http.StatusOK:
			case http.StatusTooManyRequests:
				refused++
				if firstRefused == 0 {
					firstRefused = i
				}
				if h.Get("Retry-After") == "" || !strings.Contains(string(body), `"RATE_LIMITED"`) {
					t.Fatalf("429 without Retry-After: %v %s", h, body)
				}
			default:
				t.Fatalf("call %d: %d %s", i, code, body)
			}
		}
		// Burst 10 plus the one token a second that refills while 40 calls run.
		if firstRefused < 10 || firstRefused > 14 || refused < 20 {
			t.Errorf("first 429 at call %d, %d refused of 40", firstRefused, refused)
		}
	})

	t.Run("event published, pushed by the emulator, handled by the function", func(t *testing.T) {
		ev, err := events.New("webhook.ping", map[string]string{"hello": "world"}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		tn := tenant.Tenant{Env: tenant.Sandbox, OrgID: org.ID}
		if err := events.NewPublisher(pubsubClient, "tok-events").Publish(ctx, tn, ev); err != nil {
			t.Fatal(err)
		}
		doc := fs.Collection("envs").Doc(tn.Env).Collection("orgs").Doc(org.ID).Collection("events").Doc(ev.ID)
		var snap *firestore.DocumentSnapshot
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if snap, err = doc.Get(ctx); err == nil {
				break
			}
		}
		if err != nil {
			t.Fatalf("event %s never recorded: %v", ev.ID, err)
		}
		if snap.Data()["type"] != "webhook.ping" {
			t.Errorf("recorded %v", snap.Data())
		}
	})

	t.Run("stop leaves no process and no port", func(t *testing.T) {
		pids := st.PIDs()
		st.Stop()
		for _, pid := range pids {
			deadline := time.Now().Add(5 * time.Second)
			for syscall.Kill(pid, 0) == nil && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			if syscall.Kill(pid, 0) == nil {
				t.Errorf("function process %d still running", pid)
			}
		}
		l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", strings.TrimPrefix(st.URL, "http://"))
		if err != nil {
			t.Errorf("gateway port still taken: %v", err)
		} else {
			_ = l.Close()
		}
	})
}
