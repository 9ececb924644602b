// Package localstack runs Tok locally as it runs in Google Cloud: one process per function
// of the manifest (the binary the Go buildpack would build, served with FUNCTION_TARGET),
// the gateway in front of them playing the load balancer and Eventarc, the KMS key and
// secrets bootstrapped in the KMS/Secret Manager emulator, and the Pub/Sub topics and push
// subscriptions created. `make dev` and the end-to-end tests both use it.
package localstack

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	kms "cloud.google.com/go/kms/apiv1"
	"cloud.google.com/go/kms/apiv1/kmspb"
	"cloud.google.com/go/pubsub/v2"
	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"

	"tokapi.io/tok/emulators/gateway"
	"tokapi.io/tok/emulators/spawn"
	"tokapi.io/tok/shared/gcp"
	"tokapi.io/tok/shared/manifest"
)

// stack is the running local environment.
type stack struct {
	project, binary, logDir, publicURL string
	sandboxURL, pushURL                string
	functionPorts                      map[string]int
	firestoreHost, pubsubHost, kmsAddr string
	keyName                            string
	manifest                           *manifest.Manifest
}

// Build generates the main program the Cloud Functions buildpack would generate (every
// function package registered, functions-framework serving FUNCTION_TARGET) and builds it
// into binary; each function then runs as its own process of it, listening on loopback only:
// only the gateway reaches it, as only the load balancer and Eventarc reach a Cloud Run
// function.
//
// Every build of a checkout goes through one directory, .tok/gen/functions, one at a time
// (a file lock: each test binary of `go test ./...` that runs the stack builds it): go build
// leaves an output whose build ID matches the sources as it is, so only the first build
// after a change links. Each caller gets a copy of its own, which no later build changes.
func Build(ctx context.Context, root string, m *manifest.Manifest, binary string) error {
	dir := filepath.Join(root, ".tok", "gen", "functions")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	unlock, err := lockDir(ctx, dir)
	if err != nil {
		return err
	}
	defer unlock()
	var imports strings.Builder
	for _, f := range m.Functions {
		fmt.Fprintf(&imports, "\t_ %q\n", "tokapi.io/tok/functions/"+f.Name)
	}
	src := fmt.Sprintf(mainTemplate, imports.String())
	mainFile, shared := filepath.Join(dir, "main.go"), filepath.Join(dir, "tokfunctions")
	if err := os.WriteFile(mainFile, []byte(src), 0o600); err != nil {
		return err
	}
	// The flags of make test's test binaries (the Makefile's TESTFLAGS), so the functions'
	// packages compile once for both; -s -w as production links.
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", shared, mainFile)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build functions: %w\n%s", err, out)
	}
	return copyExecutable(binary, shared)
}

