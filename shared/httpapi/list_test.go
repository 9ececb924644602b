package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"tokapi.io/tok/shared/tenant"
)

type pos struct {
	Date string `json:"d"`
	ID   string `json:"i"`
}

var (
	cursorKey  = mustKey("secret-one")
	tenantA    = tenant.Tenant{Env: tenant.Live, OrgID: "org_a"}
	listTarget = "/v1/accounts/acc_1/transactions?status=booked"
)

func mustKey(secret string) []byte { return DeriveCursorKey([]byte(secret)) }

// listRequest is a GET of target by tenant t, with the cursor key key.
func listRequest(target string, t tenant.Tenant, key []byte) *http.Request {
	r := httptest.NewRequest("GET", target, nil)
	return r.WithContext(WithCursorKey(tenant.With(r.Context(), t), key))
}

func TestCursorRoundTripAndRejects(t *testing.T) {
	c, err := EncodeCursor(listRequest(listTarget+"&limit=2", tenantA, cursorKey), pos{"2026-01-02", "txn_1"})
	if err != nil {
		t.Fatal(err)
	}
	var p pos
	// The limit may change between pages; everything else binds the cursor.
	ok, err := DecodeCursor(listRequest(listTarget+"&limit=7&cursor="+c, tenantA, cursorKey), &p)
	if !ok || err != nil || p.ID != "txn_1" || p.Date != "2026-01-02" {
		t.Fatalf("round trip: %v %v %+v", ok, err, p)
	}
	if ok, err := DecodeCursor(listRequest(listTarget, tenantA, cursorKey), &p); ok || err != nil {
		t.Fatalf("absent cursor: %v %v", ok, err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(c)
	edited := bytes.Replace(raw, []byte("txn_1"), []byte("txn_2"), 1)
	sign := func(payload string) string { // a payload with a MAC under another key
		c, err := EncodeCursor(listRequest(listTarget, tenantA, mustKey("secret-two")), json.RawMessage(payload))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	rejects := map[string]*http.Request{
		"edited position":       listRequest(listTarget+"&cursor="+base64.RawURLEncoding.EncodeToString(edited), tenantA, cursorKey),
		"another list":          listRequest("/v1/accounts/acc_1/transactions/changes?status=booked&cursor="+c, tenantA, cursorKey),
		"another account":       listRequest("/v1/accounts/acc_2/transactions?status=booked&cursor="+c, tenantA, cursorKey),
		"other filters":         listRequest("/v1/accounts/acc_1/transactions?status=pending&cursor="+c, tenantA, cursorKey),
		"filters dropped":       listRequest("/v1/accounts/acc_1/transactions?cursor="+c, tenantA, cursorKey),
		"another organisation":  listRequest(listTarget+"&cursor="+c, tenant.Tenant{Env: tenant.Live, OrgID: "org_b"}, cursorKey),
		"another environment":   listRequest(listTarget+"&cursor="+c, tenant.Tenant{Env: tenant.Sandbox, OrgID: "org_a"}, cursorKey),
		"another key":           listRequest(listTarget+"&cursor="+c, tenantA, mustKey("secret-two")),
		"two cursors":           listRequest(listTarget+"&cursor="+c+"&cursor="+c, tenantA, cursorKey),
		"null":                  listRequest(listTarget+"&cursor="+base64.RawURLEncoding.EncodeToString([]byte("null")), tenantA, cursorKey),
		"{}":                    listRequest(listTarget+"&cursor="+base64.RawURLEncoding.EncodeToString([]byte("{}")), tenantA, cursorKey),
		"null signed elsewhere": listRequest(listTarget+"&cursor="+sign("null"), tenantA, cursorKey),
		"not base64":            listRequest(listTarget+"&cursor=!!!", tenantA, cursorKey),
		"too long":              listRequest(listTarget+"&cursor="+strings.Repeat("A", MaxCursorLen+1), tenantA, cursorKey),
	}
	for name, r := range rejects {
		var p pos
		if _, err := DecodeCursor(r, &p); err == nil {
			t.Errorf("%s: accepted", name)
		} else if e, ok := err.(*Error); !ok || e.Status != 400 || e.Code != CodeValidation {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Without a key or a tenant in the context nothing is signed: a programming error, not a
	// cursor anyone could use.
	bare := httptest.NewRequest("GET", listTarget, nil)
	if _, err := EncodeCursor(bare, pos{}); err == nil {
		t.Error("cursor signed without a key")
	}
}

func TestParseLimit(t *testing.T) {
	for q, want := range map[string]int{"": 100, "?limit=1": 1, "?limit=500": 500} {
		if n, err := ParseLimit(httptest.NewRequest("GET", "/x"+q, nil)); err != nil || n != want {
			t.Errorf("%q: %d %v", q, n, err)
		}
	}
	for _, q := range []string{"0", "501", "-1", "abc", "1.5"} {
		if _, err := ParseLimit(httptest.NewRequest("GET", "/x?limit="+q, nil)); err == nil {
			t.Errorf("limit=%s accepted", q)
		}
	}
}

func TestNewList(t *testing.T) {
	items := []int{1, 2, 3, 4}
	l, err := NewList(items, 3, func(i int) (string, error) { return strconv.Itoa(i), nil })
	if err != nil || len(l.Data) != 3 || !l.HasMore || *l.NextCursor != "3" {
		t.Fatalf("%+v %v", l, err)
	}
	l, _ = NewList(items[:2], 3, func(i int) (string, error) { return "", nil })
	if l.HasMore || l.NextCursor != nil || len(l.Data) != 2 {
		t.Fatalf("%+v", l)
	}
}
