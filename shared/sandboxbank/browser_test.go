package sandboxbank_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/testing/browsertest"
)

// TestSCAInChromium completes the demo persona's SCA in headless Chromium, without
// JavaScript, and keeps a screenshot of every page.
func TestSCAInChromium(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.connector("sandbox-rs")
	// The TPP's callback: it keeps the query the bank redirects with.
	got := make(chan url.Values, 1)
	tpp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case got <- r.URL.Query():
		default:
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<!DOCTYPE html><title>TPP</title><h1 id=done>Back at the application</h1>"))
	}))
	defer tpp.Close()
	redirectURI := tpp.URL + "/callback"
	verifier, challenge := bank.NewPKCE()
	start, err := c.CreateConsent(ctx, bank.ConsentRequest{Access: []string{"accounts", "balances", "transactions"},
		RedirectURI: redirectURI, State: "browser", CodeChallenge: challenge})
	if err != nil {
		t.Fatal(err)
	}

	bctx := browsertest.Start(t, 60*time.Second, chromedp.Flag("blink-settings", "scriptEnabled=false"))
	dir, shot := browsertest.Screenshots(t, "sandboxbank")
	err = chromedp.Do(bctx,
		chromedp.Navigate(start.AuthorizeURL),
		chromedp.WaitVisible(chromedp.ID("username")),
		shot("1-login"),
		chromedp.SendKeys(chromedp.ID("username"), "demo"),
		chromedp.SendKeys(chromedp.ID("password"), "demo"),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("otp")),
		shot("2-one-time-code"),
		chromedp.SendKeys(chromedp.ID("otp"), "123456"),
		chromedp.Click(chromedp.ID("verify")),
		chromedp.WaitVisible(chromedp.ID("approve")),
		shot("3-consent"),
	)
	if err != nil {
		t.Fatalf("browser SCA: %v", err)
	}
	consentText, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("main")))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.ID("approve")), chromedp.WaitVisible(chromedp.ID("done")), shot("4-back-at-tpp")); err != nil {
		t.Fatalf("approve: %v", err)
	}
	var q url.Values
	select {
	case q = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the bank never redirected to the TPP")
	}
	if !strings.Contains(consentText, "See your transactions") || !strings.Contains(consentText, "RS") {
		t.Errorf("consent page does not say what is asked: %q", consentText)
	}
	if q.Get("state") != "browser" || q.Get("code") == "" {
		t.Fatalf("redirect query: %v", q)
	}
	tok, err := c.ExchangeCode(ctx, q.Get("code"), verifier, redirectURI)
	if err != nil {
		t.Fatal(err)
	}
	accts, err := c.Accounts(ctx, bank.Session{BankConsentID: start.BankConsentID, AccessToken: tok.AccessToken})
	if err != nil || len(accts) < 2 {
		t.Fatalf("accounts after browser SCA: %v %v", accts, err)
	}
	t.Logf("screenshots in %s", dir)
}
