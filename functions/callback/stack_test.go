package callback_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tokapi.io/tok/emulators/localstack/localstacktest"
	"tokapi.io/tok/shared/orgs"
	"tokapi.io/tok/shared/testing/sandboxtest"
)

var refresh = regexp.MustCompile(`<meta http-equiv="refresh" content="0;url=(/v1/callback/outcomes/[A-Za-z0-9_-]+)">`)

// TestSlowBankShowsWaitingPage: with the slow persona the callback's work (the token
// exchange, the accounts and balances, each call 5 s at the sandbox bank) outlasts the
// callback's patience, so the browser gets a waiting page at once, in its language, before
// the consent is authorised, and ends at the callbackUrl with the consent AUTHORIZED: over
// HTTP (the page, its link and the outcome URL, the state still single-use) and in headless
// Chromium without JavaScript.
func TestSlowBankShowsWaitingPage(t *testing.T) {
	st := localstacktest.Run(t, 5*time.Minute)
	_, keys := st.Org("Patient Ltd", orgs.TierEnterprise, "https://app.example.com")
	app := localstacktest.NewApp(t)
	consent := func(t *testing.T) (string, string) {
		code, c := st.Call("POST", "/v1/consents", keys.SandboxKey, `{"bankId":"sandbox-rs","callbackUrl":"`+app.CallbackURL()+`"}`)
		if code != 201 {
			t.Fatalf("create: %d %v", code, c)
		}
		return c["id"].(string), c["redirectUrl"].(string)
	}
	status := func(t *testing.T, id string) string {
		_, c := st.Call("GET", "/v1/consents/"+id, keys.SandboxKey, "")
		s, _ := c["status"].(string)
		return s
	}
	t.Run("over HTTP", func(t *testing.T) {
		t.Parallel() // with the Chromium flow: each waits out the slow bank on a consent of its own
		// A browser's client: the API client reads whole responses to check them against the spec.
		browser := &http.Client{Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		id, redirectURL := consent(t)
		loc := sandboxtest.SCA(t, st.API.HTTP, redirectURL, "slow", "slow", "approve")
		req, err := http.NewRequestWithContext(st.Ctx, "GET", loc.String(), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept-Language", "hr-HR,hr;q=0.9,en;q=0.5")
		began := time.Now()
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		rd := bufio.NewReader(resp.Body)
		if _, err := rd.Peek(1); err != nil {
			t.Fatal(err)
		}
		firstByte := time.Since(began)
		// The page is there before the work is done (the bank's calls take 5 s each).
		if s := status(t, id); s != "AWAITING_AUTHORIZATION" {
			t.Fatalf("consent %s when the first byte arrived", s)
		}
		h := resp.Header
		if resp.StatusCode != 200 || h.Get("Content-Type") != "text/html; charset=utf-8" || h.Get("Cache-Control") != "no-store" ||
			!strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") || h.Get("X-Request-Id") == "" ||
			h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
			t.Fatalf("waiting page: %d %v", resp.StatusCode, h)
		}
		head, _ := rd.Peek(rd.Buffered())
		if !strings.Contains(string(head), `<html lang="hr">`) || !strings.Contains(string(head), "Povezivanje s vašom bankom") ||
			!strings.Contains(string(head), `<a id="continue" href="/v1/callback/outcomes/`) || strings.Contains(string(head), "http-equiv") {
			t.Fatalf("the page's first part:\n%s", head)
		}
		page, err := io.ReadAll(rd)
		if err != nil {
			t.Fatal(err)
		}
		done := time.Since(began)
		m := refresh.FindSubmatch(page)
		if m == nil {
			t.Fatalf("the page's end:\n%s", page)
		}
		t.Logf("first byte after %s, page complete after %s", firstByte.Round(time.Millisecond), done.Round(time.Millisecond))
		// The outcome URL redirects to the callbackUrl, as often as the browser asks.
		for range 2 {
			out, err := browser.Get(st.URL + string(m[1]))
			if err != nil {
				t.Fatal(err)
			}
			_ = out.Body.Close()
			to, _ := url.Parse(out.Header.Get("Location"))
			if out.StatusCode != 303 || !strings.HasPrefix(to.String(), app.CallbackURL()+"?") || to.Query().Get("consentId") != id || to.Query().Get("status") != "AUTHORIZED" {
				t.Fatalf("outcome: %d to %s", out.StatusCode, to)
			}
		}
		if s := status(t, id); s != "AUTHORIZED" {
			t.Fatalf("consent %s", s)
		}
		// The state is spent; an unknown ticket is a page that changes nothing.
		for _, u := range []string{loc.String(), st.URL + "/v1/callback/outcomes/" + strings.Repeat("x", 43)} {
			r, err := browser.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			_ = r.Body.Close()
			if r.StatusCode != 400 || r.Header.Get("Content-Type") != "text/html; charset=utf-8" {
				t.Errorf("GET %s: %d", u, r.StatusCode)
			}
		}
	})

	t.Run("a test's client goes on through the waiting page", func(t *testing.T) {
		t.Parallel()
		id, redirectURL := consent(t)
		to := st.Callback(sandboxtest.SCA(t, st.API.HTTP, redirectURL, "slow", "slow", "approve"))
		back, _ := url.Parse(to.Header.Get("Location"))
		if to.Status != 303 || !strings.HasPrefix(back.String(), app.CallbackURL()+"?") || back.Query().Get("consentId") != id || back.Query().Get("status") != "AUTHORIZED" {
			t.Fatalf("callback's answer: %d to %s", to.Status, back)
		}
	})
	t.Run("in headless Chromium", func(t *testing.T) {
		t.Parallel()
		id, redirectURL := consent(t)
		b := localstacktest.NewBrowser(t, 2*time.Minute, "slow-callback")
		bctx, shot := b.Ctx, b.Shot
		var approved, waiting time.Time
		var title string
		err := chromedp.Do(bctx,
			sandboxtest.Browser(redirectURL, "slow", "approve", shot),
			chromedp.Func(func(context.Context, *chromedp.Target) error { approved = time.Now(); return nil }),
			chromedp.WaitVisible(chromedp.ID("continue")),
			chromedp.Func(func(context.Context, *chromedp.Target) error { waiting = time.Now(); return nil }),
			shot("waiting-page"),
		)
		if err != nil {
			t.Fatalf("browser flow: %v", err)
		}
		if s := status(t, id); s != "AWAITING_AUTHORIZATION" {
			t.Fatalf("consent %s while the waiting page shows", s)
		}
		if title, err = chromedp.Run(bctx, chromedp.Text(chromedp.ID("title"))); err != nil || title != "Connecting to your bank" {
			t.Errorf("waiting page title %q: %v", title, err)
		}
		if err := chromedp.Do(bctx, chromedp.WaitVisible(chromedp.ID("done")), shot("back-at-the-app")); err != nil {
			t.Fatalf("never left the waiting page: %v", err)
		}
		app.Back(t, "consentId", id, "AUTHORIZED")
		if s := status(t, id); s != "AUTHORIZED" {
			t.Fatalf("consent %s back at the app", s)
		}
		t.Logf("waiting page shown %s after the approval, back at the app %s after it (screenshots in %s)",
			waiting.Sub(approved).Round(time.Millisecond), time.Since(approved).Round(time.Millisecond), b.Dir)
	})
}
