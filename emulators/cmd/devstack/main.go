// Command devstack is `make dev`: it starts the Firestore and Pub/Sub emulators and the KMS
// and Secret Manager emulator, then the local stack (every function as its own process, the
// gateway, keys, secrets, topics), creates a demo organisation, writes .tok/dev.env once
// everything answers, and on Ctrl-C or SIGTERM stops every process it started.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"tokapi.io/tok/emulators/gcloudemu"
	"tokapi.io/tok/emulators/kmssm"
	"tokapi.io/tok/emulators/localstack"
	"tokapi.io/tok/shared/logging"
	"tokapi.io/tok/shared/manifest"
)

// project is the local Google Cloud project every emulator and function uses.
const project = "tok-dev"

func main() {
	logging.Default("info")
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "make dev:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx = stopWhenOrphaned(ctx)

	m, root, err := manifest.LoadDefault()
	if err != nil {
		return err
	}
	port, err := portFrom("TOK_PORT", 8080)
	if err != nil {
		return err
	}
	sandboxPort, err := portFrom("TOK_SANDBOX_PORT", port+1)
	if err != nil {
		return err
	}
	stateDir := filepath.Join(root, ".tok")
	logDir := filepath.Join(stateDir, "logs")
	envFile := filepath.Join(stateDir, "dev.env")
	// A dev.env left from an earlier run must not suggest this one is up.
	if err := os.Remove(envFile); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(logDir, 0o750); err != nil {
		return err
	}
	// Claim the gateway ports first, so a busy port fails in a second, not after the build.
	ln, err := listen(ctx, port, "TOK_PORT")
	if err != nil {
		return err
	}
	defer func() { _ = ln.Close() }()
	sandboxLn, err := listen(ctx, sandboxPort, "TOK_SANDBOX_PORT")
	if err != nil {
		return err
	}
	defer func() { _ = sandboxLn.Close() }()

	started := time.Now()
	var firestoreEmu, pubsubEmu *gcloudemu.Emulator
	defer func() {
		for _, e := range []*gcloudemu.Emulator{firestoreEmu, pubsubEmu} {
			if e != nil {
				_ = e.Stop()
			}
		}
	}()
	binary := filepath.Join(stateDir, "bin", "tokfunctions")
	fmt.Println("building functions and starting the emulators ...")
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return localstack.Build(gctx, root, m, binary) })
	g.Go(func() (err error) {
		firestoreEmu, err = gcloudemu.StartFirestore(gctx, gcloudemu.Options{LogDir: logDir})
		return err
	})
	g.Go(func() (err error) {
		pubsubEmu, err = gcloudemu.StartPubSub(gctx, gcloudemu.Options{LogDir: logDir})
		return err
	})
	if err := g.Wait(); err != nil {
		return err
	}
	kms, err := kmssm.Start("127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("start KMS/Secret Manager emulator: %w", err)
	}
	defer kms.Stop()

	st, err := localstack.Start(ctx, m, localstack.Options{
		Root: root, Project: project, Listener: ln, SandboxListener: sandboxLn, LogDir: logDir, Binary: binary, Ticks: true,
		FirestoreHost: firestoreEmu.Host(), PubSubHost: pubsubEmu.Host(), KMSAddr: kms.Addr(),
	})
	if st != nil {
		defer st.Stop()
	}
	if err != nil {
		return err
	}
	vars := st.Env()
	demo, err := seedDemo(ctx, st, firestoreEmu.Host())
	if err != nil {
		return fmt.Errorf("create the demo organisation: %w", err)
	}
	vars = append(vars, demo...)
	if err := writeEnvFile(envFile, vars); err != nil {
		return err
	}
	printWelcome(st.URL, st.SandboxURL, envFile, logDir, time.Since(started))

	select {
	case <-ctx.Done():
		fmt.Println("\nstopping Tok ...")
	case err := <-st.Exited:
		return fmt.Errorf("%w; see %s", err, logDir)
	}
	_ = os.Remove(envFile)
	return nil
}

// stopWhenOrphaned cancels ctx if the parent (make) goes away without signalling us, so no
// stack outlives the command that started it.
func stopWhenOrphaned(ctx context.Context) context.Context {
	ctx, cancel := context.WithCancel(ctx)
	parent := os.Getppid()
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if os.Getppid() != parent {
					slog.Warn("parent process exited; stopping")
					cancel()
					return
				}
			}
		}
	}()
	return ctx
}

func writeEnvFile(path string, vars []string) error {
	content := "# Written by make dev once every part of the local stack answered. Load it with:\n#   set -a; . .tok/dev.env; set +a\n" +
		strings.Join(vars, "\n") + "\n"
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// portFrom reads a port number from the environment variable name, or def.
func portFrom(name string, def int) (int, error) {
	p := os.Getenv(name)
	if p == "" {
		return def, nil
	}
	port, err := strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		return 0, fmt.Errorf("%s=%q is not a port number", name, p)
	}
	return port, nil
}

// listen claims a gateway port on loopback.
func listen(ctx context.Context, port int, variable string) (net.Listener, error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("gateway port %d: %w (set %s to use another)", port, err, variable)
	}
	return ln, nil
}

func printWelcome(url, sandboxURL, envFile, logDir string, took time.Duration) {
	fmt.Printf(`
Tok is running locally (ready in %s).

  API:      %s/v1 (live keys)
            %s/v1 (sandbox keys)
  env file: %s
  logs:     %s

Try:
  set -a; . .tok/dev.env; set +a
  curl -s -H "Authorization: ApiKey $TOK_LIVE_KEY" "$TOK_API_URL/banks"
  curl -s -H "Authorization: ApiKey $TOK_SANDBOX_KEY" "$TOK_SANDBOX_API_URL/banks"

Press Ctrl-C to stop every process.
`, took.Round(100*time.Millisecond), url, sandboxURL, envFile, logDir)
}
