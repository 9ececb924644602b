package ratelimit_test

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tokapi.io/tok/shared/ratelimit"
	"tokapi.io/tok/shared/testing/testenv"
)

// instance is one limiter with its own Firestore client, as one instance of one function
// holds. Its sweeper is off so the test decides when lapsed leases go back.
func instance(t *testing.T, project string, clk *clock) *ratelimit.Limiter {
	t.Helper()
	l := ratelimit.New(testenv.Firestore(t, project), clk.limiterOpt(), ratelimit.WithoutSweeper())
	t.Cleanup(func() { _ = l.Close(t.Context()) })
	return l
}

func instances(t *testing.T, project string, clk *clock, n int) []*ratelimit.Limiter {
	t.Helper()
	ls := make([]*ratelimit.Limiter, n)
	for i := range ls {
		ls[i] = instance(t, project, clk)
	}
	return ls
}

// allow asks l once and checks the invariants every decision keeps: Remaining within
// [0, burst], 0 on a refusal, and a refusal always says when to come back.
func allow(t *testing.T, l *ratelimit.Limiter, key string, tier ratelimit.Tier) ratelimit.Decision {
	t.Helper()
	d, err := l.Allow(t.Context(), key, tier)
	if err != nil {
		t.Fatal(err)
	}
	lim, _ := tier.Limits()
	if d.Remaining < 0 || d.Remaining > lim.Burst || (!d.Allowed && d.Remaining != 0) {
		t.Fatalf("allowed %v with Remaining %d (burst %d)", d.Allowed, d.Remaining, lim.Burst)
	}
	if !d.Allowed && d.RetryAfter <= 0 {
		t.Fatalf("refused with RetryAfter %v", d.RetryAfter)
	}
	if d.Limit != lim.PerMinute {
		t.Fatalf("Limit %d, want %d", d.Limit, lim.PerMinute)
	}
	return d
}

// TestSpreadOverFunctions sends one organisation's requests to six functions, each
// with its own limiter, far above the tier's rate: the admitted total stays within 10 % of
// burst + rate × time and no function is starved.
func TestSpreadOverFunctions(t *testing.T) {
	for _, tc := range []struct {
		name     string
		tier     ratelimit.Tier
		duration time.Duration
		step     time.Duration // each function asks once per step
	}{
		{"120 requests in 2 s on free", ratelimit.Free, 2 * time.Second, 100 * time.Millisecond},
		{"65 s steady on free", ratelimit.Free, 65 * time.Second, 250 * time.Millisecond},
		{"65 s steady on pro", ratelimit.Pro, 65 * time.Second, 50 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			functions := instances(t, testenv.Project(t), clk, 6)
			admitted := make([]int, len(functions))
			// Within a step the functions' requests arrive one after another in a random
			// order, as requests do; TestInstances races them at the same instant.
			order := rand.Perm(len(functions))
			for elapsed := time.Duration(0); elapsed < tc.duration; elapsed += tc.step {
				for _, i := range order {
					if allow(t, functions[i], "live:org_1", tc.tier).Allowed {
						admitted[i]++
					}
				}
				rand.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
				clk.advance(tc.step)
			}
			lim, _ := tc.tier.Limits()
			allowance := float64(lim.Burst) + float64(lim.PerMinute)*tc.duration.Minutes()
			total := 0
			for _, n := range admitted {
				total += n
			}
			t.Logf("admitted %d of allowance %.0f, per function %v", total, allowance, admitted)
			if f := float64(total); f < 0.9*allowance || f > 1.1*allowance {
				t.Errorf("admitted %d, want within 10%% of %.0f", total, allowance)
			}
			for i, n := range admitted {
				if fair := allowance / float64(len(functions)); float64(n) < fair/6 {
					t.Errorf("function %d admitted %d, under a sixth of its fair share %.1f", i, n, fair)
				}
			}
		})
	}
}

