package banksync_test

import (
	"fmt"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/banksync"
	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/syncdue"
)

// BenchmarkSchedulerTick runs one tick over 1,000, 10,000 and 100,000 synthetic connections
// in the emulator with 500 due, and over 10,000 with 100 and 2,000 due, reporting per tick
// the documents read, the requests published and the tick's duration: a tick's cost follows
// the due count and not the total. One op is one tick (the due ones made due again before
// each, outside the timer).
//
// Each round also times, outside the benchmark's timer, the Firestore operations a tick
// makes for the same due set done with the client alone (raw-ms): what the emulator itself
// takes for them over a database of that size, the baseline the tick's growth is judged
// against: the emulator answers some queries by scanning, so its time for the same
// operations grows with the total where Firestore's, served from indexes, does not. Raw and
// tick alternate which goes first, each on a due set made afresh, and make the same queries.
//
//	go run ./emulators/cmd/withemulators -firestore-heap-mb 2048 -- go test -run '^$' -bench SchedulerTick -benchtime 3x ./shared/banksync/
func BenchmarkSchedulerTick(b *testing.B) {
	// The largest case last: every case's connections are dropped when it ends, and the
	// emulator holds and scans what a case before has not yet dropped.
	for _, c := range []struct{ total, due int }{{1000, 500}, {10000, 500}, {10000, 100}, {10000, 2000}, {100000, 500}} {
		b.Run(fmt.Sprintf("total=%d/due=%d", c.total, c.due), func(b *testing.B) {
			cs := seedConnections(b, c.total, 100)
			rec := &recorder{}
			s := &banksync.Scheduler{FS: cs.fs, Publish: rec.publish, Now: func() time.Time { return cs.now }}
			var read, published, queries int
			var took, rawTook time.Duration
			var tickQueries, rawQueries int // this round's
			tick := func() {
				b.StartTimer()
				st, err := s.Tick(b.Context())
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				if st.Published != c.due {
					b.Fatalf("published %d of %d due", st.Published, c.due)
				}
				tickQueries = st.Queries
				read, published, queries, took = read+st.Read, published+st.Published, queries+st.Queries, took+st.Took
			}
			raw := func() {
				start := time.Now()
				var n int
				n, rawQueries = rawTick(b, cs, banksync.DefaultPage)
				rawTook += time.Since(start)
				if n != c.due {
					b.Fatalf("raw operations claimed %d of %d due", n, c.due)
				}
			}
			// The emulator answers the first operations of a run slowly while its JVM warms:
			// one untimed round of raw operations first, so that neither side pays for it.
			cs.makeDue(b, c.due)
			raw()
			rawTook = 0
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				steps := []func(){raw, tick}
				if i%2 == 1 {
					steps = []func(){tick, raw}
				}
				for _, step := range steps {
					cs.makeDue(b, c.due)
					step()
				}
				if rawQueries != tickQueries {
					b.Fatalf("raw operations made %d queries, the tick %d", rawQueries, tickQueries)
				}
				b.StartTimer()
			}
			n := float64(b.N)
			b.ReportMetric(float64(read)/n, "reads/tick")
			b.ReportMetric(float64(queries)/n, "queries/tick")
			b.ReportMetric(float64(published)/n, "published/tick")
			b.ReportMetric(float64(took.Milliseconds())/n, "tick-ms")
			b.ReportMetric(float64(rawTook.Milliseconds())/n, "raw-ms")
		})
	}
}

// rawTick makes, with the Firestore client alone, the Firestore operations a tick makes for
// cs's due connections, and returns how many it claimed and the queries it made: the read of the scheduler's cursor
// and, in every bucket from the one after it to the current one (from Lookback before now
// with no cursor yet, as on a deployment's first tick), the queries of the bucket's entries
// due by now in order of time, page by page, each page followed by one read of the
// connections its entries name and the same three BulkWriter flushes as a claim (the new
// entries, the connections' nextSyncAt conditional on their update time, the spent entries'
// deletes). It leaves the cursor as it is, so as not to move the tick's own: the one write
// a tick that finishes a bucket makes beyond these.
func rawTick(b *testing.B, cs *connectionSet, page int) (claimed, queries int) {
	b.Helper()
	from, err := syncdue.Resume(b.Context(), cs.fs, cs.now)
	if err != nil {
		b.Fatal(err)
	}
	for bucket := from; !bucket.After(syncdue.Bucket(cs.now)); bucket = bucket.Add(syncdue.Width) {
		c, q := rawBucket(b, cs, bucket, page)
		claimed, queries = claimed+c, queries+q
	}
	return claimed, queries
}

// rawBucket is rawTick's operations on one bucket.
func rawBucket(b *testing.B, cs *connectionSet, bucket time.Time, page int) (claimed, queries int) {
	b.Helper()
	ctx := b.Context()
	q := syncdue.Entries(cs.fs, bucket).Where("at", "<=", cs.now).OrderBy("at", firestore.Asc)
	for {
		snaps, err := q.Limit(page).Documents(ctx).GetAll()
		queries++
		if err != nil {
			b.Fatal(err)
		}
		if len(snaps) == 0 {
			return claimed, queries
		}
		entries := make([]syncdue.Entry, len(snaps))
		refs := make([]*firestore.DocumentRef, len(snaps))
		for i, snap := range snaps {
			if entries[i], err = syncdue.Decode(snap); err != nil {
				b.Fatal(err)
			}
			refs[i] = store.For(cs.fs, entries[i].Tenant).Collection(connections.CollConnections).Doc(entries[i].ConnectionID)
		}
		conns, err := cs.fs.GetAll(ctx, refs)
		if err != nil {
			b.Fatal(err)
		}
		at := make([]time.Time, len(snaps))
		flush(b, cs.fs, func(bw *firestore.BulkWriter, i int) (*firestore.BulkWriterJob, error) {
			at[i] = cs.now.Add(banksync.DefaultClaimFor + time.Duration(i)*time.Second)
			ref, e := syncdue.For(cs.fs, entries[i].Tenant, entries[i].ConnectionID, at[i], cs.now)
			return bw.Set(ref, e)
		}, len(snaps))
		flush(b, cs.fs, func(bw *firestore.BulkWriter, i int) (*firestore.BulkWriterJob, error) {
			return bw.Update(conns[i].Ref, []firestore.Update{{Path: "nextSyncAt", Value: at[i]}}, firestore.LastUpdateTime(conns[i].UpdateTime))
		}, len(snaps))
		flush(b, cs.fs, func(bw *firestore.BulkWriter, i int) (*firestore.BulkWriterJob, error) {
			return bw.Delete(snaps[i].Ref)
		}, len(snaps))
		claimed += len(snaps)
		if len(snaps) < page {
			return claimed, queries
		}
		q = q.StartAfter(snaps[len(snaps)-1])
	}
}

// flush writes n documents in one BulkWriter, the i-th as write gives it, and waits for them.
func flush(b *testing.B, fs *firestore.Client, write func(bw *firestore.BulkWriter, i int) (*firestore.BulkWriterJob, error), n int) {
	b.Helper()
	bw := fs.BulkWriter(b.Context())
	jobs := make([]*firestore.BulkWriterJob, n)
	for i := range n {
		j, err := write(bw, i)
		if err != nil {
			b.Fatal(err)
		}
		jobs[i] = j
	}
	bw.End()
	waitJobs(b, jobs)
}
