package localstack_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/emulators/localstack/localstacktest"
	"tokapi.io/tok/shared/events"
	"tokapi.io/tok/shared/orgs"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/testing/apitest"
	"tokapi.io/tok/shared/testing/testenv"
)

// TestStack runs every function as its own process behind the gateway, exactly as make dev
// does, on the test emulators.
func TestStack(t *testing.T) {
	st := localstacktest.Run(t, 5*time.Minute)
	ctx := st.Ctx
	fs := testenv.Firestore(t, st.Project)
	pubsubClient := testenv.PubSub(t, st.Project)
	org, keys := st.Org("E2E Ltd", orgs.TierPro)
	client := &http.Client{Transport: apitest.Transport{T: t}, Timeout: 30 * time.Second}
	get := func(path, key string) (int, http.Header, []byte) {
		t.Helper()
		return send(t, ctx, client, http.MethodGet, st.APIURL(key)+path, key, nil, "")
	}

	t.Run("the routes served are the spec's operations", func(t *testing.T) {
		servedRoutesAreTheSpec(ctx, t, st.Stack)
	})

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
		if code, h, body := get("/v1/nowhere", keys.LiveKey); code != 404 || !strings.Contains(string(body), `"NOT_FOUND"`) ||
			h.Get("X-RateLimit-Limit") != "300" || h.Get("X-RateLimit-Remaining") == "" {
			t.Errorf("unrouted path: %d %v %s", code, h, body)
		}
	})

	t.Run("broken HTTP is answered in the envelope", func(t *testing.T) { testBrokenHTTP(t, st.Stack, keys.LiveKey) })

	t.Run("a free organisation is limited after its burst of 10", func(t *testing.T) {
		_, free := st.Org("Free Ltd", orgs.TierFree)
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
		// Retry-After is a promise, kept by another function's instance too.
		code, h, _ := get("/v1/banks", free.SandboxKey)
		if code != http.StatusTooManyRequests || h.Get("X-RateLimit-Remaining") != "0" {
			t.Fatalf("still over the limit: %d %v", code, h)
		}
		secs, err := strconv.Atoi(h.Get("Retry-After"))
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(secs) * time.Second)
		if code, h, body := get("/v1/organisation", free.SandboxKey); code == http.StatusTooManyRequests {
			t.Errorf("waited Retry-After %d s, the organisation function answered 429: %v %s", secs, h, body)
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

	t.Run("each key on its own environment's host", func(t *testing.T) {
		for _, c := range []struct{ base, key, names string }{
			{st.URL, keys.SandboxKey, st.SandboxURL + "/v1"},
			{st.SandboxURL, keys.LiveKey, st.URL + "/v1"},
		} {
			// The client's own environment header is replaced by the host's.
			code, _, body := send(t, ctx, client, "GET", c.base+"/v1/banks", c.key, map[string]string{tenant.EnvironmentHeader: tenant.Sandbox + tenant.Live}, "")
			if code != 401 || !strings.Contains(string(body), `"INVALID_API_KEY"`) || !strings.Contains(string(body), c.names) {
				t.Errorf("%s key at %s: %d %s, want 401 naming %s", c.key[:8], c.base, code, body, c.names)
			}
			for _, env := range []string{tenant.Live, tenant.Sandbox} {
				if code, _, body := send(t, ctx, client, "GET", c.base+"/v1/banks", c.key, map[string]string{tenant.EnvironmentHeader: env}, ""); code != 401 {
					t.Errorf("%s key at %s claiming %s: %d %s", c.key[:8], c.base, env, code, body)
				}
			}
		}
		var env []string
		for _, v := range st.Env() {
			if strings.HasPrefix(v, "TOK_API_URL=") || strings.HasPrefix(v, "TOK_SANDBOX_API_URL=") {
				env = append(env, v)
			}
		}
		if want := "TOK_API_URL=" + st.URL + "/v1 TOK_SANDBOX_API_URL=" + st.SandboxURL + "/v1"; strings.Join(env, " ") != want {
			t.Errorf("dev.env URLs %v, want %s", env, want)
		}
	})

	t.Run("no event can be posted through an API port", func(t *testing.T) {
		tn := tenant.Tenant{Env: tenant.Live, OrgID: org.ID}
		data, err := json.Marshal(map[string]any{"env": tn.Env, "orgId": tn.OrgID, "event": map[string]any{"id": "evt_01ARZ3NDEKTSV4RRFFQ69G5FAV", "type": "webhook.ping", "data": map[string]any{}}})
		if err != nil {
			t.Fatal(err)
		}
		push, err := json.Marshal(map[string]any{"message": map[string]any{"messageId": "forged-1", "data": data}, "subscription": "projects/p/subscriptions/eventarc-eventlog"})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range []string{st.URL + "/_eventarc/eventlog", st.SandboxURL + "/_eventarc/eventlog", st.PushURL() + "/eventlog", st.PushURL() + "/_eventarc/eventlog", st.PushURL() + "/0123456789abcdef0123456789abcdef/eventlog"} {
			// An API port sends the unrouted path to the default function, which wants a key
			// (401) as behind the load balancer; the push listener knows no such path (404).
			if code, _, body := send(t, ctx, http.DefaultClient, "POST", u, "", map[string]string{"Content-Type": "application/json"}, string(push)); code != 404 && code != 401 {
				t.Errorf("forged push to %s: %d %s, want 401 or 404", u, code, body)
			}
		}
		docs, err := fs.Collection("envs").Doc(tn.Env).Collection("orgs").Doc(org.ID).Collection("events").Documents(ctx).GetAll()
		if err != nil || len(docs) != 0 {
			t.Errorf("live events after forged pushes: %d (%v)", len(docs), err)
		}
	})

	t.Run("function processes listen on loopback only", func(t *testing.T) {
		for name, u := range st.Backends() {
			_, port, err := net.SplitHostPort(strings.TrimPrefix(u, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			addrs := listeners(t, port)
			if len(addrs) == 0 {
				t.Errorf("%s: no listener on port %s", name, port)
			}
			for _, a := range addrs {
				if a != "127.0.0.1" {
					t.Errorf("%s listens on %s:%s, want loopback only", name, a, port)
				}
			}
		}
	})

	t.Run("every function checks path and query parameters against the spec", func(t *testing.T) {
		// Enterprise, from a client address of their own: each function instance's first look
		// at the key costs the address a token, and the subtests before spent its bucket on
		// requests without a valid key. The probes outnumber one burst, so a 429 is waited out
		// as its Retry-After says: the limiter is not what this checks.
		_, big, err := st.CreateOrg(ctx, "Probe Ltd", orgs.TierEnterprise, nil)
		if err != nil {
			t.Fatal(err)
		}
		from := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 77)}}
		probeClient := &http.Client{Timeout: 30 * time.Second,
			Transport: apitest.Transport{T: t, Base: &http.Transport{DialContext: from.DialContext}}}
		type probe struct{ name, method, target, param string }
		var probes []probe
		for _, p := range apitest.QueryProbes(t) {
			probes = append(probes, probe{p.String(), p.Method, p.Path + "?" + p.RawQuery, p.Param})
		}
		queries := len(probes)
		for _, p := range apitest.PathProbes(t) {
			probes = append(probes, probe{p.String(), p.Method, p.Path, p.Param})
		}
		callWith := func(method, target string, headers map[string]string, reqBody string) (int, http.Header, []byte) {
			code, h, body := send(t, ctx, probeClient, method, st.APIURL(big.LiveKey)+target, big.LiveKey, headers, reqBody)
			for tries := 0; code == http.StatusTooManyRequests && tries < 10; tries++ {
				wait, err := strconv.Atoi(h.Get("Retry-After"))
				if err != nil || wait < 1 || wait > 60 {
					t.Fatalf("%s %s: 429 with Retry-After %q", method, target, h.Get("Retry-After"))
				}
				time.Sleep(time.Duration(wait) * time.Second)
				code, h, body = send(t, ctx, probeClient, method, st.APIURL(big.LiveKey)+target, big.LiveKey, headers, reqBody)
			}
			return code, h, body
		}
		call := func(method, target string) (int, http.Header, []byte) { return callWith(method, target, nil, "") }
		for _, p := range probes {
			code, h, body := call(p.method, p.target)
			var env struct {
				Error struct {
					Code, RequestID string
					Details         []struct{ Field string }
				}
			}
			_ = json.Unmarshal(body, &env)
			if code != http.StatusBadRequest || env.Error.Code != "VALIDATION_ERROR" || len(env.Error.Details) != 1 ||
				env.Error.Details[0].Field != p.param || env.Error.RequestID != h.Get("X-Request-Id") {
				t.Errorf("%s: %d %s", p.name, code, body)
			}
		}
		if queries < 80 || len(probes)-queries < 80 {
			t.Errorf("only %d query probes and %d path probes", queries, len(probes)-queries)
		}
		// A well-formed ID that names nothing is the handler's 404, never a 400 or a 500.
		for _, path := range apitest.WellFormedPaths(t) {
			if code, _, body := call(http.MethodGet, path); code != http.StatusNotFound || !strings.Contains(string(body), `"NOT_FOUND"`) {
				t.Errorf("GET %s: %d %s, want 404", path, code, body)
			}
		}

		// Every JSON body is strict, whatever the operation: null as the body or for an
		// optional field, a key twice in a nested object, invalid UTF-8.
		bodies := apitest.BodyProbes(t)
		for _, p := range bodies {
			code, _, body := callWith(p.Method, p.Path, map[string]string{"Content-Type": "application/json"}, p.Body)
			if code != http.StatusBadRequest || !strings.Contains(string(body), `"VALIDATION_ERROR"`) {
				t.Errorf("%s: %d %s", p, code, body)
			}
		}
		if len(bodies) < 60 {
			t.Errorf("only %d body probes", len(bodies))
		}

		// A real cursor of one list is refused by every other list: 400 naming cursor (or,
		// under a parent that does not exist, its 404), never a page.
		if code, _, body := callWith("POST", "/v1/api-keys", nil, `{"role":"read_only"}`); code != 201 {
			t.Fatalf("second key pair: %d %s", code, body)
		}
		_, _, page := call(http.MethodGet, "/v1/api-keys?limit=1")
		var list struct{ NextCursor string }
		if err := json.Unmarshal(page, &list); err != nil || list.NextCursor == "" {
			t.Fatalf("no cursor from the key pairs: %s", page)
		}
		lists := apitest.ListOperations(t)
		for _, path := range lists {
			if path == "/v1/api-keys" {
				continue
			}
			code, _, body := call(http.MethodGet, path+"?cursor="+list.NextCursor)
			parent := strings.Count(path, "/") > 2
			refused := code == http.StatusBadRequest && strings.Contains(string(body), `"field":"cursor"`)
			if !refused && (!parent || code != http.StatusNotFound) {
				t.Errorf("GET %s with a key-pair cursor: %d %s", path, code, body)
			}
		}
		if len(lists) < 15 {
			t.Errorf("only %d lists", len(lists))
		}
	})

	t.Run("a function that ends on its own is reported with its log", func(t *testing.T) {
		if err := syscall.Kill(st.PIDs()["events"], syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-st.Exited:
			if msg := err.Error(); !strings.Contains(msg, "function events exited: signal: killed") || !strings.Contains(msg, "--- last lines of ") ||
				!strings.Contains(msg, "events.log") {
				t.Errorf("exit reported as %q", msg)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the killed function's exit was not reported")
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

// send makes one request and returns its status, headers and body.
func send(t *testing.T, ctx context.Context, client *http.Client, method, url, key string, headers map[string]string, body string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "ApiKey "+key)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	a := localstacktest.Do(t, client, req)
	return a.Status, a.Header, a.Body
}

// listeners returns the local addresses of the TCP sockets listening on port, from
// /proc/net/tcp and tcp6 ("0.0.0.0" or "::" for every interface).
func listeners(t *testing.T, port string) []string {
	t.Helper()
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(raw), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 4 || f[3] != "0A" { // 0A: LISTEN
				continue
			}
			hexAddr, hexPort, _ := strings.Cut(f[1], ":")
			if n, err := strconv.ParseUint(hexPort, 16, 16); err != nil || int(n) != p {
				continue
			}
			b, err := hex.DecodeString(hexAddr)
			if err != nil {
				t.Fatal(err)
			}
			// The kernel prints each 32-bit word in host (little-endian) order.
			for i := 0; i+4 <= len(b); i += 4 {
				b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
			}
			ip := net.IP(b)
			if v4 := ip.To4(); v4 != nil {
				ip = v4
			}
			out = append(out, ip.String())
		}
	}
	return out
}