// TestChurn starts instances one after another as Cloud Run scales out and in: none of
// them costs the organisation a token it did not use.
func TestChurn(t *testing.T) {
	const key = "live:org_pro"
	for _, tc := range []struct {
		name string
		// churn runs the instances that come and go before a new one asks.
		churn func(t *testing.T, project string, clk *clock)
		want  int // what the new instance then admits at once
		why   string
	}{
		{"twelve new instances, one request each", func(t *testing.T, project string, clk *clock) {
			for i := range 12 {
				if d := allow(t, instance(t, project, clk), key, ratelimit.Pro); !d.Allowed {
					t.Fatalf("instance %d's first request refused: %+v", i+1, d)
				}
			}
		}, 38, "the rest of the burst of 50 is still there for whoever asks next"},
		{"stopped instances give back what they did not use", func(t *testing.T, project string, clk *clock) {
			for range 6 {
				l := instance(t, project, clk)
				if got := admit(t, l, key, ratelimit.Pro, 4); got != 4 {
					t.Fatalf("admitted %d of 4", got)
				}
				if err := l.Close(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
		}, 26, "six instances used 24 and stopped"},
		{"leases of idle instances lapse", func(t *testing.T, project string, clk *clock) {
			idle := instances(t, project, clk, 6)
			for _, l := range idle {
				admit(t, l, key, ratelimit.Pro, 4)
			}
			// The idle instances hold leased tokens they will not use; past the TTL they go back.
			clk.advance(ratelimit.DefaultLeasePolicy(ratelimit.Limits{PerMinute: 300, Burst: 50}).TTL)
			for _, l := range idle {
				if err := l.ReturnLapsed(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
		}, 41, "24 used; the TTL refilled 15 of them"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			project := testenv.Project(t)
			tc.churn(t, project, clk)
			if got := admit(t, instance(t, project, clk), key, ratelimit.Pro, 60); got != tc.want {
				t.Errorf("a new instance admitted %d at once, want %d (%s)", got, tc.want, tc.why)
			}
		})
	}
}

// TestRetryAfterIsAPromise drains the bucket on one instance, waits the Retry-After it
// was given, and asks another instance, which must admit the request.
func TestRetryAfterIsAPromise(t *testing.T) {
	for _, tier := range []ratelimit.Tier{ratelimit.Free, ratelimit.Pro, ratelimit.Enterprise} {
		t.Run(string(tier), func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			ls := instances(t, testenv.Project(t), clk, 3)
			for round := range 15 {
				l := ls[round%len(ls)]
				var refused ratelimit.Decision
				for i := 0; ; i++ {
					if d := allow(t, l, "live:org_1", tier); !d.Allowed {
						refused = d
						break
					}
					if i > 1000 {
						t.Fatal("never refused")
					}
				}
				h := http.Header{}
				refused.SetHeaders(h)
				secs, err := strconv.Atoi(h.Get("Retry-After"))
				if err != nil || secs < 1 || h.Get("X-Ratelimit-Remaining") != "0" {
					t.Fatalf("round %d: 429 headers %v", round, h)
				}
				clk.advance(time.Duration(secs) * time.Second)
				next := ls[(round+1)%len(ls)]
				if d := allow(t, next, "live:org_1", tier); !d.Allowed {
					t.Fatalf("round %d: waited Retry-After %d s, another instance refused: %+v", round, secs, d)
				}
			}
		})
	}
}

// TestSweeperReturnsLapsedLeases: without being asked, an instance gives back the unused
// tokens of a lease whose TTL has passed, those of the lease it took ahead of need included.
func TestSweeperReturnsLapsedLeases(t *testing.T) {
	clk := newClock()
	l := ratelimit.New(testenv.Firestore(t, testenv.Project(t)), clk.limiterOpt())
	t.Cleanup(func() { _ = l.Close(t.Context()) })
	admit(t, l, "live:org_1", ratelimit.Pro, 2)
	clk.advance(ratelimit.DefaultLeasePolicy(ratelimit.Limits{PerMinute: 300, Burst: 50}).TTL)
	for deadline := time.Now().Add(10 * ratelimit.SweepInterval); ; time.Sleep(50 * time.Millisecond) {
		st := l.Stats()
		if st.Returned > 0 && st.Returned == st.Leased-2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the unused tokens not returned after %v: %+v", 10*ratelimit.SweepInterval, st)
		}
	}
}

// TestLeaseAhead: an instance with steady demand takes its next lease before the current
// one runs out, so after its first request almost none waits for Firestore.
func TestLeaseAhead(t *testing.T) {
	l := ratelimit.New(testenv.Firestore(t, testenv.Project(t)))
	t.Cleanup(func() { _ = l.Close(t.Context()) })
	const requests, every = 60, 100 * time.Millisecond // 10 a second, within Enterprise's 16.7
	for i := range requests {
		if d, err := l.Allow(t.Context(), "live:org_ahead", ratelimit.Enterprise); err != nil || !d.Allowed {
			t.Fatalf("request %d: %+v, %v", i+1, d, err)
		}
		time.Sleep(every)
	}
	// Leasing on demand (WithoutSweeper) waits six times here, as each lease runs out.
	st := l.Stats()
	t.Logf("%d requests: %d waited for a lease; %d writes, %d tokens leased", requests, st.Waited, st.Writes, st.Leased)
	if st.Waited > 3 {
		t.Errorf("%d of %d requests waited for a lease, want the first two (a one-token lease is not leased ahead of) and at most one more", st.Waited, requests)
	}
}

// TestBurstWaitsForOneLease: a burst of concurrent requests on an instance's first use of a
// key is covered by the lease the first of them takes, sized once the bucket is read to the
// requests queued by then, instead of a series of leases growing from one token (which took
// four or five writes in a row for 50 requests, each a wait for all those behind it).
func TestBurstWaitsForOneLease(t *testing.T) {
	l := ratelimit.New(testenv.Firestore(t, testenv.Project(t)), ratelimit.WithoutSweeper())
	t.Cleanup(func() { _ = l.Close(t.Context()) })
	const burst = 50 // Enterprise's lease maximum: a quarter of its burst of 200
	start := make(chan struct{})
	var wg sync.WaitGroup
	var refused atomic.Int64
	for range burst {
		wg.Go(func() {
			<-start
			if d, err := l.Allow(t.Context(), "live:org_burst", ratelimit.Enterprise); err != nil || !d.Allowed {
				refused.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	st := l.Stats()
	t.Logf("%d concurrent requests: %d writes, %d tokens leased, %d waited", burst, st.Writes, st.Leased, st.Waited)
	if refused.Load() != 0 {
		t.Errorf("%d of %d refused, want none (the burst is within the bucket)", refused.Load(), burst)
	}
	// The first request may lock before the others queue: allow one more lease for them.
	if st.Writes > 2 {
		t.Errorf("%d lease writes for a burst of %d, want at most 2", st.Writes, burst)
	}
}

// TestLeaseAheadHoldsTheLimit: four instances whose many concurrent requests for one key
// far exceed the tier's rate, in real time with their leases taken ahead of need, admit no
// more than burst + rate × time.
func TestLeaseAheadHoldsTheLimit(t *testing.T) {
	project := testenv.Project(t)
	var limiters []*ratelimit.Limiter
	for range 4 {
		l := ratelimit.New(testenv.Firestore(t, project))
		t.Cleanup(func() { _ = l.Close(t.Context()) })
		// Connected before the clock starts: the emulator's first calls of a project are slow.
		allow(t, l, "live:org_warm", ratelimit.Pro)
		limiters = append(limiters, l)
	}
	const run = 4 * time.Second
	var admitted atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for _, l := range limiters {
		for range 8 {
			wg.Go(func() {
				for time.Since(start) < run {
					d, err := l.Allow(t.Context(), "live:org_hammer", ratelimit.Pro)
					if err != nil {
						t.Error(err)
						return
					}
					if d.Allowed {
						admitted.Add(1)
					}
					time.Sleep(5 * time.Millisecond)
				}
			})
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	lim, _ := ratelimit.Pro.Limits()
	allowance := float64(lim.Burst) + float64(lim.PerMinute)*elapsed.Minutes()
	var waited, leased int64
	for _, l := range limiters {
		waited += l.Stats().Waited
		leased += l.Stats().Leased
	}
	got := admitted.Load()
	t.Logf("%v: admitted %d of allowance %.1f; %d tokens leased, %d requests waited", elapsed, got, allowance, leased, waited)
	if float64(got) > allowance {
		t.Errorf("admitted %d, more than burst + rate × time = %.1f", got, allowance)
	}
	if float64(got) < 0.5*allowance {
		t.Errorf("admitted only %d of %.1f", got, allowance)
	}
}
