// Command tokctl administers Tok organisations, their API key pairs and their members.
//
//	go run ./scripts/tokctl org create --name N --tier T [--origin URL]... [--json]
//	go run ./scripts/tokctl org list [--json]
//	go run ./scripts/tokctl org set-tier ORG TIER
//	go run ./scripts/tokctl key list ORG [--json]
//	go run ./scripts/tokctl key create ORG --role R [--member MEMBER_ID] [--json]
//	go run ./scripts/tokctl key rotate ORG KEYPAIR [--grace DURATION] [--json]
//	go run ./scripts/tokctl key revoke ORG KEYPAIR
//	go run ./scripts/tokctl member list ORG [--json]
//	go run ./scripts/tokctl member add ORG --email E --role R [--json]
//	go run ./scripts/tokctl member remove ORG MEMBER
//
// It works on the emulators when FIRESTORE_EMULATOR_HOST (and TOK_SECRETMANAGER_ENDPOINT)
// are set, reading .tok/dev.env from the module root when present without overriding
// variables already set (so after `make dev` it just works); otherwise on real Firestore
// and Secret Manager in GOOGLE_CLOUD_PROJECT with Application Default Credentials. The API
// key pepper comes from the Secret Manager secret api-key-pepper.
//
// Exit status: 0 done, 1 failed (not found, conflict, service error), 2 bad usage or input.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"cloud.google.com/go/firestore"
	secretmanager "cloud.google.com/go/secretmanager/apiv1"

	"tokapi.io/tok/shared/config"
	"tokapi.io/tok/shared/gcp"
	"tokapi.io/tok/shared/manifest"
	"tokapi.io/tok/shared/orgs"
	"tokapi.io/tok/shared/platform"
	"tokapi.io/tok/shared/secrets"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	c := &cli{connect: connect}
	code := c.run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	c.close()
	os.Exit(code)
}

// connect opens the repository on the emulators or the real services.
func connect(ctx context.Context) (*orgs.Repo, func(), error) {
	if err := loadDevEnv(); err != nil {
		return nil, nil, err
	}
	// The same settings the functions read (shared/gcp): the project and the emulator
	// endpoints, from the environment and .tok/dev.env.
	var cfg gcp.Config
	if err := config.Process(ctx, &cfg); err != nil {
		return nil, nil, fmt.Errorf("%w (run `make dev` for the emulators, or set GOOGLE_CLOUD_PROJECT to the project to administer)", err)
	}
	project := cfg.ProjectID
	fs, err := firestore.NewClientWithDatabase(ctx, project, cfg.FirestoreDatabase)
	if err != nil {
		return nil, nil, fmt.Errorf("firestore: %w", err)
	}
	sc, err := secretmanager.NewClient(ctx, gcp.EmulatorOptions(cfg.SecretManagerEndpoint)...)
	if err != nil {
		_ = fs.Close()
		return nil, nil, fmt.Errorf("secret manager: %w", err)
	}
	closeAll := func() { _ = fs.Close(); _ = sc.Close() }
	pepper, err := secrets.New(sc, project, time.Minute).Get(ctx, platform.PepperSecret)
	if err != nil {
		closeAll()
		return nil, nil, fmt.Errorf("read the API key pepper (secret %s): %w", platform.PepperSecret, err)
	}
	return orgs.New(fs, pepper), closeAll, nil
}

// loadDevEnv sets the variables of .tok/dev.env (written by make dev) that are not set yet.
func loadDevEnv() error {
	root, err := manifest.FindRoot()
	if err != nil {
		return nil // not in the module: nothing to read
	}
	f, err := os.Open(filepath.Join(root, ".tok", "dev.env")) //nolint:gosec // the module root's own dev.env, written by make dev
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	for vars := range parseEnv(bufio.NewScanner(f)) {
		if _, set := os.LookupEnv(vars[0]); !set {
			if err := os.Setenv(vars[0], vars[1]); err != nil {
				return err
			}
		}
	}
	return nil
}

// parseEnv yields the KEY=VALUE lines of an env file; comments, blank lines, an `export `
// prefix and quotes around the value are handled.
func parseEnv(sc *bufio.Scanner) func(yield func([2]string) bool) {
	return func(yield func([2]string) bool) {
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			line = strings.TrimPrefix(line, "export ")
			k, v, ok := strings.Cut(line, "=")
			if !ok || strings.TrimSpace(k) == "" {
				continue
			}
			v = strings.TrimSpace(v)
			if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
				v = v[1 : len(v)-1]
			}
			if !yield([2]string{strings.TrimSpace(k), v}) {
				return
			}
		}
	}
}
