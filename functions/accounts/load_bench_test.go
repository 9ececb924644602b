package accounts_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"tokapi.io/tok/emulators/gateway"
	"tokapi.io/tok/functions/accounts"
	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/gcp"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/manifest"
	"tokapi.io/tok/shared/orgs"
	"tokapi.io/tok/shared/platform"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/testing/orgstest"
	"tokapi.io/tok/shared/testing/rpccount"
	"tokapi.io/tok/shared/testing/testenv"
)

// Load of the API-path benchmark: concurrent clients, each paced so that together they stay
// under the Enterprise limit (1,000 a minute after a burst of 200), for requests in all.
const (
	loadClients  = 50
	loadPerQPS   = "0.1" // requests a second per client: 5/s together
	loadRequests = 100
)

// heyResult is what the benchmark reads from hey's report.
type heyResult struct {
	p50, p99 time.Duration
	ok       int // 200 answers
}

var (
	heyLatency = regexp.MustCompile(`(?m)^\s+(50|99)%+ in ([0-9.]+) secs`)
	heyOK      = regexp.MustCompile(`(?m)^\s+\[200\]\s+(\d+) responses`)
)

// hey runs the hey load generator (installed by scripts/setup/setup.sh) against u.
func hey(b *testing.B, u string, header ...string) heyResult {
	b.Helper()
	_, root, err := manifest.LoadDefault()
	if err != nil {
		b.Fatal(err)
	}
	args := []string{"-c", strconv.Itoa(loadClients), "-q", loadPerQPS, "-n", strconv.Itoa(loadRequests), "-t", "30"}
	for _, h := range header {
		args = append(args, "-H", h)
	}
	out, err := exec.CommandContext(b.Context(), filepath.Join(root, ".tok", "tools", "hey"), append(args, u)...).CombinedOutput() //nolint:gosec // the project's own tool
	if err != nil {
		b.Fatalf("hey (run make setup to install it): %v\n%s", err, out)
	}
	var r heyResult
	for _, m := range heyLatency.FindAllSubmatch(out, -1) {
		secs, _ := strconv.ParseFloat(string(m[2]), 64)
		d := time.Duration(secs * float64(time.Second))
		if string(m[1]) == "50" {
			r.p50 = d
		} else {
			r.p99 = d
		}
	}
	if m := heyOK.FindSubmatch(out); m != nil {
		r.ok, _ = strconv.Atoi(string(m[1]))
	}
	if r.ok != loadRequests || r.p50 == 0 || r.p99 == 0 {
		b.Fatalf("hey: %d of %d answered 200:\n%s", r.ok, loadRequests, out)
	}
	return r
}

