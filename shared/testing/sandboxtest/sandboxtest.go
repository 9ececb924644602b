// Package sandboxtest walks the sandbox bank's SCA pages and reads its ledgers in tests.
// Only tests import it.
package sandboxtest

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

var reqField = regexp.MustCompile(`name="req" value="([^"]+)"`)

// SCA completes the sandbox bank's SCA pages at authorizeURL (login, one-time code,
// decision) as a browser without JavaScript would, and returns the bank's redirect. browser
// must not follow redirects.
func SCA(t testing.TB, browser *http.Client, authorizeURL, user, password, decision string) *url.URL {
	t.Helper()
	resp, err := browser.Get(authorizeURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("authorize page: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), page)
	}
	m := reqField.FindSubmatch(page)
	if m == nil {
		t.Fatalf("no req field in %s", page)
	}
	u, _ := url.Parse(authorizeURL)
	base := u.Scheme + "://" + u.Host + strings.TrimSuffix(u.Path, "/oauth2/authorize") + "/oauth2/authorize/"
	post := func(step string, form url.Values) *http.Response {
		form.Set("req", string(m[1]))
		resp, err := browser.PostForm(base+step, form)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for _, st := range []struct {
		step string
		form url.Values
	}{{"login", url.Values{"username": {user}, "password": {password}}}, {"otp", url.Values{"otp": {"123456"}}}} {
		resp := post(st.step, st.form)
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", st.step, resp.StatusCode, b)
		}
	}
	resp = post("decision", url.Values{"decision": {decision}})
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("decision: %d", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// Browser opens authorizeURL in a real browser and walks the sandbox bank's SCA pages there
// (see BrowserSCA); shot, when not nil, takes a screenshot of the login and the decision
// pages.
func Browser(authorizeURL, persona, decision string, shot func(string) chromedp.Action[chromedp.Void]) chromedp.Action[chromedp.Void] {
	snap := func(name string) chromedp.Action[chromedp.Void] {
		if shot == nil {
			return chromedp.Steps()
		}
		return shot(name)
	}
	return chromedp.Steps(
		chromedp.Navigate(authorizeURL),
		chromedp.WaitVisible(chromedp.ID("username")),
		snap("bank-login"),
		BrowserSCA(persona, decision, snap("bank-decision")),
	)
}

// BrowserSCA walks the sandbox bank's SCA pages in a real browser, from the login page
// (where the browser is, or is going) as persona (its password is its name, the one-time
// code 123456) to the decision page, runs atDecision there (a screenshot, for instance), and
// chooses decision ("approve" or "deny").
func BrowserSCA(persona, decision string, atDecision ...chromedp.Action[chromedp.Void]) chromedp.Action[chromedp.Void] {
	steps := []chromedp.Action[chromedp.Void]{
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), persona), chromedp.SendKeys(chromedp.ID("password"), persona),
		chromedp.Click(chromedp.ID("login")), chromedp.WaitVisible(chromedp.ID("otp")),
		chromedp.SendKeys(chromedp.ID("otp"), "123456"), chromedp.Click(chromedp.ID("verify")),
		chromedp.WaitVisible(chromedp.ID(decision)),
	}
	steps = append(steps, atDecision...)
	return chromedp.Steps(append(steps, chromedp.Click(chromedp.ID(decision)))...)
}
