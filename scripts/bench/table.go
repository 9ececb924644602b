package main

import (
	"bufio"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// NoiseMargin is how far a ratio may fall short of its goal before `make bench` fails: the
// spread of the median ratio between runs of `make bench` on this loaded 2-core machine (see
// docs/benchmarks.md). Within the margin a miss is reported, not failed.
const NoiseMargin = 0.15

// suite is one `go test -bench` invocation.
type suite struct {
	Pkg, Bench, Benchtime string
	// Count overrides -count for a suite whose every round is long (0: -count).
	Count int
}

// metric names one figure of a benchmark's output line: the benchmark's full name without
// the -GOMAXPROCS suffix, and the unit it reports.
type metric struct{ Bench, Unit string }

// row is one line of the table: Tok's figure against the baseline measured in the same run,
// their ratio and its goal. A row without a baseline compares Tok's figure itself to the goal.
type row struct {
	Name      string
	Tok, Base metric
	// AtMost: the goal is ratio <= Goal; otherwise ratio >= Goal.
	AtMost bool
	Goal   float64
	// Note explains a row without a baseline.
	Note string
	// Bound: the goal bounds Tok's figure itself (in its unit); the baseline and the ratio
	// are shown beside it for scale.
	Bound bool
	// Info: a figure the table reports without a goal (Goal unused).
	Info bool
	// TokFrom and BaseFrom make a growth row: Tok's figure over TokFrom's, round by round, is
	// Tok's growth between two cases, Base's over BaseFrom's the baseline's growth between the
	// same cases, and the ratio is the one over the other.
	TokFrom, BaseFrom metric
}

// suites are every benchmark of the repository, with iterations enough for stable ratios.
var suites = []suite{
	{"./functions/accounts", "^BenchmarkListPage$", "10x", 0},
	{"./shared/banksync", "^BenchmarkSync10k$", "2x", 2},
	{"./shared/webhooks", "^BenchmarkFanout50$", "200x", 0},
	{"./shared/webhooks", "^BenchmarkFanoutSlowEndpoint$", "1x", 2},
	{"./shared/banksync", "^BenchmarkSchedulerTick$", "3x", 1},
	{"./shared/ratelimit", "^BenchmarkAllow$", "10x", 0},
	{"./shared/envelope", "^BenchmarkOpen$", "2000x", 0},
	{"./scripts/stage", "^BenchmarkColdStart$", "10x", 0},
	{"./functions/hostedpages", "^BenchmarkFirstByte$", "50x", 0},
	{"./functions/accounts", "^BenchmarkTransactionsLoad$", "1x", 0},
}

var rows = []row{
	{Name: "page of 100 transactions: handler vs raw query", Tok: metric{"BenchmarkListPage", "handler-µs/op"}, Base: metric{"BenchmarkListPage", "raw-µs/op"}, AtMost: true, Goal: 1.25},
	{Name: "sync of the business persona vs BulkWriter of the same docs", Tok: metric{"BenchmarkSync10k", "sync-ms/op"}, Base: metric{"BenchmarkSync10k", "raw-write-ms/op"}, AtMost: true, Goal: 1.3},
	{Name: "webhook fan-out to 50 endpoints vs concurrent plain POSTs", Tok: metric{"BenchmarkFanout50/tok", "deliveries/s"}, Base: metric{"BenchmarkFanout50/plain-post-concurrent", "deliveries/s"}, Goal: 0.5},
	{Name: "others' delivery rate with one endpoint sleeping 10 s vs none", Tok: metric{"BenchmarkFanoutSlowEndpoint/one-sleeps-10s", "others/s"}, Base: metric{"BenchmarkFanoutSlowEndpoint/all-fast", "others/s"}, Goal: 0.9},
	{Name: "scheduler tick reads, 100,000 connections vs 1,000 (500 due)", Tok: metric{"BenchmarkSchedulerTick/total=100000/due=500", "reads/tick"}, Base: metric{"BenchmarkSchedulerTick/total=1000/due=500", "reads/tick"}, AtMost: true, Goal: 1},
	{Name: "scheduler tick duration, 100,000 connections vs 1,000 (500 due)", Tok: metric{"BenchmarkSchedulerTick/total=100000/due=500", "tick-ms"}, Base: metric{"BenchmarkSchedulerTick/total=1000/due=500", "tick-ms"}, Info: true},
	{Name: "scheduler tick duration's growth from 1,000 to 100,000 connections (500 due) vs the emulator's own for the same raw Firestore operations", Tok: metric{"BenchmarkSchedulerTick/total=100000/due=500", "tick-ms"}, TokFrom: metric{"BenchmarkSchedulerTick/total=1000/due=500", "tick-ms"}, Base: metric{"BenchmarkSchedulerTick/total=100000/due=500", "raw-ms"}, BaseFrom: metric{"BenchmarkSchedulerTick/total=1000/due=500", "raw-ms"}, AtMost: true, Goal: 1.25},
	{Name: "limiter writes at the Enterprise limit (per second of traffic)", Tok: metric{"BenchmarkAllow/at_the_limit", "writes/s"}, AtMost: true, Goal: 1.5, Note: "Firestore sustains ~1 write/s per document"},
	{Name: "cold start to listening: staged banks vs hello world", Tok: metric{"BenchmarkColdStart", "tok-listen-ms"}, Base: metric{"BenchmarkColdStart", "hello-listen-ms"}, AtMost: true, Goal: 1.5},
	{Name: "cold start to listening: staged banks vs the hello world that makes its first request's calls", Tok: metric{"BenchmarkColdStart", "tok-listen-ms"}, Base: metric{"BenchmarkColdStart", "hellocalls-listen-ms"}, Info: true},
	{Name: "cold start to the first authenticated 200 vs the hello world that makes the same dependency calls", Tok: metric{"BenchmarkColdStart", "tok-first200-ms"}, Base: metric{"BenchmarkColdStart", "hellocalls-first200-ms"}, AtMost: true, Goal: 1},
	{Name: "cold start to the first authenticated 200 vs hello world plus the calls timed alone in a warm process", Tok: metric{"BenchmarkColdStart", "tok-first200-ms"}, Base: metric{"BenchmarkColdStart", "hello+deps-ms"}, Info: true},
	{Name: "binary size: staged banks vs hello world", Tok: metric{"BenchmarkColdStart", "tok-binary-MB"}, Base: metric{"BenchmarkColdStart", "hello-binary-MB"}, Info: true},
	{Name: "binary size: staged banks vs the hello world that makes its first request's calls", Tok: metric{"BenchmarkColdStart", "tok-binary-MB"}, Base: metric{"BenchmarkColdStart", "hellocalls-binary-MB"}, Info: true},
	{Name: "Firestore reads of the first request", Tok: metric{"BenchmarkColdStart", "firestore-reads/first-request"}, AtMost: true, Goal: 2, Note: "one for the key, one in the limiter's lease"},
	{Name: "Firestore commits of the first request", Tok: metric{"BenchmarkColdStart", "firestore-commits/first-request"}, AtMost: true, Goal: 1, Note: "the limiter's lease"},
	{Name: "Secret Manager reads of the first request", Tok: metric{"BenchmarkColdStart", "secret-reads/first-request"}, AtMost: true, Goal: 1, Note: "the API key pepper"},
	{Name: "hosted page (country list) first byte on the local stack, vs a static document through the same wrapper", Tok: metric{"BenchmarkFirstByte", "countries-first-byte-ms"}, Base: metric{"BenchmarkFirstByte", "static-first-byte-ms"}, AtMost: true, Goal: 100, Bound: true},
	{Name: "hosted page (a country's banks) first byte on the local stack, vs a static document through the same wrapper", Tok: metric{"BenchmarkFirstByte", "banks-first-byte-ms"}, Base: metric{"BenchmarkFirstByte", "static-first-byte-ms"}, AtMost: true, Goal: 100, Bound: true},
	{Name: "API path p50, 50 clients, Enterprise: platform layer vs the bare handler", Tok: metric{"BenchmarkTransactionsLoad", "tok-p50-ms"}, Base: metric{"BenchmarkTransactionsLoad", "bare-p50-ms"}, AtMost: true, Goal: 1.1},
	{Name: "API path p99, 50 clients, Enterprise: platform layer vs the bare handler", Tok: metric{"BenchmarkTransactionsLoad", "tok-p99-ms"}, Base: metric{"BenchmarkTransactionsLoad", "bare-p99-ms"}, Info: true},
	{Name: "Firestore reads for authentication per request, warm key cache", Tok: metric{"BenchmarkTransactionsLoad", "auth-reads/request"}, AtMost: true, Goal: 1, Note: "ideally 0"},
	{Name: "KMS envelope Open: warm data-key cache vs a KMS unwrap", Tok: metric{"BenchmarkOpen/warm", "ns/op"}, Base: metric{"BenchmarkOpen/cold-kms", "ns/op"}, AtMost: true, Goal: 0.1},
}

// results maps a metric to its values, one per -count round, in output order.
type results map[metric][]float64

var (
	benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)
	// A benchmark's name is printed when it starts and its figures when it ends, so log
	// lines written in between may split them.
	fullLine    = regexp.MustCompile(`^(Benchmark\S+)\s+(\d+\s+\S+ ns/op.*)$`)
	benchName   = regexp.MustCompile(`^(Benchmark\S+)`)
	benchResult = regexp.MustCompile(`^\s*(\d+\s+\S+ ns/op.*)$`)
)