// BenchmarkTransactionsLoad is the API path under load: hey's 50 concurrent clients GET a
// page of transactions of an Enterprise organisation's sandbox account through the gateway
// (emulators/gateway, as the load balancer), served by the accounts handler behind the
// platform layer as a function instance serves it (API key authentication with its cache,
// the organisation's rate limit, request logging), and, in the same round, by the same
// handler with the caller's tenant set directly, without authentication, limiter or logging.
// Each round runs hey four times, tok, bare, bare, tok, and reports each side's p50 and p99 as
// the mean of its two runs; every Firestore call of both goes
// through a counting proxy, so the difference in reads per request is what authentication
// reads with a warm key cache.
//
//	go run ./emulators/cmd/withemulators -- go test -run '^$' -bench TransactionsLoad -benchtime 1x -count 3 ./functions/accounts/
func BenchmarkTransactionsLoad(b *testing.B) {
	project := testenv.Project(b)
	seed := testenv.Firestore(b, project)
	pepper := orgstest.PepperSecret(b, project)
	org, pair := orgstest.Org(b, orgs.New(seed, pepper), orgs.TierEnterprise)
	ten := tenant.Tenant{Env: tenant.Sandbox, OrgID: org.ID}
	f := newFixtureFor(b, seed, ten)
	f.bank.set(gen(0, 200))
	f.sync(b)

	// The fixture's day, while its consent is valid.
	now := func() time.Time { return today.Add(10 * time.Hour) }
	proxy := rpccount.New(b, os.Getenv("FIRESTORE_EMULATOR_HOST"))
	b.Setenv("FIRESTORE_EMULATOR_HOST", proxy.Addr)
	env := platform.NewEnvFrom(platform.Config{GCP: gcp.Config{ProjectID: project, SecretManagerEndpoint: testenv.SecretManagerEndpoint(b)}})
	tok := httptest.NewServer(platform.LazyHTTP(func(ctx context.Context, env *platform.Env) (http.Handler, error) {
		fs, err := env.Clients.Firestore(ctx)
		if err != nil {
			return nil, err
		}
		return accounts.NewHandler(&accounts.Deps{Env: env, Repo: connections.NewRepo(fs), Now: now}), nil
	}, func(context.Context) (*platform.Env, error) { return env, nil }))
	b.Cleanup(tok.Close)
	direct := testenv.Firestore(b, project) // through the proxy
	bareHandler := accounts.NewHandler(&accounts.Deps{Repo: connections.NewRepo(direct), Now: now})
	cursorKey := httpapi.DeriveCursorKey(pepper)
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bareHandler.ServeHTTP(w, r.WithContext(httpapi.WithCursorKey(tenant.With(r.Context(), ten), cursorKey)))
	}))
	b.Cleanup(bare.Close)
	m, _, err := manifest.LoadDefault()
	if err != nil {
		b.Fatal(err)
	}
	fn, ok := m.Function("accounts")
	if !ok {
		b.Fatal("accounts is not in the manifest")
	}
	// The gateway routes to this function only.
	only := *m
	only.Functions = []manifest.Function{fn}
	front := func(backend string) string {
		g, err := gateway.New(&only, project, map[string]string{"accounts": backend})
		if err != nil {
			b.Fatal(err)
		}
		srv := httptest.NewServer(g.API(tenant.Sandbox))
		b.Cleanup(srv.Close)
		return srv.URL + "/v1/accounts/" + f.acc + "/transactions?limit=20"
	}
	tokURL, bareURL := front(tok.URL), front(bare.URL)
	auth := "Authorization: ApiKey " + pair.SandboxKey

	// Warm: the instance has built its handler and cached the key, as a running one has.
	for _, u := range []string{tokURL, bareURL} {
		req, _ := http.NewRequestWithContext(b.Context(), http.MethodGet, u, nil)
		req.Header.Set("Authorization", "ApiKey "+pair.SandboxKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("warm-up GET %s: %d %s", u, resp.StatusCode, body)
		}
	}
	reads := func() int { return proxy.Total("BatchGetDocuments", "RunQuery") }
	var tokP50, bareP50, tokP99, bareP99 time.Duration
	var tokReads, bareReads, tokCommits int
	// Each side runs once first and once last in a round (tok, bare, bare, tok): whichever
	// ran first in every round paid for the machine warming up (the first round's ratio was
	// always the highest), and the side running first was always tok.
	tokRun := func() {
		n0, c0 := reads(), proxy.Total("Commit")
		r := hey(b, tokURL, auth)
		tokReads, tokCommits = tokReads+reads()-n0, tokCommits+proxy.Total("Commit")-c0
		tokP50, tokP99 = tokP50+r.p50, tokP99+r.p99
	}
	bareRun := func() {
		n0 := reads()
		r := hey(b, bareURL)
		bareReads += reads() - n0
		bareP50, bareP99 = bareP50+r.p50, bareP99+r.p99
	}
	for b.Loop() {
		tokRun()
		bareRun()
		bareRun()
		tokRun()
	}
	runs := 2 * b.N // of each side
	perRequest := float64(runs * loadRequests)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / float64(runs) }
	b.ReportMetric(ms(tokP50), "tok-p50-ms")
	b.ReportMetric(ms(bareP50), "bare-p50-ms")
	b.ReportMetric(ms(tokP99), "tok-p99-ms")
	b.ReportMetric(ms(bareP99), "bare-p99-ms")
	b.ReportMetric(float64(tokReads-bareReads)/perRequest, "auth-reads/request")
	b.ReportMetric(float64(tokCommits)/perRequest, "limiter-commits/request")
	b.ReportMetric(float64(tokReads)/perRequest, "tok-reads/request")
}
