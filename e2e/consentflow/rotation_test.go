package consentflow_test

import (
	"testing"
	"time"

	"cloud.google.com/go/kms/apiv1/kmspb"

	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/tokenvault"
)

// TestKeyRotation: after the tokens KMS key rotates, tokens sealed under the old version
// still open (each blob carries its wrapped data key), and the next refresh re-seals them
// under the new primary version, so the old version can be retired connection by connection.
func TestKeyRotation(t *testing.T) {
	f := setup(t)
	org, keys := f.org()
	scope := store.For(f.fs, tenant.Tenant{Env: tenant.Sandbox, OrgID: org.ID})
	consentID, _ := f.connect(keys.SandboxKey, "sandbox-bg", "demo")
	c := f.expect(f.call("GET", "/v1/consents/"+consentID, keys.SandboxKey, ""), 200, "consent")
	cxnID := c["connectionId"].(string)

	v2, err := f.kms.CreateCryptoKeyVersion(f.ctx, &kmspb.CreateCryptoKeyVersionRequest{Parent: f.keyName, CryptoKeyVersion: &kmspb.CryptoKeyVersion{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.kms.UpdateCryptoKeyPrimaryVersion(f.ctx, &kmspb.UpdateCryptoKeyPrimaryVersionRequest{Name: f.keyName, CryptoKeyVersionId: lastSegment(v2.GetName())}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.conns.Session(f.ctx, scope, cxnID, nil); err != nil {
		t.Fatalf("tokens sealed before the rotation: %v", err)
	}
	before, _ := f.conns.Repo.Get(f.ctx, scope, cxnID)
	v := f.withVault(func(tv *tokenvault.Vault) { tv.RefreshBefore = 2 * time.Hour }) // force a refresh, which re-seals
	if _, _, err := v.Session(f.ctx, scope, cxnID, nil); err != nil {
		t.Fatalf("refresh after rotation: %v", err)
	}
	// Retire version 1: the re-sealed tokens do not need it.
	if _, err := f.kms.DestroyCryptoKeyVersion(f.ctx, &kmspb.DestroyCryptoKeyVersionRequest{Name: f.keyName + "/cryptoKeyVersions/1"}); err != nil {
		t.Fatal(err)
	}
	fresh := f.withVault(func(tv *tokenvault.Vault) { tv.Sealer = newSealer(t, f) }) // no cached data keys
	if _, _, err := fresh.Session(f.ctx, scope, cxnID, nil); err != nil {
		t.Fatalf("tokens after version 1 was destroyed: %v", err)
	}
	// The test has teeth: the blob sealed under version 1 no longer opens.
	if _, err := fresh.Vault.Sealer.Open(f.ctx, before.Tokens, connections.AAD(org.ID, cxnID)); err == nil {
		t.Fatal("a blob wrapped by the destroyed version still opens")
	}
}

func lastSegment(name string) string {
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == '/' {
			return name[i+1:]
		}
	}
	return name
}