// clean returns the benchmark lines of `go test -bench` output, each name joined again to
// its figures across any log lines between them.
func clean(raw string) []string {
	var out []string
	name := ""
	sc := bufio.NewScanner(strings.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := fullLine.FindStringSubmatch(line); m != nil {
			out, name = append(out, m[1]+" "+m[2]), ""
			continue
		}
		if m := benchName.FindStringSubmatch(line); m != nil {
			name = m[1]
			continue
		}
		if m := benchResult.FindStringSubmatch(line); m != nil && name != "" {
			out, name = append(out, name+" "+m[1]), ""
		}
	}
	return out
}

// parse reads clean benchmark lines ("BenchmarkName N value unit value unit ...").
func parse(out string) results {
	res := results{}
	for _, line := range strings.Split(out, "\n") {
		m := benchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		f := strings.Fields(m[2])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			k := metric{m[1], f[i+1]}
			res[k] = append(res[k], v)
		}
	}
	return res
}

// series is m's values, one per round, each divided by from's of the same round when from is
// named: a growth, none at all when a round grows from 0 (the row is then missing, so fails).
func (res results) series(m, from metric) []float64 {
	if from.Bench == "" {
		return res[m]
	}
	v, per := res[m], res[from]
	var out []float64
	for i := 0; i < min(len(v), len(per)); i++ {
		if per[i] == 0 {
			return nil
		}
		out = append(out, v[i]/per[i])
	}
	return out
}

