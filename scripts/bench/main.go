// Command bench is `make bench`: it runs every benchmark of the repository on the emulators
// (fresh ones for each benchmark, through withemulators), each several rounds, and prints one table of Tok's
// figure against the baseline measured in the same run, their ratio and the goal. It keeps
// the raw output in docs/bench/latest.txt, regenerates the README's table from it, and exits
// non-zero when a ratio misses its goal by more than NoiseMargin.
//
//	go run ./scripts/bench [-count 3] [-only Fanout]
//	go run ./scripts/bench -render   # the README's table again from docs/bench/latest.txt, running nothing
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// Where the output goes, relative to the repository root.
const (
	latestFile    = "docs/bench/latest.txt"
	readmeFile    = "README.md"
	withEmulators = ".tok/bin/withemulators"
	logDir        = ".tok/bench-logs"
)

// benchFirestoreHeapMB is the Firestore emulator's maximum heap, in MiB, for every suite.
const benchFirestoreHeapMB = 2048

func main() {
	count := flag.Int("count", 3, "rounds of every benchmark (the ratio is the median)")
	only := flag.String("only", "", "run only the suites whose benchmark matches this regexp, and write nothing")
	render := flag.Bool("render", false, "regenerate the README's table from "+latestFile+" without running anything")
	flag.Parse()
	if *render {
		latest, err := os.ReadFile(latestFile)
		if err == nil {
			err = updateReadme(string(latest))
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*count, *only); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(count int, only string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	filter, err := regexp.Compile(only)
	if err != nil {
		return err
	}
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", withEmulators, "./emulators/cmd/withemulators").CombinedOutput(); err != nil {
		return fmt.Errorf("build withemulators: %w\n%s", err, out)
	}
	var out bytes.Buffer
	var suiteErrs []string
	fmt.Fprintf(&out, "# make bench, %s, %s, %d CPUs, -count %d\n", time.Now().UTC().Format(time.RFC3339), runtime.Version(), runtime.NumCPU(), count)
	fmt.Fprintf(&out, "# load average before: %s\n", loadavg())
	for _, s := range suites {
		if !filter.MatchString(s.Bench) {
			continue
		}
		n := count
		if s.Count > 0 {
			n = s.Count
		}
		fmt.Fprintf(os.Stderr, "== %s %s -benchtime %s -count %d\n", s.Pkg, s.Bench, s.Benchtime, n)
		// Fresh emulators for every suite: one suite's documents (a sync writes tens of
		// thousands) do not slow the next. The Firestore emulator gets a larger heap than
		// make test's: in the default 512 MiB, rounds of the 10,000-transaction sync or the
		// 100,000-connection scheduler missed their deadlines while its heap filled.
		cmd := exec.CommandContext(ctx, withEmulators, "-logdir", logDir, "-firestore-heap-mb", fmt.Sprint(benchFirestoreHeapMB),
			"--", "go", "test", "-run", "^$", "-bench", s.Bench,
			"-benchtime", s.Benchtime, "-count", fmt.Sprint(n), "-timeout", "30m", s.Pkg)
		var buf bytes.Buffer
		cmd.Stdout, cmd.Stderr = io.MultiWriter(&buf, os.Stderr), os.Stderr
		// A suite that fails still gives the rounds it finished; its missing rows fail the run.
		runErr := cmd.Run()
		fmt.Fprintf(&out, "# %s %s\n", s.Pkg, s.Bench)
		if runErr != nil {
			fmt.Fprintf(&out, "# failed: %v\n", runErr)
			suiteErrs = append(suiteErrs, fmt.Sprintf("%s %s: %v", s.Pkg, s.Bench, runErr))
		}
		for _, line := range clean(buf.String()) {
			out.WriteString(line + "\n")
		}
	}
	fmt.Fprintf(&out, "# load average after: %s\n", loadavg())
	outs := evaluate(parse(out.String()))
	fmt.Print(section(out.String()))
	if only == "" {
		if err := os.WriteFile(latestFile, out.Bytes(), 0o644); err != nil { //nolint:gosec // a committed text file
			return err
		}
		if err := updateReadme(out.String()); err != nil {
			return err
		}
	}
	var failed []string
	for _, o := range outs {
		if o.Failed && (only == "" || !o.Missing) {
			failed = append(failed, o.Name)
		}
	}
	if len(suiteErrs) > 0 {
		failed = append(failed, suiteErrs...)
	}
	if len(failed) > 0 {
		return fmt.Errorf("goal missed by more than the %.0f %% noise margin: %s", 100*NoiseMargin, strings.Join(failed, "; "))
	}
	return nil
}

// loadavg is the machine's 1, 5 and 15 minute load averages.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
