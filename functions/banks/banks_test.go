package banks

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"tokapi.io/tok/shared/auth"
	"tokapi.io/tok/shared/bankcatalog"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/ratelimit"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/testing/apitest"
)

func handlerFor(t *testing.T, env string) http.Handler {
	t.Helper()
	catalogue, err := bankcatalog.Load("http://127.0.0.1:8080/sandbox-bank")
	if err != nil {
		t.Fatal(err)
	}
	h := Handler(catalogue)
	limiter := ratelimit.NewLocal()
	// What the auth middleware does for an admitted key of env.
	return httpapi.Middleware("p", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, err := limiter.Allow(r.Context(), "org_A", ratelimit.Enterprise)
		if err != nil {
			t.Fatal(err)
		}
		d.SetHeaders(w.Header())
		ctx := auth.WithCaller(r.Context(), auth.Caller{Tenant: tenant.Tenant{Env: env, OrgID: "org_A"}, Role: auth.RoleReadOnly})
		h.ServeHTTP(w, r.WithContext(ctx))
	}))
}

type list struct {
	Data []bankcatalog.Bank `json:"data"`
}

func TestListFiltersAndEnvironments(t *testing.T) {
	cases := []struct {
		env, query string
		check      func(bankcatalog.Bank) bool
		atLeast    int
	}{
		{tenant.Live, "", func(b bankcatalog.Bank) bool { return b.Environment == tenant.Live }, 20},
		{tenant.Sandbox, "", func(b bankcatalog.Bank) bool { return b.Environment == tenant.Sandbox }, 10},
		{tenant.Live, "?country=HR", func(b bankcatalog.Bank) bool { return b.Country == "HR" }, 2},
		{tenant.Live, "?service=pis", func(b bankcatalog.Bank) bool { return b.Services.PIS }, 1},
		{tenant.Sandbox, "?country=RS&service=ais", func(b bankcatalog.Bank) bool { return b.ID == "sandbox-rs" }, 1},
		{tenant.Live, "?country=GB", nil, 0},
	}
	for _, c := range cases {
		req := httptest.NewRequestWithContext(context.Background(), "GET", "/v1/banks"+c.query, nil)
		rec := apitest.Do(t, handlerFor(t, c.env), req)
		if rec.Code != 200 {
			t.Fatalf("%s %s: %d %s", c.env, c.query, rec.Code, rec.Body)
		}
		var l list
		if err := json.Unmarshal(rec.Body.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		if len(l.Data) < c.atLeast || (c.check == nil && len(l.Data) != 0) {
			t.Errorf("%s %s: %d banks", c.env, c.query, len(l.Data))
		}
		for _, b := range l.Data {
			if c.check != nil && !c.check(b) {
				t.Errorf("%s %s: unexpected bank %+v", c.env, c.query, b)
			}
		}
	}
}

func TestGetAndErrors(t *testing.T) {
	live, sandbox := handlerFor(t, tenant.Live), handlerFor(t, tenant.Sandbox)
	get := func(h http.Handler, path string) *httptest.ResponseRecorder {
		return apitest.Do(t, h, httptest.NewRequestWithContext(context.Background(), "GET", path, nil))
	}
	if rec := get(live, "/v1/banks/erste-hr"); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"id":"erste-hr"`) {
		t.Errorf("erste-hr: %d %s", rec.Code, rec.Body)
	}
	// A bank of the other environment does not exist for this key.
	for _, c := range []struct {
		h    http.Handler
		path string
	}{{sandbox, "/v1/banks/erste-hr"}, {live, "/v1/banks/sandbox-hr"}, {live, "/v1/banks/nope"}} {
		if rec := get(c.h, c.path); rec.Code != 404 || !strings.Contains(rec.Body.String(), `"NOT_FOUND"`) {
			t.Errorf("%s: %d %s", c.path, rec.Code, rec.Body)
		}
	}
	for _, q := range []string{"?country=hr", "?country=HRV", "?service=payments"} {
		if rec := get(live, "/v1/banks"+q); rec.Code != 400 || !strings.Contains(rec.Body.String(), `"VALIDATION_ERROR"`) {
			t.Errorf("%s: %d %s", q, rec.Code, rec.Body)
		}
	}
	if rec := get(live, "/v1/banks/erste-hr/branches"); rec.Code != 404 {
		t.Errorf("sub-path: %d", rec.Code)
	}
}
