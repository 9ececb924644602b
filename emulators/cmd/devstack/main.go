// Command devstack is `make dev`: it starts the Firestore and Pub/Sub emulators, the KMS and
// Secret Manager emulator, one process per function (served as in production, with
// FUNCTION_TARGET) and the gateway; bootstraps keys, secrets, topics and a demo organisation;
// writes .tok/dev.env once everything answers; and on Ctrl-C or SIGTERM stops every process
// it started.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"tokapi.io/tok/emulators/gateway"
	"tokapi.io/tok/emulators/gcloudemu"
	"tokapi.io/tok/emulators/kmssm"
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
	port := 8080
	if p := os.Getenv("TOK_PORT"); p != "" {
		if port, err = strconv.Atoi(p); err != nil || port <= 0 || port > 65535 {
			return fmt.Errorf("TOK_PORT=%q is not a port number", p)
		}
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
	// Claim the gateway port first, so a busy port fails in a second, not after the build.
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("gateway port %d: %w (set TOK_PORT to use another)", port, err)
	}
	defer func() { _ = ln.Close() }()

	started := time.Now()
	var (
		firestoreEmu, pubsubEmu *gcloudemu.Emulator
		binary                  string
	)
	defer func() {
		for _, e := range []*gcloudemu.Emulator{firestoreEmu, pubsubEmu} {
			if e != nil {
				_ = e.Stop()
			}
		}
	}()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		binary, err = buildFunctions(gctx, root, m)
		return err
	})
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

	stack := &stack{
		project: project, manifest: m, binary: binary, logDir: logDir,
		publicURL:     fmt.Sprintf("http://127.0.0.1:%d", port),
		firestoreHost: firestoreEmu.Host(), pubsubHost: pubsubEmu.Host(), kmsAddr: kms.Addr(),
	}
	if err := stack.bootstrapKeys(ctx); err != nil {
		return err
	}
	procs, err := stack.startFunctions(ctx)
	defer procs.stop()
	if err != nil {
		return err
	}

	gw, err := gateway.New(m, project, procs.backends())
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()
	readyCtx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := gw.WaitReady(readyCtx); err != nil {
		return fmt.Errorf("%w (logs in %s)", err, logDir)
	}
	if err := stack.setupPubSub(ctx); err != nil {
		return err
	}
	vars, err := stack.seed(ctx)
	if err != nil {
		return err
	}
	if err := writeEnvFile(envFile, append(stack.envVars(), vars...)); err != nil {
		return err
	}
	printWelcome(stack.publicURL, envFile, logDir, time.Since(started))

	select {
	case <-ctx.Done():
		fmt.Println("\nstopping Tok ...")
	case err := <-procs.exited:
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
