// Command withemulators runs a command with the local emulators up: the official Firestore and
// Pub/Sub emulators and the in-process KMS/Secret Manager emulator. `make test` runs `go test`
// under it:
//
//	go run ./emulators/cmd/withemulators [-logdir DIR] -- go test ./...
//
// The command gets FIRESTORE_EMULATOR_HOST, PUBSUB_EMULATOR_HOST, TOK_KMS_ENDPOINT,
// TOK_SECRETMANAGER_ENDPOINT, TOK_TEST_EMULATORS=1, TOK_TEST_REPORT (the file where
// shared/testing/testenv records each emulator-backed test) and TOK_FIRESTORE_EMULATOR_PID
// (the Firestore emulator's JVM, whose CPU time benchmarks count). withemulators exits with
// the command's exit code after stopping every emulator.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"tokapi.io/tok/emulators/gcloudemu"
	"tokapi.io/tok/emulators/kmssm"
)

func main() {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, nil)))
	os.Exit(run(os.Args[1:], os.Stderr))
}

// run returns the process exit code: the command's, or non-zero if the emulators fail.
func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("withemulators", flag.ContinueOnError)
	fs.SetOutput(stderr)
	logDir := fs.String("logdir", "", "directory for the emulator logs (default: a temporary directory, kept only if something fails)")
	firestoreHeapMB := fs.Int("firestore-heap-mb", 0, "the Firestore emulator's maximum Java heap in MiB (default 512), larger for benchmarks that write tens of thousands of documents")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		_, _ = fmt.Fprintln(stderr, "usage: withemulators [-logdir DIR] [-firestore-heap-mb N] -- CMD [ARGS...]")
		return 2
	}

	// Catch signals from the start, so an interrupt while the emulators start still stops them.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)

	keepLogs := *logDir != ""
	if !keepLogs {
		dir, err := os.MkdirTemp("", "tok-emulators-")
		if err != nil {
			_, _ = fmt.Fprintf(stderr, "withemulators: %v\n", err)
			return 1
		}
		*logDir = dir
	}
	report, err := newReport()
	if err != nil {
		_, _ = fmt.Fprintf(stderr, "withemulators: %v\n", err)
		return 1
	}

	code := runWith(*logDir, *firestoreHeapMB, report, fs.Args(), sigs, stderr)

	if n, err := countTests(report); err != nil {
		_, _ = fmt.Fprintf(stderr, "withemulators: %v\n", err)
		code = max(code, 1)
	} else {
		_, _ = fmt.Fprintf(stderr, "emulator-backed tests run: %d\n", n)
	}
	if err := os.Remove(report); err != nil {
		slog.Warn("remove test report", "err", err)
	}
	if code == 0 && !keepLogs {
		if err := os.RemoveAll(*logDir); err != nil {
			slog.Warn("remove emulator logs", "err", err)
		}
	} else {
		slog.Info("emulator logs kept", "dir", *logDir)
	}
	return code
}

// runWith starts the emulators, runs the command and stops the emulators again.
func runWith(logDir string, firestoreHeapMB int, report string, command []string, sigs <-chan os.Signal, stderr io.Writer) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	interrupted := false
	startDone, watched := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-sigs:
			interrupted = true
			cancel()
		case <-startDone:
		}
	}()
	began := time.Now()
	st, err := startAll(ctx, logDir, firestoreHeapMB)
	close(startDone)
	<-watched
	defer func() {
		if err := st.stop(); err != nil {
			_, _ = fmt.Fprintf(stderr, "withemulators: stop emulators: %v\n", err)
		}
	}()
	if interrupted {
		_, _ = fmt.Fprintln(stderr, "withemulators: interrupted while starting the emulators")
		return 130
	}
	if err != nil {
		_, _ = fmt.Fprintf(stderr, "withemulators: %v\n", err)
		return 1
	}
	slog.Info("emulators ready", "startup", time.Since(began).Round(time.Millisecond))

	cmd := exec.Command(command[0], command[1:]...) //nolint:noctx // running the given command is the point; signals, not a context, end it
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), st.env(report)...)
	if err := cmd.Start(); err != nil {
		_, _ = fmt.Fprintf(stderr, "withemulators: %v\n", err)
		return 127
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	for {
		select {
		case sig := <-sigs:
			// The command decides how to end (go test prints its failures first); cleanup follows.
			if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
				slog.Warn("forward signal", "signal", sig, "err", err)
			}
		case err := <-waited:
			return exitCode(cmd.ProcessState, err, stderr)
		}
	}
}

// exitCode is the command's exit code, or 128+N when signal N killed it, as shells report it.
func exitCode(ps *os.ProcessState, waitErr error, stderr io.Writer) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	var exitErr *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exitErr) {
		_, _ = fmt.Fprintf(stderr, "withemulators: %v\n", waitErr)
		return 1
	}
	return ps.ExitCode()
}

// stack is the set of running emulators; any of them may be nil after a failed start.
type stack struct {
	firestore, pubsub *gcloudemu.Emulator
	kmssm             *kmssm.Running
}

// startAll starts the emulators in parallel; on failure it returns what did start, for stop.
func startAll(ctx context.Context, logDir string, firestoreHeapMB int) (*stack, error) {
	st := &stack{}
	g, ctx := errgroup.WithContext(ctx)
	opts := gcloudemu.Options{LogDir: logDir}
	g.Go(func() (err error) {
		fsOpts := opts
		fsOpts.HeapMB = firestoreHeapMB
		st.firestore, err = gcloudemu.StartFirestore(ctx, fsOpts)
		return err
	})
	g.Go(func() (err error) {
		st.pubsub, err = gcloudemu.StartPubSub(ctx, opts)
		return err
	})
	g.Go(func() (err error) {
		st.kmssm, err = kmssm.Start("127.0.0.1:0")
		return err
	})
	return st, g.Wait()
}

func (s *stack) env(report string) []string {
	return []string{
		"FIRESTORE_EMULATOR_HOST=" + s.firestore.Host(),
		"TOK_FIRESTORE_EMULATOR_PID=" + strconv.Itoa(s.firestore.Pid()),
		"PUBSUB_EMULATOR_HOST=" + s.pubsub.Host(),
		"TOK_KMS_ENDPOINT=" + s.kmssm.Addr(),
		"TOK_SECRETMANAGER_ENDPOINT=" + s.kmssm.Addr(),
		"TOK_TEST_EMULATORS=1",
		"TOK_TEST_REPORT=" + report,
	}
}

func (s *stack) stop() error {
	var errs []error
	for _, e := range []*gcloudemu.Emulator{s.firestore, s.pubsub} {
		if e != nil {
			errs = append(errs, e.Stop())
		}
	}
	if s.kmssm != nil {
		s.kmssm.Stop()
	}
	return errors.Join(errs...)
}

// newReport creates the empty file that shared/testenv appends test names to.
func newReport() (string, error) {
	f, err := os.CreateTemp("", "tok-test-report-*.txt")
	if err != nil {
		return "", fmt.Errorf("create test report: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("create test report: %w", err)
	}
	return f.Name(), nil
}

// countTests counts the distinct lines of the report: a test that reaches several emulators,
// or runs again with -count, is one test.
func countTests(report string) (int, error) {
	data, err := os.ReadFile(report) //nolint:gosec // our own temporary file
	if err != nil {
		return 0, fmt.Errorf("read test report: %w", err)
	}
	seen := map[string]bool{}
	for line := range bytes.Lines(data) {
		if line = bytes.TrimSpace(line); len(line) > 0 {
			seen[string(line)] = true
		}
	}
	return len(seen), nil
}
