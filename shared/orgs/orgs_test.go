package orgs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/apikey"
	"tokapi.io/tok/shared/auth"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/orgs"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/testing/orgstest"
	"tokapi.io/tok/shared/testing/testclock"
	"tokapi.io/tok/shared/testing/testenv"
)

type fixture struct {
	repo   *orgs.Repo
	client *firestore.Client
	pepper []byte
	clock  *testclock.Clock
}

func setup(t *testing.T) fixture {
	t.Helper()
	client := testenv.Firestore(t, testenv.Project(t))
	c := testclock.New(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	pepper := orgstest.Pepper(t)
	return fixture{repo: orgs.New(client, pepper, orgs.WithClock(c.Now)), client: client, pepper: pepper, clock: c}
}

func TestCreateOrg(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	org, pair, err := f.repo.CreateOrg(ctx, "  Bilko d.o.o. ", orgs.TierPro, []string{"https://App.Bilko.io/", "https://app.bilko.io:443", "https://x.example:8443"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(org.ID, "org_") || org.Name != "Bilko d.o.o." || org.Tier != orgs.TierPro {
		t.Errorf("org = %+v", org)
	}
	if got := strings.Join(org.AllowedOrigins, " "); got != "https://app.bilko.io https://x.example:8443" {
		t.Errorf("origins = %q", got)
	}
	if pair.Role != auth.RoleAdmin || pair.CreatedBy != orgs.CreatedByCLI || !strings.HasPrefix(pair.ID, "key_") {
		t.Errorf("first pair = %+v", pair.KeyPair)
	}
	if env, err := apikey.Parse(pair.LiveKey); err != nil || env != "live" {
		t.Errorf("live key %q: %v %v", pair.LiveKey, env, err)
	}
	if env, err := apikey.Parse(pair.SandboxKey); err != nil || env != "sandbox" {
		t.Errorf("sandbox key %q: %v %v", pair.SandboxKey, env, err)
	}
	if pair.LiveKeyMasked != "tok_live_…"+pair.LiveKey[len(pair.LiveKey)-4:] || pair.SandboxKeyMasked != apikey.Mask(pair.SandboxKey) {
		t.Errorf("masks %q %q", pair.LiveKeyMasked, pair.SandboxKeyMasked)
	}
	got, err := f.repo.GetOrg(ctx, org.ID)
	if err != nil || !got.CreatedAt.Equal(org.CreatedAt) || got.Name != org.Name || len(got.AllowedOrigins) != 2 {
		t.Errorf("GetOrg = %+v, %v", got, err)
	}
	for env, key := range map[string]string{"live": pair.LiveKey, "sandbox": pair.SandboxKey} {
		rec, err := f.repo.LookupKey(ctx, apikey.Hash(f.pepper, key))
		if err != nil {
			t.Fatal(err)
		}
		if rec.Env != env || rec.OrgID != org.ID || rec.KeyPairID != pair.ID || rec.Role != auth.RoleAdmin || rec.Revoked || rec.ExpiresAt != nil {
			t.Errorf("%s record = %+v", env, rec)
		}
		k, err := f.repo.Authenticate(ctx, apikey.Hash(f.pepper, key))
		if err != nil || k.Tier != orgs.TierPro || k.Env != env || k.OrgID != org.ID {
			t.Errorf("Authenticate = %+v, %v", k, err)
		}
	}
	// A different pepper finds nothing.
	if _, err := f.repo.LookupKey(ctx, apikey.Hash([]byte("other"), pair.LiveKey)); !errors.Is(err, orgs.ErrNotFound) {
		t.Errorf("other pepper: %v", err)
	}
	if _, err := f.repo.Authenticate(ctx, apikey.Hash([]byte("other"), pair.LiveKey)); !errors.Is(err, auth.ErrUnknownKey) || !errors.Is(err, orgs.ErrNotFound) {
		t.Errorf("Authenticate unknown: %v", err)
	}
	for _, bad := range []string{"", "x/y", strings.Repeat("A", 64), "../" + strings.Repeat("a", 61)} {
		if _, err := f.repo.LookupKey(ctx, bad); !errors.Is(err, orgs.ErrNotFound) {
			t.Errorf("LookupKey(%q) = %v", bad, err)
		}
	}
	if _, err := f.repo.GetOrg(ctx, "org_01ARZ3NDEKTSV4RRFFQ69G5FAV"); !errors.Is(err, orgs.ErrNotFound) {
		t.Errorf("missing org: %v", err)
	}
	if _, err := f.repo.GetOrg(ctx, "orgs/x"); !errors.Is(err, orgs.ErrNotFound) {
		t.Errorf("bad org id: %v", err)
	}
}

func TestCreateOrgValidation(t *testing.T) {
	f := setup(t)
	cases := []struct {
		name, tier string
		origins    []string
		field      string
	}{
		{"", "pro", nil, "name"},
		{"A", "gold", nil, "tier"},
		{"A", "", nil, "tier"},
		{"A", "free", []string{"http://app.example.com"}, "allowedOrigins[0]"},
		{"A", "free", []string{"https://ok.example", "https://app.example.com/callback"}, "allowedOrigins[1]"},
		{"A", "free", []string{"https://app.example.com?x=1"}, "allowedOrigins[0]"},
		{"A", "free", []string{"https://user@app.example.com"}, "allowedOrigins[0]"},
		{"A", "free", []string{"https://"}, "allowedOrigins[0]"},
		{"A", "free", []string{"app.example.com"}, "allowedOrigins[0]"},
		{"A\x00B", "free", nil, "name"},
	}
	for _, c := range cases {
		_, _, err := f.repo.CreateOrg(t.Context(), c.name, c.tier, c.origins)
		var v *orgs.ValidationError
		if !errors.As(err, &v) || v.Field != c.field {
			t.Errorf("CreateOrg(%q, %q, %q) = %v, want a validation error on %s", c.name, c.tier, c.origins, err, c.field)
		}
	}
	if orgsList, err := f.repo.ListOrgs(t.Context()); err != nil || len(orgsList) != 0 {
		t.Errorf("ListOrgs after failures = %v, %v", orgsList, err)
	}
}

func TestListOrgsAndSetTier(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	a, first := orgstest.Org(t, f.repo, orgs.TierFree)
	f.clock.Add(time.Second)
	b, other := orgstest.Org(t, f.repo, orgs.TierPro)
	list, err := f.repo.ListOrgs(ctx)
	if err != nil || len(list) != 2 || list[0].ID != a.ID || list[1].ID != b.ID {
		t.Fatalf("ListOrgs = %+v, %v", list, err)
	}
	second := orgstest.KeyPair(t, f.repo, a.ID, "developer")
	rotated, err := f.repo.RotateKeyPair(ctx, a.ID, second.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	revoked := orgstest.KeyPair(t, f.repo, a.ID, "developer")
	if err := f.repo.RevokeKeyPair(ctx, a.ID, revoked.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.repo.SetTier(ctx, a.ID, orgs.TierEnterprise); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.repo.GetOrg(ctx, a.ID); got.Tier != orgs.TierEnterprise {
		t.Errorf("tier = %q", got.Tier)
	}
	// Every key of the organisation that still works, the rotated pair in its grace period
	// included, authenticates with the new tier from its own record; another
	// organisation's keys keep theirs.
	for key, want := range map[string]string{
		first.LiveKey: orgs.TierEnterprise, first.SandboxKey: orgs.TierEnterprise,
		second.LiveKey: orgs.TierEnterprise, rotated.SandboxKey: orgs.TierEnterprise,
		other.LiveKey: orgs.TierPro,
	} {
		rec, err := f.repo.LookupKey(ctx, apikey.Hash(f.pepper, key))
		if err != nil || rec.Tier != want {
			t.Errorf("record of %s: tier %q, %v; want %q", apikey.Mask(key), rec.Tier, err, want)
		}
		if k, err := f.repo.Authenticate(ctx, apikey.Hash(f.pepper, key)); err != nil || k.Tier != want {
			t.Errorf("Authenticate(%s) = %+v, %v; want tier %q", apikey.Mask(key), k, err, want)
		}
	}
	// A record written before key records carried the tier is authenticated with its
	// organisation's.
	hash := apikey.Hash(f.pepper, first.LiveKey)
	if _, err := f.client.Collection("apiKeys").Doc(hash).Update(ctx, []firestore.Update{{Path: "tier", Value: firestore.Delete}}); err != nil {
		t.Fatal(err)
	}
	if k, err := f.repo.Authenticate(ctx, hash); err != nil || k.Tier != orgs.TierEnterprise {
		t.Errorf("a record without a tier: %+v, %v", k, err)
	}
	var v *orgs.ValidationError
	if err := f.repo.SetTier(ctx, a.ID, "platinum"); !errors.As(err, &v) {
		t.Errorf("bad tier: %v", err)
	}
	if err := f.repo.SetTier(ctx, "org_01ARZ3NDEKTSV4RRFFQ69G5FAV", orgs.TierFree); !errors.Is(err, orgs.ErrNotFound) {
		t.Errorf("missing org: %v", err)
	}
}

func TestKeyPairsListNewestFirst(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	org, first := orgstest.Org(t, f.repo, orgs.TierFree)
	f.clock.Add(time.Minute)
	dev := orgstest.KeyPair(t, f.repo, org.ID, "developer")
	f.clock.Add(time.Minute)
	ro := orgstest.KeyPair(t, f.repo, org.ID, "read_only")
	list, err := f.repo.ListKeyPairs(ctx, org.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range list {
		got = append(got, p.ID)
		if p.LiveHash == "" || p.SandboxHash == "" {
			t.Errorf("pair %s lacks its hashes", p.ID)
		}
	}
	if want := []string{ro.ID, dev.ID, first.ID}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("order = %v, want %v", got, want)
	}
	if list[1].Role != auth.RoleDeveloper || list[0].Role != auth.RoleReadOnly {
		t.Errorf("roles %v %v", list[1].Role, list[0].Role)
	}
	var v *orgs.ValidationError
	if _, err := f.repo.CreateKeyPair(ctx, org.ID, "owner", "tokctl"); !errors.As(err, &v) || v.Field != "role" {
		t.Errorf("bad role: %v", err)
	}
	if _, err := f.repo.CreateKeyPair(ctx, "org_01ARZ3NDEKTSV4RRFFQ69G5FAV", "admin", "tokctl"); !errors.Is(err, orgs.ErrNotFound) {
		t.Errorf("missing org: %v", err)
	}
}

func TestRotateKeyPair(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	org, old := orgstest.Org(t, f.repo, orgs.TierPro)
	f.clock.Add(time.Hour)
	start := f.clock.Now()
	p, err := f.repo.RotateKeyPair(ctx, org.ID, old.ID, 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if p.Role != auth.RoleAdmin || p.Replaces != old.ID || p.ID == old.ID || p.LiveKey == old.LiveKey {
		t.Errorf("new pair = %+v", p.KeyPair)
	}
	wantExp := start.Add(2 * time.Hour)
	if p.ReplacedExpiresAt == nil || !p.ReplacedExpiresAt.Equal(wantExp) {
		t.Errorf("ReplacedExpiresAt = %v", p.ReplacedExpiresAt)
	}
	for _, key := range []string{old.LiveKey, old.SandboxKey} {
		rec, err := f.repo.LookupKey(ctx, apikey.Hash(f.pepper, key))
		if err != nil || rec.ExpiresAt == nil || !rec.ExpiresAt.Equal(wantExp) || rec.Revoked {
			t.Errorf("old record = %+v, %v", rec, err)
		}
	}
	for _, key := range []string{p.LiveKey, p.SandboxKey} {
		rec, err := f.repo.LookupKey(ctx, apikey.Hash(f.pepper, key))
		if err != nil || rec.ExpiresAt != nil || rec.KeyPairID != p.ID || rec.Role != auth.RoleAdmin {
			t.Errorf("new record = %+v, %v", rec, err)
		}
	}
	gotOld, err := f.repo.GetKeyPair(ctx, org.ID, old.ID)
	if err != nil || gotOld.ReplacedBy != p.ID || gotOld.Status(f.clock.Now()) != orgs.StatusExpiring {
		t.Errorf("old pair = %+v, %v", gotOld, err)
	}
	f.clock.Add(2 * time.Hour)
	if s := gotOld.Status(f.clock.Now()); s != orgs.StatusExpired {
		t.Errorf("status after grace = %s", s)
	}
	// A rotated pair cannot be rotated again.
	if _, err := f.repo.RotateKeyPair(ctx, org.ID, old.ID, 0); !errors.Is(err, orgs.ErrConflict) {
		t.Errorf("second rotation: %v", err)
	}
	// Grace bounds.
	var v *orgs.ValidationError
	for _, g := range []time.Duration{-time.Second, orgs.MaxGrace + time.Second} {
		if _, err := f.repo.RotateKeyPair(ctx, org.ID, p.ID, g); !errors.As(err, &v) {
			t.Errorf("grace %v: %v", g, err)
		}
	}
	// Grace 0 ends the old pair at once; 7 days is allowed.
	q, err := f.repo.RotateKeyPair(ctx, org.ID, p.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := f.repo.LookupKey(ctx, apikey.Hash(f.pepper, p.LiveKey))
	if rec.ExpiresAt == nil || rec.ExpiresAt.After(f.clock.Now()) {
		t.Errorf("grace 0: expiresAt %v, now %v", rec.ExpiresAt, f.clock.Now())
	}
	if _, err := f.repo.RotateKeyPair(ctx, org.ID, q.ID, orgs.MaxGrace); err != nil {
		t.Errorf("max grace: %v", err)
	}
}

func TestRevokeKeyPair(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	org, admin := orgstest.Org(t, f.repo, orgs.TierFree)
	dev := orgstest.KeyPair(t, f.repo, org.ID, "developer")
	if err := f.repo.RevokeKeyPair(ctx, org.ID, dev.ID); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{dev.LiveKey, dev.SandboxKey} {
		k, err := f.repo.Authenticate(ctx, apikey.Hash(f.pepper, key))
		if err != nil || !k.Revoked {
			t.Errorf("revoked key = %+v, %v", k, err)
		}
	}
	p, _ := f.repo.GetKeyPair(ctx, org.ID, dev.ID)
	if p.RevokedAt == nil || !p.RevokedAt.Equal(f.clock.Now()) || p.Status(f.clock.Now()) != orgs.StatusRevoked {
		t.Errorf("revoked pair = %+v", p)
	}
	// Idempotent; the other pair is untouched; a revoked pair cannot be rotated.
	if err := f.repo.RevokeKeyPair(ctx, org.ID, dev.ID); err != nil {
		t.Errorf("second revoke: %v", err)
	}
	if rec, _ := f.repo.LookupKey(ctx, apikey.Hash(f.pepper, admin.LiveKey)); rec.Revoked {
		t.Error("admin pair revoked too")
	}
	if _, err := f.repo.RotateKeyPair(ctx, org.ID, dev.ID, time.Hour); !errors.Is(err, orgs.ErrConflict) {
		t.Errorf("rotate revoked: %v", err)
	}
	// Revoking during a rotation's grace period ends the old pair at once too.
	n, err := f.repo.RotateKeyPair(ctx, org.ID, admin.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.repo.RevokeKeyPair(ctx, org.ID, admin.ID); err != nil {
		t.Fatal(err)
	}
	if rec, _ := f.repo.LookupKey(ctx, apikey.Hash(f.pepper, admin.SandboxKey)); !rec.Revoked {
		t.Error("rotated pair not revoked")
	}
	if rec, _ := f.repo.LookupKey(ctx, apikey.Hash(f.pepper, n.LiveKey)); rec.Revoked {
		t.Error("replacement revoked")
	}
}

func TestOtherOrganisationIsNotFound(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	a, aPair := orgstest.Org(t, f.repo, orgs.TierFree)
	b, _ := orgstest.Org(t, f.repo, orgs.TierFree)
	m := orgstest.Member(t, f.repo, a.ID, "ana@example.com", orgs.MemberAdmin)
	checks := map[string]error{}
	_, checks["GetKeyPair"] = f.repo.GetKeyPair(ctx, b.ID, aPair.ID)
	_, checks["RotateKeyPair"] = f.repo.RotateKeyPair(ctx, b.ID, aPair.ID, time.Hour)
	checks["RevokeKeyPair"] = f.repo.RevokeKeyPair(ctx, b.ID, aPair.ID)
	_, checks["GetMember"] = f.repo.GetMember(ctx, b.ID, m.ID)
	_, checks["UpdateMember"] = f.repo.UpdateMember(ctx, b.ID, m.ID, orgs.MemberViewer)
	checks["RemoveMember"] = f.repo.RemoveMember(ctx, b.ID, m.ID)
	for name, err := range checks {
		if !errors.Is(err, orgs.ErrNotFound) {
			t.Errorf("%s across organisations = %v, want ErrNotFound", name, err)
		}
	}
	if list, _ := f.repo.ListKeyPairs(ctx, b.ID); len(list) != 1 || list[0].ID == aPair.ID {
		t.Errorf("b's key pairs = %+v", list)
	}
	if list, _ := f.repo.ListMembers(ctx, b.ID); len(list) != 0 {
		t.Errorf("b's members = %+v", list)
	}
	// Nothing of a's changed.
	if rec, _ := f.repo.LookupKey(ctx, apikey.Hash(f.pepper, aPair.LiveKey)); rec.Revoked || rec.ExpiresAt != nil {
		t.Errorf("a's key changed: %+v", rec)
	}
	if got, _ := f.repo.GetMember(ctx, a.ID, m.ID); got.Role != orgs.MemberAdmin {
		t.Errorf("a's member changed: %+v", got)
	}
}

func TestMembers(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	org, _ := orgstest.Org(t, f.repo, orgs.TierFree)
	owner := orgstest.Member(t, f.repo, org.ID, "Ana@Example.com", orgs.MemberOwner)
	if owner.Email != "Ana@Example.com" || !strings.HasPrefix(owner.ID, "mem_") || owner.Role != orgs.MemberOwner {
		t.Errorf("owner = %+v", owner)
	}
	if _, err := f.repo.AddMember(ctx, org.ID, "ana@EXAMPLE.com", orgs.MemberViewer); !errors.Is(err, orgs.ErrConflict) {
		t.Errorf("duplicate email: %v", err)
	}
	// Another organisation may use the same email.
	other, _ := orgstest.Org(t, f.repo, orgs.TierFree)
	if _, err := f.repo.AddMember(ctx, other.ID, "ana@example.com", orgs.MemberOwner); err != nil {
		t.Errorf("same email elsewhere: %v", err)
	}
	var v *orgs.ValidationError
	for _, bad := range []string{"", "ana", "Ana <ana@example.com>", "ana@localhost", "a b@example.com", " ana@example.com"} {
		if _, err := f.repo.AddMember(ctx, org.ID, bad, orgs.MemberViewer); !errors.As(err, &v) || v.Field != "email" {
			t.Errorf("email %q: %v", bad, err)
		}
	}
	if _, err := f.repo.AddMember(ctx, org.ID, "bo@example.com", "superuser"); !errors.As(err, &v) || v.Field != "role" {
		t.Errorf("bad role: %v", err)
	}
	// The last owner can be neither demoted nor removed.
	if _, err := f.repo.UpdateMember(ctx, org.ID, owner.ID, orgs.MemberAdmin); !errors.Is(err, orgs.ErrConflict) {
		t.Errorf("demote last owner: %v", err)
	}
	if err := f.repo.RemoveMember(ctx, org.ID, owner.ID); !errors.Is(err, orgs.ErrConflict) {
		t.Errorf("remove last owner: %v", err)
	}
	f.clock.Add(time.Second)
	bo := orgstest.Member(t, f.repo, org.ID, "bo@example.com", orgs.MemberDeveloper)
	f.clock.Add(time.Second)
	bo, err := f.repo.UpdateMember(ctx, org.ID, bo.ID, orgs.MemberOwner)
	if err != nil || bo.Role != orgs.MemberOwner || !bo.UpdatedAt.After(bo.CreatedAt) {
		t.Fatalf("promote = %+v, %v", bo, err)
	}
	if _, err := f.repo.UpdateMember(ctx, org.ID, bo.ID, "root"); !errors.As(err, &v) {
		t.Errorf("bad role update: %v", err)
	}
	// With two owners, one may go; then the other is the last.
	if err := f.repo.RemoveMember(ctx, org.ID, owner.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.repo.UpdateMember(ctx, org.ID, bo.ID, orgs.MemberViewer); !errors.Is(err, orgs.ErrConflict) {
		t.Errorf("demote new last owner: %v", err)
	}
	if _, err := f.repo.GetMember(ctx, org.ID, owner.ID); !errors.Is(err, orgs.ErrNotFound) {
		t.Errorf("removed member: %v", err)
	}
	// The removed member's email is free again.
	again, err := f.repo.AddMember(ctx, org.ID, "ana@example.com", orgs.MemberViewer)
	if err != nil {
		t.Fatalf("re-add: %v", err)
	}
	list, err := f.repo.ListMembers(ctx, org.ID)
	if err != nil || len(list) != 2 || list[0].ID != bo.ID || list[1].ID != again.ID {
		t.Errorf("ListMembers = %+v, %v", list, err)
	}
	if err := f.repo.RemoveMember(ctx, org.ID, again.ID); err != nil {
		t.Errorf("remove viewer: %v", err)
	}
}

// TestConcurrentOwnerRemoval: two owners removed at once must not leave none.
func TestConcurrentOwnerRemoval(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	org, _ := orgstest.Org(t, f.repo, orgs.TierFree)
	a, _ := f.repo.AddMember(ctx, org.ID, "a@example.com", orgs.MemberOwner)
	b, _ := f.repo.AddMember(ctx, org.ID, "b@example.com", orgs.MemberOwner)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, id := range []string{a.ID, b.ID} {
		wg.Go(func() { errs[i] = f.repo.RemoveMember(ctx, org.ID, id) })
	}
	wg.Wait()
	list, err := f.repo.ListMembers(ctx, org.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Role != orgs.MemberOwner {
		t.Errorf("after concurrent removal: %+v (errors %v)", list, errs)
	}
}

// TestKeysNeverStored walks every document of the project and looks for the keys.
func TestKeysNeverStored(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	org, p1 := orgstest.Org(t, f.repo, orgs.TierPro)
	p2 := orgstest.KeyPair(t, f.repo, org.ID, "developer")
	p3, err := f.repo.RotateKeyPair(ctx, org.ID, p2.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.repo.AddMember(ctx, org.ID, "ana@example.com", orgs.MemberOwner); err != nil {
		t.Fatal(err)
	}
	var secrets []string
	for _, p := range []orgs.NewKeyPair{p1, p2, p3} {
		for _, k := range []string{p.LiveKey, p.SandboxKey} {
			secrets = append(secrets, k, k[strings.LastIndexByte(k, '_')+1:])
		}
	}
	docs := 0
	var walk func(cols *firestore.CollectionIterator)
	walk = func(cols *firestore.CollectionIterator) {
		all, err := cols.GetAll()
		if err != nil {
			t.Fatal(err)
		}
		for _, col := range all {
			snaps, err := col.Documents(ctx).GetAll()
			if err != nil {
				t.Fatal(err)
			}
			refs, err := col.DocumentRefs(ctx).GetAll()
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range snaps {
				docs++
				b, _ := json.Marshal(s.Data())
				text := s.Ref.Path + " " + string(b) + fmt.Sprint(s.Data())
				for _, sec := range secrets {
					if strings.Contains(text, sec) {
						t.Errorf("document %s holds an API key", s.Ref.Path)
					}
				}
			}
			for _, r := range refs {
				walk(r.Collections(ctx))
			}
		}
	}
	walk(f.client.Collections(ctx))
	// org, 3 pairs, 6 key records, member, email claim.
	if docs < 12 {
		t.Errorf("walked only %d documents", docs)
	}
}

// TestSandboxCallerChangesNothing: every write of the repository, made on behalf of a
// sandbox key, is refused with 403 before anything is written; the same calls on behalf
// of the live key of the same pair succeed.
func TestSandboxCallerChangesNothing(t *testing.T) {
	f := setup(t)
	org, admin := orgstest.Org(t, f.repo, orgs.TierPro)
	owner := orgstest.Member(t, f.repo, org.ID, "owner@example.com", orgs.MemberOwner)
	other := orgstest.KeyPair(t, f.repo, org.ID, "read_only")
	as := func(env string) context.Context {
		return auth.WithCaller(t.Context(), auth.Caller{Tenant: tenant.Tenant{Env: env, OrgID: org.ID}, KeyPairID: admin.ID, Role: auth.RoleAdmin})
	}
	writes := map[string]func(ctx context.Context) error{
		"CreateOrg": func(ctx context.Context) error {
			_, _, err := f.repo.CreateOrg(ctx, "X", orgs.TierFree, nil)
			return err
		},
		"SetTier": func(ctx context.Context) error { return f.repo.SetTier(ctx, org.ID, orgs.TierEnterprise) },
		"CreateKeyPair": func(ctx context.Context) error {
			_, err := f.repo.CreateKeyPair(ctx, org.ID, "admin", admin.ID)
			return err
		},
		"RotateKeyPair": func(ctx context.Context) error {
			_, err := f.repo.RotateKeyPair(ctx, org.ID, other.ID, time.Hour)
			return err
		},
		"AddMember": func(ctx context.Context) error {
			_, err := f.repo.AddMember(ctx, org.ID, "eve@example.com", orgs.MemberOwner)
			return err
		},
		"UpdateMember": func(ctx context.Context) error {
			_, err := f.repo.UpdateMember(ctx, org.ID, owner.ID, orgs.MemberOwner)
			return err
		},
		"RevokeKeyPair": func(ctx context.Context) error { return f.repo.RevokeKeyPair(ctx, org.ID, other.ID) },
		"UpdateSettings": func(ctx context.Context) error {
			origins := []string{"https://elsewhere.example.com"}
			_, err := f.repo.UpdateSettings(ctx, org.ID, orgs.SettingsPatch{AllowedOrigins: &origins})
			return err
		},
	}
	for name, write := range writes {
		err := write(as(tenant.Sandbox))
		var apiErr *httpapi.Error
		if !errors.As(err, &apiErr) || apiErr.Status != 403 || apiErr.Code != httpapi.CodeForbidden {
			t.Errorf("%s with a sandbox caller: %v, want 403 FORBIDDEN", name, err)
		}
	}
	got, err := f.repo.GetOrg(t.Context(), org.ID)
	if err != nil || got.Tier != orgs.TierPro || fmt.Sprint(got.AllowedOrigins) != "[https://app.example.com]" {
		t.Errorf("tier after refused writes: %+v %v", got, err)
	}
	if pairs, _ := f.repo.ListKeyPairs(t.Context(), org.ID); len(pairs) != 2 {
		t.Errorf("%d key pairs after refused writes, want 2", len(pairs))
	}
	if p, _ := f.repo.GetKeyPair(t.Context(), org.ID, other.ID); p.RevokedAt != nil || p.ReplacedBy != "" {
		t.Errorf("pair changed by refused writes: %+v", p)
	}
	if ms, _ := f.repo.ListMembers(t.Context(), org.ID); len(ms) != 1 {
		t.Errorf("%d members after refused writes, want 1", len(ms))
	}
	for _, name := range []string{"SetTier", "AddMember", "UpdateMember", "RotateKeyPair", "RevokeKeyPair", "UpdateSettings"} {
		if err := writes[name](as(tenant.Live)); err != nil {
			t.Errorf("%s with a live caller: %v", name, err)
		}
	}
}

// TestCheckEmail holds member emails to the spec's format email and maxLength 254.
func TestCheckEmail(t *testing.T) {
	label63 := strings.Repeat("d", 63)
	for _, good := range []string{
		"ana@example.com", "Ana.Marija+tok@mail.example.co.uk", "o'brien@example.ie", "x_y-z@sub-domain.example",
		strings.Repeat("l", 64) + "@example.com", "a@" + label63 + "." + label63 + "." + label63 + ".com",
		"a@xn--80ak6aa92e.com",
	} {
		if err := orgs.CheckEmail(good); err != nil {
			t.Errorf("%q refused: %v", good, err)
		}
	}
	for _, bad := range []string{
		"", "ana", "@example.com", "ana@", "ana@@example.com", "ana@b@example.com",
		" ana@example.com", "ana@example.com ", "ana@example.com\r\nBcc: x@example.com", "ana\x00@example.com",
		"Ana <ana@example.com>", "ana@example.com (Ana)", `"ana maria"@example.com`, "ana@[192.0.2.1]",
		".ana@example.com", "ana.@example.com", "an..a@example.com", "ana@example..com", "ana@.example.com",
		"ana@example.com.", "ana@-example.com", "ana@example-.com", "ana@exa_mple.com", "ana@localhost",
		"ana@example.123", "ana@192.0.2.1", "ana@bücher.example", "jöran@example.com", "ana@exam ple.com",
		strings.Repeat("l", 65) + "@example.com", "a@" + strings.Repeat("d", 64) + ".com",
		strings.Repeat("a", 64) + "@" + strings.Repeat(label63+".", 3) + "com", // 255 characters
	} {
		var v *orgs.ValidationError
		if err := orgs.CheckEmail(bad); !errors.As(err, &v) || v.Field != "email" {
			t.Errorf("%q accepted: %v", bad, err)
		}
	}
}
