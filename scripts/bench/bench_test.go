package main

import (
	"math"
	"os"
	"regexp"
	"strings"
	"testing"
)

// A run's raw output, log lines splitting one benchmark's name from its figures.
const raw = `goos: linux
BenchmarkListPage-2   	2026/12/01 13:22:54 INFO request method=GET status=200
2026/12/01 13:22:56 INFO request method=GET status=200
       5	2278869109 ns/op	    1300 handler-µs/op	  1000 raw-µs/op
BenchmarkFanoutSlowEndpoint/one-sleeps-10s-2   1  12515522319 ns/op   900 others/s
BenchmarkFanoutSlowEndpoint/all-fast-2   1  12515522319 ns/op   1000 others/s
BenchmarkFanout50/tok-2   200  1 ns/op   3000 deliveries/s
BenchmarkFanout50/plain-post-concurrent-2   200  1 ns/op   10000 deliveries/s
BenchmarkFanout50/tok-2   200  1 ns/op   5000 deliveries/s
BenchmarkFanout50/plain-post-concurrent-2   200  1 ns/op   10000 deliveries/s
BenchmarkFanout50/tok-2   200  1 ns/op   4000 deliveries/s
BenchmarkFanout50/plain-post-concurrent-2   200  1 ns/op   10000 deliveries/s
PASS
`

func TestCleanJoinsSplitLines(t *testing.T) {
	lines := clean(raw)
	if len(lines) != 9 || lines[0] != "BenchmarkListPage-2 5\t2278869109 ns/op\t    1300 handler-µs/op\t  1000 raw-µs/op" {
		t.Fatalf("clean: %q", lines)
	}
	res := parse(strings.Join(lines, "\n"))
	if v := res[metric{"BenchmarkFanoutSlowEndpoint/one-sleeps-10s", "others/s"}]; len(v) != 1 || v[0] != 900 {
		t.Errorf("a sub-benchmark ending in -10s: %v", v)
	}
}

func TestEvaluate(t *testing.T) {
	outs := evaluate(parse(strings.Join(clean(raw), "\n")))
	by := map[string]outcome{}
	for _, o := range outs {
		by[o.Name] = o
	}
	page := by[rows[0].Name]
	if page.Ratio != 1.3 || page.Met || page.Failed {
		t.Errorf("1.3× against ≤ 1.25× is a miss within the margin: %+v", page)
	}
	fan := by[rows[2].Name]
	if fan.Ratio != 0.4 || fan.Rounds != 3 || fan.Spread != 0.5 || !fan.Failed {
		t.Errorf("the median of 0.3, 0.5, 0.4 against ≥ 0.5× fails: %+v", fan)
	}
	if slow := by[rows[3].Name]; slow.Ratio != 0.9 || !slow.Met {
		t.Errorf("0.9 against ≥ 0.9 is met: %+v", slow)
	}
	if sync := by[rows[1].Name]; !sync.Missing || !sync.Failed {
		t.Errorf("a benchmark that did not run fails: %+v", sync)
	}
}

// TestReadmeIsGenerated: the README's benchmark table is what docs/bench/latest.txt gives.
func TestReadmeIsGenerated(t *testing.T) {
	latest, err := os.ReadFile("../../" + latestFile)
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../" + readmeFile)
	if err != nil {
		t.Fatal(err)
	}
	got, err := between(string(readme))
	if err != nil {
		t.Fatal(err)
	}
	if want := section(string(latest)); got != want {
		t.Errorf("README's generated section differs from %s; run make bench.\ngot:\n%s\nwant:\n%s", latestFile, got, want)
	}
}

// quote is a figure a document takes from the benchmarks: **figure**<!-- bench name unit -->.
var quote = regexp.MustCompile(`\*\*([^*]+)\*\*<!-- bench (\S+) (\S+) -->`)

// TestCapacityQuotesLatest: every benchmark figure docs/capacity.md quotes is the median of
// that figure in docs/bench/latest.txt, as the table prints it.
func TestCapacityQuotesLatest(t *testing.T) {
	latest, err := os.ReadFile("../../" + latestFile)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../docs/capacity.md")
	if err != nil {
		t.Fatal(err)
	}
	res := parse(string(latest))
	quotes := quote.FindAllStringSubmatch(string(doc), -1)
	if len(quotes) < 5 {
		t.Fatalf("docs/capacity.md quotes %d benchmark figures", len(quotes))
	}
	for _, q := range quotes {
		v := res[metric{q[2], q[3]}]
		if len(v) == 0 {
			t.Errorf("capacity.md quotes %s %s, which %s does not have", q[2], q[3], latestFile)
			continue
		}
		if want := strings.TrimSuffix(figure(median(v), ""), " "); q[1] != want {
			t.Errorf("capacity.md quotes %s %s as %s; %s has %s", q[2], q[3], q[1], latestFile, want)
		}
	}
}

