package hostedpages_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptrace"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"tokapi.io/tok/emulators/localstack/localstacktest"
	"tokapi.io/tok/shared/hosted"
	"tokapi.io/tok/shared/orgs"
	"tokapi.io/tok/shared/testing/apitest"
	"tokapi.io/tok/shared/testing/browsertest"
	"tokapi.io/tok/shared/testing/repotest"
	"tokapi.io/tok/shared/testing/sandboxtest"
	"tokapi.io/tok/shared/testing/testenv"
)

// The API overview's payment body, as a customer's app sends it, plus where to come back.
const seedPayment = `{"creditorIban":"RS35105008123123123173","amount":"1500.00","currency":"RSD","remittanceInfo":"Invoice INV-2026-042","callbackUrl":"%s"}`

// vrpConsent is a VRP consent without a bank: 60.00 EUR a payment, 100.00 EUR a calendar
// day; %s is the callbackUrl, then extra fields.
const vrpConsent = `{"creditorIban":"HR1723600001101234565","creditorName":"Zajam d.o.o.","currency":"EUR","maximumIndividualAmount":"60.00",` +
	`"periodicLimits":[{"maximumAmount":"100.00","periodType":"DAY","periodAlignment":"CALENDAR"}],"remittanceInfo":"Loan 42",` +
	`"vrpType":"OTHER","callbackUrl":"%s"%s}`

// axeSource is axe-core from npm, installed by scripts/setup/setup.sh.
func axeSource(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repotest.Root(t), ".tok", "node", "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		t.Fatalf("axe-core is missing (scripts/setup/setup.sh installs it from api/tools/package.json; make test runs it): %v", err)
	}
	return string(b)
}

// browser drives one headless Chromium through the pages, checking each with axe-core and
// keeping screenshots at 360 and 1280 px.
type browser struct {
	t    *testing.T
	noJS bool // page scripts are off; axe runs with them on for its check
	ctx  context.Context
	axe  string
	shot func(string) chromedp.Action[chromedp.Void]
	dir  string
}

func newBrowser(t *testing.T, name string) *browser {
	b := &browser{t: t, ctx: browsertest.Start(t, 3*time.Minute), axe: axeSource(t)}
	b.dir, b.shot = browsertest.Screenshots(t, name)
	return b
}

func (b *browser) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

type violation struct {
	ID, Impact, Help string
	Nodes            int
}

// check runs axe-core's WCAG 2.1 A/AA rules on the current page (failing on a serious or
// critical violation), checks the page fits 360 px without sideways scrolling, logs its
// first byte and size, and keeps screenshots at 360 and 1280 px as name-360/-1280.
func (b *browser) check(name string) {
	b.t.Helper()
	b.do(chromedp.EmulateViewport(360, 780))
	scrollWidth := run(b, chromedp.Evaluate[int64](`document.documentElement.scrollWidth`))
	b.do(b.shot(name+"-360"), chromedp.EmulateViewport(1280, 900), b.shot(name+"-1280"))
	if b.noJS {
		b.scripts(true)
		defer b.scripts(false)
	}
	b.do(chromedp.Evaluate[chromedp.Void](b.axe))
	raw := run(b, chromedp.Evaluate[string](`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}).then(r =>
		JSON.stringify(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length}))))`, chromedp.EvalAwaitPromise))
	perf := run(b, chromedp.Evaluate[struct{ TTFB, Size float64 }](`(() => { const n = performance.getEntriesByType("navigation")[0];
		return {TTFB: n.responseStart - n.requestStart, Size: n.transferSize}; })()`))
	var vs []violation
	if err := json.Unmarshal([]byte(raw), &vs); err != nil {
		b.t.Fatalf("%s: axe answered %q: %v", name, raw, err)
	}
	for _, v := range vs {
		if v.Impact == "serious" || v.Impact == "critical" {
			b.t.Errorf("%s: axe %s violation %s (%s) on %d elements", name, v.Impact, v.ID, v.Help, v.Nodes)
		} else {
			b.t.Logf("%s: axe %s: %s (%d)", name, v.Impact, v.ID, v.Nodes)
		}
	}
	if scrollWidth > 360 {
		b.t.Errorf("%s: %d px wide at a 360 px viewport", name, scrollWidth)
	}
	b.t.Logf("%s: first byte %.1f ms after the request, %.0f bytes transferred, %d axe findings", name, perf.TTFB, perf.Size, len(vs))
}

