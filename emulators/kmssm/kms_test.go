package kmssm_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	kms "cloud.google.com/go/kms/apiv1"
	"cloud.google.com/go/kms/apiv1/kmspb"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"tokapi.io/tok/emulators/kmssm"
	"tokapi.io/tok/shared/gcp"
)

const ringParent = "projects/p1/locations/global"

func startEmulator(t *testing.T) string {
	t.Helper()
	r, err := kmssm.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	return r.Addr()
}

// newClient makes a client of the emulator at addr with newC, closed when the test ends.
func newClient[C interface{ Close() error }](t *testing.T, addr string, newC func(context.Context, ...option.ClientOption) (C, error)) C {
	t.Helper()
	c, err := newC(context.Background(), gcp.EmulatorOptions(addr)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// newKey creates ring r and key k and returns the key's name.
func newKey(t *testing.T, c *kms.KeyManagementClient, ring, key string) string {
	t.Helper()
	ctx := context.Background()
	if _, err := c.CreateKeyRing(ctx, &kmspb.CreateKeyRingRequest{Parent: ringParent, KeyRingId: ring}); err != nil &&
		status.Code(err) != codes.AlreadyExists {
		t.Fatal(err)
	}
	k, err := c.CreateCryptoKey(ctx, &kmspb.CreateCryptoKeyRequest{
		Parent:      ringParent + "/keyRings/" + ring,
		CryptoKeyId: key,
		CryptoKey:   &kmspb.CryptoKey{Purpose: kmspb.CryptoKey_ENCRYPT_DECRYPT},
	})
	if err != nil {
		t.Fatal(err)
	}
	return k.GetName()
}

func wantCode(t *testing.T, err error, want codes.Code) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Fatalf("got code %v (err %v), want %v", got, err, want)
	}
}

