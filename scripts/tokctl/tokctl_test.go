package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"tokapi.io/tok/shared/apikey"
	"tokapi.io/tok/shared/orgs"
	"tokapi.io/tok/shared/testing/orgstest"
	"tokapi.io/tok/shared/testing/testenv"
)

type result struct {
	code           int
	stdout, stderr string
}

func newCLI(t *testing.T) (*cli, *orgs.Repo, []byte) {
	t.Helper()
	fs := testenv.Firestore(t, testenv.Project(t))
	pepper := orgstest.Pepper(t)
	repo := orgs.New(fs, pepper)
	return &cli{connect: func(context.Context) (*orgs.Repo, func(), error) { return repo, func() {}, nil }}, repo, pepper
}

func (c *cli) exec(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := c.run(t.Context(), args, &out, &errb)
	return result{code, out.String(), errb.String()}
}

func TestOrgCreateJSON(t *testing.T) {
	c, repo, pepper := newCLI(t)
	r := c.exec(t, "org", "create", "--name", "Bilko", "--tier", "pro", "--origin", "https://app.bilko.io", "--json")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	var m map[string]string
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("stdout is not one JSON object: %v: %q", err, r.stdout)
	}
	if dec.More() || len(m) != 3 || m["organisationId"] == "" || m["liveKey"] == "" || m["sandboxKey"] == "" {
		t.Fatalf("stdout = %q", r.stdout)
	}
	org, err := repo.GetOrg(t.Context(), m["organisationId"])
	if err != nil || org.Tier != "pro" || org.Name != "Bilko" || len(org.AllowedOrigins) != 1 {
		t.Errorf("org = %+v, %v", org, err)
	}
	for _, k := range []string{m["liveKey"], m["sandboxKey"]} {
		rec, err := repo.LookupKey(t.Context(), apikey.Hash(pepper, k))
		if err != nil || rec.Role != "admin" || rec.OrgID != org.ID {
			t.Errorf("key record = %+v, %v", rec, err)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	connected := false
	c := &cli{connect: func(context.Context) (*orgs.Repo, func(), error) {
		connected = true
		return nil, nil, errors.New("no connection in this test")
	}}
	cases := []struct {
		args []string
		msg  string
	}{
		{nil, "usage: tokctl"},
		{[]string{"org"}, `unknown command "org"`},
		{[]string{"org", "destroy"}, `unknown command "org destroy"`},
		{[]string{"org", "create", "--name", "X", "--tier", "gold"}, "invalid --tier: must be one of free, pro, enterprise"},
		{[]string{"org", "create", "--tier", "pro"}, "needs --name"},
		{[]string{"org", "create", "--name", "X", "--tier", "pro", "--origin", "http://x.example"}, "invalid --origin"},
		{[]string{"org", "create", "--name", "X", "--tier", "pro", "extra"}, "takes no arguments"},
		{[]string{"org", "create", "--bogus"}, "flag provided but not defined"},
		{[]string{"org", "set-tier", "org_X"}, "needs ORG TIER"},
		{[]string{"org", "set-tier", "org_X", "gold"}, "invalid --tier"},
		{[]string{"key", "create", "org_X"}, "needs --role"},
		{[]string{"key", "create", "org_X", "--role", "owner"}, "invalid --role"},
		{[]string{"key", "rotate", "org_X", "key_Y", "--grace", "8d"}, "invalid --grace"},
		{[]string{"key", "rotate", "org_X", "key_Y", "--grace", "soon"}, "is not a duration"},
		{[]string{"key", "revoke", "org_X"}, "needs ORG KEYPAIR"},
		{[]string{"member", "add", "org_X", "--email", "nope", "--role", "viewer"}, "invalid --email"},
		{[]string{"member", "add", "org_X", "--email", "a@example.com", "--role", "boss"}, "invalid --role"},
		{[]string{"member", "remove", "org_X"}, "needs ORG MEMBER"},
	}
	for _, tc := range cases {
		r := c.exec(t, tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.msg) || r.stdout != "" {
			t.Errorf("tokctl %v: exit %d, stderr %q; want exit 2 with %q", tc.args, r.code, r.stderr, tc.msg)
		}
	}
	if connected {
		t.Error("bad usage connected to Firestore")
	}
	if r := c.exec(t, "org", "list"); r.code != 1 || !strings.Contains(r.stderr, "no connection in this test") {
		t.Errorf("connection failure: %+v", r)
	}
	if r := c.exec(t, "help"); r.code != 0 || !strings.Contains(r.stderr, "usage:") {
		t.Errorf("help: %+v", r)
	}
}

var idRE = regexp.MustCompile(`(org|key|mem)_[0-9A-Z]{26}`)

func TestCommands(t *testing.T) {
	c, repo, pepper := newCLI(t)
	ctx := t.Context()
	r := c.exec(t, "org", "create", "--name", "Acme", "--tier", "free")
	if r.code != 0 || !strings.Contains(r.stdout, "tok_live_") || !strings.Contains(r.stdout, "tok_sandbox_") {
		t.Fatalf("org create: %+v", r)
	}
	orgID := idRE.FindString(r.stdout)

	r = c.exec(t, "org", "list")
	if r.code != 0 || !strings.Contains(r.stdout, orgID) || !strings.Contains(r.stdout, "Acme") {
		t.Errorf("org list: %+v", r)
	}
	if r = c.exec(t, "org", "set-tier", orgID, "enterprise"); r.code != 0 {
		t.Errorf("set-tier: %+v", r)
	}
	if o, _ := repo.GetOrg(ctx, orgID); o.Tier != "enterprise" {
		t.Errorf("tier = %s", o.Tier)
	}
	if r = c.exec(t, "org", "set-tier", "org_01ARZ3NDEKTSV4RRFFQ69G5FAV", "pro"); r.code != 1 || !strings.Contains(r.stderr, "not found") {
		t.Errorf("set-tier of a missing org: %+v", r)
	}

	// Members, and a key on behalf of one.
	r = c.exec(t, "member", "add", orgID, "--email", "viv@example.com", "--role", "viewer")
	if r.code != 0 {
		t.Fatalf("member add: %+v", r)
	}
	viewer := idRE.FindString(r.stdout)
	if r = c.exec(t, "member", "add", orgID, "--email", "VIV@example.com", "--role", "owner"); r.code != 1 || !strings.Contains(r.stderr, "already exists") {
		t.Errorf("duplicate member: %+v", r)
	}
	if r = c.exec(t, "key", "create", orgID, "--role", "developer", "--member", viewer); r.code != 1 || !strings.Contains(r.stderr, "at most the role read_only") {
		t.Errorf("key above the member's role: %+v", r)
	}
	r = c.exec(t, "key", "create", orgID, "--role", "read_only", "--member", viewer, "--json")
	var created struct{ ID, Role, LiveKey, SandboxKey string }
	if err := json.Unmarshal([]byte(r.stdout), &created); r.code != 0 || err != nil || created.Role != "read_only" {
		t.Fatalf("key create: %+v %v", r, err)
	}
	if p, _ := repo.GetKeyPair(ctx, orgID, created.ID); p.CreatedBy != viewer {
		t.Errorf("createdBy = %q", p.CreatedBy)
	}

	// Rotate with a grace period, then revoke.
	r = c.exec(t, "key", "rotate", orgID, created.ID, "--grace", "2d", "--json")
	var rotated struct{ ID, Replaces, LiveKey string }
	if err := json.Unmarshal([]byte(r.stdout), &rotated); r.code != 0 || err != nil || rotated.Replaces != created.ID {
		t.Fatalf("key rotate: %+v %v", r, err)
	}
	rec, _ := repo.LookupKey(ctx, apikey.Hash(pepper, created.LiveKey))
	if rec.ExpiresAt == nil || time.Until(*rec.ExpiresAt) < 47*time.Hour {
		t.Errorf("old key expires %v", rec.ExpiresAt)
	}
	if r = c.exec(t, "key", "rotate", orgID, created.ID); r.code != 1 || !strings.Contains(r.stderr, "already rotated") {
		t.Errorf("second rotation: %+v", r)
	}
	if r = c.exec(t, "key", "revoke", orgID, rotated.ID); r.code != 0 {
		t.Errorf("key revoke: %+v", r)
	}
	if rec, _ := repo.LookupKey(ctx, apikey.Hash(pepper, rotated.LiveKey)); !rec.Revoked {
		t.Error("revoked key not revoked")
	}
	r = c.exec(t, "key", "list", orgID)
	if r.code != 0 || !strings.Contains(r.stdout, "revoked") || !strings.Contains(r.stdout, "expiring") || strings.Contains(r.stdout, rotated.LiveKey) {
		t.Errorf("key list: %+v", r)
	}

	// The last owner cannot be removed; a viewer can.
	r = c.exec(t, "member", "add", orgID, "--email", "own@example.com", "--role", "owner", "--json")
	var owner orgs.Member
	if err := json.Unmarshal([]byte(r.stdout), &owner); r.code != 0 || err != nil {
		t.Fatalf("add owner: %+v", r)
	}
	if r = c.exec(t, "member", "remove", orgID, owner.ID); r.code != 1 || !strings.Contains(r.stderr, "last owner") {
		t.Errorf("remove last owner: %+v", r)
	}
	if r = c.exec(t, "member", "remove", orgID, viewer); r.code != 0 {
		t.Errorf("remove viewer: %+v", r)
	}
	if r = c.exec(t, "member", "list", orgID); r.code != 0 || strings.Contains(r.stdout, viewer) || !strings.Contains(r.stdout, owner.ID) {
		t.Errorf("member list: %+v", r)
	}
	if r = c.exec(t, "member", "remove", orgID, viewer); r.code != 1 || !strings.Contains(r.stderr, "not found") {
		t.Errorf("remove twice: %+v", r)
	}
}

// TestConnect runs tokctl as a user does: the project from the environment, the pepper from
// the Secret Manager emulator; a key it creates hashes with that pepper.
func TestConnect(t *testing.T) {
	project := testenv.Project(t)
	pepper := orgstest.PepperSecret(t, project)
	t.Setenv("GOOGLE_CLOUD_PROJECT", project)
	c := &cli{connect: connect}
	defer c.close()
	r := c.exec(t, "org", "create", "--name", "Env Ltd", "--tier", "free", "--json")
	if r.code != 0 {
		t.Fatalf("org create: %+v", r)
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		t.Fatal(err)
	}
	rec, err := orgs.New(testenv.Firestore(t, project), nil).LookupKey(t.Context(), apikey.Hash(pepper, m["liveKey"]))
	if err != nil || rec.OrgID != m["organisationId"] {
		t.Errorf("key record = %+v, %v", rec, err)
	}
}

func TestParseEnv(t *testing.T) {
	in := "# comment\n\nA=1\nexport B = \"two words\"\nC='3'\nnot a var\nD=x=y\n"
	var got []string
	for kv := range parseEnv(bufio.NewScanner(strings.NewReader(in))) {
		got = append(got, kv[0]+"|"+kv[1])
	}
	if strings.Join(got, ";") != "A|1;B|two words;C|3;D|x=y" {
		t.Errorf("parseEnv = %q", got)
	}
}

func TestParseGrace(t *testing.T) {
	for in, want := range map[string]time.Duration{"0": 0, "90m": 90 * time.Minute, "2d": 48 * time.Hour, "24h": 24 * time.Hour} {
		if got, err := parseGrace(in); err != nil || got != want {
			t.Errorf("parseGrace(%q) = %v, %v", in, got, err)
		}
	}
}
