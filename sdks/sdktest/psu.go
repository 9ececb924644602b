package sdktest

import (
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"tokapi.io/tok/shared/testing/apitest"
	"tokapi.io/tok/shared/testing/sandboxtest"
)

// PSU is the customer's browser for the SDK tests: given the redirectUrl an SDK got from
// Tok, it walks what the customer would, as a browser without JavaScript: Tok's hosted pages
// (country, bank) when the request named no bank, the sandbox bank's SCA, and Tok's callback,
// and says where Tok sent the browser back. Tests in other languages use it over HTTP at URL:
//
//	POST {"url":"…","user":"demo","decision":"approve","country":"RS","bankId":"sandbox-rs"}
//	     → 200 {"pages":["…"],"callback":"https://app…?consentId=…&status=AUTHORIZED"}
//	     or 422 {"error":"what went wrong"}
//
// user defaults to demo and decision to approve; country and bankId are the choices on the
// hosted pages (needed only when url is one).
type PSU struct {
	URL string
	t   *testing.T
}

// Walk is what the customer does with a redirectUrl.
type Walk struct {
	URL      string `json:"url"`
	User     string `json:"user"`
	Decision string `json:"decision"`
	Country  string `json:"country"`
	BankID   string `json:"bankId"`
}

// Walked is where the customer went: every page opened, in order, and the callbackUrl Tok
// sent the browser back to at the end.
type Walked struct {
	Pages    []string `json:"pages"`
	Callback string   `json:"callback"`
}

// CallbackQuery is the query of the callbackUrl the walk ended on.
func (w Walked) CallbackQuery() url.Values {
	u, err := url.Parse(w.Callback)
	if err != nil {
		return nil
	}
	return u.Query()
}

