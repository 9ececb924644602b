package sdktest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"tokapi.io/tok/shared/webhooks"
)

// WebhookFixture is one signed message and whether verifying it with Secret must succeed.
type WebhookFixture struct {
	Name    string            `json:"name"`
	Payload string            `json:"payload"`
	Headers map[string]string `json:"headers"`
	Secret  string            `json:"secret"`
	Valid   bool              `json:"valid"`
}

type delivery struct {
	header http.Header
	body   []byte
}

// writeWebhookFixtures registers an endpoint, has Tok send it a ping before and after a
// secret rotation (so the signatures are the ones Tok's delivery code makes), adds messages
// signed with shared/webhooks at the edges of the tolerance, and writes them all to a file.
func writeWebhookFixtures(t *testing.T, a *admin) string {
	t.Helper()
	got := make(chan delivery, 8)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev struct{ Type string }
		if json.Unmarshal(body, &ev) == nil && ev.Type == "webhook.ping" {
			got <- delivery{r.Header.Clone(), body}
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(recv.Close)
	var hook struct{ ID, Secret string }
	a.call("POST", "/webhooks", `{"url":"`+recv.URL+`/hooks","events":["transactions.created"]}`, 201, &hook)
	ping := func() delivery {
		a.call("POST", "/webhooks/"+hook.ID+"/test", "", 202, nil)
		select {
		case d := <-got:
			return d
		case <-time.After(time.Minute):
			t.Fatal("sdktest: no webhook.ping delivered within a minute")
			return delivery{}
		}
	}
	first := ping()
	oldSecret := hook.Secret
	a.call("POST", "/webhooks/"+hook.ID+"/rotate-secret", "", 200, &hook)
	rotated := ping()

	fixture := func(name string, d delivery, secret string, valid bool) WebhookFixture {
		h := map[string]string{}
		for _, k := range []string{webhooks.HeaderID, webhooks.HeaderTimestamp, webhooks.HeaderSignature} {
			h[k] = d.header.Get(k)
		}
		return WebhookFixture{Name: name, Payload: string(d.body), Headers: h, Secret: secret, Valid: valid}
	}
	signed := func(offset time.Duration, body []byte, secrets ...string) delivery {
		ts := time.Now().Add(offset)
		sig, err := webhooks.Sign(first.header.Get(webhooks.HeaderID), ts, body, secrets)
		if err != nil {
			t.Fatal(err)
		}
		return delivery{http.Header{
			http.CanonicalHeaderKey(webhooks.HeaderID):        {first.header.Get(webhooks.HeaderID)},
			http.CanonicalHeaderKey(webhooks.HeaderTimestamp): {strconv.FormatInt(ts.Unix(), 10)},
			http.CanonicalHeaderKey(webhooks.HeaderSignature): {sig},
		}, body}
	}
	tampered := first
	tampered.body = bytes.Replace(first.body, []byte("webhook.ping"), []byte("webhook.pong"), 1)
	fixtures := []WebhookFixture{
		fixture("delivered by Tok", first, oldSecret, true),
		fixture("tampered body", tampered, oldSecret, false),
		fixture("another secret", first, webhooks.NewSecret(), false),
		fixture("rotation, verified with the new secret", rotated, hook.Secret, true),
		fixture("rotation, verified with the old secret", rotated, oldSecret, true),
		fixture("signed 4 minutes ago", signed(-4*time.Minute, first.body, oldSecret), oldSecret, true),
		fixture("expired: signed 6 minutes ago", signed(-6*time.Minute, first.body, oldSecret), oldSecret, false),
		fixture("signed 6 minutes in the future", signed(6*time.Minute, first.body, oldSecret), oldSecret, false),
	}
	if first.header.Get(webhooks.HeaderSignature) == "" || len(rotated.header.Get(webhooks.HeaderSignature)) <= len(first.header.Get(webhooks.HeaderSignature)) {
		t.Fatalf("sdktest: deliveries not signed as expected: %q then %q", first.header.Get(webhooks.HeaderSignature), rotated.header.Get(webhooks.HeaderSignature))
	}
	return writeJSONFile(t, "webhook-fixtures.json", fixtures) // throwaway secrets of a test stack, for the SDK tests
}
