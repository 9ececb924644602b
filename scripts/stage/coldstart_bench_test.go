package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"

	"tokapi.io/tok/shared/apikey"
	"tokapi.io/tok/shared/auth"
	"tokapi.io/tok/shared/gcp"
	"tokapi.io/tok/shared/manifest"
	"tokapi.io/tok/shared/orgs"
	"tokapi.io/tok/shared/platform"
	"tokapi.io/tok/shared/ratelimit"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/testing/orgstest"
	"tokapi.io/tok/shared/testing/rpccount"
	"tokapi.io/tok/shared/testing/testenv"
)

// buildpackMain is the main package the Cloud Functions Go buildpack generates around the
// function's root package: functions-framework serving FUNCTION_TARGET on PORT (on loopback
// here, as the local stack runs it).
const buildpackMain = `package main

import (
	"log"
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	_ "tokapi.io/tok"
)

func main() {
	if err := funcframework.StartHostPort("127.0.0.1", os.Getenv("PORT")); err != nil {
		log.Fatal(err)
	}
}
`

// helloWorld is the baseline function: functions-framework's hello world.
const helloWorld = `// Package hello is the hello-world function of the cold-start baseline.
package hello

import (
	"net/http"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
)

func init() {
	functions.HTTP("Hello", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("Hello, World!"))
	})
}
`

// helloCalls is the hello world that, on each request, makes the calls the first request
// of banks must make and nothing else, in the order it must make them: the pepper from
// Secret Manager, then the key's document, then the organisation's limiter lease, on one
// client per service created at the request with the function's options (gcp.ClientOptions),
// as a new instance of banks has. It links the same Google clients and the same limiter, so
// what banks takes beyond it is Tok's own start-up and request work.
const helloCalls = `// Package hellocalls is the hello world that makes banks' first-request calls.
package hellocalls

import (
	"context"
	"errors"
	"net/http"
	"os"

	"cloud.google.com/go/firestore"
	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"tokapi.io/tok/shared/gcp"
	"tokapi.io/tok/shared/ratelimit"
)

func init() {
	functions.HTTP("HelloCalls", func(w http.ResponseWriter, r *http.Request) {
		if err := calls(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		_, _ = w.Write([]byte("Hello, World!"))
	})
}

func calls(ctx context.Context) error {
	sm, err := secretmanager.NewClient(ctx, gcp.ClientOptions(os.Getenv("TOK_SECRETMANAGER_ENDPOINT"))...)
	if err != nil {
		return err
	}
	defer func() { _ = sm.Close() }()
	if _, err := sm.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: os.Getenv("HELLO_SECRET")}); err != nil {
		return err
	}
	fs, err := firestore.NewClient(ctx, os.Getenv("GOOGLE_CLOUD_PROJECT"), gcp.ClientOptions("")...)
	if err != nil {
		return err
	}
	defer func() { _ = fs.Close() }()
	if _, err := fs.Doc(os.Getenv("HELLO_KEY_DOC")).Get(ctx); err != nil {
		return err
	}
	d, err := ratelimit.New(fs, ratelimit.WithoutSweeper()).Allow(ctx, os.Getenv("HELLO_BUCKET"), ratelimit.Enterprise)
	if err == nil && !d.Allowed {
		return errors.New("the limiter refused")
	}
	return err
}
`

// functionModule is the Terraform module that deploys every function; its build_config
// holds the build environment the buildpack builds with.
const functionModule = "infra/modules/function/main.tf"

// buildSettings are the build environment variables of the function module that change
// the binary: GOOGLE_GOLDFLAGS, which the Go buildpack passes to go build as -ldflags, and
// CGO_ENABLED and GOFLAGS, which go build reads itself.
var buildSettings = []string{"GOOGLE_GOLDFLAGS", "CGO_ENABLED", "GOFLAGS"}

// productionBuild returns the values the function module gives buildSettings, by name; a
// setting it does not give is absent.
func productionBuild(root string) (map[string]string, error) {
	tf, err := os.ReadFile(filepath.Join(root, functionModule))
	if err != nil {
		return nil, err
	}
	got := map[string]string{}
	for _, name := range buildSettings {
		if m := regexp.MustCompile(name + `\s*=\s*"([^"]*)"`).FindSubmatch(tf); m != nil {
			got[name] = string(m[1])
		}
	}
	return got, nil
}

