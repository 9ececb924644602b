package envelope

import (
	"context"
	"sync/atomic"
	"testing"

	kms "cloud.google.com/go/kms/apiv1"
	"cloud.google.com/go/kms/apiv1/kmspb"

	"tokapi.io/tok/emulators/kmssm"
	"tokapi.io/tok/shared/gcp"
)

// emulatedKMS starts the kmssm emulator with one key and returns an official client and the key.
func emulatedKMS(tb testing.TB) (*kms.KeyManagementClient, string) {
	tb.Helper()
	ctx := context.Background()
	r, err := kmssm.Start("127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(r.Stop)
	c, err := kms.NewKeyManagementClient(ctx, gcp.EmulatorOptions(r.Addr())...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	ring, err := c.CreateKeyRing(ctx, &kmspb.CreateKeyRingRequest{Parent: "projects/p/locations/global", KeyRingId: "tok"})
	if err != nil {
		tb.Fatal(err)
	}
	return c, newCryptoKey(tb, c, ring.GetName(), "bank-tokens")
}

func newCryptoKey(tb testing.TB, c *kms.KeyManagementClient, ring, id string) string {
	tb.Helper()
	k, err := c.CreateCryptoKey(context.Background(), &kmspb.CreateCryptoKeyRequest{
		Parent: ring, CryptoKeyId: id, CryptoKey: &kmspb.CryptoKey{Purpose: kmspb.CryptoKey_ENCRYPT_DECRYPT},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return k.GetName()
}

// counting counts the unwrap calls that reach the key manager.
type counting struct {
	KeyManager
	decrypts atomic.Int64
}

func (c *counting) Decrypt(ctx context.Context, keyName string, ciphertext, aad []byte) ([]byte, error) {
	c.decrypts.Add(1)
	return c.KeyManager.Decrypt(ctx, keyName, ciphertext, aad)
}
