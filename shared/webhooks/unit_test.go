package webhooks

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"tokapi.io/tok/shared/tenant"
)

// verifyFromSpec is the Standard Webhooks check written from the spec, independent of Sign:
// the signed content is "{id}.{timestamp}.{body}", the key the base64 after "whsec_", and
// any one of the space-separated "v1,<sig>" entries may match.
func verifyFromSpec(secret string, h http.Header, body []byte) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(h.Get("webhook-id") + "." + h.Get("webhook-timestamp") + "." + string(body)))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		if v, s, ok := strings.Cut(sig, ","); ok && v == "v1" && hmac.Equal([]byte(s), []byte(want)) {
			return true
		}
	}
	return false
}

func TestSignMatchesStandardWebhooks(t *testing.T) {
	s1, s2 := NewSecret(), NewSecret()
	if !strings.HasPrefix(s1, "whsec_") || s1 == s2 {
		t.Fatalf("secrets %q %q", s1, s2)
	}
	body := []byte(`{"id":"evt_0","type":"webhook.ping","createdAt":"2026-01-01T00:00:00Z","data":{}}`)
	now := time.Now()
	for _, secrets := range [][]string{{s1}, {s2, s1}} {
		sig, err := Sign("evt_X", now, body, secrets)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(strings.Fields(sig)); got != len(secrets) {
			t.Errorf("%d signatures for %d secrets: %q", got, len(secrets), sig)
		}
		h := http.Header{}
		h.Set(HeaderID, "evt_X")
		h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
		h.Set(HeaderSignature, sig)
		for _, s := range secrets {
			wh, err := standardwebhooks.NewWebhook(s)
			if err != nil {
				t.Fatal(err)
			}
			if err := wh.Verify(body, h); err != nil {
				t.Errorf("library rejects a signature by %s: %v", s[:10], err)
			}
			if !verifyFromSpec(s, h, body) {
				t.Error("spec verifier rejects the signature")
			}
		}
		other, _ := standardwebhooks.NewWebhook(NewSecret())
		if other.Verify(body, h) == nil {
			t.Error("a foreign secret verifies")
		}
		if wh, _ := standardwebhooks.NewWebhook(secrets[0]); wh.Verify(append(body, ' '), h) == nil {
			t.Error("a changed body verifies")
		}
	}
	if _, err := Sign("evt_X", now, body, nil); err == nil {
		t.Error("signing without a secret succeeded")
	}
}

type mapResolver map[string][]netip.Addr

func (m mapResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := m[host]; ok {
		return a, nil
	}
	return nil, errors.New("no such host")
}

// local is the local stack's policy: sandbox endpoints may be on loopback, except on Tok's
// own ports.
var local = Policy{Loopback: true, Own: []string{"http://127.0.0.1:8080", "http://127.0.0.1:8081", "http://127.0.0.1:8080/sandbox-bank"},
	Internal: []string{"127.0.0.1:8080", "127.0.0.1:8081", "127.0.0.1:9101"}}

// deployed is a deployment's policy: no loopback, Tok's hosts and load balancer refused.
var deployed = Policy{Own: []string{"https://api.tokapi.io", "https://sandbox.api.tokapi.io", "https://sandbox.api.tokapi.io/sandbox-bank"},
	Internal: []string{"34.120.1.2"}}

var testResolver = mapResolver{
	"hooks.example.com":     {netip.MustParseAddr("93.184.216.34")},
	"hooks6.example.com":    {netip.MustParseAddr("2606:4700:4700::1111")},
	"internal.example":      {netip.MustParseAddr("10.0.0.7")},
	"mixed.example":         {netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("127.0.0.1")},
	"compat.example":        {netip.MustParseAddr("::a9fe:a9fe")},
	"nat64.example":         {netip.MustParseAddr("64:ff9b::a00:1")},
	"metadata.example":      {netip.MustParseAddr("169.254.169.254")},
	"tok-alias.example":     {netip.MustParseAddr("34.120.1.2")},
	"mapped-meta.example":   {netip.MustParseAddr("::ffff:169.254.169.254")},
	"isatap-meta.example":   {netip.MustParseAddr("2606:4700::5efe:a9fe:a9fe")},
	"teredo.example":        {netip.MustParseAddr("2001:0:4136:e378:8000:63bf:3fff:fdd2")},
	"documentation.example": {netip.MustParseAddr("2001:db8::1")},
}