// outcome is a row computed from results.
type outcome struct {
	row
	Tok, Base, Ratio float64
	// Spread is (max-min)/median of the per-round ratios.
	Spread float64
	Rounds int
	Met    bool
	// Failed: missed by more than NoiseMargin.
	Failed  bool
	Missing bool
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// evaluate computes every row; a row whose figures are missing fails.
func evaluate(res results) []outcome {
	var out []outcome
	for _, r := range rows {
		o := outcome{row: r}
		tok := res.series(r.Tok, r.TokFrom)
		var ratios []float64
		if r.Base.Bench == "" || r.Bound {
			ratios = tok
		}
		if r.Base.Bench != "" {
			base := res.series(r.Base, r.BaseFrom)
			for i := 0; i < min(len(tok), len(base)) && !r.Bound; i++ {
				if base[i] != 0 {
					ratios = append(ratios, tok[i]/base[i])
				}
			}
			if len(base) > 0 {
				o.Base = median(base)
			}
		}
		if len(tok) == 0 || len(ratios) == 0 {
			o.Missing, o.Failed = true, true
			out = append(out, o)
			continue
		}
		o.Tok, o.Ratio, o.Rounds = median(tok), median(ratios), len(ratios)
		o.Spread = (slices.Max(ratios) - slices.Min(ratios)) / math.Abs(o.Ratio)
		switch {
		case r.Info:
			o.Met = true
		case r.AtMost:
			o.Met, o.Failed = o.Ratio <= r.Goal, o.Ratio > r.Goal*(1+NoiseMargin)
		default:
			o.Met, o.Failed = o.Ratio >= r.Goal, o.Ratio < r.Goal*(1-NoiseMargin)
		}
		out = append(out, o)
	}
	return out
}

// figure formats a value with its unit, three significant digits.
func figure(v float64, unit string) string {
	switch {
	case v >= 1000:
		return fmt.Sprintf("%s %s", thousands(math.Round(v)), unit)
	case v >= 100:
		return fmt.Sprintf("%.0f %s", v, unit)
	case v >= 10:
		return fmt.Sprintf("%.1f %s", v, unit)
	}
	return fmt.Sprintf("%.3g %s", v, unit)
}

func thousands(v float64) string {
	s := strconv.FormatFloat(v, 'f', 0, 64)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// shown formats a figure of the row: a growth as a factor of its unit.
func shown(v float64, m, from metric) string {
	if from.Bench == "" {
		return figure(v, m.Unit)
	}
	return fmt.Sprintf("%.3g× %s", v, m.Unit)
}

// render is the Markdown table of outcomes.
func render(outs []outcome) string {
	var b strings.Builder
	b.WriteString("| benchmark | Tok | baseline in the same run | ratio | goal | rounds, spread | |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	for _, o := range outs {
		op := "≥"
		if o.AtMost {
			op = "≤"
		}
		if o.Missing {
			goal := fmt.Sprintf("%s %g", op, o.Goal)
			if o.Info {
				goal = "—"
			}
			fmt.Fprintf(&b, "| %s | missing | | | %s | | FAIL |\n", o.Name, goal)
			continue
		}
		base, ratio, goal := o.Note, "—", fmt.Sprintf("%s %g %s", op, o.Goal, o.row.Tok.Unit)
		switch {
		case o.Bound && o.Base != 0:
			base, ratio = figure(o.Base, o.row.Base.Unit), fmt.Sprintf("(%.3g×)", o.Tok/o.Base)
		case o.row.Base.Bench != "" && !o.Bound:
			base, ratio, goal = shown(o.Base, o.row.Base, o.BaseFrom), fmt.Sprintf("%.3g×", o.Ratio), fmt.Sprintf("%s %g×", op, o.Goal)
		}
		verdict := "met"
		if o.Info {
			goal, verdict = "—", "reported"
		}
		switch {
		case o.Failed:
			verdict = "FAIL"
		case !o.Met:
			verdict = "missed within the noise margin"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %d, %.0f %% | %s |\n", o.Name, shown(o.Tok, o.row.Tok, o.TokFrom), base, ratio, goal, o.Rounds, 100*o.Spread, verdict)
	}
	return b.String()
}
