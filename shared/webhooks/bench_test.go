package webhooks_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/testing/webhookstest"
	"tokapi.io/tok/shared/webhooks"
)

// BenchmarkFanout50 fans one event out to 50 endpoints on one local receiver and delivers
// every delivery (Firestore and KMS on the emulators, the 50 attempts concurrent as Cloud Run
// instances would run them), against plain HTTP POSTs of the same body to the same receiver
// in the same run: a sequential loop and 50 concurrent POSTs. Each reports deliveries/s.
//
//	go run ./emulators/cmd/withemulators -- go test -run '^$' -bench Fanout50 -benchtime 20x ./shared/webhooks/
func BenchmarkFanout50(b *testing.B) {
	const endpoints = 50
	f := newFixture(b, tenant.Sandbox, webhooks.WithMaxEndpoints(endpoints))
	rcv := webhookstest.NewReceiver(b, nil)
	for i := range endpoints {
		f.endpoint(b, fmt.Sprintf("%s/%d", rcv.URL, i))
	}
	data := map[string]any{"accountId": "acc_bench", "transactionIds": []string{"txn_1", "txn_2"}}
	report := func(b *testing.B) {
		b.ReportMetric(float64(endpoints*b.N)/b.Elapsed().Seconds(), "deliveries/s")
	}
	b.Run("tok-fanout-sign-deliver-record", func(b *testing.B) {
		for b.Loop() {
			f.event(b, "transactions.created", data)
			if n := f.q.Drain(b, f.svc); n != endpoints {
				b.Fatalf("%d deliveries", n)
			}
		}
		report(b)
	})
	body := `{"id":"evt_0","type":"transactions.created","createdAt":"2026-01-01T00:00:00Z","data":{"accountId":"acc_bench"}}`
	post := func(client *http.Client, i int) {
		resp, err := client.Post(fmt.Sprintf("%s/%d", rcv.URL, i), "application/json", strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	b.Run("plain-post-loop", func(b *testing.B) {
		client := &http.Client{}
		for b.Loop() {
			for i := range endpoints {
				post(client, i)
			}
		}
		report(b)
	})
	b.Run("plain-post-concurrent", func(b *testing.B) {
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: endpoints}}
		for b.Loop() {
			var wg sync.WaitGroup
			for i := range endpoints {
				wg.Go(func() { post(client, i) })
			}
			wg.Wait()
		}
		report(b)
	})
}