func TestCheckURL(t *testing.T) {
	type tc struct {
		policy Policy
		env    string
		url    string
		ok     bool
	}
	var cases []tc
	add := func(p Policy, env string, ok bool, urls ...string) {
		for _, u := range urls {
			cases = append(cases, tc{p, env, u, ok})
		}
	}
	public := []string{"https://hooks.example.com/tok", "https://93.184.216.34:8443/x?y=1", "https://hooks6.example.com/",
		"https://[2606:4700:4700::1111]/", "https://[::ffff:93.184.216.34]/", "https://hooks.example.com:443/x"}
	for _, p := range []Policy{local, deployed} {
		for _, env := range []string{tenant.Live, tenant.Sandbox} {
			add(p, env, true, public...)
			add(p, env, false,
				// IPv4 special-purpose addresses, literal and by name
				"https://10.0.0.1/", "https://169.254.169.254/latest/meta-data", "https://100.64.1.1/",
				"https://0.0.0.0/", "https://192.0.0.170/", "https://198.18.0.1/", "https://224.0.0.1/", "https://255.255.255.255/",
				"https://internal.example/", "https://mixed.example/", "https://metadata.example/",
				// IPv6 special-purpose addresses and every form that embeds an IPv4 address
				"https://[fd00::1]/", "https://[fe80::1%25eth0]/", "https://[ff02::1]/", "https://[100::1]/", "https://[2001:db8::1]/",
				"https://[::a9fe:a9fe]/", "https://[::169.254.169.254]/", "https://[::ffff:0:a9fe:a9fe]/", "https://[::ffff:a9fe:a9fe]/",
				"https://[::127.0.0.1]/", "https://[::a00:1]/", "https://[::ffff:127.0.0.1]/", "https://[::ffff:0:127.0.0.1]/",
				"https://[64:ff9b::a9fe:a9fe]/", "https://[64:ff9b::10.0.0.1]/", "https://[64:ff9b:1:a9fe:a9:fe00::]/",
				"https://[2002:a9fe:a9fe::1]/", "https://[2002:7f00:1::]/", "https://[2001:0:a9fe:a9fe::1]/", "https://[2001::ffff:ffff:80ff:fefe]/",
				"https://[2606:4700::200:5efe:a9fe:a9fe]/", "https://[3fff::1]/", "https://[5f00::1]/",
				"https://compat.example/", "https://nat64.example/", "https://mapped-meta.example/", "https://isatap-meta.example/",
				"https://teredo.example/", "https://documentation.example/",
				// numeric host shorthands some resolvers read as 127.0.0.1
				"https://2130706433/", "https://127.1/", "https://0x7f.0.0.1/", "https://0177.0.0.1/",
				// shapes
				"http://hooks.example.com/tok", "https://nowhere.invalid/", "https://user:pw@hooks.example.com/", "ftp://hooks.example.com/",
				"/relative", "", "https://hooks.example.com/#frag", "https://hooks.example.com:0/", "https://hooks.example.com:65536/",
				"https://-bad-.example.com/", "https://bad..example.com/")
		}
		// Live endpoints never reach loopback, whatever the deployment.
		add(p, tenant.Live, false, "http://localhost:9000/hook", "https://localhost/", "https://[::1]/", "http://127.0.0.1:1234/")
	}
	// Loopback for sandbox endpoints only where the deployment allows it, and never on Tok's ports.
	add(local, tenant.Sandbox, true, "http://localhost:9000/hook", "http://127.0.0.1:1234/", "https://localhost/x", "http://[::1]:9000/")
	add(local, tenant.Sandbox, false, "http://127.0.0.1:8080/v1/webhooks", "http://localhost:8081/", "http://[::1]:8080/", "http://10.0.0.1/", "http://169.254.169.254/")
	add(deployed, tenant.Sandbox, false, "http://localhost:9000/hook", "http://127.0.0.1:1234/", "https://localhost/x", "https://127.0.0.1/", "https://[::1]/")
	// Tok's own API hosts, by name, and its load balancer by address.
	for _, env := range []string{tenant.Live, tenant.Sandbox} {
		add(deployed, env, false, "https://api.tokapi.io/v1/webhooks", "https://SANDBOX.api.tokapi.io./sandbox-bank/x", "https://api.tokapi.io:8443/",
			"https://tok-alias.example/v1/webhooks", "https://34.120.1.2/")
	}
	for _, c := range cases {
		u, err := c.policy.CheckURL(t.Context(), testResolver, c.env, c.url)
		if c.ok && err != nil {
			t.Errorf("%s %q (loopback %v) refused: %v", c.env, c.url, c.policy.Loopback, err)
		}
		if !c.ok && err == nil {
			t.Errorf("%s %q (loopback %v) accepted as %v", c.env, c.url, c.policy.Loopback, u)
		}
		var ue *URLError
		if err != nil && !errors.As(err, &ue) {
			t.Errorf("%s %q: %v is not a URLError", c.env, c.url, err)
		}
		// The message never tells the client an address its host name resolves to.
		if pu, perr := url.Parse(c.url); err != nil && perr == nil && !isIP(pu.Hostname()) {
			for _, leak := range []string{"10.0.0.7", "169.254", "34.120", "a9fe", "64:ff9b", "2001:db8", "2001:0", "5efe"} {
				if strings.Contains(err.Error(), leak) && !strings.Contains(c.url, leak) {
					t.Errorf("%s %q: the message %q reveals %s", c.env, c.url, err, leak)
				}
			}
		}
	}
	if len(cases) < 200 {
		t.Errorf("only %d cases", len(cases))
	}
}

