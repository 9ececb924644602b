// Package gcloudemu starts and stops the official Firestore and Pub/Sub emulators that ship
// with the Google Cloud CLI. It runs their jars with java directly, which starts faster than
// `gcloud emulators ... start` and lets a process-group kill leave no Java behind.
package gcloudemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"tokapi.io/tok/emulators/spawn"
)

// Options configures one emulator.
type Options struct {
	Port         int           // 0 picks a free port
	LogDir       string        // stdout and stderr go to LogDir/<name>.log; "" uses a temporary directory removed on Stop
	HeapMB       int           // Java maximum heap; 0 means 512
	ReadyTimeout time.Duration // how long to wait for `GET /` to answer Ok; 0 means 60s

	pickPort func(context.Context) (int, error) // nil is freePort; tests choose the ports
}

const (
	defaultHeapMB       = 512
	defaultReadyTimeout = 60 * time.Second
	// stopGrace is how long Stop waits after SIGTERM before it sends SIGKILL.
	stopGrace = 5 * time.Second
	// portAttempts bounds the starts on ports this package picks (see start).
	portAttempts = 3
)

// Emulator is a running emulator process group.
type Emulator struct {
	name    string
	host    string
	cmd     *exec.Cmd
	logPath string
	tempDir string // removed on Stop when LogDir was empty

	exited  chan struct{} // closed once the process has been reaped
	waitErr error         // valid after exited is closed

	stopOnce sync.Once
	stopErr  error
}

// Host returns the emulator's address as "127.0.0.1:PORT", the form the
// FIRESTORE_EMULATOR_HOST and PUBSUB_EMULATOR_HOST variables take.
func (e *Emulator) Host() string { return e.host }

// Pid is the emulator's process, the JVM itself (benchmarks read its CPU time).
func (e *Emulator) Pid() int { return e.cmd.Process.Pid }

// quickJIT compiles the emulators' Java with the quick compiler only. An emulator lives for one
// test run, about as long as the optimising compiler takes to finish with it: on the fan-out
// benchmark that compiler was half the Firestore emulator's CPU time, on the same cores as the
// code under test, and without it the emulator used under half the CPU per delivery.
const quickJIT = "-XX:TieredStopAtLevel=1"

// StartFirestore starts the Firestore emulator (native mode) and waits until it is ready.
func StartFirestore(ctx context.Context, opts Options) (*Emulator, error) {
	java, root, err := prerequisites()
	if err != nil {
		return nil, err
	}
	jar := filepath.Join(root, "platform", "cloud-firestore-emulator", "cloud-firestore-emulator.jar")
	if _, err := os.Stat(jar); err != nil {
		return nil, fmt.Errorf("firestore emulator not found (install it with `apt-get install google-cloud-cli-firestore-emulator`): %w", err)
	}
	return start(ctx, launch{
		name:     "firestore",
		java:     java,
		startLog: "Dev App Server is now running",
		args: func(heap string, port int) []string {
			return []string{heap, "-Duser.language=en", "-cp", jar,
				"com.google.cloud.datastore.emulator.firestore.CloudFirestore", "start",
				"--host=127.0.0.1", "--port=" + strconv.Itoa(port)}
		},
	}, opts)
}

// StartPubSub starts the Pub/Sub emulator and waits until it is ready.
func StartPubSub(ctx context.Context, opts Options) (*Emulator, error) {
	java, root, err := prerequisites()
	if err != nil {
		return nil, err
	}
	jars, _ := filepath.Glob(filepath.Join(root, "platform", "pubsub-emulator", "lib", "cloud-pubsub-emulator-*.jar"))
	if len(jars) == 0 {
		return nil, fmt.Errorf("pubsub emulator not found under %s (install it with `apt-get install google-cloud-cli-pubsub-emulator`)", root)
	}
	jar := jars[len(jars)-1] // Glob sorts, so the last is the newest version
	return start(ctx, launch{
		name:     "pubsub",
		java:     java,
		startLog: "Server started, listening on",
		args: func(heap string, port int) []string {
			// Without --host it binds [::1] only, which 127.0.0.1 clients cannot reach.
			return []string{heap, "-jar", jar, "--host=127.0.0.1", "--port=" + strconv.Itoa(port)}
		},
	}, opts)
}

