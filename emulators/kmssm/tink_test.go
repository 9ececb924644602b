package kmssm_test

import (
	"bytes"
	"context"
	"testing"

	kms "cloud.google.com/go/kms/apiv1"
	"github.com/tink-crypto/tink-go-gcpkms/v2/integration/gcpkms"
	"github.com/tink-crypto/tink-go/v2/aead"

	"tokapi.io/tok/shared/gcp"
)

// TestTinkEnvelope proves the emulator sets the CRC32C and Verified* fields that
// tink-go-gcpkms insists on, and that its AAD binding holds through tink's envelope.
func TestTinkEnvelope(t *testing.T) {
	ctx := context.Background()
	addr := startEmulator(t)
	key := newKey(t, newClient(t, addr, kms.NewKeyManagementClient), "r", "tink")

	// NewClientWithOptions would use the REST transport; the emulator speaks gRPC, which is
	// NewClient's default.
	client, err := gcpkms.NewClient(ctx, "gcp-kms://", gcpkms.WithGoogleAPIClientOptions(gcp.EmulatorOptions(addr)...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	remote, err := client.GetAEAD("gcp-kms://" + key)
	if err != nil {
		t.Fatal(err)
	}
	env := aead.NewKMSEnvelopeAEAD2(aead.AES256GCMKeyTemplate(), remote)

	pt, ad := []byte("refresh-token"), []byte("org_1/con_1")
	ct, err := env.Encrypt(pt, ad)
	if err != nil {
		t.Fatal(err)
	}
	got, err := env.Decrypt(ct, ad)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, pt) {
		t.Fatalf("round trip = %q", got)
	}
	if _, err := env.Decrypt(ct, []byte("org_2/con_1")); err == nil {
		t.Fatal("decrypt with wrong associated data succeeded")
	}
	for _, i := range []int{0, 5, len(ct) / 2, len(ct) - 1} {
		bad := bytes.Clone(ct)
		bad[i] ^= 0x01
		if _, err := env.Decrypt(bad, ad); err == nil {
			t.Fatalf("decrypt with byte %d flipped succeeded", i)
		}
	}
}
