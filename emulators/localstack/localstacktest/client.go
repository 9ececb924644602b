package localstacktest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"tokapi.io/tok/emulators/localstack"
	"tokapi.io/tok/shared/testing/apitest"
)

// Client calls the stack's API as an organisation's application would: each request on the
// host of its key's environment, each response checked against the spec (apitest.Transport),
// redirects answered rather than followed.
type Client struct {
	t  testing.TB
	st *localstack.Stack
	// HTTP is the client underneath, for requests outside the API (the bank's pages).
	HTTP *http.Client
}

// NewClient returns a Client of st for the test t.
func NewClient(t testing.TB, st *localstack.Stack) *Client {
	return &Client{t: t, st: st, HTTP: &http.Client{Transport: apitest.Transport{T: t}, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Call sends body (JSON, "" for none) with key and headers (name, value, ...) and returns
// the status, the answer decoded as a JSON object (nil when it is not one) and the headers.
func (c *Client) Call(ctx context.Context, method, path, key, body string, headers ...string) (int, map[string]any, http.Header) {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.st.APIURL(key)+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "ApiKey "+key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	a := Do(c.t, c.HTTP, req)
	var m map[string]any
	_ = json.Unmarshal(a.Body, &m)
	return a.Status, m, a.Header
}

// Answer is a response read whole: its status, headers, body and the URL it came from
// (after any redirects the client followed).
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
	URL    *url.URL
}

// Do sends req with client and reads the answer whole, closing its body; it fails the test
// if either fails.
func Do(t testing.TB, client *http.Client, req *http.Request) Answer {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return Answer{Status: resp.StatusCode, Header: resp.Header, Body: b, URL: resp.Request.URL}
}
