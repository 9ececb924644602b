package apitest

import (
	"fmt"
	"net/http"
	"testing"
)

// recorder is a testing.TB that records errors instead of failing.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func TestCheckWebhook(t *testing.T) {
	headers := func(sig string) http.Header {
		h := http.Header{}
		h.Set("webhook-id", "evt_01KBR5W1T3X6NQ2ZV7M8C9D0EF")
		h.Set("webhook-timestamp", "1764583200")
		if sig != "" {
			h.Set("webhook-signature", sig)
		}
		return h
	}
	const ping = `{"id":"evt_01KBR5W1T3X6NQ2ZV7M8C9D0EF","type":"webhook.ping","createdAt":"2026-12-01T10:00:00Z","data":%s}`
	cases := []struct {
		name   string
		header http.Header
		body   string
		ok     bool
	}{
		{"valid ping", headers("v1,abc="), fmt.Sprintf(ping, `{"webhookId":"whk_01KBR5W1T3X6NQ2ZV7M8C9D0EF","message":"hi"}`), true},
		{"data of another type", headers("v1,abc="), fmt.Sprintf(ping, `{"consentId":"con_01KBR5W1T3X6NQ2ZV7M8C9D0EF","bankId":"b","status":"s"}`), false},
		{"no signature", headers(""), fmt.Sprintf(ping, `{"webhookId":"whk_01KBR5W1T3X6NQ2ZV7M8C9D0EF","message":"hi"}`), false},
		{"unknown type", headers("v1,abc="), `{"id":"evt_01KBR5W1T3X6NQ2ZV7M8C9D0EF","type":"nope","createdAt":"2026-12-01T10:00:00Z","data":{}}`, false},
	}
	for _, tc := range cases {
		r := &recorder{TB: t}
		CheckWebhook(r, tc.header, []byte(tc.body))
		if ok := len(r.errors) == 0; ok != tc.ok {
			t.Errorf("%s: ok=%v, errors %v", tc.name, ok, r.errors)
		}
	}
}
