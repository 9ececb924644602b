// Package orgstest creates organisations for other packages' tests. Only tests import it.
package orgstest

import (
	"testing"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"

	"tokapi.io/tok/shared/gcp"
	"tokapi.io/tok/shared/orgs"
	"tokapi.io/tok/shared/platform"
	"tokapi.io/tok/shared/random"
	"tokapi.io/tok/shared/testing/testenv"
)

// Pepper returns a fresh random pepper for a test's orgs.Repo.
func Pepper(t testing.TB) []byte {
	t.Helper()
	return random.Bytes(32)
}

// Org creates an organisation on tier with its first key pair (role admin) and returns
// both; the pair's LiveKey and SandboxKey authenticate as that organisation.
func Org(t testing.TB, repo *orgs.Repo, tier string) (orgs.Org, orgs.NewKeyPair) {
	t.Helper()
	org, pair, err := repo.CreateOrg(t.Context(), "Test "+tier+" organisation", tier, []string{"https://app.example.com"})
	if err != nil {
		t.Fatalf("orgstest: create organisation: %v", err)
	}
	return org, pair
}

// KeyPair creates another key pair with role in org.
func KeyPair(t testing.TB, repo *orgs.Repo, orgID, role string) orgs.NewKeyPair {
	t.Helper()
	p, err := repo.CreateKeyPair(t.Context(), orgID, role, orgs.CreatedByCLI)
	if err != nil {
		t.Fatalf("orgstest: create key pair: %v", err)
	}
	return p
}

// Member adds a member with email and role to org.
func Member(t testing.TB, repo *orgs.Repo, orgID, email, role string) orgs.Member {
	t.Helper()
	m, err := repo.AddMember(t.Context(), orgID, email, role)
	if err != nil {
		t.Fatalf("orgstest: add member: %v", err)
	}
	return m
}

// PepperSecret creates the Secret Manager secret api-key-pepper in project on the
// emulator with a fresh random pepper and returns the pepper, for tests that run functions
// through platform.LazyHTTP (whose authentication reads the pepper from there).
func PepperSecret(t testing.TB, project string) []byte {
	t.Helper()
	ctx := t.Context()
	sc, err := secretmanager.NewClient(ctx, gcp.EmulatorOptions(testenv.SecretManagerEndpoint(t))...)
	if err != nil {
		t.Fatalf("orgstest: secret manager client: %v", err)
	}
	defer func() { _ = sc.Close() }()
	secret, err := sc.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{
		Parent: "projects/" + project, SecretId: platform.PepperSecret,
		Secret: &secretmanagerpb.Secret{Replication: &secretmanagerpb.Replication{Replication: &secretmanagerpb.Replication_Automatic_{Automatic: &secretmanagerpb.Replication_Automatic{}}}},
	})
	if err != nil {
		t.Fatalf("orgstest: create pepper secret: %v", err)
	}
	pepper := Pepper(t)
	if _, err := sc.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{
		Parent: secret.GetName(), Payload: &secretmanagerpb.SecretPayload{Data: pepper},
	}); err != nil {
		t.Fatalf("orgstest: add pepper version: %v", err)
	}
	return pepper
}
