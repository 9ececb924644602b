package berlingroup

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/bankcatalog"
	"tokapi.io/tok/shared/testing/testclock"
)

func TestMapError(t *testing.T) {
	for _, c := range []struct {
		status int
		body   string
		oauth  bool
		want   bank.Kind
	}{
		{401, `{"tppMessages":[{"category":"ERROR","code":"CONSENT_EXPIRED"}]}`, false, bank.ConsentExpired},
		{401, `{"type":"x","code":"TOKEN_EXPIRED"}`, false, bank.TokenExpired},
		{429, `{"tppMessages":[{"category":"ERROR","code":"ACCESS_EXCEEDED"}]}`, false, bank.AccessExceeded},
		{400, `{"type":"x","code":"FORMAT_ERROR","additionalErrors":[{"code":"PAYMENT_FAILED"}]}`, false, bank.Rejected},
		{400, `{"tppMessages":[{"category":"ERROR","code":"FORMAT_ERROR"}]}`, false, bank.Invalid},
		{503, ``, false, bank.Unavailable},
		{500, `<html>`, false, bank.Unavailable},
		{400, `{"error":"invalid_grant"}`, true, bank.ConsentExpired},
		{401, `{"error":"invalid_client"}`, true, bank.Invalid},
	} {
		if got := bank.KindOf(mapError(c.status, []byte(c.body), c.oauth)); got != c.want {
			t.Errorf("%d %s: %v, want %v", c.status, c.body, got, c.want)
		}
	}
}

func TestCircuitBreaker(t *testing.T) {
	var healthy atomic.Bool
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Header.Get("PSU-IP-Address") != "" {
			t.Error("PSU-IP-Address sent for an unattended call")
		}
		if !healthy.Load() {
			w.WriteHeader(503)
			return
		}
		_, _ = w.Write([]byte(`{"consentStatus":"valid"}`))
	}))
	defer srv.Close()
	clk := testclock.New(time.Unix(1_800_000_000, 0))
	c, err := New(Config{BankID: "breaker-test", BaseURL: srv.URL, AuthorizeURL: srv.URL + "/a", TokenURL: srv.URL + "/t",
		ClientID: "id", ClientSecret: "s", Retries: 1, BreakerThreshold: 3, BreakerCooldown: time.Minute, Now: clk.Now}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s := bank.Session{BankConsentID: "c1", AccessToken: "tok", PSUIPAddress: "203.0.113.1"} // not present
	for range 3 {
		if _, err := c.ConsentStatus(ctx, s); bank.KindOf(err) != bank.Unavailable {
			t.Fatalf("want Unavailable, got %v", err)
		}
	}
	if c.BreakerState() != "open" {
		t.Fatalf("state %s, want open", c.BreakerState())
	}
	healthy.Store(true)
	before := hits.Load()
	if _, err := c.ConsentStatus(ctx, s); bank.KindOf(err) != bank.Unavailable || hits.Load() != before {
		t.Fatalf("open circuit let a call through: %v", err)
	}
	clk.Add(time.Minute + time.Second)
	if c.BreakerState() != "half-open" {
		t.Fatalf("state %s, want half-open", c.BreakerState())
	}
	if st, err := c.ConsentStatus(ctx, s); err != nil || st != "valid" {
		t.Fatalf("trial call: %q %v", st, err)
	}
	if c.BreakerState() != "closed" {
		t.Fatalf("state %s, want closed", c.BreakerState())
	}
}

func TestPOSTNotRetried(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(503)
	}))
	defer srv.Close()
	c, _ := New(Config{BankID: "post-test", BaseURL: srv.URL, AuthorizeURL: srv.URL + "/a", TokenURL: srv.URL + "/t",
		ClientID: "id", ClientSecret: "s", Retries: 3, Backoff: time.Millisecond}, nil)
	_, err := c.CreateConsent(context.Background(), bank.ConsentRequest{RedirectURI: "https://x/cb", State: "s", CodeChallenge: "c"})
	if bank.KindOf(err) != bank.Unavailable || hits.Load() != 1 {
		t.Fatalf("POST: %v after %d hits", err, hits.Load())
	}
	_, _ = c.ConsentStatus(context.Background(), bank.Session{BankConsentID: "x"})
	if hits.Load() != 4 {
		t.Fatalf("GET attempts = %d, want 3", hits.Load()-1)
	}
}

func TestFromCatalogue(t *testing.T) {
	cat, err := bankcatalog.Load("http://127.0.0.1:8080/sandbox-bank")
	if err != nil {
		t.Fatal(err)
	}
	b, ok := cat.Get(bankcatalog.EnvSandbox, "sandbox-rs")
	if !ok {
		t.Fatal("sandbox-rs not in the catalogue")
	}
	c, err := FromCatalogue(b, mapSecrets{})
	if err != nil {
		t.Fatal(err)
	}
	if c.cfg.BaseURL != "http://127.0.0.1:8080/sandbox-bank/banks/sandbox-rs" || c.cfg.FrequencyPerDay != 4 {
		t.Fatalf("config = %+v", c.cfg)
	}
}

type mapSecrets map[string]string

func (m mapSecrets) Get(_ context.Context, id string) ([]byte, error) { return []byte(m[id]), nil }
