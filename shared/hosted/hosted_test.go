package hosted_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/hosted"
	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/testing/testenv"
)

func newSession(t *testing.T, st hosted.Store, now time.Time) (hosted.Session, string) {
	t.Helper()
	s, secret := hosted.New(tenant.Tenant{Env: tenant.Sandbox, OrgID: ids.New(ids.Organisation)}, hosted.KindConsent, ids.New(ids.Consent), "hr", now)
	err := st.Client.RunTransaction(t.Context(), func(_ context.Context, tx *firestore.Transaction) error { return st.Create(tx, s) })
	if err != nil {
		t.Fatal(err)
	}
	return s, secret
}

func TestLinkOpensOnceForOneBrowser(t *testing.T) {
	testenv.Require(t)
	st := hosted.Store{Client: testenv.Firestore(t, testenv.Project(t))}
	ctx, now := t.Context(), time.Now().UTC()
	s, secret := newSession(t, st, now)
	if link := s.Link("https://api.tokapi.io/", secret); link != "https://api.tokapi.io/v1/hosted/"+s.ID+"/open/"+secret || len(secret) < 43 {
		t.Fatalf("link %q", link)
	}
	if _, _, err := st.Open(ctx, s.ID, secret+"x", "", now); !errors.Is(err, hosted.ErrUnknown) {
		t.Fatalf("wrong secret: %v", err)
	}
	// Two browsers race for the link: exactly one gets a cookie.
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		cookies []string
		used    int
	)
	for range 4 {
		wg.Go(func() {
			_, c, err := st.Open(ctx, s.ID, secret, "", now)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && c != "":
				cookies = append(cookies, c)
			case errors.Is(err, hosted.ErrUsed):
				used++
			default:
				t.Errorf("open: %q %v", c, err)
			}
		})
	}
	wg.Wait()
	if len(cookies) != 1 || used != 3 {
		t.Fatalf("%d cookies, %d used", len(cookies), used)
	}
	cookie := cookies[0]
	// The browser holding the cookie may open the link again and gets no new cookie.
	if got, c, err := st.Open(ctx, s.ID, secret, cookie, now); err != nil || c != "" || got.ResourceID != s.ResourceID {
		t.Fatalf("reopen by its browser: %q %v", c, err)
	}
	if got, err := st.Get(ctx, s.ID, cookie, now); err != nil || got.Locale != "hr" || got.Kind != hosted.KindConsent {
		t.Fatalf("get: %+v %v", got, err)
	}
	if _, err := st.Get(ctx, s.ID, "forged", now); !errors.Is(err, hosted.ErrUnknown) {
		t.Fatalf("get with another cookie: %v", err)
	}
	if _, err := st.Get(ctx, s.ID, cookie, now.Add(hosted.TTL)); !errors.Is(err, hosted.ErrExpired) {
		t.Fatalf("get after the TTL: %v", err)
	}
	// Finishing ends it: once, and then nothing opens it.
	finish := func() error {
		return st.Client.RunTransaction(ctx, func(_ context.Context, tx *firestore.Transaction) error { return st.Finish(tx, s.ID, cookie, now) })
	}
	if err := finish(); err != nil {
		t.Fatal(err)
	}
	if err := finish(); !errors.Is(err, hosted.ErrUsed) {
		t.Fatalf("second finish: %v", err)
	}
	if _, err := st.Get(ctx, s.ID, cookie, now); !errors.Is(err, hosted.ErrUsed) {
		t.Fatalf("get after finish: %v", err)
	}
	if _, _, err := st.Open(ctx, s.ID, secret, cookie, now); !errors.Is(err, hosted.ErrUsed) {
		t.Fatalf("open after finish: %v", err)
	}
	// Only hashes are stored.
	snap, err := st.Client.Collection(hosted.Collection).Doc(s.ID).Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range snap.Data() {
		if str, ok := v.(string); ok && (strings.Contains(str, secret) || strings.Contains(str, cookie)) {
			t.Errorf("field %s holds a secret", k)
		}
	}
}

func TestExpiredLinkDoesNotOpen(t *testing.T) {
	testenv.Require(t)
	st := hosted.Store{Client: testenv.Firestore(t, testenv.Project(t))}
	now := time.Now().UTC()
	s, secret := newSession(t, st, now.Add(-hosted.TTL))
	if _, _, err := st.Open(t.Context(), s.ID, secret, "", now); !errors.Is(err, hosted.ErrExpired) {
		t.Fatalf("expired link: %v", err)
	}
	if _, _, err := st.Open(t.Context(), "hps_nope", secret, "", now); !errors.Is(err, hosted.ErrUnknown) {
		t.Fatalf("malformed ID: %v", err)
	}
}

func TestCSRFIsBoundToTheCookie(t *testing.T) {
	if !hosted.CheckCSRF("a", hosted.CSRF("a")) || hosted.CheckCSRF("b", hosted.CSRF("a")) || hosted.CheckCSRF("", hosted.CSRF("")) {
		t.Fatal("CSRF token check")
	}
}

func TestNegotiate(t *testing.T) {
	for header, want := range map[string]string{
		"":                           "en",
		"de-DE,de;q=0.9":             "en",
		"hr-HR,hr;q=0.9,en;q=0.8":    "hr",
		"sr-Latn-RS":                 "sr-Latn",
		"sr-RS,sr;q=0.9":             "sr-Cyrl",
		"en;q=0.5, sl;q=0.8":         "sl",
		"bs-BA":                      "sr-Latn",
		"mk, sq;q=1":                 "mk",
		"fr;q=1, ro;q=0.2, bg;q=0.3": "bg",
		"sq-AL;q=bad, ro-RO":         "ro",
		"SR-latn":                    "sr-Latn",
	} {
		if got := hosted.Negotiate(header); got != want {
			t.Errorf("Negotiate(%q) = %q, want %q", header, got, want)
		}
	}
	if l, ok := hosted.ParseLocale("sr-cyrl"); !ok || l != "sr-Cyrl" {
		t.Error("ParseLocale normalises case")
	}
	if _, ok := hosted.ParseLocale("sr"); ok {
		t.Error("ParseLocale accepts only the offered tags")
	}
}
