package httpapi

import (
	"net/http/httptest"
	"strconv"
	"testing"
)

type pos struct {
	Date string `json:"d"`
	ID   string `json:"i"`
}

func TestCursorRoundTripAndRejects(t *testing.T) {
	c, err := EncodeCursor(pos{"2026-01-02", "txn_1"})
	if err != nil {
		t.Fatal(err)
	}
	var p pos
	ok, err := DecodeCursor(httptest.NewRequest("GET", "/x?cursor="+c, nil), &p)
	if !ok || err != nil || p.ID != "txn_1" || p.Date != "2026-01-02" {
		t.Fatalf("round trip: %v %v %+v", ok, err, p)
	}
	if ok, err := DecodeCursor(httptest.NewRequest("GET", "/x", nil), &p); ok || err != nil {
		t.Fatalf("absent cursor: %v %v", ok, err)
	}
	for _, bad := range []string{"!!!", "bm90IGpzb24", "W10"} { // not base64, "not json", "[]"
		var p pos
		if _, err := DecodeCursor(httptest.NewRequest("GET", "/x?cursor="+bad, nil), &p); err == nil {
			t.Errorf("cursor %q accepted", bad)
		} else if e, ok := err.(*Error); !ok || e.Status != 400 {
			t.Errorf("cursor %q: %v", bad, err)
		}
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