// TestBoundRow: a row whose goal bounds Tok's figure is judged on the figure, the baseline
// shown beside it.
func TestBoundRow(t *testing.T) {
	res := parse("BenchmarkFirstByte-2 50 1 ns/op 90 countries-first-byte-ms 1 static-first-byte-ms\n" +
		"BenchmarkFirstByte-2 50 1 ns/op 120 countries-first-byte-ms 1 static-first-byte-ms\n" +
		"BenchmarkFirstByte-2 50 1 ns/op 95 countries-first-byte-ms 2 static-first-byte-ms\n")
	o := rowNamed(t, evaluate(res), "hosted page (country list)")
	if o.Ratio != 95 || o.Base != 1 || !o.Met || o.Failed {
		t.Fatalf("a median of 95 ms against ≤ 100 ms is met, whatever the baseline: %+v", o)
	}
	if table := render([]outcome{o}); !strings.Contains(table, "| 95.0 countries-first-byte-ms | 1 static-first-byte-ms | (95×) | ≤ 100 countries-first-byte-ms |") {
		t.Fatalf("rendered:\n%s", table)
	}
}

// TestInfoRow: a figure reported without a goal never fails the run.
func TestInfoRow(t *testing.T) {
	res := parse("BenchmarkColdStart-2 10 1 ns/op 40 tok-binary-MB 10 hello-binary-MB\n")
	o := rowNamed(t, evaluate(res), "binary size")
	if o.Ratio != 4 || !o.Met || o.Failed {
		t.Fatalf("a reported figure: %+v", o)
	}
	if table := render([]outcome{o}); !strings.Contains(table, "| 4× | — | 1, 0 % | reported |") {
		t.Fatalf("rendered:\n%s", table)
	}
}

// rowNamed is the outcome of the row whose name starts with prefix; the test fails without one.
func rowNamed(t *testing.T, outs []outcome, prefix string) outcome {
	t.Helper()
	for _, o := range outs {
		if strings.HasPrefix(o.Name, prefix) {
			return o
		}
	}
	t.Fatalf("no row %q", prefix)
	return outcome{}
}

// TestGrowthRow: the scheduler's growth row divides the tick's growth from 1,000 to 100,000
// connections by the raw operations' growth over the same cases, round by round; the
// duration of the tick alone is reported without a goal.
func TestGrowthRow(t *testing.T) {
	const round = "BenchmarkSchedulerTick/total=1000/due=500-2 3 1 ns/op 1000 tick-ms 800 raw-ms\n" +
		"BenchmarkSchedulerTick/total=100000/due=500-2 3 1 ns/op %s tick-ms 1000 raw-ms\n"
	const growth, duration = "scheduler tick duration's growth", "scheduler tick duration, "
	outs := evaluate(parse(strings.ReplaceAll(round, "%s", "1500")))
	g := rowNamed(t, outs, growth)
	if math.Abs(g.Tok-1.5) > 1e-9 || math.Abs(g.Base-1.25) > 1e-9 || math.Abs(g.Ratio-1.2) > 1e-9 || !g.Met || g.Failed {
		t.Errorf("1.5× against the raw operations' 1.25× is 1.2×, within ≤ 1.25×: %+v", g)
	}
	if table := render([]outcome{g}); !strings.Contains(table, "| 1.5× tick-ms | 1.25× raw-ms | 1.2× | ≤ 1.25× | 1, 0 % | met |") {
		t.Errorf("rendered:\n%s", table)
	}
	if d := rowNamed(t, outs, duration); d.Ratio != 1.5 || !d.Met || d.Failed || !d.Info {
		t.Errorf("the tick's own growth is reported: %+v", d)
	}
	// Two rounds: 1.2× and 2.4× (3,000 ms at 100,000), whose median 1.8× fails.
	outs = evaluate(parse(strings.ReplaceAll(round, "%s", "1500") + strings.ReplaceAll(round, "%s", "3000")))
	if g := rowNamed(t, outs, growth); g.Rounds != 2 || math.Abs(g.Ratio-1.8) > 1e-9 || !g.Failed {
		t.Errorf("a median of 1.8× against ≤ 1.25× fails: %+v", g)
	}
	// A growth from 0 ms or without its raw figures is missing, and fails.
	for _, res := range []string{
		strings.ReplaceAll(strings.ReplaceAll(round, "%s", "1500"), "800 raw-ms", "0 raw-ms"),
		strings.ReplaceAll(strings.ReplaceAll(round, "%s", "1500"), " 800 raw-ms", ""),
	} {
		if g := rowNamed(t, evaluate(parse(res)), growth); !g.Missing || !g.Failed {
			t.Errorf("%q: %+v", res, g)
		}
	}
}
