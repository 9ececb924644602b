package idempotency

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tokapi.io/tok/shared/auth"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/testing/testenv"
)

func TestWrap(t *testing.T) {
	fs := testenv.Firestore(t, testenv.Project(t))
	s := &Store{Client: fs, Secret: []byte("pepper")}
	var runs atomic.Int64
	h := s.Wrap(func(w http.ResponseWriter, r *http.Request) error {
		runs.Add(1)
		time.Sleep(50 * time.Millisecond)
		var in struct{ N int }
		if err := httpapi.DecodeJSON(w, r, &in); err != nil {
			return err
		}
		if in.N < 0 {
			return httpapi.InvalidField("n", "must be positive")
		}
		if in.N == 500 {
			return httpapi.Internal(nil)
		}
		httpapi.WriteJSON(w, 201, map[string]any{"run": runs.Load(), "n": in.N, "secret": "shown-once-" + strconv.Itoa(in.N)})
		return nil
	})
	rt := httpapi.NewRouter()
	rt.Handle("POST /v1/things", h)
	doQuery := func(org, key, query, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/v1/things"+query, strings.NewReader(body))
		if key != "" {
			req.Header.Set(Header, key)
		}
		req = req.WithContext(auth.WithCaller(req.Context(), auth.Caller{Tenant: tenant.Tenant{Env: tenant.Sandbox, OrgID: org}, Role: auth.RoleDeveloper}))
		rec := httptest.NewRecorder()
		rt.ServeHTTP(rec, req)
		return rec
	}
	do := func(org, key, body string) *httptest.ResponseRecorder { return doQuery(org, key, "", body) }
	first := do("org_a", "k1", `{"N":1}`)
	again := do("org_a", "k1", `{"N":1}`)
	if first.Code != 201 || again.Code != 201 || first.Body.String() != again.Body.String() || again.Header().Get(ReplayedHeader) != "true" || runs.Load() != 1 {
		t.Fatalf("replay: %d %s / %d %s, runs %d", first.Code, first.Body, again.Code, again.Body, runs.Load())
	}
	// What is stored does not show the response: it may hold a secret shown once.
	docs, err := fs.CollectionGroup(Collection).Documents(t.Context()).GetAll()
	if err != nil || len(docs) == 0 {
		t.Fatalf("stored records: %d %v", len(docs), err)
	}
	for _, d := range docs {
		if b, _ := d.Data()["body"].([]byte); len(b) == 0 || bytes.Contains(b, []byte("shown-once")) {
			t.Errorf("stored body in the clear or empty: %q", b)
		}
	}
	if r := do("org_a", "k1", `{"N":2}`); r.Code != 422 || !strings.Contains(r.Body.String(), "IDEMPOTENCY_KEY_REUSED") {
		t.Errorf("reuse: %d %s", r.Code, r.Body)
	}
	// The query string is part of the request.
	if r := doQuery("org_a", "k1", "?dryRun=true", `{"N":1}`); r.Code != 422 {
		t.Errorf("same key, same body, another query: %d %s", r.Code, r.Body)
	}
	if r := do("org_b", "k1", `{"N":2}`); r.Code != 201 {
		t.Errorf("another organisation's key space: %d %s", r.Code, r.Body)
	}
	// 4xx answers are stored too; 5xx are not (the client may retry).
	if a, b := do("org_a", "k2", `{"N":-1}`), do("org_a", "k2", `{"N":-1}`); a.Code != 400 || b.Header().Get(ReplayedHeader) != "true" {
		t.Errorf("stored 400: %d %v", b.Code, b.Header())
	}
	before := runs.Load()
	do("org_a", "k3", `{"N":500}`)
	do("org_a", "k3", `{"N":500}`)
	if runs.Load() != before+2 {
		t.Errorf("a 500 was replayed")
	}
	// Without a key every request runs.
	before = runs.Load()
	do("org_a", "", `{"N":1}`)
	do("org_a", "", `{"N":1}`)
	if runs.Load() != before+2 {
		t.Error("requests without a key were deduplicated")
	}
	// Concurrent duplicates run once.
	before = runs.Load()
	var wg sync.WaitGroup
	bodies := make(chan string, 8)
	for range 8 {
		wg.Go(func() {
			bodies <- do("org_a", "k-conc", `{"N":7}`).Body.String()
		})
	}
	wg.Wait()
	close(bodies)
	var seen []string
	for b := range bodies {
		seen = append(seen, b)
	}
	if runs.Load() != before+1 {
		t.Errorf("concurrent duplicates ran %d times", runs.Load()-before)
	}
	for _, b := range seen {
		if b != seen[0] {
			t.Errorf("different answers: %q vs %q", b, seen[0])
		}
	}
}