// lockDir takes dir's build lock, waiting for it while ctx lasts, and returns its release.
func lockDir(ctx context.Context, dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600) //nolint:gosec // the checkout's own state directory
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) //nolint:gosec // a file descriptor fits an int
		if err == nil {
			return func() { _ = f.Close() }, nil // closing releases the lock
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			_ = f.Close()
			return nil, fmt.Errorf("lock %s: %w", dir, err)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("lock %s: %w", dir, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func copyExecutable(dst, src string) error {
	in, err := os.Open(src) //nolint:gosec // the build's own output
	if err != nil {
		return err
	}
	defer func() { _ = in.Close() }()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o700) //nolint:gosec // the caller's path
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}

// Routes runs the functions binary in its "routes" mode, with the environment every function
// process gets: each HTTP function's handler is built as on its first request, and its route
// patterns are returned by entry point (nil for a handler that cannot list them).
func (st *Stack) Routes(ctx context.Context) (map[string][]string, error) {
	cmd := exec.CommandContext(ctx, st.binary, "routes")
	cmd.Env = append(os.Environ(), st.functionEnv()...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("functions binary routes: %w\n%s", err, stderr.String())
	}
	var routes map[string][]string
	if err := json.Unmarshal(out, &routes); err != nil {
		return nil, fmt.Errorf("functions binary routes: %w", err)
	}
	return routes, nil
}

// mainTemplate is the functions binary's main (%s: the function imports). With the single
// argument "routes" it prints every HTTP function's route patterns as JSON instead of
// serving (platform.Routes), for the test that compares them with the spec.
const mainTemplate = `// Code generated by localstack from functions/manifest.yaml. DO NOT EDIT.

package main

import (
	"context"
	"encoding/json"
	"log"
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	"tokapi.io/tok/shared/platform"

%s)

func main() {
	if len(os.Args) == 2 && os.Args[1] == "routes" {
		routes, err := platform.Routes(context.Background())
		if err != nil {
			log.Fatal(err)
		}
		if err := json.NewEncoder(os.Stdout).Encode(routes); err != nil {
			log.Fatal(err)
		}
		return
	}
	if err := funcframework.StartHostPort("127.0.0.1", os.Getenv("PORT")); err != nil {
		log.Fatal(err)
	}
}
`

// bootstrapKeys creates the tokens KMS key and every secret the manifest names.
func (s *stack) bootstrapKeys(ctx context.Context) error {
	kc, err := kms.NewKeyManagementClient(ctx, gcp.EmulatorOptions(s.kmsAddr)...)
	if err != nil {
		return err
	}
	defer func() { _ = kc.Close() }()
	parent := "projects/" + s.project + "/locations/europe-west3"
	if _, err := kc.CreateKeyRing(ctx, &kmspb.CreateKeyRingRequest{Parent: parent, KeyRingId: "tok", KeyRing: &kmspb.KeyRing{}}); err != nil {
		return fmt.Errorf("create key ring: %w", err)
	}
	key, err := kc.CreateCryptoKey(ctx, &kmspb.CreateCryptoKeyRequest{
		Parent: parent + "/keyRings/tok", CryptoKeyId: "tokens",
		CryptoKey: &kmspb.CryptoKey{Purpose: kmspb.CryptoKey_ENCRYPT_DECRYPT},
	})
	if err != nil {
		return fmt.Errorf("create tokens key: %w", err)
	}
	s.keyName = key.GetName()

	sc, err := secretmanager.NewClient(ctx, gcp.EmulatorOptions(s.kmsAddr)...)
	if err != nil {
		return err
	}
	defer func() { _ = sc.Close() }()
	for _, id := range secretIDs(s.manifest) {
		secret, err := sc.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{
			Parent: "projects/" + s.project, SecretId: id, Secret: &secretmanagerpb.Secret{
				Replication: &secretmanagerpb.Replication{Replication: &secretmanagerpb.Replication_Automatic_{Automatic: &secretmanagerpb.Replication_Automatic{}}},
			},
		})
		if err != nil {
			return fmt.Errorf("create secret %s: %w", id, err)
		}
		value := make([]byte, 32)
		if _, err := rand.Read(value); err != nil {
			return err
		}
		if _, err := sc.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{
			Parent: secret.GetName(), Payload: &secretmanagerpb.SecretPayload{Data: []byte(base64.RawURLEncoding.EncodeToString(value))},
		}); err != nil {
			return fmt.Errorf("add secret %s: %w", id, err)
		}
	}
	return nil
}

