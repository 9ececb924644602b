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
	"tokapi.io/tok/shared/gcp"
	"tokapi.io/tok/shared/manifest"
	"tokapi.io/tok/shared/orgs"
	"tokapi.io/tok/shared/platform"
	"tokapi.io/tok/shared/ratelimit"
	"tokapi.io/tok/shared/store"
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

// functionModule is the Terraform module that deploys every function; its build_config
// holds the build environment the buildpack builds with.
const functionModule = "infra/modules/function/main.tf"

// buildSettings are the build environment variables of the function module that change
// the binary: GOOGLE_GOLDFLAGS, which the Go buildpack passes to go build as -ldflags, and
// CGO_ENABLED, which go build reads itself.
var buildSettings = []string{"GOOGLE_GOLDFLAGS", "CGO_ENABLED"}

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
// flags goBuild uses and production's build settings (productionBuild of the repository at
// root), and returns the binary.
func buildStaged(b *testing.B, root, dir string) string {
	b.Helper()
	settings, err := productionBuild(root)
	if err != nil {
		b.Fatal(err)
	}
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
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod -trimpath", "GOWORK=off")
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

// BenchmarkColdStart starts the staged banks function (scripts/stage, built with the
// buildpack's main and production's linker flags) as Cloud Run does, FUNCTION_TARGET=Banks on PORT, and times the process
// start to its port listening and to the first 200 of a real authenticated GET /v1/banks
// against the emulators; the baseline is functions-framework's hello world, built the same
// way and started the same way in the same round. The dependency calls of the first request
// are counted at proxies in front of the emulators, and one Firestore read, one Secret
// Manager read and one limiter lease (a read and a write) are each timed alone in the same
// round, every one on a new client with the function's options (gcp.ClientOptions) as a new
// instance has: "hello+deps-ms" is the hello world's first 200 plus those three, what the
// first 200 may cost if nothing else than the calls it must make is added. Each iteration is
// one round; each time is reported as the median over the iterations.
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
	tokBin := buildStaged(b, root, staged)
	hello := filepath.Join(out, "hello")
	if err := os.MkdirAll(hello, 0o750); err != nil {
		b.Fatal(err)
	}
	for _, f := range []string{"go.mod", "go.sum"} {
		if err := copyFile(filepath.Join(root, f), filepath.Join(hello, f)); err != nil {
			b.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(hello, "hello.go"), []byte(helloWorld), 0o600); err != nil {
		b.Fatal(err)
	}
	helloBin := buildStaged(b, root, hello)

	project := testenv.Project(b)
	fs := testenv.Firestore(b, project)
	pepper := orgstest.PepperSecret(b, project)
	_, pair := orgstest.Org(b, orgs.New(fs, pepper), orgs.TierEnterprise)
	fsProxy := rpccount.New(b, os.Getenv("FIRESTORE_EMULATOR_HOST"))
	smProxy := rpccount.New(b, testenv.SecretManagerEndpoint(b))
	// The function and the calls timed alone both go through the proxies.
	b.Setenv("FIRESTORE_EMULATOR_HOST", fsProxy.Addr)
	env := []string{"GOOGLE_CLOUD_PROJECT=" + project, "TOK_KMS_ENDPOINT=" + smProxy.Addr, "TOK_SECRETMANAGER_ENDPOINT=" + smProxy.Addr}
	keyDoc := store.APIKeys + "/" + apikey.Hash(pepper, pair.LiveKey)
	secretName := "projects/" + project + "/secrets/" + platform.PepperSecret + "/versions/latest"

	// Times are reported as the median over the iterations: on a shared machine one start delayed
	// by another process would move a mean by more than the differences measured.
	times := medians{}
	var reads, commits, secretReads int
	round := 0
	for b.Loop() {
		round++
		hl, h200 := coldStart(b, helloBin, "Hello", env, "/", "")
		fsProxy.Reset()
		smProxy.Reset()
		tl, t200 := coldStart(b, tokBin, "Banks", env, "/v1/banks", "ApiKey "+pair.LiveKey)
		reads += fsProxy.Total("BatchGetDocuments", "RunQuery")
		commits += fsProxy.Total("Commit")
		secretReads += smProxy.Total("AccessSecretVersion")

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
		times.add("tok-first200-ms", ms(t200))
		times.add("hello-first200-ms", ms(h200))
		times.add("hello+deps-ms", ms(h200)+ms(read)+ms(secret)+ms(lease))
		times.add("firestore-read-ms", ms(read))
		times.add("secret-read-ms", ms(secret))
		times.add("limiter-lease-ms", ms(lease))
	}
	times.report(b)
	n := float64(b.N)
	b.ReportMetric(float64(reads)/n, "firestore-reads/first-request")
	b.ReportMetric(float64(commits)/n, "firestore-commits/first-request")
	b.ReportMetric(float64(secretReads)/n, "secret-reads/first-request")
	b.ReportMetric(fileMB(b, tokBin), "tok-binary-MB")
	b.ReportMetric(fileMB(b, helloBin), "hello-binary-MB")
}