// buildStaged builds dir (a staged function folder) with the buildpack's main, with the
// flags goBuild uses and production's build settings (productionBuild's), and returns the
// binary.
func buildStaged(b *testing.B, settings map[string]string, dir string) string {
	b.Helper()
	mainDir := filepath.Join(dir, "cmd", "buildpackmain")
	if err := os.MkdirAll(mainDir, 0o750); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mainDir, "main.go"), []byte(buildpackMain), 0o600); err != nil {
		b.Fatal(err)
	}
	bin := filepath.Join(dir, "function.bin")
	cmd := exec.CommandContext(b.Context(), "go", "build", "-ldflags="+settings["GOOGLE_GOLDFLAGS"], "-o", bin, "./cmd/buildpackmain")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), strings.TrimSpace("GOFLAGS=-mod=mod -trimpath "+settings["GOFLAGS"]), "GOWORK=off")
	if cgo, ok := settings["CGO_ENABLED"]; ok {
		cmd.Env = append(cmd.Env, "CGO_ENABLED="+cgo)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build %s: %v\n%s", dir, err, out)
	}
	return bin
}

// freePort is a loopback port nothing listens on now.
func freePort(b *testing.B) int {
	b.Helper()
	l, err := (&net.ListenConfig{}).Listen(b.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

// coldStart starts bin serving target as Cloud Run does and returns the time from the
// process start to its port accepting connections and to the first 200 of GET path with
// the Authorization header auth.
func coldStart(b *testing.B, bin, target string, env []string, path, auth string) (listening, first200 time.Duration) {
	b.Helper()
	port := strconv.Itoa(freePort(b))
	addr := "127.0.0.1:" + port
	cmd := exec.CommandContext(b.Context(), bin)
	cmd.Env = append(append(os.Environ(), env...), "PORT="+port, "FUNCTION_TARGET="+target)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	dialer := &net.Dialer{Timeout: 100 * time.Millisecond}
	for {
		c, err := dialer.DialContext(b.Context(), "tcp", addr)
		if err == nil {
			_ = c.Close()
			break
		}
		if time.Since(start) > 20*time.Second {
			b.Fatalf("%s did not listen within 20 s: %v", target, err)
		}
		time.Sleep(200 * time.Microsecond)
	}
	listening = time.Since(start)
	req, err := http.NewRequestWithContext(b.Context(), http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		b.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{}}
	resp, err := client.Do(req)
	if err != nil {
		b.Fatalf("first request to %s: %v", target, err)
	}
	_ = resp.Body.Close()
	first200 = time.Since(start)
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("first request to %s: %d", target, resp.StatusCode)
	}
	return listening, first200
}

// timed runs f and returns how long it took.
func timed(b *testing.B, what string, f func(ctx context.Context) error) time.Duration {
	b.Helper()
	ctx, cancel := context.WithTimeout(b.Context(), 20*time.Second)
	defer cancel()
	start := time.Now()
	if err := f(ctx); err != nil {
		b.Fatalf("%s: %v", what, err)
	}
	return time.Since(start)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// medians collects a benchmark's samples by metric and reports the median of each.
type medians map[string][]float64

func (m medians) add(metric string, v float64) { m[metric] = append(m[metric], v) }

func (m medians) report(b *testing.B) {
	for metric, vs := range m {
		slices.Sort(vs)
		mid := len(vs) / 2
		med := vs[mid]
		if len(vs)%2 == 0 {
			med = (vs[mid-1] + vs[mid]) / 2
		}
		b.ReportMetric(med, metric)
	}
}

// fileMB is a file's size in MB.
func fileMB(b *testing.B, path string) float64 {
	b.Helper()
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return float64(st.Size()) / 1e6
}

// TestBenchBuildsAsProduction: the cold-start benchmark reads the build settings the
// function module builds with, so its binaries are production's, whatever the module sets.
func TestBenchBuildsAsProduction(t *testing.T) {
	_, root, err := manifest.LoadDefault()
	if err != nil {
		t.Fatal(err)
	}
	tf, err := os.ReadFile(filepath.Join(root, functionModule))
	if err != nil {
		t.Fatal(err)
	}
	got, err := productionBuild(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range buildSettings {
		v, ok := got[name]
		if strings.Contains(string(tf), name) != ok || ok && !strings.Contains(string(tf), name+` = "`+v+`"`) {
			t.Errorf("%s: the benchmark read %q (set: %v) from %s", name, v, ok, functionModule)
		}
	}
}

// buildBaseline writes a function of one file, source, at the root of a folder of out named
// name, with the go.mod and go.sum of the repository at root and, when shared is not empty, a
// copy of that staged shared/ tree, and builds it with buildStaged.
func buildBaseline(b *testing.B, root string, settings map[string]string, out, name, source, shared string) string {
	b.Helper()
	dir := filepath.Join(out, name)
	if shared != "" {
		if err := copyTree(shared, filepath.Join(dir, "shared")); err != nil {
			b.Fatal(err)
		}
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		b.Fatal(err)
	}
	for _, f := range []string{"go.mod", "go.sum"} {
		if err := copyFile(filepath.Join(root, f), filepath.Join(dir, f)); err != nil {
			b.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, name+".go"), []byte(source), 0o600); err != nil {
		b.Fatal(err)
	}
	return buildStaged(b, settings, dir)
}

// firstRequestCalls are the dependency calls one cold start made, counted at the proxies.
type firstRequestCalls struct{ reads, commits, secretReads int }

// countedStart is coldStart with the calls the process made through fsProxy and smProxy.
func countedStart(b *testing.B, fsProxy, smProxy *rpccount.Proxy, bin, target string, env []string, path, auth string) (listening, first200 time.Duration, calls firstRequestCalls) {
	b.Helper()
	fsProxy.Reset()
	smProxy.Reset()
	listening, first200 = coldStart(b, bin, target, env, path, auth)
	calls = firstRequestCalls{fsProxy.Total("BatchGetDocuments", "RunQuery"), fsProxy.Total("Commit"), smProxy.Total("AccessSecretVersion")}
	return listening, first200, calls
}

// BenchmarkColdStart starts the staged banks function (scripts/stage, built with the
// buildpack's main and production's build settings) as Cloud Run does, FUNCTION_TARGET=Banks
// on PORT, and times the process start to its port listening and to the first 200 of a real
// authenticated GET /v1/banks against the emulators. Two baselines are built and started the
// same way in the same round: functions-framework's hello world, and helloCalls, the hello
// world that makes the first request's dependency calls one after the other with the same
// clients. The dependency calls are counted at proxies in front of the emulators, and
// helloCalls must make the same ones as banks. One Firestore read, one Secret Manager read
// and one limiter lease are also each timed alone in the benchmark's own warm process, on a
// new client each: "hello+deps-ms" is the hello world's first 200 plus those three, which
// leaves out what a new instance pays to load the clients' code. Each iteration is one round;
// each time is reported as the median over the iterations.
//
//	go run ./emulators/cmd/withemulators -- go test -run '^$' -bench ColdStart -benchtime 10x ./scripts/stage/
func BenchmarkColdStart(b *testing.B) {
	m, root, err := manifest.LoadDefault()
	if err != nil {
		b.Fatal(err)
	}
	out := b.TempDir()
	staged, err := Stage(root, m, "banks", out)
	if err != nil {
		b.Fatal(err)
	}
	settings, err := productionBuild(root)
	if err != nil {
		b.Fatal(err)
	}
	tokBin := buildStaged(b, settings, staged)
	helloBin := buildBaseline(b, root, settings, out, "hello", helloWorld, "")
	callsBin := buildBaseline(b, root, settings, out, "hellocalls", helloCalls, filepath.Join(staged, "shared"))

	project := testenv.Project(b)
	fs := testenv.Firestore(b, project)
	pepper := orgstest.PepperSecret(b, project)
	org, pair := orgstest.Org(b, orgs.New(fs, pepper), orgs.TierEnterprise)
	fsProxy := rpccount.New(b, os.Getenv("FIRESTORE_EMULATOR_HOST"))
	smProxy := rpccount.New(b, testenv.SecretManagerEndpoint(b))
	// The functions and the calls timed alone all go through the proxies.
	b.Setenv("FIRESTORE_EMULATOR_HOST", fsProxy.Addr)
	env := []string{"GOOGLE_CLOUD_PROJECT=" + project, "TOK_KMS_ENDPOINT=" + smProxy.Addr, "TOK_SECRETMANAGER_ENDPOINT=" + smProxy.Addr}
	keyDoc := store.APIKeys + "/" + apikey.Hash(pepper, pair.LiveKey)
	secretName := "projects/" + project + "/secrets/" + platform.PepperSecret + "/versions/latest"
	callsEnv := append(slices.Clone(env), "HELLO_SECRET="+secretName, "HELLO_KEY_DOC="+keyDoc,
		"HELLO_BUCKET="+auth.BucketKey(tenant.Tenant{Env: tenant.Live, OrgID: org.ID}))

	// Times are reported as the median over the iterations: on a shared machine one start delayed
	// by another process would move a mean by more than the differences measured.
	times := medians{}
	var total firstRequestCalls // banks's, over the rounds
	round := 0
	for b.Loop() {
		round++
		hl, h200 := coldStart(b, helloBin, "Hello", env, "/", "")
		cl, c200, baselineCalls := countedStart(b, fsProxy, smProxy, callsBin, "HelloCalls", callsEnv, "/", "")
		tl, t200, tokCalls := countedStart(b, fsProxy, smProxy, tokBin, "Banks", env, "/v1/banks", "ApiKey "+pair.LiveKey)
		if baselineCalls != tokCalls {
			b.Fatalf("round %d: banks's first request made %+v calls, the baseline %+v", round, tokCalls, baselineCalls)
		}
		total.reads += tokCalls.reads
		total.commits += tokCalls.commits
		total.secretReads += tokCalls.secretReads

		read := timed(b, "Firestore read", func(ctx context.Context) error {
			c, err := firestore.NewClient(ctx, project, gcp.ClientOptions("")...)
			if err != nil {
				return err
			}
			defer func() { _ = c.Close() }()
			_, err = c.Doc(keyDoc).Get(ctx)
			return err
		})
		secret := timed(b, "Secret Manager read", func(ctx context.Context) error {
			c, err := secretmanager.NewClient(ctx, gcp.ClientOptions(smProxy.Addr)...)
			if err != nil {
				return err
			}
			defer func() { _ = c.Close() }()
			_, err = c.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: secretName})
			return err
		})
		lease := timed(b, "limiter lease", func(ctx context.Context) error {
			c, err := firestore.NewClient(ctx, project, gcp.ClientOptions("")...)
			if err != nil {
				return err
			}
			defer func() { _ = c.Close() }()
			d, err := ratelimit.New(c, ratelimit.WithoutSweeper()).Allow(ctx, fmt.Sprintf("bench:%d", round), ratelimit.Enterprise)
			if err == nil && !d.Allowed {
				err = errors.New("refused")
			}
			return err
		})
		times.add("tok-listen-ms", ms(tl))
		times.add("hello-listen-ms", ms(hl))
		times.add("hellocalls-listen-ms", ms(cl))
		times.add("tok-first200-ms", ms(t200))
		times.add("hello-first200-ms", ms(h200))
		times.add("hellocalls-first200-ms", ms(c200))
		times.add("hello+deps-ms", ms(h200)+ms(read)+ms(secret)+ms(lease))
		times.add("firestore-read-ms", ms(read))
		times.add("secret-read-ms", ms(secret))
		times.add("limiter-lease-ms", ms(lease))
	}
	times.report(b)
	n := float64(b.N)
	b.ReportMetric(float64(total.reads)/n, "firestore-reads/first-request")
	b.ReportMetric(float64(total.commits)/n, "firestore-commits/first-request")
	b.ReportMetric(float64(total.secretReads)/n, "secret-reads/first-request")
	b.ReportMetric(fileMB(b, tokBin), "tok-binary-MB")
	b.ReportMetric(fileMB(b, helloBin), "hello-binary-MB")
	b.ReportMetric(fileMB(b, callsBin), "hellocalls-binary-MB")
}