// scripts switches the page's scripts on or off.
func (b *browser) scripts(on bool) {
	b.t.Helper()
	b.do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: !on})
		return err
	}))
}

// run runs one action that answers a value.
func run[T any](b *browser, a chromedp.Action[T]) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, a)
	if err != nil {
		b.t.Fatalf("browser: %v", err)
	}
	return v
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	return run(b, chromedp.Text(chromedp.CSS(sel)))
}

// TestHostedPages walks the hosted pages through the whole local stack in headless
// Chromium: a consent, the API overview's payment and a VRP consent created without a bank, country,
// search, bank, the sandbox bank's SCA as demo and back at the app; cancelling; a reused
// and an expired link; every page in every language over HTTP with its headers.
func TestHostedPages(t *testing.T) {
	st := localstacktest.Run(t, 8*time.Minute)
	_, keys := st.Org("Bilko d.o.o.", orgs.TierPro, "https://app.bilko.io")
	call := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		return st.Call(method, path, keys.SandboxKey, body)
	}
	create := func(path, body string) map[string]any {
		t.Helper()
		code, m := call("POST", path, body)
		if code != 201 || m["bankId"] != nil || !strings.HasPrefix(fmt.Sprint(m["redirectUrl"]), st.URL+"/v1/hosted/hps_") {
			t.Fatalf("POST %s without a bank: %d %v", path, code, m)
		}
		return m
	}
	// The organisation's branding, set by its live admin key.
	if code, m := st.Call("PATCH", "/v1/organisation", keys.LiveKey, `{"displayName":"Bilko","logoUrl":"https://cdn.bilko.io/logo.png","brandColor":"#0a7c4a"}`); code != 200 {
		t.Fatalf("PATCH /v1/organisation: %d %v", code, m)
	}
	a := localstacktest.NewApp(t)
	callback := a.CallbackURL()

	t.Run("consent", func(t *testing.T) {
		c := create("/v1/consents", `{"callbackUrl":"`+callback+`"}`)
		b := newBrowser(t, "hosted-consent")
		b.do(chromedp.Navigate(c["redirectUrl"].(string)), chromedp.WaitVisible(chromedp.CSS("#countries")))
		if got := b.text("#summary"); !strings.Contains(got, "Bilko") || !strings.Contains(got, "Transactions") {
			t.Errorf("summary %q", got)
		}
		logo := run(b, chromedp.AttributeValue(chromedp.CSS("header img"), "alt"))
		brand := run(b, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("header")).backgroundColor`))
		if logo.Value != "Bilko" || brand != "rgb(10, 124, 74)" {
			t.Errorf("branding: logo alt %q, header colour %q", logo.Value, brand)
		}
		b.check("1-country")
		b.do(chromedp.Click(chromedp.CSS("#country-HR")), chromedp.WaitVisible(chromedp.CSS("#banks")),
			chromedp.SendKeys(chromedp.CSS("#q"), "sandbox"))
		b.check("2-banks")
		b.do(chromedp.Click(chromedp.CSS("#bank-sandbox-hr")),
			sandboxtest.BrowserSCA("demo", "approve"),
			chromedp.WaitVisible(chromedp.ID("done")))
		q := a.Wait(t)
		if q.Get("consentId") != c["id"] || q.Get("status") != "AUTHORIZED" {
			t.Fatalf("back at the app with %v", q)
		}
		if code, got := call("GET", "/v1/consents/"+c["id"].(string), ""); code != 200 || got["bankId"] != "sandbox-hr" || got["status"] != "AUTHORIZED" {
			t.Fatalf("consent after the hosted pages: %d %v", code, got)
		}
		// The link was used: opening it again, even in the same browser, explains so.
		b.do(chromedp.Navigate(c["redirectUrl"].(string)), chromedp.WaitVisible(chromedp.CSS("#message")))
		if got := b.text("#message"); !strings.Contains(got, "already used") {
			t.Errorf("reused link: %q", got)
		}
		b.check("3-reused-link")
	})

	t.Run("payment without JavaScript", func(t *testing.T) {
		p := create("/v1/payments", fmt.Sprintf(seedPayment, callback))
		if p["paymentProduct"] != nil || p["status"] != "AWAITING_AUTHORIZATION" {
			t.Fatalf("payment %v", p)
		}
		b := newBrowser(t, "hosted-payment")
		b.noJS = true
		b.scripts(false)
		b.do(chromedp.Navigate(p["redirectUrl"].(string)), chromedp.WaitVisible(chromedp.CSS("#countries")))
		countries := run(b, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#countries a")].map(a => a.id)`))
		if len(countries) != 1 || countries[0] != "country-RS" {
			t.Errorf("an RSD payment without creditorName can go to %v (domestic RSD only)", countries)
		}
		if got := b.text("#amount"); got != "1,500.00\u00a0RSD" {
			t.Errorf("amount %q", got)
		}
		if got := b.text("#reference"); got != "Invoice INV-2026-042" {
			t.Errorf("reference %q", got)
		}
		b.check("1-country")
		b.do(chromedp.Click(chromedp.CSS("#country-RS")), chromedp.WaitVisible(chromedp.CSS("#q")),
			chromedp.SendKeys(chromedp.CSS("#q"), "nope\n"), chromedp.WaitVisible(chromedp.CSS("#nobank")))
		b.check("2-search-none")
		b.do(chromedp.Click(chromedp.CSS("#change-country")), chromedp.WaitVisible(chromedp.CSS("#country-RS")),
			chromedp.Click(chromedp.CSS("#country-RS")), chromedp.WaitVisible(chromedp.CSS("#q")),
			chromedp.SendKeys(chromedp.CSS("#q"), "Serbia\n"),
			chromedp.WaitVisible(chromedp.CSS("#bank-sandbox-rs")))
		b.check("3-banks")
		b.do(chromedp.Click(chromedp.CSS("#bank-sandbox-rs")),
			sandboxtest.BrowserSCA("demo", "approve"),
			chromedp.WaitVisible(chromedp.ID("done")))
		q := a.Wait(t)
		if q.Get("paymentId") != p["id"] || (q.Get("status") != "PENDING" && q.Get("status") != "COMPLETED") {
			t.Fatalf("back at the app with %v", q)
		}
		if code, got := call("GET", "/v1/payments/"+p["id"].(string), ""); code != 200 || got["bankId"] != "sandbox-rs" || got["paymentProduct"] != "domestic-credit-transfers" {
			t.Fatalf("payment after the hosted pages: %d %v", code, got)
		}
	})

	t.Run("cancel", func(t *testing.T) {
		p := create("/v1/payments", fmt.Sprintf(seedPayment, callback))
		c := create("/v1/consents", `{"callbackUrl":"`+callback+`","locale":"sr-Cyrl"}`)
		b := newBrowser(t, "hosted-cancel")
		b.do(chromedp.Navigate(p["redirectUrl"].(string)), chromedp.WaitVisible(chromedp.CSS("#cancel")),
			chromedp.Click(chromedp.CSS("#cancel")), chromedp.WaitVisible(chromedp.ID("done")))
		if q := a.Wait(t); q.Get("paymentId") != p["id"] || q.Get("status") != "REJECTED" || q.Get("statusReason") != "DENIED_BY_USER" {
			t.Fatalf("payment cancelled: back at the app with %v", q)
		}
		if code, got := call("GET", "/v1/payments/"+p["id"].(string), ""); code != 200 || got["status"] != "REJECTED" || got["statusReason"] != "DENIED_BY_USER" {
			t.Fatalf("cancelled payment: %d %v", code, got)
		}
		// The consent asked for Serbian Cyrillic; the switcher changes to Croatian.
		b.do(chromedp.Navigate(c["redirectUrl"].(string)), chromedp.WaitVisible(chromedp.CSS("#cancel")))
		lang := run(b, chromedp.AttributeValue(chromedp.CSS("html"), "lang")).Value
		if title := b.text("#title"); lang != "sr-Cyrl" || title != "Изаберите земљу своје банке" {
			t.Errorf("locale sr-Cyrl: lang %q, title %q", lang, title)
		}
		b.check("1-country-sr-Cyrl")
		b.do(chromedp.Click(chromedp.CSS(`a[hreflang="hr"]`)), chromedp.WaitVisible(chromedp.CSS(`html[lang="hr"]`)))
		b.check("2-country-hr")
		b.do(chromedp.Click(chromedp.CSS("#cancel")), chromedp.WaitVisible(chromedp.ID("done")))
		if q := a.Wait(t); q.Get("consentId") != c["id"] || q.Get("status") != "REJECTED" || q.Get("error") != "access_denied" {
			t.Fatalf("consent cancelled: back at the app with %v", q)
		}
	})

	t.Run("vrp consent", func(t *testing.T) {
		v := create("/v1/vrp-consents", fmt.Sprintf(vrpConsent, callback, ""))
		if v["status"] != "AWAITING_AUTHORIZATION" || v["remaining"] != nil {
			t.Fatalf("vrp consent %v", v)
		}
		b := newBrowser(t, "hosted-vrp")
		b.do(chromedp.Navigate(v["redirectUrl"].(string)), chromedp.WaitVisible(chromedp.CSS("#countries")))
		countries := run(b, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#countries a")].map(a => a.id)`))
		if !slices.Contains(countries, "country-HR") {
			t.Errorf("countries with a VRP bank: %v", countries)
		}
		for sel, want := range map[string]string{"#intro": "within the limits below", "#creditor": "Zajam d.o.o.", "#currency": "EUR",
			"#max-per-payment": "60.00\u00a0EUR", "#limits": "100.00\u00a0EUR per day (calendar periods)", "#validity": "from ", "#reference": "Loan 42"} {
			if got := b.text(sel); !strings.Contains(got, want) {
				t.Errorf("%s: %q, want %q", sel, got, want)
			}
		}
		b.check("1-country-mandate")
		b.do(chromedp.Click(chromedp.CSS("#country-HR")), chromedp.WaitVisible(chromedp.CSS("#bank-sandbox-hr")))
		b.check("2-banks-mandate")
		b.do(chromedp.Click(chromedp.CSS("#bank-sandbox-hr")), sandboxtest.BrowserSCA("demo", "approve", b.shot("3-bank-mandate")),
			chromedp.WaitVisible(chromedp.ID("done")))
		q := a.Wait(t)
		if q.Get("vrpConsentId") != v["id"] || q.Get("status") != "AUTHORIZED" {
			t.Fatalf("back at the app with %v", q)
		}
		if code, got := call("GET", "/v1/vrp-consents/"+v["id"].(string), ""); code != 200 || got["bankId"] != "sandbox-hr" || got["status"] != "AUTHORIZED" ||
			got["remaining"] == nil {
			t.Fatalf("vrp consent after the hosted pages: %d %v", code, got)
		}

		// Cancelled on the pages, in the locale the request asked for.
		c := create("/v1/vrp-consents", fmt.Sprintf(vrpConsent, callback, `,"locale":"hr"`))
		b.do(chromedp.Navigate(c["redirectUrl"].(string)), chromedp.WaitVisible(chromedp.CSS("#cancel")))
		if got := b.text("#limits"); got != "100,00\u00a0EUR dnevno (kalendarska razdoblja)" {
			t.Errorf("hr limits %q", got)
		}
		b.check("4-country-mandate-hr")
		b.do(chromedp.Click(chromedp.CSS("#cancel")), chromedp.WaitVisible(chromedp.ID("done")))
		if q := a.Wait(t); q.Get("vrpConsentId") != c["id"] || q.Get("status") != "REJECTED" || q.Get("statusReason") != "DENIED_BY_USER" {
			t.Fatalf("vrp consent cancelled: back at the app with %v", q)
		}
		if code, got := call("GET", "/v1/vrp-consents/"+c["id"].(string), ""); code != 200 || got["status"] != "REJECTED" || got["statusReason"] != "DENIED_BY_USER" || got["bankId"] != nil {
			t.Fatalf("cancelled vrp consent: %d %v", code, got)
		}
	})

	t.Run("expired link", func(t *testing.T) {
		c := create("/v1/consents", `{"callbackUrl":"`+callback+`"}`)
		link, _ := url.Parse(c["redirectUrl"].(string))
		sid := strings.Split(link.Path, "/")[3]
		fs := testenv.Firestore(t, st.Project)
		if _, err := fs.Collection(hosted.Collection).Doc(sid).Set(st.Ctx, map[string]any{"expiresAt": time.Now().Add(-time.Second)}, firestore.MergeAll); err != nil {
			t.Fatal(err)
		}
		b := newBrowser(t, "hosted-expired")
		b.do(chromedp.Navigate(link.String()), chromedp.WaitVisible(chromedp.CSS("#message")))
		if got := b.text("#message"); !strings.Contains(got, "expired") {
			t.Errorf("expired link: %q", got)
		}
		b.check("1-expired-link")
	})

	t.Run("every language over HTTP", func(t *testing.T) {
		c := create("/v1/consents", `{"callbackUrl":"`+callback+`"}`)
		p := create("/v1/payments", fmt.Sprintf(seedPayment, callback))
		v := create("/v1/vrp-consents", fmt.Sprintf(vrpConsent, callback, ""))
		for _, res := range []map[string]any{c, p, v} {
			jar, _ := cookiejar.New(nil)
			browser := &http.Client{Transport: apitest.Transport{T: t}, Jar: jar, Timeout: 30 * time.Second}
			type got struct {
				status int
				header http.Header
				final  *url.URL // after redirects
			}
			get := func(u string, header map[string]string) (got, string, time.Duration) {
				t.Helper()
				var start, first time.Time
				trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { start = time.Now() },
					GotFirstResponseByte: func() { first = time.Now() }}
				req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(st.Ctx, trace), "GET", u, nil)
				for k, v := range header {
					req.Header.Set(k, v)
				}
				a := localstacktest.Do(t, browser, req)
				return got{a.Status, a.Header, a.URL}, string(a.Body), first.Sub(start)
			}
			resp, _, _ := get(res["redirectUrl"].(string), nil)
			base := resp.final.String() // after the link's redirect
			if resp.status != 200 || !strings.HasSuffix(base, "/v1/hosted/"+strings.Split(resp.final.Path, "/")[3]) {
				t.Fatalf("open: %d at %s", resp.status, base)
			}
			var worst time.Duration
			for _, l := range hosted.Locales {
				for _, page := range []string{base + "?lang=" + l, base + "/banks?country=RS&lang=" + l} {
					resp, html, ttfb := get(page, nil)
					worst = max(worst, ttfb)
					h := resp.header
					if resp.status != 200 || !strings.Contains(html, `<html lang="`+l+`">`) || strings.Contains(html, "[missing text") ||
						!strings.Contains(html, `src="https://cdn.bilko.io/logo.png" alt="Bilko"`) || !strings.Contains(html, "--brand:#0a7c4a") {
						t.Errorf("%s: %d, lang or text missing", page, resp.status)
					}
					if len(html) > 50<<10 {
						t.Errorf("%s: %d bytes", page, len(html))
					}
					if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "script-src 'nonce-") ||
						h.Get("X-Frame-Options") != "DENY" || h.Get("Content-Type") != "text/html; charset=utf-8" {
						t.Errorf("%s: headers %v", page, h)
					}
				}
			}
			// Accept-Language decides when the request named no locale.
			if _, html, _ := get(base, map[string]string{"Accept-Language": "sl-SI,sl;q=0.9,en;q=0.5"}); !strings.Contains(html, `<html lang="sl">`) {
				t.Error("Accept-Language sl did not give Slovenian")
			}
			// A form without the session's token changes nothing.
			form := url.Values{"bankId": {"sandbox-rs"}, "csrf": {"forged"}}
			resp2, err := browser.PostForm(base+"/bank", form) //nolint:noctx // the test's client has a timeout
			if err != nil {
				t.Fatal(err)
			}
			_ = resp2.Body.Close()
			if resp2.StatusCode != http.StatusForbidden {
				t.Errorf("forged form: %d", resp2.StatusCode)
			}
			// Another browser (no cookie) sees nothing of the session.
			other := &http.Client{Transport: apitest.Transport{T: t}, Timeout: 30 * time.Second}
			resp3, err := other.Get(base) //nolint:noctx // the test's client has a timeout
			if err != nil {
				t.Fatal(err)
			}
			_ = resp3.Body.Close()
			if resp3.StatusCode != http.StatusNotFound {
				t.Errorf("another browser: %d", resp3.StatusCode)
			}
			t.Logf("%v: 18 pages in 9 languages, slowest first byte %s", res["id"], worst.Round(100*time.Microsecond))
		}
	})
}
