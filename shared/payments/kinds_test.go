package payments

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/store"
)

// TestKindFindsOnlyItsRecords: a path's {id} the tenant does not have, or that names a record
// of another kind (a refund as a payment), is 404 naming the kind; a failed read is that
// error; a found record is shown by the kind's view and created under its path.
func TestKindFindsOnlyItsRecords(t *testing.T) {
	failure := errors.New("firestore down")
	records := map[string]Payment{"pay_1": {ID: "pay_1"}, "rfd_1": {ID: "rfd_1", RefundOf: "pay_1"}}
	get := func(_ context.Context, _ store.Scope, id string) (Payment, error) {
		if id == "pay_broken" {
			return Payment{}, failure
		}
		p, ok := records[id]
		if !ok {
			return Payment{}, ErrNotFound
		}
		return p, nil
	}
	now := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	k := Kind[Payment]{What: "Payment", Path: "/v1/payments/", Get: get, NotFound: ErrNotFound,
		Is: func(p Payment) bool { return !p.IsRefund() }, ID: func(p Payment) string { return p.ID },
		View: func(p Payment, at time.Time) any { return p.ID + "@" + at.Format(time.DateOnly) }, Now: func() time.Time { return now }}
	admit := func(*http.Request) (store.Scope, error) { return store.Scope{}, nil }
	find := func(id string) error {
		r := httptest.NewRequest(http.MethodGet, "/v1/payments/"+id, nil)
		r.SetPathValue("id", id)
		return k.Show(admit)(httptest.NewRecorder(), r)
	}
	for _, id := range []string{"pay_2", "rfd_1"} {
		var apiErr *httpapi.Error
		if err := find(id); !errors.As(err, &apiErr) || apiErr.Status != http.StatusNotFound || apiErr.Message != "Payment "+id+" was not found." {
			t.Errorf("%s: %v, want 404", id, err)
		}
	}
	if err := find("pay_broken"); !errors.Is(err, failure) {
		t.Errorf("failed read: %v, want it as it is", err)
	}
	if err := find("pay_1"); err != nil {
		t.Errorf("pay_1: %v", err)
	}
	path, body, err := k.Created(records["pay_1"], nil)
	if err != nil || path != "/v1/payments/pay_1" || body != "pay_1@2026-05-04" {
		t.Errorf("Created = %q %v %v", path, body, err)
	}
	if _, _, err := k.Created(Payment{}, failure); !errors.Is(err, failure) {
		t.Errorf("Created of a failure: %v", err)
	}
}
