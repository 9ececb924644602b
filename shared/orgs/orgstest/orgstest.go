// Package orgstest creates organisations for other packages' tests. Only tests import it.
package orgstest

import (
	"crypto/rand"
	"testing"

	"tokapi.io/tok/shared/orgs"
)

// Pepper returns a fresh random pepper for a test's orgs.Repo.
func Pepper(t testing.TB) []byte {
	t.Helper()
	p := make([]byte, 32)
	_, _ = rand.Read(p) // crypto/rand.Read never fails
	return p
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