// clientOver is a client on the transport deliveries use, dialling with d.
func clientOver(d *dialer) *http.Client { return &http.Client{Transport: newTransport(d)} }

func isIP(host string) bool { _, err := netip.ParseAddr(host); return err == nil }

// TestDialerRefusesNonPublic: at dial time the dialer refuses what the policy refuses,
// whatever a name resolves to by then (DNS rebinding), and names no address in its error.
func TestDialerRefusesNonPublic(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	r := mapResolver{
		"rebound.example": {netip.MustParseAddr("127.0.0.1")},
		"mapped.example":  {netip.MustParseAddr("::ffff:127.0.0.1")},
		"compat.example":  {netip.MustParseAddr("::7f00:1")},
		"nat64.example":   {netip.MustParseAddr("64:ff9b::7f00:1")},
	}
	strict := clientOver(newDialer(r, Policy{}, false))
	for _, u := range []string{srv.URL, "http://rebound.example:" + port + "/", "http://mapped.example:" + port + "/",
		"http://compat.example:" + port + "/", "http://nat64.example:" + port + "/", "http://[::ffff:127.0.0.1]:" + port + "/"} {
		resp, err := strict.Get(u)
		if err == nil {
			_ = resp.Body.Close()
			t.Fatalf("strict client reached %s", u)
		}
		if !errors.Is(err, ErrBlockedAddress) || strings.Contains(describe(err), "127.0.0.1") {
			t.Errorf("%s: %v (shown as %q), want ErrBlockedAddress naming no address", u, err, describe(err))
		}
	}
	if resp, err := strict.Get("http://unknown.example/"); !errors.Is(err, ErrUnresolvable) {
		if resp != nil {
			_ = resp.Body.Close()
		}
		t.Errorf("unknown host: %v, want ErrUnresolvable", err)
	}
	loop := clientOver(newDialer(r, Policy{Loopback: true}, true))
	resp, err := loop.Get(srv.URL)
	if err != nil {
		t.Fatalf("loopback client: %v", err)
	}
	_ = resp.Body.Close()
	// Tok's own processes stay out of reach even where loopback is allowed.
	own := clientOver(newDialer(r, Policy{Loopback: true, Internal: []string{"127.0.0.1:" + port}}, true))
	for _, u := range []string{srv.URL, "http://rebound.example:" + port + "/", "http://[::1]:" + port + "/"} {
		if resp, err := own.Get(u); err == nil {
			_ = resp.Body.Close()
			t.Errorf("reached Tok's own process at %s", u)
		} else if !errors.Is(err, ErrBlockedAddress) {
			t.Errorf("%s: %v, want ErrBlockedAddress", u, err)
		}
	}
}

func TestSchedule(t *testing.T) {
	first := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, r := range []float64{0, 0.5, 0.999} {
		s := Schedule{Rand: func() float64 { return r }}
		now, failures := first, 1
		var times []time.Time
		for {
			next, ok := s.Next(first, failures, now)
			if !ok {
				break
			}
			times = append(times, next)
			now, failures = next, failures+1
		}
		if len(times) < 2 || times[1].Sub(first) > time.Minute {
			t.Errorf("rand %v: first two retries at %v, want within a minute", r, times[:2])
		}
		if last := now; last.Sub(first) < RetryWindow {
			t.Errorf("rand %v: retries stop after %v, want at least %v", r, last.Sub(first), RetryWindow)
		}
		if now.Sub(first) > RetryWindow+10*time.Hour {
			t.Errorf("rand %v: retries run %v", r, now.Sub(first))
		}
		for i := 3; i < len(times)-1; i++ {
			if times[i].Sub(times[i-1]) > times[i+1].Sub(times[i])+2*time.Hour {
				t.Errorf("rand %v: gaps shrink at %d", r, i)
			}
		}
		t.Logf("rand %v: %d retries, last %v after the first attempt", r, len(times), now.Sub(first))
	}
}

// TestWorkersNeverWait: an attempt handed to the workers runs at once however many are
// running (they are not a bound: the per-endpoint load is), and a worker that finished takes
// the next attempt rather than a new goroutine.
func TestWorkersNeverWait(t *testing.T) {
	w := newWorkers()
	const n = 64
	release := make(chan struct{})
	var running sync.WaitGroup
	running.Add(n)
	for range n {
		w.run(func() {
			running.Done()
			<-release
		})
	}
	waited := make(chan struct{})
	go func() { running.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(5 * time.Second):
		t.Fatal("attempts waited for a busy worker")
	}
	close(release)
	// Once idle, the workers take the next attempts: no new goroutine starts.
	time.Sleep(50 * time.Millisecond)
	before := runtime.NumGoroutine()
	var done sync.WaitGroup
	for range n / 2 {
		done.Add(1)
		w.run(done.Done)
	}
	done.Wait()
	if after := runtime.NumGoroutine(); after > before {
		t.Errorf("%d goroutines after handing idle workers %d attempts, %d before", after, n/2, before)
	}
}