// ResetFirestore deletes every document of project in the Firestore emulator at host.
func ResetFirestore(ctx context.Context, host, project string) error {
	url := "http://" + host + "/emulator/v1/projects/" + project + "/databases/(default)/documents"
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, url, nil)
	if err != nil {
		return fmt.Errorf("reset firestore: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("reset firestore: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("reset firestore: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// Stop kills the emulator's process group (SIGTERM, then SIGKILL after a grace period) and
// waits for it to exit. It is safe to call more than once.
func (e *Emulator) Stop() error {
	e.stopOnce.Do(func() {
		e.stopErr = e.kill()
		if e.tempDir != "" {
			if err := os.RemoveAll(e.tempDir); err != nil && e.stopErr == nil {
				e.stopErr = fmt.Errorf("stop %s: %w", e.name, err)
			}
		}
	})
	return e.stopErr
}

func (e *Emulator) kill() error {
	pgid := e.cmd.Process.Pid // Setpgid makes the leader's pid the group id
	if err := signalGroup(pgid, syscall.SIGTERM); err != nil {
		return fmt.Errorf("stop %s: %w", e.name, err)
	}
	select {
	case <-e.exited:
	case <-time.After(stopGrace):
		slog.Warn("emulator ignored SIGTERM, killing it", "emulator", e.name)
		if err := signalGroup(pgid, syscall.SIGKILL); err != nil {
			return fmt.Errorf("stop %s: %w", e.name, err)
		}
		<-e.exited
	}
	// The leader is gone; a child it forked could still hold the group (and the port).
	if err := signalGroup(pgid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("stop %s: %w", e.name, err)
	}
	return nil
}

// signalGroup signals every process in the group; a group that is already gone is not an error.
func signalGroup(pgid int, sig syscall.Signal) error {
	if err := syscall.Kill(-pgid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal process group %d: %w", pgid, err)
	}
	return nil
}

// launch says how to run one emulator and how to tell from its log that it started.
type launch struct {
	name string
	java string
	args func(heap string, port int) []string
	// startLog appears in the log once this process serves its port. `GET /` alone is not
	// proof: if another process took the port, it may answer Ok itself.
	startLog string
}

// mainDied appears in the log when the JVM's main thread failed; the Pub/Sub emulator then
// keeps running without serving (after a BindException, for one), so waiting is pointless.
const mainDied = `Exception in thread "main"`

// start runs the emulator on opts.Port, or on a port it picks. A picked port is free when
// picked, but another process can bind it (or one of the ports the Firestore emulator picks
// for itself) before the JVM does: a start that fails with a BindException is then tried again
// on a new port. A port the caller chose is tried once.
func start(ctx context.Context, l launch, opts Options) (*Emulator, error) {
	if opts.Port != 0 {
		return startOn(ctx, l, opts, opts.Port)
	}
	pick := opts.pickPort
	if pick == nil {
		pick = freePort
	}
	for attempt := 1; ; attempt++ {
		port, err := pick(ctx)
		if err != nil {
			return nil, fmt.Errorf("start %s: %w", l.name, err)
		}
		e, err := startOn(ctx, l, opts, port)
		if !errors.Is(err, errPortTaken) || attempt == portAttempts {
			return e, err
		}
		slog.Warn("emulator lost a port to another process; starting it on another", "emulator", l.name, "port", port)
	}
}

// errPortTaken marks a start that failed because a port the emulator binds was taken.
var errPortTaken = errors.New("port taken")

// bindFailed appears in the log of an emulator that could not bind a port.
const bindFailed = "java.net.BindException"

func startOn(ctx context.Context, l launch, opts Options, port int) (*Emulator, error) {
	name := l.name
	heapMB := opts.HeapMB
	if heapMB == 0 {
		heapMB = defaultHeapMB
	}
	readyTimeout := opts.ReadyTimeout
	if readyTimeout == 0 {
		readyTimeout = defaultReadyTimeout
	}
	e := &Emulator{name: name, host: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), exited: make(chan struct{})}

	logDir := opts.LogDir
	if logDir == "" {
		dir, err := os.MkdirTemp("", "gcloudemu-")
		if err != nil {
			return nil, fmt.Errorf("start %s: %w", name, err)
		}
		logDir, e.tempDir = dir, dir
	} else if err := os.MkdirAll(logDir, 0o750); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	e.logPath = filepath.Join(logDir, name+".log")
	logFile, err := os.Create(e.logPath)
	if err != nil {
		e.removeTempDir()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}

	// exec.Command, not CommandContext: ctx bounds the start, not the emulator's lifetime.
	args := append([]string{quickJIT}, l.args("-Xmx"+strconv.Itoa(heapMB)+"m", port)...)
	e.cmd = exec.Command(l.java, args...) //nolint:noctx // see above
	e.cmd.Stdout, e.cmd.Stderr = logFile, logFile
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	began := time.Now()
	if err := e.cmd.Start(); err != nil {
		_ = logFile.Close()
		e.removeTempDir()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		e.waitErr = e.cmd.Wait()
		_ = logFile.Close()
		close(e.exited)
	}()

	if err := e.waitReady(ctx, readyTimeout, l.startLog); err != nil {
		tail := spawn.LogTail(e.logPath)
		if log, _ := os.ReadFile(e.logPath); bytes.Contains(log, []byte(bindFailed)) {
			err = fmt.Errorf("%w: %w", errPortTaken, err)
		}
		_ = e.Stop() // after reading the log: Stop removes a temporary log directory
		return nil, fmt.Errorf("start %s on port %d: %w\n--- last lines of %s ---\n%s", name, port, err, e.logPath, tail)
	}
	slog.Info("emulator ready", "emulator", name, "host", e.host, "pid", e.cmd.Process.Pid,
		"startup", time.Since(began).Round(time.Millisecond), "log", e.logPath)
	return e, nil
}

// waitReady polls until the log says the server started and `GET /` answers Ok, and fails
// early if the process dies or its main thread fails.
func (e *Emulator) waitReady(ctx context.Context, timeout time.Duration, startLog string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	started := false
	for {
		if !started {
			log, err := os.ReadFile(e.logPath)
			if err != nil {
				return fmt.Errorf("read emulator log: %w", err)
			}
			if bytes.Contains(log, []byte(mainDied)) {
				return errors.New("emulator failed to start")
			}
			started = bytes.Contains(log, []byte(startLog))
		}
		if started && e.answersOk(ctx, client) {
			return nil
		}
		select {
		case <-e.exited:
			return fmt.Errorf("emulator exited before it was ready: %w", e.exitError())
		case <-ctx.Done():
			return fmt.Errorf("emulator not ready on %s: %w", e.host, ctx.Err())
		case <-tick.C:
		}
	}
}

func (e *Emulator) answersOk(ctx context.Context, client *http.Client) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+e.host+"/", nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64))
	return err == nil && resp.StatusCode == http.StatusOK && strings.TrimSpace(string(body)) == "Ok"
}

func (e *Emulator) exitError() error {
	if e.waitErr == nil {
		return errors.New("exit status 0")
	}
	return e.waitErr
}

func (e *Emulator) removeTempDir() {
	if e.tempDir != "" {
		_ = os.RemoveAll(e.tempDir)
	}
}

// freePort picks a free port (see spawn.ReservePort). Another process could still take it
// before the emulator binds it; start then picks another.
func freePort(ctx context.Context) (int, error) {
	l, port, err := spawn.ReservePort(ctx)
	if err != nil {
		return 0, fmt.Errorf("pick a free port: %w", err)
	}
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("pick a free port: %w", err)
	}
	return port, nil
}
