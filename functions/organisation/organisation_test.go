package organisation

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"tokapi.io/tok/shared/apikey"
	"tokapi.io/tok/shared/gcp"
	"tokapi.io/tok/shared/orgs"
	"tokapi.io/tok/shared/platform"
	"tokapi.io/tok/shared/testing/apitest"
	"tokapi.io/tok/shared/testing/flowtest"
	"tokapi.io/tok/shared/testing/orgstest"
	"tokapi.io/tok/shared/testing/testenv"
)

type fixture struct {
	t       *testing.T
	project string
	repo    *orgs.Repo
	pepper  []byte
	h       http.Handler
}

func setup(t *testing.T) *fixture {
	t.Helper()
	project := testenv.Project(t)
	fs := testenv.Firestore(t, project)
	pepper := orgstest.PepperSecret(t, project)
	f := &fixture{t: t, project: project, repo: orgs.New(fs, pepper), pepper: pepper}
	f.h = f.instance()
	return f
}

// instance is a fresh function instance (own Env, own authentication cache).
func (f *fixture) instance() http.Handler {
	env := platform.NewEnvFrom(platform.Config{GCP: gcp.Config{ProjectID: f.project, SecretManagerEndpoint: testenv.SecretManagerEndpoint(f.t)}})
	return platform.LazyHTTP(build, func(context.Context) (*platform.Env, error) { return env, nil })
}

// field is the first field an error names.
func field(t *testing.T, r flowtest.Response) string {
	t.Helper()
	e, _ := r.JSON(t)["error"].(map[string]any)
	d, _ := e["details"].([]any)
	if len(d) == 0 {
		return ""
	}
	m, _ := d[0].(map[string]any)
	s, _ := m["field"].(string)
	return s
}

