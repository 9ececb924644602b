package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRun runs a command under the emulators and checks its environment, the report count,
// the exit code, the Firestore emulator's heap and that every emulator is gone afterwards.
func TestRun(t *testing.T) {
	envFile, heapFile := filepath.Join(t.TempDir(), "env"), filepath.Join(t.TempDir(), "heap")
	script := `env > "$1"
grep -las -- "-Xmx64[0]m" /proc/[0-9]*/cmdline > "$2"
echo TestA >> "$TOK_TEST_REPORT"
echo TestA >> "$TOK_TEST_REPORT"
echo TestB >> "$TOK_TEST_REPORT"
exit 3`
	var stderr bytes.Buffer
	code := run([]string{"-logdir", t.TempDir(), "-firestore-heap-mb", "640", "--", "sh", "-c", script, "sh", envFile, heapFile}, &stderr)
	if code != 3 {
		t.Errorf("exit code %d, want the command's 3; stderr:\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "emulator-backed tests run: 2\n") {
		t.Errorf("stderr does not count 2 distinct tests:\n%s", stderr.String())
	}

	heap, err := os.ReadFile(heapFile)
	if err != nil || len(heap) == 0 {
		t.Errorf("no process runs with -Xmx640m (%v)", err)
	}
	data, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for line := range strings.Lines(string(data)) {
		k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
		env[k] = v
	}
	// The process named for benchmarks is the Firestore emulator's JVM, the one given its heap.
	if pid := env["TOK_FIRESTORE_EMULATOR_PID"]; pid == "" || !strings.Contains(string(heap), "/proc/"+pid+"/cmdline") {
		t.Errorf("TOK_FIRESTORE_EMULATOR_PID = %q, not among the processes with the Firestore heap:\n%s", pid, heap)
	}
	if env["TOK_TEST_EMULATORS"] != "1" {
		t.Errorf("TOK_TEST_EMULATORS = %q, want 1", env["TOK_TEST_EMULATORS"])
	}
	if _, err := os.Stat(env["TOK_TEST_REPORT"]); !os.IsNotExist(err) {
		t.Errorf("report %q not removed: %v", env["TOK_TEST_REPORT"], err)
	}
	for _, k := range []string{"FIRESTORE_EMULATOR_HOST", "PUBSUB_EMULATOR_HOST", "TOK_KMS_ENDPOINT", "TOK_SECRETMANAGER_ENDPOINT"} {
		host := env[k]
		if !strings.HasPrefix(host, "127.0.0.1:") {
			t.Errorf("%s = %q, want 127.0.0.1:PORT", k, host)
			continue
		}
		var lc net.ListenConfig
		l, err := lc.Listen(t.Context(), "tcp", host)
		if err != nil {
			t.Errorf("%s %s still in use after run: %v", k, host, err)
			continue
		}
		_ = l.Close()
	}
}

func TestRunWithoutCommand(t *testing.T) {
	var stderr bytes.Buffer
	if code := run(nil, &stderr); code != 2 || !strings.Contains(stderr.String(), "usage") {
		t.Errorf("run() = %d, %q; want 2 and the usage", code, stderr.String())
	}
}

func TestCountTests(t *testing.T) {
	report := filepath.Join(t.TempDir(), "report")
	if err := os.WriteFile(report, []byte("a/x TestA\na/x TestA\n\nb/y TestA\nb/y TestB/sub\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := countTests(report)
	if err != nil || n != 3 {
		t.Errorf("countTests = %d, %v; want 3 distinct lines", n, err)
	}
}
