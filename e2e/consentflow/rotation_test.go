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
	f, org, keys := setup(t)
	scope := store.For(f.FS, tenant.Tenant{Env: tenant.Sandbox, OrgID: org.ID})
	consentID, _ := f.connect(keys.SandboxKey, "sandbox-bg", "demo")
	c := f.Expect(f.Call("GET", "/v1/consents/"+consentID, keys.SandboxKey, ""), 200, "consent")
	cxnID := c["connectionId"].(string)

	v2, err := f.KMS.CreateCryptoKeyVersion(f.Ctx, &kmspb.CreateCryptoKeyVersionRequest{Parent: f.KeyName, CryptoKeyVersion: &kmspb.CryptoKeyVersion{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.KMS.UpdateCryptoKeyPrimaryVersion(f.Ctx, &kmspb.UpdateCryptoKeyPrimaryVersionRequest{Name: f.KeyName, CryptoKeyVersionId: lastSegment(v2.GetName())}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.Conns.Session(f.Ctx, scope, cxnID, nil); err != nil {
		t.Fatalf("tokens sealed before the rotation: %v", err)
	}
	before, _ := f.Conns.Repo.Get(f.Ctx, scope, cxnID)
	v := f.withVault(func(tv *tokenvault.Vault) { tv.RefreshBefore = 2 * time.Hour }) // force a refresh, which re-seals
	if _, _, err := v.Session(f.Ctx, scope, cxnID, nil); err != nil {
		t.Fatalf("refresh after rotation: %v", err)
	}
	// Retire version 1: the re-sealed tokens do not need it.
	if _, err := f.KMS.DestroyCryptoKeyVersion(f.Ctx, &kmspb.DestroyCryptoKeyVersionRequest{Name: f.KeyName + "/cryptoKeyVersions/1"}); err != nil {
		t.Fatal(err)
	}
	fresh := f.withVault(func(tv *tokenvault.Vault) { tv.Sealer = newSealer(t, f) }) // no cached data keys
	if _, _, err := fresh.Session(f.Ctx, scope, cxnID, nil); err != nil {
		t.Fatalf("tokens after version 1 was destroyed: %v", err)
	}
	// The test has teeth: the blob sealed under version 1 no longer opens.
	if _, err := fresh.Vault.Sealer.Open(f.Ctx, before.Tokens, connections.AAD(org.ID, cxnID)); err == nil {
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
