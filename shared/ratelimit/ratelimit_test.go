package ratelimit_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"tokapi.io/tok/shared/ratelimit"
	"tokapi.io/tok/shared/testing/testenv"
)

// clock is a fake clock shared by limiters, advanced by the test.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *clock) now() time.Time               { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration)      { c.ns.Add(int64(d)) }
func (c *clock) limiterOpt() ratelimit.Option { return ratelimit.WithClock(c.now) }

func TestTierLimits(t *testing.T) {
	for tier, want := range map[ratelimit.Tier]ratelimit.Limits{
		ratelimit.Free:       {PerMinute: 60, Burst: 10},
		ratelimit.Pro:        {PerMinute: 300, Burst: 50},
		ratelimit.Enterprise: {PerMinute: 1000, Burst: 200},
	} {
		got, err := tier.Limits()
		if err != nil || got != want {
			t.Errorf("%s.Limits() = %+v, %v; want %+v", tier, got, err, want)
		}
	}
	if _, err := ratelimit.Tier("gold").Limits(); !errors.Is(err, ratelimit.ErrUnknownTier) {
		t.Errorf("unknown tier: err = %v, want ErrUnknownTier", err)
	}
}

func TestSetHeaders(t *testing.T) {
	reset := time.Unix(1741100460, 0)
	for _, tc := range []struct {
		name       string
		d          ratelimit.Decision
		retryAfter string
	}{
		{"allowed", ratelimit.Decision{Allowed: true, Limit: 300, Remaining: 287, Reset: reset}, ""},
		{"refused rounds up", ratelimit.Decision{Limit: 300, Reset: reset, RetryAfter: 1200 * time.Millisecond}, "2"},
		{"refused whole", ratelimit.Decision{Limit: 300, Reset: reset, RetryAfter: 3 * time.Second}, "3"},
		{"refused at least 1", ratelimit.Decision{Limit: 300, Reset: reset}, "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			tc.d.SetHeaders(h)
			want := map[string]string{
				"X-Ratelimit-Limit":     "300",
				"X-Ratelimit-Remaining": "0",
				"X-Ratelimit-Reset":     "1741100460",
				"Retry-After":           tc.retryAfter,
			}
			if tc.d.Allowed {
				want["X-Ratelimit-Remaining"] = "287"
			}
			for k, v := range want {
				if got := h.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

// TestSingleInstance checks the bucket as one client on one instance sees it: the burst,
// then refusal with Retry-After, then refill at the tier's rate.
func TestSingleInstance(t *testing.T) {
	ctx := t.Context()
	clk := newClock()
	l := instance(t, testenv.Project(t), clk)
	start := clk.now()

	for i := range 10 {
		d, err := l.Allow(ctx, "live:org_1", ratelimit.Free)
		if err != nil || !d.Allowed {
			t.Fatalf("request %d of the burst: %+v, %v", i+1, d, err)
		}
		if d.Limit != 60 || d.Remaining != 9-i {
			t.Errorf("request %d: Limit %d Remaining %d, want 60 and %d", i+1, d.Limit, d.Remaining, 9-i)
		}
	}
	d, err := l.Allow(ctx, "live:org_1", ratelimit.Free)
	if err != nil || d.Allowed {
		t.Fatalf("request 11: %+v, %v; want refused", d, err)
	}
	// The next token (Free's batch) exists in 1 s.
	if d.RetryAfter != time.Second || d.Remaining != 0 || !d.Reset.Equal(start.Add(10*time.Second)) {
		t.Errorf("request 11: RetryAfter %v Remaining %d Reset %v; want 1s, 0, %v",
			d.RetryAfter, d.Remaining, d.Reset, start.Add(10*time.Second))
	}

	// Another key has its own bucket.
	if d, err := l.Allow(ctx, "live:org_2", ratelimit.Free); err != nil || !d.Allowed {
		t.Errorf("other key: %+v, %v; want allowed", d, err)
	}

	clk.advance(5 * time.Second)
	if got := admit(t, l, "live:org_1", ratelimit.Free, 20); got != 5 {
		t.Errorf("5 s after the burst: %d admitted, want 5", got)
	}
	clk.advance(time.Minute)
	if got := admit(t, l, "live:org_1", ratelimit.Free, 20); got != 10 {
		t.Errorf("a minute later: %d admitted, want the burst of 10", got)
	}
}

func admit(t *testing.T, l *ratelimit.Limiter, key string, tier ratelimit.Tier, n int) int {
	t.Helper()
	admitted := 0
	for range n {
		d, err := l.Allow(t.Context(), key, tier)
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed {
			admitted++
		}
	}
	return admitted
}

// TestFailOpen checks that an unreachable Firestore falls back to a local bucket of the
// tier's size and reports the error.
func TestFailOpen(t *testing.T) {
	clk := newClock()
	l := ratelimit.New(testenv.Firestore(t, testenv.Project(t)), clk.limiterOpt())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	admitted := 0
	for range 15 {
		d, err := l.Allow(ctx, "live:org_1", ratelimit.Free)
		if status.Code(err) != codes.Canceled {
			t.Fatalf("err = %v, want it to wrap the client's Canceled", err)
		}
		if d.Allowed {
			admitted++
		}
	}
	if admitted != 10 {
		t.Errorf("fallback admitted %d, want the burst of 10", admitted)
	}

	clk.advance(ratelimit.FallbackPeriod)
	if d, err := l.Allow(t.Context(), "live:org_1", ratelimit.Free); err != nil || !d.Allowed {
		t.Errorf("after the fallback period with Firestore back: %+v, %v; want allowed", d, err)
	}
}

// TestInstances runs 4 limiters with their own clients against one key, each asked well above
// the tier's rate, and checks the admitted total against the tier's allowance and the number
// of Firestore writes per admitted request.
func TestInstances(t *testing.T) {
	for _, tc := range []struct {
		tier     ratelimit.Tier
		duration time.Duration
		step     time.Duration // each instance asks once per step
	}{
		// Free needs longer: its 4 first leases are fixed costs against only 1 token/s.
		{ratelimit.Free, 10 * time.Minute, 50 * time.Millisecond},
		{ratelimit.Pro, 3 * time.Minute, 50 * time.Millisecond},
		{ratelimit.Enterprise, 2 * time.Minute, 20 * time.Millisecond},
	} {
		t.Run(string(tc.tier), func(t *testing.T) {
			t.Parallel()
			project := testenv.Project(t)
			clk := newClock()
			limiters := instances(t, project, clk, 4)

			var admitted, slow atomic.Int64
			for elapsed := time.Duration(0); elapsed <= tc.duration; elapsed += tc.step {
				var wg sync.WaitGroup
				for _, l := range limiters {
					wg.Go(func() {
						began := time.Now()
						d, err := l.Allow(t.Context(), "live:org_1", tc.tier)
						if err != nil {
							t.Error(err)
						}
						if d.Allowed {
							admitted.Add(1)
						}
						// The emulator's lock wait, which compare-and-set writes never incur.
						if time.Since(began) > 2*time.Second {
							slow.Add(1)
						}
					})
				}
				wg.Wait()
				clk.advance(tc.step)
			}

			lim, _ := tc.tier.Limits()
			allowance := float64(lim.Burst) + float64(lim.PerMinute)*tc.duration.Minutes()
			var writes, conflicts int64
			for _, l := range limiters {
				writes += l.Stats().Writes
				conflicts += l.Stats().Conflicts
			}
			got := admitted.Load()
			t.Logf("%s over %v: admitted %d of allowance %.0f (%.1f%%), %d writes (1 per %.1f admitted), %d lost races, %d slow calls",
				tc.tier, tc.duration, got, allowance, 100*float64(got)/allowance, writes, float64(got)/float64(writes), conflicts, slow.Load())
			if f := float64(got); f < 0.9*allowance || f > 1.1*allowance {
				t.Errorf("admitted %d, want within 10%% of %.0f", got, allowance)
			}
			// Firestore sustains about one write a second on a document.
			if perSecond := float64(writes) / tc.duration.Seconds(); perSecond > 1.5 {
				t.Errorf("%d writes in %v (%.2f/s), want at most 1.5/s", writes, tc.duration, perSecond)
			}
			if slow.Load() > 0 {
				t.Errorf("%d calls took over 2 s", slow.Load())
			}
		})
	}
}

// BenchmarkAllow compares a handler behind the limiter with the bare handler. One op is
// ten seconds of limiter time of one organisation's requests on one instance, so writes are
// counted over many leases whatever b.N is: "at the limit" sends exactly the tier's rate
// (every request admitted, the bucket always nearly empty), "half the limit" half of it.
// It reports the time per request and the Firestore writes per 1,000 requests and per
// second of limiter time.
func BenchmarkAllow(b *testing.B) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"data":[],"hasMore":false}`))
	})
	req := httptest.NewRequestWithContext(b.Context(), http.MethodGet, "/v1/accounts", nil)
	lim, _ := ratelimit.Enterprise.Limits()
	const window = 10 * time.Second
	perOp := int(window / (time.Minute / time.Duration(lim.PerMinute)))

	b.Run("baseline", func(b *testing.B) {
		for b.Loop() {
			for range perOp {
				handler.ServeHTTP(httptest.NewRecorder(), req)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perOp), "ns/request")
	})
	for _, load := range []struct {
		name    string
		spacing int // token intervals between requests
	}{{"at the limit", 1}, {"half the limit", 2}} {
		b.Run(load.name, func(b *testing.B) {
			clk := newClock()
			l := ratelimit.New(testenv.Firestore(b, testenv.Project(b)), clk.limiterOpt(), ratelimit.WithoutSweeper())
			step := time.Duration(load.spacing) * time.Minute / time.Duration(lim.PerMinute)
			limited := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				d, err := l.Allow(r.Context(), "live:org_bench", ratelimit.Enterprise)
				if err != nil {
					b.Fatal(err)
				}
				d.SetHeaders(w.Header())
				if !d.Allowed {
					w.WriteHeader(http.StatusTooManyRequests)
					return
				}
				handler.ServeHTTP(w, r)
			})
			requests := perOp / load.spacing
			for b.Loop() {
				for range requests {
					clk.advance(step)
					rec := httptest.NewRecorder()
					limited.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Fatalf("status %d", rec.Code)
					}
				}
			}
			writes := float64(l.Stats().Writes)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*requests), "ns/request")
			b.ReportMetric(1000*writes/float64(b.N*requests), "writes/1000req")
			b.ReportMetric(writes/(float64(b.N)*window.Seconds()), "writes/s")
		})
	}
}
