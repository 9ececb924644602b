package accounts_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"tokapi.io/tok/shared/transactions"
)

// BenchmarkListPage serves a page of 100 transactions through the handler (account check,
// snapshot, query, JSON) against a raw Firestore query of the same page, in the same run.
func BenchmarkListPage(b *testing.B) {
	f := newFixture(b)
	f.bank.set(gen(0, 2000))
	f.sync(b)
	ctx := context.Background()
	col := f.scope.Collection("accounts").Doc(f.acc).Collection("transactions")
	req := httptest.NewRequest(http.MethodGet, "/v1/accounts/"+f.acc+"/transactions?limit=100", nil)
	var hNs, rNs time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		rec := httptest.NewRecorder()
		f.h.ServeHTTP(rec, req)
		hNs += time.Since(t0)
		if rec.Code != 200 {
			b.Fatal(rec.Code, rec.Body)
		}
		t1 := time.Now()
		snaps, err := transactions.ListQuery(col, []string{transactions.StatusBooked, transactions.StatusPending}, "", "").Limit(101).Documents(ctx).GetAll()
		if err != nil || len(snaps) != 101 {
			b.Fatal(err, len(snaps))
		}
		for _, s := range snaps {
			var d transactions.Doc
			if err := s.DataTo(&d); err != nil {
				b.Fatal(err)
			}
		}
		rNs += time.Since(t1)
	}
	b.ReportMetric(float64(hNs.Microseconds())/float64(b.N), "handler-µs/op")
	b.ReportMetric(float64(rNs.Microseconds())/float64(b.N), "raw-µs/op")
	b.ReportMetric(float64(hNs)/float64(rNs), "handler/raw")
}
