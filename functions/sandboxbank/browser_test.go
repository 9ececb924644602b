package sandboxbank_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tokapi.io/tok/shared/bank"
)

const chromiumPath = "/usr/bin/chromium"

// artifactsDir is where screenshots are kept: $TOK_TEST_ARTIFACTS or build/test-artifacts.
func artifactsDir(t *testing.T) string {
	dir := os.Getenv("TOK_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "build", "test-artifacts")
	}
	dir = filepath.Join(dir, "sandboxbank")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestSCAInChromium completes the demo persona's SCA in headless Chromium, without
// JavaScript, and keeps a screenshot of every page.
func TestSCAInChromium(t *testing.T) {
	if _, err := exec.LookPath(chromiumPath); err != nil {
		t.Fatalf("%s is missing: install it with `apt-get install -y chromium` (this test never skips)", chromiumPath)
	}
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

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("blink-settings", "scriptEnabled=false"),
		chromedp.WindowSize(900, 900),
	}
	actx, cancel := chromedp.NewExecAllocator(ctx, opts...)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	// The first Run starts the browser and must not have a timeout (it would stop the browser).
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	bctx, cancel = context.WithTimeout(bctx, 60*time.Second)
	defer cancel()

	dir := artifactsDir(t)
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			buf, err := chromedp.FullScreenshot(90)(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644)
		})
	}
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
