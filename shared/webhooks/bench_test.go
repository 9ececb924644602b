package webhooks_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"tokapi.io/tok/shared/events"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/testing/webhookstest"
	"tokapi.io/tok/shared/webhooks"
)

// eventsInFlight is how many events the benchmarks fan out at once, as one instance of the
// fan-out function serves concurrent pushes.
const eventsInFlight = 8

// benchData is the data of the benchmarks' events.
var benchData = map[string]any{"accountId": "acc_bench", "transactionIds": []string{"txn_1", "txn_2"}}

// fanoutStream fans out events, eventsInFlight at a time, until next returns false; it
// returns how many it fanned out.
func fanoutStream(b *testing.B, f *fixture, next func() bool) int {
	var (
		wg sync.WaitGroup
		mu sync.Mutex
		n  int
	)
	for range eventsInFlight {
		wg.Go(func() {
			for {
				mu.Lock()
				more := next()
				if more {
					n++
				}
				mu.Unlock()
				if !more {
					return
				}
				ev, err := events.New("transactions.created", benchData, f.clock.Now())
				if err != nil {
					b.Error(err)
					return
				}
				if _, err := f.svc.Fanout(b.Context(), f.t, ev); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return n
}

// warm fans out n events first, as a running instance has its connections open and its
// signing secrets' data keys cached, and a database that serves traffic is warm (the
// emulator's JVM is still compiling its hot paths over the first ten thousand writes).
func warm(b *testing.B, f *fixture, n int) {
	fanoutStream(b, f, func() bool { n--; return n >= 0 })
}

// BenchmarkFanout50 fans events out to 50 endpoints on one local receiver, eventsInFlight
// events at a time, every delivery signed, attempted and recorded (Firestore and KMS on the
// emulators), against plain HTTP POSTs of the same body to the same 50 endpoints in the same
// run: 50 concurrent POSTs a round (the baseline) and a sequential loop. Each reports
// deliveries/s; tok also the CPU time the Firestore emulator spent per delivery, as on 2
// cores the rate is bound by this process's CPU and the emulator's together.
//
//	go run ./emulators/cmd/withemulators -- go test -run '^$' -bench Fanout50 -benchtime 200x ./shared/webhooks/
func BenchmarkFanout50(b *testing.B) {
	const endpoints = 50
	f := newFixture(b, tenant.Sandbox, webhooks.WithMaxEndpoints(endpoints))
	rcv := webhookstest.NewReceiver(b, nil)
	for i := range endpoints {
		f.endpoint(b, fmt.Sprintf("%s/%d", rcv.URL, i))
	}
	report := func(b *testing.B, deliveries int) {
		b.ReportMetric(float64(deliveries)/b.Elapsed().Seconds(), "deliveries/s")
	}
	// cpu reports the CPU time this process (Tok or the client, and the receiver) spent per
	// delivery since start: with the share of the cores each side gets, it explains the rates.
	cpu := func(b *testing.B, start time.Duration, deliveries int) {
		b.ReportMetric(float64((processCPU(b)-start).Microseconds())/float64(deliveries), "cpu-µs/delivery")
	}
	// Tok's deliveries also cost the Firestore emulator CPU time, on the same cores.
	emulatorCPUPer := func(b *testing.B, start time.Duration, deliveries int) {
		b.ReportMetric(float64((emulatorCPU(b)-start).Microseconds())/float64(deliveries), "emulator-cpu-µs/delivery")
	}
	b.Run("tok", func(b *testing.B) {
		// Warm the connections, the data key cache and the emulator, as a running instance
		// and a database serving traffic are.
		warm(b, f, 200)
		before := len(rcv.Requests())
		start, emulatorStart := processCPU(b), emulatorCPU(b)
		b.ResetTimer()
		left := b.N
		fanoutStream(b, f, func() bool { left--; return left >= 0 })
		// On a loaded machine some attempts outlive the inline budget or find their
		// endpoint marked slow: they are finished late or through the queue, and counted
		// when they arrive.
		want := endpoints * b.N
		rcv.WaitFor(before+want-f.q.All, 2*webhooks.Timeout)
		f.q.Drain(b, f.svc)
		b.StopTimer()
		cpu(b, start, want)
		emulatorCPUPer(b, emulatorStart, want)
		if got := len(rcv.Requests()) - before; got != want {
			b.Fatalf("%d POSTs for %d events to %d endpoints", got, b.N, endpoints)
		}
		report(b, want)
		b.ReportMetric(float64(f.q.All)/float64(b.N), "queued/op")
	})
	// The body Tok sends: an event of the same data, as JSON.
	ev, err := events.New("transactions.created", benchData, f.clock.Now())
	if err != nil {
		b.Fatal(err)
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		b.Fatal(err)
	}
	body := string(raw)
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
		report(b, endpoints*b.N)
	})
	b.Run("plain-post-concurrent", func(b *testing.B) {
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: endpoints}}
		start := processCPU(b)
		for b.Loop() {
			var wg sync.WaitGroup
			for i := range endpoints {
				wg.Go(func() { post(client, i) })
			}
			wg.Wait()
		}
		cpu(b, start, endpoints*b.N)
		report(b, endpoints*b.N)
	})
}

// processCPU is the CPU time, user and system, this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// emulatorCPU is the CPU time, user and system, the Firestore emulator's JVM has used (the
// process withemulators names).
func emulatorCPU(b *testing.B) time.Duration {
	pid := os.Getenv("TOK_FIRESTORE_EMULATOR_PID")
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if pid == "" || err != nil {
		b.Fatalf("the Firestore emulator's CPU time (TOK_FIRESTORE_EMULATOR_PID=%q): %v", pid, err)
	}
	// After the command, in parentheses (it may hold spaces), utime and stime are the 12th
	// and 13th fields, in clock ticks: 100 a second on Linux.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			b.Fatalf("%s/stat: %v", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// BenchmarkFanoutSlowEndpoint measures the delivery rate to 49 healthy endpoints while a 50th
// answers at once (all-fast) and while it sleeps 10 s before answering (one-sleeps-10s), each
// over a window longer than the sleep, in the same run. The ratio of the two others/s figures
// is how much one slow customer costs everyone else. Each iteration is one window.
//
//	go run ./emulators/cmd/withemulators -- go test -run '^$' -bench FanoutSlowEndpoint -benchtime 1x ./shared/webhooks/
func BenchmarkFanoutSlowEndpoint(b *testing.B) {
	const (
		others = 49
		window = 12 * time.Second
	)
	for _, sleep := range []struct {
		name string
		d    time.Duration
	}{{"all-fast", 0}, {"one-sleeps-10s", 10 * time.Second}} {
		b.Run(sleep.name, func(b *testing.B) {
			f := newFixture(b, tenant.Sandbox, webhooks.WithMaxEndpoints(others+1))
			rcv := webhookstest.NewReceiver(b, nil)
			for i := range others {
				f.endpoint(b, fmt.Sprintf("%s/%d", rcv.URL, i))
			}
			slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-time.After(sleep.d):
				case <-r.Context().Done():
				}
				w.WriteHeader(http.StatusNoContent)
			}))
			b.Cleanup(slow.Close)
			f.endpoint(b, slow.URL+"/slow")
			warm(b, f, 1) // one: every event's delivery to the slow endpoint holds a slot for 10 s
			var got int
			for b.Loop() {
				before := len(rcv.Requests())
				end := time.Now().Add(window)
				fanoutStream(b, f, func() bool { return time.Now().Before(end) })
				got += len(rcv.Requests()) - before
			}
			b.ReportMetric(float64(got)/b.Elapsed().Seconds(), "others/s")
		})
	}
}
