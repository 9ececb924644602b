package localstacktest

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tokapi.io/tok/shared/testing/browsertest"
	"tokapi.io/tok/shared/testing/sandboxtest"
)

// Browser is the customer's headless Chromium in a test of the stack, keeping its
// screenshots in Dir.
type Browser struct {
	Ctx  context.Context
	Dir  string
	Shot func(name string) chromedp.Action[chromedp.Void]
	t    testing.TB
}

// NewBrowser starts Chromium for timeout (see browsertest.Start), its screenshots kept
// under name (see browsertest.Screenshots).
func NewBrowser(t testing.TB, timeout time.Duration, name string) *Browser {
	t.Helper()
	b := &Browser{Ctx: browsertest.Start(t, timeout), t: t}
	b.Dir, b.Shot = browsertest.Screenshots(t, name)
	return b
}

// Approve opens authorizeURL, approves at the sandbox bank as persona (see
// sandboxtest.Browser; screenshots of its login and decision pages), waits for the app's
// page the bank and Tok send the browser back to, and runs atApp there; it fails the test if
// any step fails.
func (b *Browser) Approve(authorizeURL, persona string, atApp ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	steps := append([]chromedp.Action[chromedp.Void]{sandboxtest.Browser(authorizeURL, persona, "approve", b.Shot),
		chromedp.WaitVisible(chromedp.ID("done"))}, atApp...)
	if err := chromedp.Do(b.Ctx, steps...); err != nil {
		b.t.Fatalf("browser SCA as %s: %v", persona, err)
	}
}
