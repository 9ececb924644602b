package localstacktest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
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
	resp, err := c.HTTP.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m, resp.Header
}
