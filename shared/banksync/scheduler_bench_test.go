package banksync_test

import (
	"fmt"
	"testing"
	"time"

	"tokapi.io/tok/shared/banksync"
)

// BenchmarkSchedulerTick runs one tick over 1,000, 10,000 and 100,000 synthetic connections
// in the emulator with 500 due, and over 10,000 with 100 and 2,000 due, reporting per tick
// the documents read, the requests published and the tick's duration: a tick's cost follows
// the due count and not the total. One op is one tick (the due ones made due again before
// each, outside the timer).
//
//	go run ./emulators/cmd/withemulators -- go test -run '^$' -bench SchedulerTick -benchtime 3x ./shared/banksync/
func BenchmarkSchedulerTick(b *testing.B) {
	// The largest case last: every case's connections are dropped when it ends, and the
	// emulator holds and scans what a case before has not yet dropped.
	for _, c := range []struct{ total, due int }{{1000, 500}, {10000, 500}, {10000, 100}, {10000, 2000}, {100000, 500}} {
		b.Run(fmt.Sprintf("total=%d/due=%d", c.total, c.due), func(b *testing.B) {
			cs := seedConnections(b, c.total, 100)
			rec := &recorder{}
			s := &banksync.Scheduler{FS: cs.fs, Publish: rec.publish, Now: func() time.Time { return cs.now }}
			var read, published, queries int
			var took time.Duration
			for b.Loop() {
				b.StopTimer()
				cs.makeDue(b, c.due)
				b.StartTimer()
				st, err := s.Tick(b.Context())
				if err != nil {
					b.Fatal(err)
				}
				if st.Published != c.due {
					b.Fatalf("published %d of %d due", st.Published, c.due)
				}
				read, published, queries, took = read+st.Read, published+st.Published, queries+st.Queries, took+st.Took
			}
			n := float64(b.N)
			b.ReportMetric(float64(read)/n, "reads/tick")
			b.ReportMetric(float64(queries)/n, "queries/tick")
			b.ReportMetric(float64(published)/n, "published/tick")
			b.ReportMetric(float64(took.Milliseconds())/n, "tick-ms")
		})
	}
}
