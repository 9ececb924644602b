package events

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	domain "tokapi.io/tok/shared/events"
	"tokapi.io/tok/shared/gcp"
	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/orgs"
	"tokapi.io/tok/shared/platform"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/testing/apitest"
	"tokapi.io/tok/shared/testing/orgstest"
	"tokapi.io/tok/shared/testing/testenv"
)

func TestEventsAPI(t *testing.T) {
	project := testenv.Project(t)
	fs := testenv.Firestore(t, project)
	repo := orgs.New(fs, orgstest.PepperSecret(t, project))
	org, keys := orgstest.Org(t, repo, orgs.TierEnterprise)
	_, other := orgstest.Org(t, repo, orgs.TierEnterprise)
	now := time.Now().UTC().Truncate(time.Millisecond)
	env := platform.NewEnvFrom(platform.Config{GCP: gcp.Config{ProjectID: project, SecretManagerEndpoint: testenv.SecretManagerEndpoint(t)}})
	h := platform.LazyHTTP(func(context.Context, *platform.Env) (http.Handler, error) {
		return NewHandler(fs, func() time.Time { return now }), nil
	}, func(context.Context) (*platform.Env, error) { return env, nil })

	coll := store.For(fs, tenant.Tenant{Env: tenant.Sandbox, OrgID: org.ID}).Collection(domain.LogCollection)
	types := []string{"consent.authorized", "transactions.created", "transactions.created", "sync.failed", "transactions.created"}
	// Each type's data as its producer writes it (the spec types data per event type).
	data := map[string]string{
		"consent.authorized":   `{"consentId":"` + ids.New(ids.Consent) + `","bankId":"sandbox-hr","status":"AUTHORIZED","connectionId":"cxn_1"}`,
		"transactions.created": `{"accountId":"` + ids.New(ids.Account) + `","connectionId":"cxn_1","transactionIds":["` + ids.New(ids.Transaction) + `"]}`,
		"sync.failed":          `{"connectionId":"cxn_1","bankId":"sandbox-hr","reason":"bank_unavailable","nextSyncAt":null}`,
	}
	var want []string // newest first
	for i, typ := range types {
		id := ids.New(ids.Event)
		at := now.Add(-time.Duration(len(types)-i) * time.Hour)
		if _, err := coll.Doc(id).Set(t.Context(), domain.LogEntry{ID: id, Type: typ, CreatedAt: at, Data: data[typ], ExpireAt: at.Add(domain.LogRetention)}); err != nil {
			t.Fatal(err)
		}
		want = append([]string{id}, want...)
	}
	oldID := ids.New(ids.Event)
	old := now.Add(-31 * 24 * time.Hour)
	if _, err := coll.Doc(oldID).Set(t.Context(), domain.LogEntry{ID: oldID, Type: "consent.authorized", CreatedAt: old, Data: data["consent.authorized"], ExpireAt: old.Add(domain.LogRetention)}); err != nil {
		t.Fatal(err)
	}

	get := func(path, key string) (int, map[string]any) {
		t.Helper()
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "ApiKey "+key)
		rec := apitest.Do(t, h, req)
		var out map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		return rec.Code, out
	}
	var got []string
	q := "/v1/events?limit=2"
	for range 10 {
		code, body := get(q, keys.SandboxKey)
		if code != 200 {
			t.Fatalf("list: %d %v", code, body)
		}
		for _, e := range body["data"].([]any) {
			got = append(got, e.(map[string]any)["id"].(string))
		}
		if body["hasMore"] != true {
			break
		}
		q = "/v1/events?limit=2&cursor=" + url.QueryEscape(body["nextCursor"].(string))
	}
	if len(got) != len(want) {
		t.Fatalf("listed %v, want %v (the 31-day-old event hidden)", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("position %d: %s, want %s", i, got[i], want[i])
		}
	}
	code, body := get("/v1/events?type=transactions.created", keys.SandboxKey)
	if data := body["data"].([]any); code != 200 || len(data) != 3 || data[0].(map[string]any)["id"] != want[0] {
		t.Errorf("type filter: %d %v", code, body)
	}
	code, body = get("/v1/events/"+want[1], keys.SandboxKey)
	if code != 200 || body["type"] != "sync.failed" || body["data"].(map[string]any)["reason"] != "bank_unavailable" {
		t.Errorf("get: %d %v", code, body)
	}
	for path, key := range map[string]string{
		"/v1/events/" + want[0]: keys.LiveKey, "/v1/events/" + want[1]: other.SandboxKey,
		"/v1/events/" + oldID: keys.SandboxKey, "/v1/events/evt_00000000000000000000000000": keys.SandboxKey,
	} {
		if code, _ := get(path, key); code != 404 {
			t.Errorf("%s: %d, want 404", path, code)
		}
	}
	// A malformed ID is the spec's 400, before any lookup.
	if code, body := get("/v1/events/evt_nope", keys.SandboxKey); code != 400 || !strings.Contains(fmt.Sprint(body), "field:id ") {
		t.Errorf("malformed ID: %d %v", code, body)
	}
	for _, q := range []string{"?cursor=xyz", "?type=consent.authorised", "?limit=9999"} {
		if code, _ := get("/v1/events"+q, keys.SandboxKey); code != 400 {
			t.Errorf("%s: %d, want 400", q, code)
		}
	}
	if code, body := get("/v1/events", keys.LiveKey); code != 200 || len(body["data"].([]any)) != 0 {
		t.Errorf("live log: %d %v", code, body)
	}
}