func secretIDs(m *manifest.Manifest) []string {
	set := map[string]bool{}
	for _, f := range m.Functions {
		for _, s := range f.Secrets {
			set[s] = true
		}
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// functionEnv is the environment every function process gets, as Terraform sets it in
// production (with the emulator endpoints added).
func (s *stack) functionEnv() []string {
	return []string{
		"GOOGLE_CLOUD_PROJECT=" + s.project,
		"FIRESTORE_EMULATOR_HOST=" + s.firestoreHost,
		"PUBSUB_EMULATOR_HOST=" + s.pubsubHost,
		"TOK_KMS_ENDPOINT=" + s.kmsAddr,
		"TOK_SECRETMANAGER_ENDPOINT=" + s.kmsAddr,
		"TOK_KMS_KEY=" + s.keyName,
		"TOK_PUBLIC_URL=" + s.publicURL,
		"TOK_SANDBOX_PUBLIC_URL=" + s.sandboxURL,
		"TOK_SANDBOX_BANK_URL=" + s.publicURL + "/sandbox-bank",
		// Sandbox webhooks may reach the developer's receivers on loopback, never Tok itself.
		"TOK_WEBHOOK_LOOPBACK=true",
		"TOK_INTERNAL_ADDRS=" + strings.Join(s.internalAddrs(), ","),
	}
}

// internalAddrs are the loopback addresses of everything the stack runs: the gateway's
// listeners, the function processes and the emulators.
func (s *stack) internalAddrs() []string {
	var out []string
	for _, u := range []string{s.publicURL, s.sandboxURL, s.pushURL} {
		out = append(out, strings.TrimPrefix(u, "http://"))
	}
	for _, f := range s.manifest.Functions {
		out = append(out, "127.0.0.1:"+strconv.Itoa(s.functionPorts[f.Name]))
	}
	return append(out, s.firestoreHost, s.pubsubHost, s.kmsAddr)
}

// envVars are what .tok/dev.env tells tools and people.
func (s *stack) envVars() []string {
	return append([]string{"TOK_API_URL=" + s.publicURL + "/v1", "TOK_SANDBOX_API_URL=" + s.sandboxURL + "/v1"}, s.functionEnv()...)
}

type process struct {
	name string
	url  string
	cmd  *exec.Cmd
}

type processes struct {
	list     []*process
	exited   chan error  // a process that ended before stop
	stopping atomic.Bool // stop has begun: an exit is expected, not news
}

// startFunctions starts one process per function, each on a free port with
// FUNCTION_TARGET set, as Cloud Run runs it.
func (s *stack) startFunctions(ctx context.Context) (*processes, error) {
	ps := &processes{exited: make(chan error, len(s.manifest.Functions))}
	// Every port first, each held open until its process starts: every function's
	// environment names them all (TOK_INTERNAL_ADDRS).
	s.functionPorts = map[string]int{}
	held := map[string]net.Listener{}
	defer func() {
		for _, l := range held {
			_ = l.Close()
		}
	}()
	for _, f := range s.manifest.Functions {
		l, port, err := spawn.ReservePort(ctx)
		if err != nil {
			return ps, err
		}
		held[f.Name], s.functionPorts[f.Name] = l, port
	}
	for _, f := range s.manifest.Functions {
		port := s.functionPorts[f.Name]
		_ = held[f.Name].Close()
		logFile, err := os.Create(filepath.Join(s.logDir, f.Name+".log"))
		if err != nil {
			return ps, err
		}
		cmd := exec.Command(s.binary) //nolint:noctx // stopped by processes.stop with a signal, not a context kill
		cmd.Env = append(append(os.Environ(), s.functionEnv()...), "PORT="+strconv.Itoa(port), "FUNCTION_TARGET="+f.EntryPoint)
		if f.Database != "" {
			cmd.Env = append(cmd.Env, "TOK_FIRESTORE_DATABASE="+f.Database)
		}
		cmd.Stdout, cmd.Stderr = logFile, logFile
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			_ = logFile.Close()
			return ps, fmt.Errorf("start function %s: %w", f.Name, err)
		}
		p := &process{name: f.Name, url: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd}
		ps.list = append(ps.list, p)
		go func() {
			err := cmd.Wait()
			_ = logFile.Close()
			if ps.stopping.Load() {
				return
			}
			ps.exited <- fmt.Errorf("function %s exited: %v\n--- last lines of %s ---\n%s", p.name, err, logFile.Name(), spawn.LogTail(logFile.Name()))
		}()
	}
	return ps, nil
}

func (ps *processes) backends() map[string]string {
	out := map[string]string{}
	for _, p := range ps.list {
		out[p.name] = p.url
	}
	return out
}

// stop sends SIGTERM to every function's process group, then SIGKILL to what remains.
func (ps *processes) stop() {
	ps.stopping.Store(true)
	for _, p := range ps.list {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, p := range ps.list {
		for time.Now().Before(deadline) && syscall.Kill(p.cmd.Process.Pid, 0) == nil && p.cmd.ProcessState == nil {
			time.Sleep(50 * time.Millisecond)
		}
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	}
}

func (s *stack) setupPubSub(ctx context.Context, pushBase string) error {
	if err := os.Setenv("PUBSUB_EMULATOR_HOST", s.pubsubHost); err != nil {
		return err
	}
	client, err := pubsub.NewClient(ctx, s.project)
	if err != nil {
		return err
	}
	defer func() { _ = client.Close() }()
	return gateway.SetupPubSub(ctx, client, s.project, s.manifest, pushBase)
}

// startTicks publishes "{}" to every scheduled topic at its interval until ctx ends, as
// Cloud Scheduler does in production.
func (s *stack) startTicks(ctx context.Context) error {
	client, err := pubsub.NewClient(ctx, s.project)
	if err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		_ = client.Close()
	}()
	for _, t := range s.manifest.Topics {
		interval, ok := t.Interval()
		if !ok {
			continue
		}
		publisher := client.Publisher(t.Name)
		go func() {
			ticker := time.NewTicker(interval)
			defer ticker.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-ticker.C:
					if _, err := publisher.Publish(ctx, &pubsub.Message{Data: []byte("{}")}).Get(ctx); err != nil && ctx.Err() == nil {
						slog.Warn("scheduler tick failed", "topic", t.Name, "error", err)
					}
				}
			}
		}()
	}
	return nil
}
