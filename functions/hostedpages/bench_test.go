package hostedpages_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httptrace"
	"slices"
	"strings"
	"testing"
	"time"

	"tokapi.io/tok/emulators/localstack/localstacktest"
	"tokapi.io/tok/shared/orgs"
)

// firstByte GETs u with client and returns the time from the request written to the first
// byte of the answer, which must be a 200.
func firstByte(b *testing.B, client *http.Client, u string) time.Duration {
	b.Helper()
	var wrote, first time.Time
	trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { wrote = time.Now() },
		GotFirstResponseByte: func() { first = time.Now() }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(b.Context(), trace), http.MethodGet, u, nil)
	if err != nil {
		b.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	return first.Sub(wrote)
}

func medianMs(d []time.Duration) float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	return float64(s[len(s)/2]) / float64(time.Millisecond)
}

// BenchmarkFirstByte measures, on the local stack (every function its own process behind the
// gateway), the time to the first byte of the hosted pages a customer opens first: the
// country list and a country's banks of a consent's session, with its cookie. The baseline,
// in the same round through the same gateway, is a static document served by the same
// platform wrapper (GET /v1/openapi.yaml, the APISpec function). Each iteration is one GET of
// each, the session kept warm as a browser's is; each figure is the median over the run.
//
//	go run ./emulators/cmd/withemulators -- go test -run '^$' -bench FirstByte -benchtime 50x ./functions/hostedpages/
func BenchmarkFirstByte(b *testing.B) {
	ctx, cancel := context.WithTimeout(b.Context(), 5*time.Minute)
	defer cancel()
	st := localstacktest.Start(b)
	_, keys, err := st.CreateOrg(ctx, "Bilko d.o.o.", orgs.TierEnterprise, []string{"https://app.bilko.io"})
	if err != nil {
		b.Fatal(err)
	}
	back := httptest.NewServer(http.NotFoundHandler())
	b.Cleanup(back.Close)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, st.APIURL(keys.SandboxKey)+"/v1/consents",
		strings.NewReader(`{"callbackUrl":"`+back.URL+`/bank/done"}`))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "ApiKey "+keys.SandboxKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	var consent struct {
		RedirectURL string `json:"redirectUrl"`
	}
	err = json.NewDecoder(resp.Body).Decode(&consent)
	_ = resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated || consent.RedirectURL == "" {
		b.Fatalf("POST /v1/consents without a bank: %d %v", resp.StatusCode, err)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		b.Fatal(err)
	}
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	// The link sets the session's cookie and redirects to the country list.
	open, err := browser.Get(consent.RedirectURL) //nolint:noctx // the client has a timeout
	if err != nil {
		b.Fatal(err)
	}
	_ = open.Body.Close()
	page := open.Request.URL.String()
	if open.StatusCode != http.StatusOK || !strings.Contains(page, "/v1/hosted/hps_") {
		b.Fatalf("open the link: %d at %s", open.StatusCode, page)
	}
	static := st.URL + "/v1/openapi.yaml"
	// Warm: each function process has built its handler, as a running instance has.
	firstByte(b, browser, page)
	firstByte(b, browser, static)

	var countries, banks, docs []time.Duration
	for b.Loop() {
		countries = append(countries, firstByte(b, browser, page))
		banks = append(banks, firstByte(b, browser, page+"/banks?country=HR"))
		docs = append(docs, firstByte(b, browser, static))
	}
	b.ReportMetric(medianMs(countries), "countries-first-byte-ms")
	b.ReportMetric(medianMs(banks), "banks-first-byte-ms")
	b.ReportMetric(medianMs(docs), "static-first-byte-ms")
}
