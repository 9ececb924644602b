package gcloudemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"tokapi.io/tok/shared/testing/testenv"
)

// starts are the emulators' start functions by name.
var starts = map[string]func(context.Context, Options) (*Emulator, error){
	"firestore": StartFirestore,
	"pubsub":    StartPubSub,
}

// TestStartStop starts both emulators, checks they answer and run with the quick compiler only,
// stops them and proves that the port is free again and no process of the group is left.
func TestStartStop(t *testing.T) {
	for name, start := range starts {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e, err := start(t.Context(), Options{LogDir: t.TempDir(), HeapMB: 256})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = e.Stop() })
			if !strings.HasPrefix(e.Host(), "127.0.0.1:") {
				t.Errorf("Host() = %q, want 127.0.0.1:PORT", e.Host())
			}
			if !e.answersOk(t.Context(), http.DefaultClient) {
				t.Fatalf("%s does not answer Ok after start", e.Host())
			}
			pgid := e.cmd.Process.Pid
			if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pgid)); err != nil || !bytes.Contains(cmdline, []byte(quickJIT+"\x00")) {
				t.Errorf("the JVM runs without %s: %q (%v)", quickJIT, cmdline, err)
			}

			if err := e.Stop(); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			if err := syscall.Kill(-pgid, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("process group %d still exists after Stop (kill -0: %v)", pgid, err)
			}
			var lc net.ListenConfig
			l, err := lc.Listen(t.Context(), "tcp", e.Host())
			if err != nil {
				t.Fatalf("port not free after Stop: %v", err)
			}
			_ = l.Close()
			if err := e.Stop(); err != nil {
				t.Errorf("second Stop: %v", err)
			}
		})
	}
}

// TestResetFirestore resets one project on the Firestore emulator withemulators runs (each
// test's project is its own) and leaves another project's documents alone.
func TestResetFirestore(t *testing.T) {
	p1, p2 := testenv.Project(t), testenv.Project(t)
	host := "127.0.0.1:" + strconv.Itoa(sharedPort(t, "FIRESTORE_EMULATOR_HOST"))
	doc := "http://" + host + "/v1/projects/" + p1 + "/databases/(default)/documents/things/a"
	other := "http://" + host + "/v1/projects/" + p2 + "/databases/(default)/documents/things/a"
	for _, url := range []string{doc, other} {
		if code := do(t, http.MethodPatch, url, `{"fields":{"n":{"integerValue":"1"}}}`); code != http.StatusOK {
			t.Fatalf("create %s: status %d", url, code)
		}
	}

	if err := ResetFirestore(t.Context(), host, p1); err != nil {
		t.Fatal(err)
	}
	if code := do(t, http.MethodGet, doc, ""); code != http.StatusNotFound {
		t.Errorf("document of the reset project: status %d, want 404", code)
	}
	if code := do(t, http.MethodGet, other, ""); code != http.StatusOK {
		t.Errorf("document of another project: status %d, want 200 (reset must not touch it)", code)
	}
}

func TestMissingComponents(t *testing.T) {
	t.Setenv("CLOUDSDK_ROOT_DIR", t.TempDir())
	if _, err := StartFirestore(t.Context(), Options{}); err == nil || !strings.Contains(err.Error(), "apt-get install google-cloud-cli-firestore-emulator") {
		t.Errorf("StartFirestore without the emulator: %v, want an install hint", err)
	}
	if _, err := StartPubSub(t.Context(), Options{}); err == nil || !strings.Contains(err.Error(), "apt-get install google-cloud-cli-pubsub-emulator") {
		t.Errorf("StartPubSub without the emulator: %v, want an install hint", err)
	}

	t.Setenv("JAVA_HOME", "")
	t.Setenv("PATH", t.TempDir())
	if _, err := StartFirestore(t.Context(), Options{}); err == nil || !strings.Contains(err.Error(), "java not found") {
		t.Errorf("StartFirestore without java: %v, want a java hint", err)
	}
}

// TestTakenPort checks that an emulator that cannot bind its port fails fast, quoting its
// log, and is not mistaken for ready because something else listens there.
func TestTakenPort(t *testing.T) {
	for name, start := range starts {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// A healthy emulator on the port would answer `GET /` with Ok for the new one:
			// the Pub/Sub emulator withemulators runs, which the failed start leaves alone.
			port := sharedPort(t, "PUBSUB_EMULATOR_HOST")

			// The ready timeout is far above any start, loaded machine or not: a start that
			// waited for it would fail with the deadline, not with the process's own failure.
			e, err := start(t.Context(), Options{Port: port, HeapMB: 128, ReadyTimeout: 4 * time.Minute})
			if err == nil {
				_ = e.Stop()
				t.Fatal("start on a taken port succeeded")
			}
			if !strings.Contains(err.Error(), "BindException") {
				t.Errorf("error = %v, want the log tail with the BindException", err)
			}
			if errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error = %v: a failed start must not wait for the ready timeout", err)
			}
		})
	}
}

// TestLostPortIsPickedAgain has the first port the Firestore emulator is given be one that
// another process holds, as when a port picked free is bound by someone else before the JVM
// binds it: the start succeeds on the next port picked. When every port it is given is taken,
// the start stops after portAttempts tries with the BindException. (One emulator is enough:
// the retry is start's, and each try is a JVM start.)
func TestLostPortIsPickedAgain(t *testing.T) {
	t.Parallel()
	taken := sharedPort(t, "PUBSUB_EMULATOR_HOST")
	var picks int
	pick := func(ctx context.Context) (int, error) {
		picks++
		if picks == 1 {
			return taken, nil
		}
		return freePort(ctx)
	}
	e, err := StartFirestore(t.Context(), Options{HeapMB: 128, ReadyTimeout: 4 * time.Minute, pickPort: pick})
	if err != nil {
		t.Fatalf("start after a lost port: %v", err)
	}
	t.Cleanup(func() { _ = e.Stop() })
	if picks != 2 || e.Host() == "127.0.0.1:"+strconv.Itoa(taken) {
		t.Errorf("%d ports picked, running on %s; want the second pick, not the taken port %d", picks, e.Host(), taken)
	}

	picks = 0
	always := func(context.Context) (int, error) { picks++; return taken, nil }
	if e, err := StartFirestore(t.Context(), Options{HeapMB: 128, ReadyTimeout: 4 * time.Minute, pickPort: always}); err == nil {
		_ = e.Stop()
		t.Fatal("start with every port taken succeeded")
	} else if !strings.Contains(err.Error(), "BindException") || picks != portAttempts {
		t.Errorf("after %d picks: %v; want %d picks and the BindException", picks, err, portAttempts)
	}
}

// sharedPort is the port of the emulator withemulators runs, whose host:port env names.
func sharedPort(t *testing.T, env string) int {
	t.Helper()
	testenv.Require(t)
	_, p, err := net.SplitHostPort(os.Getenv(env))
	if err != nil {
		t.Fatalf("%s: %v", env, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("%s: %v", env, err)
	}
	return port
}

func do(t *testing.T, method, url, body string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}