func startPSU(t *testing.T) *PSU {
	t.Helper()
	p := &PSU{t: t}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

func (p *PSU) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req Walk
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.URL == "" {
		http.Error(w, `{"error":"the body must be {\"url\":…}"}`, http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	walked, err := p.Do(req)
	if err != nil {
		w.WriteHeader(http.StatusUnprocessableEntity)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	_ = json.NewEncoder(w).Encode(walked)
}

// Do walks req.URL as the customer.
func (p *PSU) Do(req Walk) (walked Walked, err error) {
	if req.User == "" {
		req.User = "demo"
	}
	if req.Decision == "" {
		req.Decision = "approve"
	}
	jar, _ := cookiejar.New(nil)
	b := &browser{Walked: &walked, http: &http.Client{Transport: apitest.Transport{T: p.t}, Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	at := req.URL
	if strings.Contains(at, "/v1/hosted/") {
		if at, err = b.hosted(req); err != nil {
			return walked, err
		}
	}
	// sandboxtest.SCA reports a failure through its testing.TB; here it becomes this walk's error.
	defer func() {
		switch f := recover().(type) {
		case nil:
		case scaFailure:
			err = errors.New(string(f))
		default:
			panic(f)
		}
	}()
	walked.Pages = append(walked.Pages, at)
	toTok := sandboxtest.SCA(scaTB{p.t}, b.http, at, req.User, req.User, req.Decision)
	walked.Pages = append(walked.Pages, toTok.String())
	back, err := b.callback(toTok)
	if err != nil {
		return walked, err
	}
	walked.Callback = back.String()
	return walked, nil
}

var continueLink = regexp.MustCompile(`<a id="continue" href="([^"]+)">`)

// callback opens Tok's callback and returns where it sends the browser. A callback whose
// work at the bank takes longer than 2 s answers a waiting page first, which links to the
// outcome; the browser follows it (and the outcome's own waiting page, every 2 s) as a
// meta refresh would.
func (b *browser) callback(u *url.URL) (*url.URL, error) {
	at := u.String()
	for range 30 {
		a, err := b.get(at)
		if err != nil {
			return nil, err
		}
		if a.status == http.StatusSeeOther && a.location != nil {
			return a.location, nil
		}
		next := continueLink.FindStringSubmatch(a.body)
		if a.status != http.StatusOK || next == nil {
			return nil, fmt.Errorf("tok's callback %s answered %d: %.300s", at, a.status, a.body)
		}
		if at != u.String() {
			time.Sleep(2 * time.Second) // the outcome's page refreshes after 2 s
		}
		to, err := u.Parse(html.UnescapeString(next[1]))
		if err != nil {
			return nil, err
		}
		at = to.String()
		b.Pages = append(b.Pages, at)
	}
	return nil, fmt.Errorf("tok's callback %s never finished", u)
}

// browser is one customer's browser: a cookie jar, redirects followed by hand so every page
// is recorded.
type browser struct {
	*Walked
	http *http.Client
}

// answer is what a page answered.
type answer struct {
	status   int
	location *url.URL // a redirect's Location, resolved against the page
	body     string
}

func (b *browser) get(u string) (answer, error) {
	resp, err := b.http.Get(u) //nolint:noctx // the client has a timeout
	if err != nil {
		return answer{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, body: string(body)}
	if loc := resp.Header.Get("Location"); loc != "" && err == nil {
		a.location, err = resp.Request.URL.Parse(loc)
	}
	return a, err
}

// page opens u and follows Tok's redirects to the page that answers 200.
func (b *browser) page(u string) (string, string, error) {
	for range 5 {
		b.Pages = append(b.Pages, u)
		a, err := b.get(u)
		if err != nil {
			return "", "", err
		}
		switch {
		case a.status == http.StatusOK:
			return u, a.body, nil
		case a.status/100 == 3 && a.location != nil:
			u = a.location.String()
		default:
			return "", "", fmt.Errorf("%s answered %d: %.300s", u, a.status, a.body)
		}
	}
	return "", "", fmt.Errorf("%s: too many redirects", u)
}

var (
	countryLink = regexp.MustCompile(`id="country-([A-Z]{2})" href="([^"]+)"`)
	bankForm    = regexp.MustCompile(`<form method="post" action="([^"]+/bank)">\s*<input type="hidden" name="csrf" value="([^"]+)">`)
)

// hosted chooses req.Country and req.BankID on Tok's hosted pages and returns the bank's
// SCA page Tok sent the browser to.
func (b *browser) hosted(req Walk) (string, error) {
	at, body, err := b.page(req.URL)
	if err != nil {
		return "", err
	}
	href := ""
	for _, m := range countryLink.FindAllStringSubmatch(body, -1) {
		if m[1] == req.Country {
			href = html.UnescapeString(m[2])
		}
	}
	if href == "" {
		return "", fmt.Errorf("the countries page %s offers no %q: %v", at, req.Country, countryLink.FindAllString(body, -1))
	}
	u, err := url.Parse(at)
	if err != nil {
		return "", err
	}
	next, err := u.Parse(href)
	if err != nil {
		return "", err
	}
	at, body, err = b.page(next.String())
	if err != nil {
		return "", err
	}
	form := bankForm.FindStringSubmatch(body)
	if form == nil || !strings.Contains(body, `id="bank-`+req.BankID+`"`) {
		return "", fmt.Errorf("the banks page %s has no form for bank %q", at, req.BankID)
	}
	action, err := u.Parse(html.UnescapeString(form[1]))
	if err != nil {
		return "", err
	}
	b.Pages = append(b.Pages, action.String())
	resp, err := b.http.PostForm(action.String(), url.Values{ //nolint:noctx // the client has a timeout
		"csrf": {html.UnescapeString(form[2])}, "country": {req.Country}, "bankId": {req.BankID}})
	if err != nil {
		return "", err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return "", fmt.Errorf("choosing %s answered %d", req.BankID, resp.StatusCode)
	}
	return resp.Header.Get("Location"), nil
}

// scaTB turns sandboxtest.SCA's fatal failures into a panic the walk recovers as its error,
// since they happen on a server goroutine, not the test's.
type scaTB struct{ testing.TB }

type scaFailure string

func (scaTB) Fatal(args ...any)                 { panic(scaFailure(fmt.Sprint(args...))) }
func (scaTB) Fatalf(format string, args ...any) { panic(scaFailure(fmt.Sprintf(format, args...))) }
