// Command bench is `make bench`: it runs every benchmark of the repository on the emulators
// (started by withemulators around it), each several rounds, and prints one table of Tok's
// figure against the baseline measured in the same run, their ratio and the goal. It keeps
// the raw output in docs/bench/latest.txt, regenerates the README's table from it, and exits
// non-zero when a ratio misses its goal by more than NoiseMargin.
//
//	go run ./emulators/cmd/withemulators -- go run ./scripts/bench [-count 3] [-only Fanout]
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"time"
)

// Where the output goes, relative to the repository root.
const (
	latestFile = "docs/bench/latest.txt"
	readmeFile = "README.md"
)

func main() {
	count := flag.Int("count", 3, "rounds of every benchmark (the ratio is the median)")
	only := flag.String("only", "", "run only the suites whose benchmark matches this regexp, and write nothing")
	flag.Parse()
	if err := run(*count, *only); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(count int, only string) error {
	filter, err := regexp.Compile(only)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "# make bench, %s, %s, %d CPUs, -count %d\n", time.Now().UTC().Format(time.RFC3339), runtime.Version(), runtime.NumCPU(), count)
	fmt.Fprintf(&out, "# load average before: %s\n", loadavg())
	for _, s := range suites {
		if !filter.MatchString(s.Bench) {
			continue
		}
		fmt.Fprintf(os.Stderr, "== %s %s -benchtime %s -count %d\n", s.Pkg, s.Bench, s.Benchtime, count)
		cmd := exec.Command("go", "test", "-run", "^$", "-bench", s.Bench, "-benchtime", s.Benchtime,
			"-count", fmt.Sprint(count), "-timeout", "30m", s.Pkg)
		var buf bytes.Buffer
		cmd.Stdout, cmd.Stderr = io.MultiWriter(&buf, os.Stderr), os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s %s: %w", s.Pkg, s.Bench, err)
		}
		fmt.Fprintf(&out, "# %s\n", s.Pkg)
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
		if err := updateReadme(readmeFile, out.String()); err != nil {
			return err
		}
	}
	var failed []string
	for _, o := range outs {
		if o.Failed && (only == "" || !o.Missing) {
			failed = append(failed, o.Name)
		}
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
