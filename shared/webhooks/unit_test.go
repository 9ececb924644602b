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
	"strconv"
	"strings"
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

func TestIsPublic(t *testing.T) {
	for addr, want := range map[string]bool{
		"93.184.216.34": true, "8.8.8.8": true, "2606:4700:4700::1111": true,
		"10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false, "127.0.0.1": false, "127.8.8.8": false,
		"169.254.169.254": false, "100.64.0.1": false, "100.127.255.254": false, "0.0.0.0": false,
		"224.0.0.1": false, "255.255.255.255": false, "198.18.0.1": false, "192.0.2.1": false,
		"::1": false, "::": false, "fe80::1": false, "fc00::1": false, "fd12:3456::1": false, "ff02::1": false,
		"::ffff:10.0.0.1": false, "::ffff:127.0.0.1": false, "::ffff:93.184.216.34": true,
		"64:ff9b::a00:1": false, "2002:a00:1::": false,
	} {
		if got := IsPublic(netip.MustParseAddr(addr)); got != want {
			t.Errorf("IsPublic(%s) = %v, want %v", addr, got, want)
		}
	}
}

type mapResolver map[string][]netip.Addr

func (m mapResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := m[host]; ok {
		return a, nil
	}
	return nil, errors.New("no such host")
}

func TestCheckURL(t *testing.T) {
	r := mapResolver{
		"hooks.example.com": {netip.MustParseAddr("93.184.216.34")},
		"internal.example":  {netip.MustParseAddr("10.0.0.7")},
		"mixed.example":     {netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("127.0.0.1")},
	}
	ok := map[string][]string{
		tenant.Live:    {"https://hooks.example.com/tok", "https://93.184.216.34:8443/x?y=1"},
		tenant.Sandbox: {"https://hooks.example.com/tok", "http://localhost:9000/hook", "http://127.0.0.1:1234/", "https://localhost/x"},
	}
	bad := map[string][]string{
		tenant.Live: {"http://hooks.example.com/tok", "https://internal.example/", "https://mixed.example/", "https://10.0.0.1/",
			"https://127.0.0.1/", "https://localhost/", "https://[::1]/", "https://169.254.169.254/latest/meta-data", "https://100.64.1.1/",
			"https://[fd00::1]/", "https://nowhere.invalid/", "https://user:pw@hooks.example.com/", "ftp://hooks.example.com/",
			"/relative", "", "https://hooks.example.com/#frag", "http://localhost:9000/hook"},
		tenant.Sandbox: {"http://hooks.example.com/", "https://internal.example/", "http://10.0.0.1/", "http://169.254.169.254/"},
	}
	for env, urls := range ok {
		for _, u := range urls {
			if _, err := CheckURL(t.Context(), r, env, u); err != nil {
				t.Errorf("%s %q refused: %v", env, u, err)
			}
		}
	}
	for env, urls := range bad {
		for _, u := range urls {
			if _, err := CheckURL(t.Context(), r, env, u); err == nil {
				t.Errorf("%s %q accepted", env, u)
			}
		}
	}
}

func TestDialerRefusesNonPublic(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	r := mapResolver{"rebound.example": {netip.MustParseAddr("127.0.0.1")}}
	strict := newClient(newDialer(r, false))
	for _, u := range []string{srv.URL, "http://rebound.example:" + port + "/"} {
		resp, err := strict.Get(u)
		if err == nil {
			_ = resp.Body.Close()
			t.Fatalf("strict client reached %s", u)
		}
		if !errors.Is(err, ErrBlockedAddress) {
			t.Errorf("%s: %v, want ErrBlockedAddress", u, err)
		}
	}
	loop := newClient(newDialer(r, true))
	resp, err := loop.Get(srv.URL)
	if err != nil {
		t.Fatalf("loopback client: %v", err)
	}
	_ = resp.Body.Close()
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