func (f *fixture) do(h http.Handler, method, path, key, body string) flowtest.Response {
	f.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if key != "" {
		req.Header.Set("Authorization", "ApiKey "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := apitest.Do(f.t, h, req)
	return flowtest.Response{Code: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

func (f *fixture) call(method, path, key, body string) flowtest.Response {
	f.t.Helper()
	return f.do(f.h, method, path, key, body)
}

func expect(t *testing.T, r flowtest.Response, code int, what string) {
	t.Helper()
	if r.Code != code {
		t.Fatalf("%s: status %d, want %d: %s", what, r.Code, code, r.Body)
	}
}

func TestGetOrganisation(t *testing.T) {
	f := setup(t)
	org, admin := orgstest.Org(t, f.repo, orgs.TierEnterprise)
	ro := orgstest.KeyPair(t, f.repo, org.ID, "read_only")
	for key, env := range map[string]string{admin.LiveKey: "live", admin.SandboxKey: "sandbox", ro.SandboxKey: "sandbox"} {
		r := f.call("GET", "/v1/organisation", key, "")
		expect(t, r, 200, "GET /v1/organisation")
		m := r.JSON(t)
		if m["id"] != org.ID || m["tier"] != "enterprise" || m["environment"] != env || m["name"] != org.Name {
			t.Errorf("organisation = %v", m)
		}
	}
	if r := f.call("GET", "/v1/organisation", "", ""); r.Code != 401 || r.ErrCode(t) != "INVALID_API_KEY" {
		t.Errorf("no key: %d %s", r.Code, r.Body)
	}
}

// TestRoleMatrix: admin may do everything here; developer and read_only may only read the
// organisation and its members.
func TestRoleMatrix(t *testing.T) {
	f := setup(t)
	org, admin := orgstest.Org(t, f.repo, orgs.TierEnterprise)
	member := orgstest.Member(t, f.repo, org.ID, "owner@example.com", orgs.MemberOwner)
	target := orgstest.KeyPair(t, f.repo, org.ID, "read_only")
	keys := map[string]string{
		"admin":     admin.LiveKey,
		"developer": orgstest.KeyPair(t, f.repo, org.ID, "developer").SandboxKey,
		"read_only": orgstest.KeyPair(t, f.repo, org.ID, "read_only").LiveKey,
	}
	type call struct{ method, path, body string }
	reads := []call{
		{"GET", "/v1/organisation", ""},
		{"GET", "/v1/members", ""},
		{"GET", "/v1/members/" + member.ID, ""},
	}
	// Admin-only calls whose admin success would change state are checked for refusal only,
	// then done once by admin below.
	writes := []call{
		{"GET", "/v1/api-keys", ""},
		{"POST", "/v1/api-keys", `{"role":"read_only"}`},
		{"POST", "/v1/api-keys/" + target.ID + "/rotate", `{}`},
		{"DELETE", "/v1/api-keys/" + target.ID, ""},
		{"POST", "/v1/members", `{"email":"x@example.com","role":"viewer"}`},
		{"PATCH", "/v1/members/" + member.ID, `{"role":"owner"}`},
		{"DELETE", "/v1/members/" + member.ID, ""},
		{"PATCH", "/v1/organisation", `{"displayName":"Renamed"}`},
	}
	for role, key := range keys {
		for _, c := range reads {
			if r := f.call(c.method, c.path, key, c.body); r.Code != 200 {
				t.Errorf("%s %s %s: %d, want 200: %s", role, c.method, c.path, r.Code, r.Body)
			}
		}
		if role == "admin" {
			continue
		}
		for _, c := range writes {
			if r := f.call(c.method, c.path, key, c.body); r.Code != 403 || r.ErrCode(t) != "FORBIDDEN" {
				t.Errorf("%s %s %s: %d, want 403 FORBIDDEN: %s", role, c.method, c.path, r.Code, r.Body)
			}
		}
	}
	// Admin: every write succeeds (the DELETE of the last owner is a 409, not a 403).
	want := []int{200, 201, 201, 204, 201, 200, 409, 200}
	for i, c := range writes {
		if r := f.call(c.method, c.path, keys["admin"], c.body); r.Code != want[i] {
			t.Errorf("admin %s %s: %d, want %d: %s", c.method, c.path, r.Code, want[i], r.Body)
		}
	}
	// Nothing the refused calls tried happened.
	if p, _ := f.repo.GetKeyPair(t.Context(), org.ID, target.ID); p.ReplacedBy == "" {
		t.Error("admin's rotation did not happen")
	}
}

func TestKeyPairLifecycle(t *testing.T) {
	f := setup(t)
	_, admin := orgstest.Org(t, f.repo, orgs.TierEnterprise)

	r := f.call("POST", "/v1/api-keys", admin.LiveKey, `{"role":"developer"}`)
	expect(t, r, 201, "create")
	created := r.JSON(t)
	id, live, sandbox := created["id"].(string), created["liveKey"].(string), created["sandboxKey"].(string)
	if created["role"] != "developer" || created["status"] != "active" || created["createdBy"] != admin.ID ||
		created["liveKeyMasked"] != apikey.Mask(live) {
		t.Errorf("created = %v", created)
	}
	expect(t, f.call("GET", "/v1/organisation", live, ""), 200, "new live key")
	expect(t, f.call("POST", "/v1/members", sandbox, `{"email":"d@example.com","role":"viewer"}`), 403, "developer key writes members")

	// The list is masked, newest first.
	r = f.call("GET", "/v1/api-keys", admin.LiveKey, "")
	expect(t, r, 200, "list")
	if strings.Contains(string(r.Body), live) || strings.Contains(string(r.Body), admin.LiveKey) || strings.Contains(string(r.Body), "Hash") {
		t.Errorf("list shows a key or hash: %s", r.Body)
	}
	data := r.JSON(t)["data"].([]any)
	if len(data) != 2 || data[0].(map[string]any)["id"] != id || data[1].(map[string]any)["id"] != admin.ID {
		t.Errorf("list = %s", r.Body)
	}

	// Rotation: the old pair keeps working during the grace period.
	r = f.call("POST", "/v1/api-keys/"+id+"/rotate", admin.LiveKey, `{"gracePeriodSeconds":3600}`)
	expect(t, r, 201, "rotate")
	rot := r.JSON(t)
	newID, newLive := rot["id"].(string), rot["liveKey"].(string)
	exp, err := time.Parse(time.RFC3339, rot["replacedKeyExpiresAt"].(string))
	if err != nil || rot["role"] != "developer" || rot["replaces"] != id || time.Until(exp) < 59*time.Minute || time.Until(exp) > 61*time.Minute {
		t.Errorf("rotated = %v (%v)", rot, err)
	}
	fresh := f.instance()
	expect(t, f.do(fresh, "GET", "/v1/organisation", live, ""), 200, "old key in grace")
	expect(t, f.do(fresh, "GET", "/v1/organisation", newLive, ""), 200, "new key")
	if r := f.call("POST", "/v1/api-keys/"+id+"/rotate", admin.LiveKey, ""); r.Code != 409 || r.ErrCode(t) != "CONFLICT" {
		t.Errorf("rotate twice: %d %s", r.Code, r.Body)
	}
	// Default grace (no body) is 24 h.
	r = f.call("POST", "/v1/api-keys/"+newID+"/rotate", admin.LiveKey, "")
	expect(t, r, 201, "rotate without body")
	exp, _ = time.Parse(time.RFC3339, r.JSON(t)["replacedKeyExpiresAt"].(string))
	if d := time.Until(exp); d < 23*time.Hour+59*time.Minute || d > 24*time.Hour+time.Minute {
		t.Errorf("default grace ends in %v", d)
	}
	// Grace 0 ends the old pair at once.
	newest := r.JSON(t)
	r = f.call("POST", "/v1/api-keys/"+newest["id"].(string)+"/rotate", admin.LiveKey, `{"gracePeriodSeconds":0}`)
	expect(t, r, 201, "rotate with grace 0")
	if r := f.do(f.instance(), "GET", "/v1/organisation", newest["liveKey"].(string), ""); r.Code != 401 || r.ErrCode(t) != "INVALID_API_KEY" {
		t.Errorf("key after grace 0: %d %s", r.Code, r.Body)
	}
	last := r.JSON(t)

	// Revocation is immediate (a fresh instance has no cache).
	expect(t, f.call("DELETE", "/v1/api-keys/"+last["id"].(string), admin.LiveKey, ""), 204, "revoke")
	expect(t, f.call("DELETE", "/v1/api-keys/"+last["id"].(string), admin.LiveKey, ""), 204, "revoke again")
	for _, k := range []string{last["liveKey"].(string), last["sandboxKey"].(string)} {
		if r := f.do(f.instance(), "GET", "/v1/organisation", k, ""); r.Code != 401 || r.ErrCode(t) != "INVALID_API_KEY" {
			t.Errorf("revoked key: %d %s", r.Code, r.Body)
		}
	}
	if r := f.call("POST", "/v1/api-keys/"+last["id"].(string)+"/rotate", admin.LiveKey, ""); r.Code != 409 {
		t.Errorf("rotate revoked: %d %s", r.Code, r.Body)
	}
	r = f.call("GET", "/v1/api-keys", admin.LiveKey, "")
	statuses := map[string]string{}
	for _, d := range r.JSON(t)["data"].([]any) {
		m := d.(map[string]any)
		statuses[m["id"].(string)] = m["status"].(string)
	}
	if statuses[last["id"].(string)] != "revoked" || statuses[newest["id"].(string)] != "expired" || statuses[newID] != "expiring" || statuses[admin.ID] != "active" {
		t.Errorf("statuses = %v", statuses)
	}

	expect(t, f.call("GET", "/v1/api-keys", admin.SandboxKey, ""), 200, "list with a sandbox key")

	// An admin key may revoke its own pair.
	expect(t, f.call("DELETE", "/v1/api-keys/"+admin.ID, admin.LiveKey, ""), 204, "self-revoke")
	if r := f.do(f.instance(), "GET", "/v1/organisation", admin.SandboxKey, ""); r.Code != 401 {
		t.Errorf("self-revoked key: %d", r.Code)
	}
}

// TestSandboxKeyCannotAffectLive: a sandbox admin key changes no key pair, member or
// setting of its organisation (each would affect live access); it gets 403 and the state,
// including a live key it tried to revoke, is unchanged.
func TestSandboxKeyCannotAffectLive(t *testing.T) {
	f := setup(t)
	org, admin := orgstest.Org(t, f.repo, orgs.TierEnterprise)
	member := orgstest.Member(t, f.repo, org.ID, "dev@example.com", orgs.MemberDeveloper)
	pair := orgstest.KeyPair(t, f.repo, org.ID, "developer")
	for _, c := range []struct{ method, path, body string }{
		{"DELETE", "/v1/api-keys/" + pair.ID, ""},
		{"DELETE", "/v1/api-keys/" + admin.ID, ""},
		{"POST", "/v1/api-keys", `{"role":"admin"}`},
		{"POST", "/v1/api-keys/" + pair.ID + "/rotate", `{"gracePeriodSeconds":0}`},
		{"POST", "/v1/members", `{"email":"eve@example.com","role":"owner"}`},
		{"PATCH", "/v1/members/" + member.ID, `{"role":"owner"}`},
		{"DELETE", "/v1/members/" + member.ID, ""},
		{"PATCH", "/v1/organisation", `{"allowedOrigins":["https://evil.example.com"],"callbackUrl":"https://evil.example.com/cb"}`},
	} {
		if r := f.call(c.method, c.path, admin.SandboxKey, c.body); r.Code != 403 || r.ErrCode(t) != "FORBIDDEN" {
			t.Errorf("%s %s with a sandbox admin key: %d %s, want 403", c.method, c.path, r.Code, r.Body)
		}
	}
	fresh := f.instance()
	expect(t, f.do(fresh, "GET", "/v1/organisation", pair.LiveKey, ""), 200, "the live key the sandbox key tried to revoke")
	expect(t, f.do(fresh, "GET", "/v1/organisation", admin.LiveKey, ""), 200, "the admin's live key")
	if p, _ := f.repo.GetKeyPair(t.Context(), org.ID, pair.ID); p.RevokedAt != nil || p.ReplacedBy != "" {
		t.Errorf("pair changed: %+v", p)
	}
	ms, _ := f.repo.ListMembers(t.Context(), org.ID)
	if len(ms) != 1 || ms[0].Role != orgs.MemberDeveloper {
		t.Errorf("members = %+v", ms)
	}
	if pairs, _ := f.repo.ListKeyPairs(t.Context(), org.ID); len(pairs) != 2 {
		t.Errorf("%d key pairs, want 2", len(pairs))
	}
	if o, _ := f.repo.GetOrg(t.Context(), org.ID); o.CallbackURL != "" || slices.Contains(o.AllowedOrigins, "https://evil.example.com") {
		t.Errorf("settings changed by a sandbox key: %+v", o)
	}
	// The same pair's live key may.
	expect(t, f.call("DELETE", "/v1/api-keys/"+pair.ID, admin.LiveKey, ""), 204, "live admin revokes")
}

// TestUpdateOrganisation: a live admin key edits the settings, GET shows them, and every
// invalid or unknown field is a 400 naming it that changes nothing.
func TestUpdateOrganisation(t *testing.T) {
	f := setup(t)
	_, admin := orgstest.Org(t, f.repo, orgs.TierPro)
	r := f.call("PATCH", "/v1/organisation", admin.LiveKey, `{"allowedOrigins":["https://App.Bilko.io","https://pay.bilko.io:8443"],
		"callbackUrl":"https://pay.bilko.io:8443/tok/return","displayName":"Bilko","logoUrl":"https://cdn.bilko.io/logo.svg","brandColor":"#1A2B3C"}`)
	expect(t, r, 200, "PATCH /v1/organisation")
	for _, key := range []string{admin.LiveKey, admin.SandboxKey} {
		m := f.call("GET", "/v1/organisation", key, "").JSON(t)
		if fmt.Sprint(m["allowedOrigins"]) != "[https://app.bilko.io https://pay.bilko.io:8443]" || m["callbackUrl"] != "https://pay.bilko.io:8443/tok/return" ||
			m["displayName"] != "Bilko" || m["logoUrl"] != "https://cdn.bilko.io/logo.svg" || m["brandColor"] != "#1a2b3c" {
			t.Errorf("GET after PATCH = %v", m)
		}
	}
	// Fields left out stay; "" clears an optional one.
	m := f.call("PATCH", "/v1/organisation", admin.LiveKey, `{"logoUrl":""}`).JSON(t)
	if m["logoUrl"] != nil || m["displayName"] != "Bilko" || m["brandColor"] != "#1a2b3c" {
		t.Errorf("after clearing logoUrl: %v", m)
	}
	for _, c := range []struct{ body, field string }{
		{`{"refundAccount":"acc_x"}`, "refundAccount"},
		{`{"allowedOrigins":["http://app.bilko.io"]}`, "allowedOrigins[0]"},
		{`{"allowedOrigins":"https://app.bilko.io"}`, "allowedOrigins"},
		{`{"allowedOrigins":["https://app.bilko.io"]}`, "allowedOrigins"}, // would orphan the callback URL
		{`{"callbackUrl":"https://elsewhere.example.com/cb"}`, "callbackUrl"},
		{`{"displayName":"` + strings.Repeat("x", 101) + `"}`, "displayName"},
		{`{"logoUrl":"http://cdn.bilko.io/logo.svg"}`, "logoUrl"},
		{`{"brandColor":"red"}`, "brandColor"},
		{`{"brandColor":null}`, "brandColor"},
	} {
		r := f.call("PATCH", "/v1/organisation", admin.LiveKey, c.body)
		if r.Code != 400 || r.ErrCode(t) != "VALIDATION_ERROR" || field(t, r) != c.field {
			t.Errorf("PATCH %s: %d field %q, want 400 on %q: %s", c.body, r.Code, field(t, r), c.field, r.Body)
		}
	}
	m = f.call("GET", "/v1/organisation", admin.LiveKey, "").JSON(t)
	if len(m["allowedOrigins"].([]any)) != 2 || m["callbackUrl"] != "https://pay.bilko.io:8443/tok/return" || m["brandColor"] != "#1a2b3c" {
		t.Errorf("rejected PATCHes changed the settings: %v", m)
	}
}

func TestKeyRoleCeilingOfMembers(t *testing.T) {
	f := setup(t)
	org, admin := orgstest.Org(t, f.repo, orgs.TierEnterprise)
	other, _ := orgstest.Org(t, f.repo, orgs.TierFree)
	members := map[string]string{}
	for _, role := range orgs.MemberRoles {
		m := orgstest.Member(t, f.repo, org.ID, role+"@example.com", role)
		members[role] = m.ID
	}
	stranger := orgstest.Member(t, f.repo, other.ID, "s@example.com", orgs.MemberOwner)
	allowed := map[string][]string{
		"owner":     {"admin", "developer", "read_only"},
		"admin":     {"admin", "developer", "read_only"},
		"developer": {"developer", "read_only"},
		"viewer":    {"read_only"},
	}
	for memberRole, id := range members {
		for _, keyRole := range []string{"admin", "developer", "read_only"} {
			r := f.call("POST", "/v1/api-keys", admin.LiveKey, `{"role":"`+keyRole+`","memberId":"`+id+`"}`)
			ok := strings.Contains(strings.Join(allowed[memberRole], " "), keyRole)
			switch {
			case ok && r.Code == 201:
				if r.JSON(t)["createdBy"] != id {
					t.Errorf("createdBy = %v, want %s", r.JSON(t)["createdBy"], id)
				}
			case !ok && r.Code == 403 && r.ErrCode(t) == "FORBIDDEN":
			default:
				t.Errorf("member %s, key %s: %d %s", memberRole, keyRole, r.Code, r.Body)
			}
		}
	}
	if r := f.call("POST", "/v1/api-keys", admin.LiveKey, `{"role":"read_only","memberId":"`+stranger.ID+`"}`); r.Code != 404 || r.ErrCode(t) != "NOT_FOUND" {
		t.Errorf("other org's member: %d %s", r.Code, r.Body)
	}
	if r := f.call("POST", "/v1/api-keys", admin.LiveKey, `{"role":"read_only","memberId":"bob"}`); r.Code != 400 || field(t, r) != "memberId" {
		t.Errorf("malformed memberId: %d %s", r.Code, r.Body)
	}
}

func TestOtherOrganisationIsNotFound(t *testing.T) {
	f := setup(t)
	a, aAdmin := orgstest.Org(t, f.repo, orgs.TierEnterprise)
	_, bAdmin := orgstest.Org(t, f.repo, orgs.TierEnterprise)
	m := orgstest.Member(t, f.repo, a.ID, "ana@example.com", orgs.MemberAdmin)
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/v1/api-keys/" + aAdmin.ID + "/rotate", `{"gracePeriodSeconds":0}`},
		{"DELETE", "/v1/api-keys/" + aAdmin.ID, ""},
		{"GET", "/v1/members/" + m.ID, ""},
		{"PATCH", "/v1/members/" + m.ID, `{"role":"viewer"}`},
		{"DELETE", "/v1/members/" + m.ID, ""},
		{"GET", "/v1/members/mem_01ARZ3NDEKTSV4RRFFQ69G5FAV", ""},
		{"DELETE", "/v1/api-keys/key_00000000000000000000000000", ""},
	} {
		for _, key := range []string{bAdmin.LiveKey, bAdmin.SandboxKey} {
			want, code := 404, "NOT_FOUND"
			if key == bAdmin.SandboxKey && c.method != "GET" && c.method != "POST" {
				// A sandbox key's change is refused whatever it names, so the answer says
				// nothing about a's resources.
				want, code = 403, "FORBIDDEN"
			}
			if r := f.call(c.method, c.path, key, c.body); r.Code != want || r.ErrCode(t) != code {
				t.Errorf("%s %s with another organisation's key: %d %s, want %d", c.method, c.path, r.Code, r.Body, want)
			}
		}
	}
	// A malformed ID is the spec's 400 for any key, before anything is looked up.
	for _, key := range []string{bAdmin.LiveKey, bAdmin.SandboxKey} {
		if r := f.call("DELETE", "/v1/api-keys/not-an-id", key, ""); r.Code != 400 || r.ErrCode(t) != "VALIDATION_ERROR" {
			t.Errorf("DELETE /v1/api-keys/not-an-id: %d %s, want 400", r.Code, r.Body)
		}
	}
	// b sees none of a's key pairs or members, and a's are intact.
	r := f.call("GET", "/v1/api-keys", bAdmin.LiveKey, "")
	if strings.Contains(string(r.Body), aAdmin.ID) {
		t.Errorf("b lists a's key pair: %s", r.Body)
	}
	r = f.call("GET", "/v1/members", bAdmin.LiveKey, "")
	if strings.Contains(string(r.Body), m.ID) {
		t.Errorf("b lists a's member: %s", r.Body)
	}
	expect(t, f.do(f.instance(), "GET", "/v1/organisation", aAdmin.LiveKey, ""), 200, "a's key still works")
	if got, _ := f.repo.GetMember(t.Context(), a.ID, m.ID); got.Role != orgs.MemberAdmin {
		t.Errorf("a's member changed: %+v", got)
	}
}

func TestValidation(t *testing.T) {
	f := setup(t)
	org, admin := orgstest.Org(t, f.repo, orgs.TierEnterprise)
	m := orgstest.Member(t, f.repo, org.ID, "ana@example.com", orgs.MemberOwner)
	cases := []struct {
		method, path, body, field string
	}{
		{"POST", "/v1/api-keys", `{}`, "role"},
		{"POST", "/v1/api-keys", `{"role":"owner"}`, "role"},
		{"POST", "/v1/api-keys", `{"role":1}`, "role"},
		{"POST", "/v1/api-keys", `{"role":"admin","extra":true}`, "extra"},
		{"POST", "/v1/api-keys", `{"role":"admin","memberId":""}`, "memberId"},
		{"POST", "/v1/api-keys", `not json`, ""},
		{"POST", "/v1/api-keys/" + admin.ID + "/rotate", `{"gracePeriodSeconds":604801}`, "gracePeriodSeconds"},
		{"POST", "/v1/api-keys/" + admin.ID + "/rotate", `{"gracePeriodSeconds":-1}`, "gracePeriodSeconds"},
		{"POST", "/v1/api-keys/" + admin.ID + "/rotate", `{"gracePeriodSeconds":1.5}`, "gracePeriodSeconds"},
		{"POST", "/v1/api-keys/" + admin.ID + "/rotate", `{"gracePeriodSeconds":"60"}`, "gracePeriodSeconds"},
		{"POST", "/v1/api-keys/" + admin.ID + "/rotate", `{"grace":60}`, "grace"},
		{"POST", "/v1/members", `{"role":"viewer"}`, "email"},
		{"POST", "/v1/members", `{"email":"ana@example.com"}`, "role"},
		{"POST", "/v1/members", `{"email":"not-an-email","role":"viewer"}`, "email"},
		{"POST", "/v1/members", `{"email":" bo@example.com","role":"viewer"}`, "email"},
		{"POST", "/v1/members", `{"email":"\"bo cy\"@example.com","role":"viewer"}`, "email"},
		{"POST", "/v1/members", `{"email":"bö@example.com","role":"viewer"}`, "email"},
		{"POST", "/v1/members", `{"email":"bo@` + strings.Repeat("x", 64) + `.com","role":"viewer"}`, "email"},
		{"POST", "/v1/members", `{"email":"` + strings.Repeat("b", 65) + `@example.com","role":"viewer"}`, "email"},
		{"POST", "/v1/members", `{"email":"b@` + strings.Repeat("example.", 32) + `com","role":"viewer"}`, "email"},
		{"POST", "/v1/members", `{"email":"b@example.com","role":"god"}`, "role"},
		{"PATCH", "/v1/members/" + m.ID, `{}`, "role"},
		{"PATCH", "/v1/members/" + m.ID, `{"role":"read_only"}`, "role"},
		{"GET", "/v1/members?limit=0", "", "limit"},
		{"GET", "/v1/members?limit=501", "", "limit"},
		{"GET", "/v1/members?cursor=***", "", "cursor"},
		{"GET", "/v1/api-keys?cursor=bm90LWEtY3Vyc29y", "", "cursor"},
	}
	for _, c := range cases {
		r := f.call(c.method, c.path, admin.LiveKey, c.body)
		if r.Code != 400 || r.ErrCode(t) != "VALIDATION_ERROR" || field(t, r) != c.field {
			t.Errorf("%s %s %s: %d field %q, want 400 on %q: %s", c.method, c.path, c.body, r.Code, field(t, r), c.field, r.Body)
		}
	}
	// Nothing was rotated by the rejected calls.
	if p, _ := f.repo.GetKeyPair(t.Context(), org.ID, admin.ID); p.ReplacedBy != "" {
		t.Error("a rejected rotation rotated")
	}
}

func TestMembers(t *testing.T) {
	f := setup(t)
	_, admin := orgstest.Org(t, f.repo, orgs.TierEnterprise)
	key := admin.LiveKey
	r := f.call("POST", "/v1/members", key, `{"email":"Ana@Example.com","role":"owner"}`)
	expect(t, r, 201, "add owner")
	owner := r.JSON(t)
	if owner["email"] != "Ana@Example.com" || owner["role"] != "owner" {
		t.Errorf("owner = %v", owner)
	}
	if r := f.call("POST", "/v1/members", key, `{"email":"ana@example.COM","role":"viewer"}`); r.Code != 409 || r.ErrCode(t) != "CONFLICT" {
		t.Errorf("duplicate email: %d %s", r.Code, r.Body)
	}
	ownerPath := "/v1/members/" + owner["id"].(string)
	if r := f.call("PATCH", ownerPath, key, `{"role":"admin"}`); r.Code != 409 {
		t.Errorf("demote last owner: %d %s", r.Code, r.Body)
	}
	if r := f.call("DELETE", ownerPath, key, ""); r.Code != 409 {
		t.Errorf("remove last owner: %d %s", r.Code, r.Body)
	}
	r = f.call("POST", "/v1/members", key, `{"email":"bo@example.com","role":"developer"}`)
	expect(t, r, 201, "add developer")
	bo := r.JSON(t)
	r = f.call("PATCH", "/v1/members/"+bo["id"].(string), key, `{"role":"owner"}`)
	expect(t, r, 200, "promote")
	if r.JSON(t)["role"] != "owner" {
		t.Errorf("promoted = %s", r.Body)
	}
	expect(t, f.call("DELETE", ownerPath, key, ""), 204, "remove first owner")
	expect(t, f.call("GET", ownerPath, key, ""), 404, "removed member")

	// Pagination over three members, one at a time.
	expect(t, f.call("POST", "/v1/members", key, `{"email":"cy@example.com","role":"viewer"}`), 201, "add viewer")
	expect(t, f.call("POST", "/v1/members", key, `{"email":"di@example.com","role":"admin"}`), 201, "add admin")
	var seen []string
	path := "/v1/members?limit=1"
	for range 5 {
		r := f.call("GET", path, key, "")
		expect(t, r, 200, "page")
		m := r.JSON(t)
		for _, d := range m["data"].([]any) {
			seen = append(seen, d.(map[string]any)["email"].(string))
		}
		if m["hasMore"] != true {
			if m["nextCursor"] != nil {
				t.Errorf("last page has a cursor: %s", r.Body)
			}
			break
		}
		path = "/v1/members?limit=1&cursor=" + m["nextCursor"].(string)
	}
	if strings.Join(seen, " ") != "bo@example.com cy@example.com di@example.com" {
		t.Errorf("paged members = %v", seen)
	}
}
