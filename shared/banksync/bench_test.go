package banksync_test

import (
	"context"
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/testing/testenv"
)

// heapSampler records the high-water mark of live heap objects while it runs.
type heapSampler struct {
	peak atomic.Uint64
	stop chan struct{}
	done chan struct{}
}

func sampleHeap() *heapSampler {
	h := &heapSampler{stop: make(chan struct{}), done: make(chan struct{})}
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	go func() {
		defer close(h.done)
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > h.peak.Load() {
				h.peak.Store(v)
			}
			select {
			case <-h.stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	return h
}

func (h *heapSampler) Stop() uint64 { close(h.stop); <-h.done; return h.peak.Load() }

// BenchmarkSync10k syncs the sandbox `business` persona (>10,000 transactions over three
// accounts) into a fresh tenant per iteration, against writing the same documents with the
// Firestore client directly (BulkWriter) in the same run, and samples the heap high-water
// mark during the sync. Each iteration has a project of its own, dropped when it ends, so
// every round meets the emulator as empty as the first.
func BenchmarkSync10k(b *testing.B) {
	ctx := context.Background()
	var syncNs, rawNs, docsN, peak, base float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e := newEnv(b, "business", 500)
		b.StartTimer()
		runtime.GC()
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		metrics.Read(s)
		before := s[0].Value.Uint64()
		h := sampleHeap()
		t0 := time.Now()
		res, err := e.worker().Handle(ctx, e.request(true))
		syncNs += float64(time.Since(t0))
		p := h.Stop()
		if err != nil {
			b.Fatal(err)
		}
		peak += float64(p)
		base += float64(before)
		if res.Created < 10000 {
			b.Fatalf("business synced %d transactions", res.Created)
		}
		docsN += float64(res.Created)
		// Baseline: the same documents written directly into another tenant.
		b.StopTimer()
		all := e.docs(b)
		other := store.For(e.fs, tenant.Tenant{Env: tenant.Sandbox, OrgID: ids.New(ids.Organisation)})
		b.StartTimer()
		t1 := time.Now()
		bw := e.fs.BulkWriter(ctx)
		var jobs []*firestore.BulkWriterJob
		for acc, ds := range all {
			col := other.Collection("accounts").Doc(acc).Collection("transactions")
			for j := range ds {
				job, err := bw.Set(col.Doc(ds[j].ID), &ds[j])
				if err != nil {
					b.Fatal(err)
				}
				jobs = append(jobs, job)
			}
		}
		bw.End()
		for _, j := range jobs {
			if _, err := j.Results(); err != nil {
				b.Fatal(err)
			}
		}
		rawNs += float64(time.Since(t1))
		b.StopTimer()
		testenv.DropFirestore(b, e.project)
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(docsN/n, "txns/op")
	b.ReportMetric(syncNs/n/1e6, "sync-ms/op")
	b.ReportMetric(rawNs/n/1e6, "raw-write-ms/op")
	b.ReportMetric(syncNs/rawNs, "sync/raw")
	b.ReportMetric(peak/n/(1<<20), "peak-heap-MiB")
	b.ReportMetric((peak-base)/n/(1<<20), "peak-heap-growth-MiB")
}