func TestKeyResources(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, startEmulator(t), kms.NewKeyManagementClient)

	ring, err := c.CreateKeyRing(ctx, &kmspb.CreateKeyRingRequest{Parent: ringParent, KeyRingId: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	if ring.GetName() != "projects/p1/locations/global/keyRings/tok" {
		t.Fatalf("ring name %q", ring.GetName())
	}
	_, err = c.CreateKeyRing(ctx, &kmspb.CreateKeyRingRequest{Parent: ringParent, KeyRingId: "tok"})
	wantCode(t, err, codes.AlreadyExists)
	_, err = c.GetKeyRing(ctx, &kmspb.GetKeyRingRequest{Name: ringParent + "/keyRings/nope"})
	wantCode(t, err, codes.NotFound)
	_, err = c.CreateKeyRing(ctx, &kmspb.CreateKeyRingRequest{Parent: "projects/p1", KeyRingId: "x"})
	wantCode(t, err, codes.InvalidArgument)

	next := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	key, err := c.CreateCryptoKey(ctx, &kmspb.CreateCryptoKeyRequest{
		Parent:      ring.GetName(),
		CryptoKeyId: "tokens",
		CryptoKey: &kmspb.CryptoKey{
			Purpose:          kmspb.CryptoKey_ENCRYPT_DECRYPT,
			RotationSchedule: &kmspb.CryptoKey_RotationPeriod{RotationPeriod: durationpb.New(90 * 24 * time.Hour)},
			NextRotationTime: timestamppb.New(next),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	wantPrimary := key.GetName() + "/cryptoKeyVersions/1"
	if key.GetPrimary().GetName() != wantPrimary || key.GetPrimary().GetState() != kmspb.CryptoKeyVersion_ENABLED {
		t.Fatalf("primary = %v, want enabled %s", key.GetPrimary(), wantPrimary)
	}
	got, err := c.GetCryptoKey(ctx, &kmspb.GetCryptoKeyRequest{Name: key.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetRotationPeriod().AsDuration() != 90*24*time.Hour || !got.GetNextRotationTime().AsTime().Equal(next) {
		t.Fatalf("rotation schedule not stored: %v %v", got.GetRotationPeriod(), got.GetNextRotationTime())
	}
	if got.GetPrimary().GetName() != wantPrimary {
		t.Fatalf("GetCryptoKey primary %q", got.GetPrimary().GetName())
	}
	_, err = c.CreateCryptoKey(ctx, &kmspb.CreateCryptoKeyRequest{
		Parent: ring.GetName(), CryptoKeyId: "tokens",
		CryptoKey: &kmspb.CryptoKey{Purpose: kmspb.CryptoKey_ENCRYPT_DECRYPT},
	})
	wantCode(t, err, codes.AlreadyExists)
	_, err = c.CreateCryptoKey(ctx, &kmspb.CreateCryptoKeyRequest{
		Parent: ring.GetName() + "x", CryptoKeyId: "k",
		CryptoKey: &kmspb.CryptoKey{Purpose: kmspb.CryptoKey_ENCRYPT_DECRYPT},
	})
	wantCode(t, err, codes.NotFound)
	_, err = c.CreateCryptoKey(ctx, &kmspb.CreateCryptoKeyRequest{
		Parent: ring.GetName(), CryptoKeyId: "signing",
		CryptoKey: &kmspb.CryptoKey{Purpose: kmspb.CryptoKey_ASYMMETRIC_SIGN},
	})
	wantCode(t, err, codes.InvalidArgument)
	_, err = c.GetCryptoKey(ctx, &kmspb.GetCryptoKeyRequest{Name: ring.GetName() + "/cryptoKeys/nope"})
	wantCode(t, err, codes.NotFound)
}

func TestEncryptDecrypt(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, startEmulator(t), kms.NewKeyManagementClient)
	key := newKey(t, c, "r", "k")
	pt, aad := []byte("bank refresh token"), []byte("org_1/con_1")

	enc, err := c.Encrypt(ctx, &kmspb.EncryptRequest{
		Name: key, Plaintext: pt, AdditionalAuthenticatedData: aad,
		PlaintextCrc32C:                   wrapperspb.Int64(crc(pt)),
		AdditionalAuthenticatedDataCrc32C: wrapperspb.Int64(crc(aad)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if enc.GetName() != key+"/cryptoKeyVersions/1" || !enc.GetVerifiedPlaintextCrc32C() ||
		!enc.GetVerifiedAdditionalAuthenticatedDataCrc32C() || enc.GetProtectionLevel() != kmspb.ProtectionLevel_SOFTWARE {
		t.Fatalf("encrypt response fields: %v", enc)
	}
	if enc.GetCiphertextCrc32C().GetValue() != crc(enc.GetCiphertext()) {
		t.Fatal("ciphertext_crc32c does not match ciphertext")
	}
	if bytes.Contains(enc.GetCiphertext(), pt) {
		t.Fatal("ciphertext contains the plaintext")
	}

	dec, err := c.Decrypt(ctx, &kmspb.DecryptRequest{
		Name: key, Ciphertext: enc.GetCiphertext(), AdditionalAuthenticatedData: aad,
		CiphertextCrc32C: wrapperspb.Int64(crc(enc.GetCiphertext())),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dec.GetPlaintext(), pt) || dec.GetPlaintextCrc32C().GetValue() != crc(pt) || !dec.GetUsedPrimary() {
		t.Fatalf("decrypt response: %v", dec)
	}

	// Without checksums in the request, nothing is reported as verified.
	enc2, err := c.Encrypt(ctx, &kmspb.EncryptRequest{Name: key, Plaintext: pt})
	if err != nil {
		t.Fatal(err)
	}
	if enc2.GetVerifiedPlaintextCrc32C() || enc2.GetVerifiedAdditionalAuthenticatedDataCrc32C() {
		t.Fatal("verified flags set without request checksums")
	}

	t.Run("wrong aad", func(t *testing.T) {
		_, err := c.Decrypt(ctx, &kmspb.DecryptRequest{Name: key, Ciphertext: enc.GetCiphertext(), AdditionalAuthenticatedData: []byte("org_2/con_1")})
		wantCode(t, err, codes.InvalidArgument)
	})
	t.Run("flipped byte", func(t *testing.T) {
		for _, i := range []int{0, 3, 5, len(enc.GetCiphertext()) - 1} {
			ct := bytes.Clone(enc.GetCiphertext())
			ct[i] ^= 0x01
			_, err := c.Decrypt(ctx, &kmspb.DecryptRequest{Name: key, Ciphertext: ct, AdditionalAuthenticatedData: aad})
			wantCode(t, err, codes.InvalidArgument)
		}
	})
	t.Run("other key", func(t *testing.T) {
		other := newKey(t, c, "r", "k2")
		_, err := c.Decrypt(ctx, &kmspb.DecryptRequest{Name: other, Ciphertext: enc.GetCiphertext(), AdditionalAuthenticatedData: aad})
		wantCode(t, err, codes.InvalidArgument)
	})
	t.Run("crc mismatch", func(t *testing.T) {
		_, err := c.Encrypt(ctx, &kmspb.EncryptRequest{Name: key, Plaintext: pt, PlaintextCrc32C: wrapperspb.Int64(crc(pt) + 1)})
		wantCode(t, err, codes.InvalidArgument)
		_, err = c.Encrypt(ctx, &kmspb.EncryptRequest{Name: key, Plaintext: pt, AdditionalAuthenticatedData: aad,
			AdditionalAuthenticatedDataCrc32C: wrapperspb.Int64(crc(aad) + 1)})
		wantCode(t, err, codes.InvalidArgument)
		_, err = c.Decrypt(ctx, &kmspb.DecryptRequest{Name: key, Ciphertext: enc.GetCiphertext(), AdditionalAuthenticatedData: aad,
			CiphertextCrc32C: wrapperspb.Int64(crc(enc.GetCiphertext()) + 1)})
		wantCode(t, err, codes.InvalidArgument)
	})
	t.Run("not found", func(t *testing.T) {
		_, err := c.Encrypt(ctx, &kmspb.EncryptRequest{Name: key + "x", Plaintext: pt})
		wantCode(t, err, codes.NotFound)
		_, err = c.Encrypt(ctx, &kmspb.EncryptRequest{Name: key + "/cryptoKeyVersions/9", Plaintext: pt})
		wantCode(t, err, codes.NotFound)
		_, err = c.Decrypt(ctx, &kmspb.DecryptRequest{Name: key + "x", Ciphertext: enc.GetCiphertext()})
		wantCode(t, err, codes.NotFound)
	})
}

func TestRotationAndVersionStates(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, startEmulator(t), kms.NewKeyManagementClient)
	key := newKey(t, c, "r", "k")
	aad := []byte("org_1/con_1")
	encrypt := func(name string) *kmspb.EncryptResponse {
		t.Helper()
		r, err := c.Encrypt(ctx, &kmspb.EncryptRequest{Name: name, Plaintext: []byte("secret " + name), AdditionalAuthenticatedData: aad})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	decrypt := func(ct []byte) (*kmspb.DecryptResponse, error) {
		return c.Decrypt(ctx, &kmspb.DecryptRequest{Name: key, Ciphertext: ct, AdditionalAuthenticatedData: aad})
	}
	old := encrypt(key)

	v2, err := c.CreateCryptoKeyVersion(ctx, &kmspb.CreateCryptoKeyVersionRequest{Parent: key, CryptoKeyVersion: &kmspb.CryptoKeyVersion{}})
	if err != nil {
		t.Fatal(err)
	}
	if v2.GetName() != key+"/cryptoKeyVersions/2" {
		t.Fatalf("new version %q", v2.GetName())
	}
	if got := encrypt(key).GetName(); got != key+"/cryptoKeyVersions/1" {
		t.Fatalf("a new version became primary before UpdateCryptoKeyPrimaryVersion: %s", got)
	}
	updated, err := c.UpdateCryptoKeyPrimaryVersion(ctx, &kmspb.UpdateCryptoKeyPrimaryVersionRequest{Name: key, CryptoKeyVersionId: "2"})
	if err != nil {
		t.Fatal(err)
	}
	if updated.GetPrimary().GetName() != v2.GetName() {
		t.Fatalf("primary after rotation %q", updated.GetPrimary().GetName())
	}
	fresh := encrypt(key)
	if fresh.GetName() != v2.GetName() {
		t.Fatalf("new ciphertext made by %s, want %s", fresh.GetName(), v2.GetName())
	}
	dec, err := decrypt(old.GetCiphertext())
	if err != nil {
		t.Fatalf("old ciphertext after rotation: %v", err)
	}
	if dec.GetUsedPrimary() || string(dec.GetPlaintext()) != "secret "+key {
		t.Fatalf("old ciphertext decrypt: %v", dec)
	}
	if dec, err := decrypt(fresh.GetCiphertext()); err != nil || !dec.GetUsedPrimary() {
		t.Fatalf("new ciphertext decrypt: %v %v", dec, err)
	}
	if got := encrypt(key + "/cryptoKeyVersions/1").GetName(); got != key+"/cryptoKeyVersions/1" {
		t.Fatalf("encrypt with explicit version used %s", got)
	}

	var names []string
	for _, v := range drain(t, c.ListCryptoKeyVersions(ctx, &kmspb.ListCryptoKeyVersionsRequest{Parent: key, PageSize: 1}).Next) {
		names = append(names, v.GetName())
	}
	if len(names) != 2 || names[0] != key+"/cryptoKeyVersions/1" || names[1] != v2.GetName() {
		t.Fatalf("listed versions %v", names)
	}

	disable := func(name string, state kmspb.CryptoKeyVersion_CryptoKeyVersionState) error {
		_, err := c.UpdateCryptoKeyVersion(ctx, &kmspb.UpdateCryptoKeyVersionRequest{
			CryptoKeyVersion: &kmspb.CryptoKeyVersion{Name: name, State: state},
			UpdateMask:       &fieldmaskpb.FieldMask{Paths: []string{"state"}},
		})
		return err
	}
	if err := disable(key+"/cryptoKeyVersions/1", kmspb.CryptoKeyVersion_DISABLED); err != nil {
		t.Fatal(err)
	}
	_, err = decrypt(old.GetCiphertext())
	wantCode(t, err, codes.FailedPrecondition)
	_, err = c.Encrypt(ctx, &kmspb.EncryptRequest{Name: key + "/cryptoKeyVersions/1", Plaintext: []byte("x")})
	wantCode(t, err, codes.FailedPrecondition)
	_, err = c.UpdateCryptoKeyPrimaryVersion(ctx, &kmspb.UpdateCryptoKeyPrimaryVersionRequest{Name: key, CryptoKeyVersionId: "1"})
	wantCode(t, err, codes.FailedPrecondition)
	if err := disable(key+"/cryptoKeyVersions/1", kmspb.CryptoKeyVersion_ENABLED); err != nil {
		t.Fatal(err)
	}
	if _, err := decrypt(old.GetCiphertext()); err != nil {
		t.Fatalf("re-enabled version: %v", err)
	}

	if _, err := c.DestroyCryptoKeyVersion(ctx, &kmspb.DestroyCryptoKeyVersionRequest{Name: v2.GetName()}); err != nil {
		t.Fatal(err)
	}
	_, err = decrypt(fresh.GetCiphertext())
	wantCode(t, err, codes.FailedPrecondition)
	_, err = c.Encrypt(ctx, &kmspb.EncryptRequest{Name: key, Plaintext: []byte("x")})
	wantCode(t, err, codes.FailedPrecondition)
	err = disable(v2.GetName(), kmspb.CryptoKeyVersion_ENABLED)
	wantCode(t, err, codes.FailedPrecondition)
}

// drain reads an iterator of the official clients to its end, page by page.
func drain[T any](t *testing.T, next func() (T, error)) []T {
	t.Helper()
	var out []T
	for {
		v, err := next()
		if errors.Is(err, iterator.Done) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
}
