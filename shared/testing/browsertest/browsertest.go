// Package browsertest launches headless Chromium for tests and keeps their screenshots.
// Only tests import it.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tokapi.io/tok/shared/manifest"
)

const chromiumPath = "/usr/bin/chromium"

// Start launches headless Chromium, with opts added to the usual flags, and returns a browser
// context that ends after timeout. It fails the test, never skips it, when Chromium is not
// installed. The browser stops when the test ends.
func Start(t testing.TB, timeout time.Duration, opts ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	if _, err := exec.LookPath(chromiumPath); err != nil {
		t.Fatalf("%s is missing: install it with `apt-get install -y chromium` (this test never skips)", chromiumPath)
	}
	opts = append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.WindowSize(900, 900),
	}, opts...)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	bctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	// The first Run starts the browser and must not have a timeout (it would stop the browser).
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	bctx, cancel = context.WithTimeout(bctx, timeout)
	t.Cleanup(cancel)
	return bctx
}

// Screenshots makes the directory where the screenshots of name are kept,
// $TOK_TEST_ARTIFACTS/name or build/test-artifacts/name, and returns it with an action that
// saves a full-page screenshot there as <shot>.png.
func Screenshots(t testing.TB, name string) (dir string, shot func(string) chromedp.Action[chromedp.Void]) {
	t.Helper()
	dir = os.Getenv("TOK_TEST_ARTIFACTS")
	if dir == "" {
		root, err := manifest.FindRoot()
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(root, "build", "test-artifacts")
	}
	dir = filepath.Join(dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			buf, err := chromedp.FullScreenshot(90)(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644)
		})
	}
}
