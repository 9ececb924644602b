package envelope

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	kms "cloud.google.com/go/kms/apiv1"
	"cloud.google.com/go/kms/apiv1/kmspb"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"tokapi.io/tok/shared/testing/grpctest"
)

func TestKeyManagers(t *testing.T) {
	ctx := context.Background()
	client, key := emulatedKMS(t)
	otherKey := newCryptoKey(t, client, strings.Split(key, "/cryptoKeys/")[0], "other")
	impls := map[string]KeyManager{"kms": NewKMS(client), "memory": NewInMemory()}
	for name, km := range impls {
		t.Run(name, func(t *testing.T) {
			pt, aad := []byte("0123456789abcdef0123456789abcdef"), []byte("org_1|con_1")
			ct, err := km.Encrypt(ctx, key, pt, aad)
			if err != nil {
				t.Fatal(err)
			}
			got, err := km.Decrypt(ctx, key, ct, aad)
			if err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("round trip = %x, %v", got, err)
			}
			if _, err := km.Decrypt(ctx, key, ct, []byte("org_2|con_1")); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("wrong aad: %v, want ErrDecrypt", err)
			}
			if _, err := km.Decrypt(ctx, otherKey, ct, aad); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("other key: %v, want ErrDecrypt", err)
			}
			for _, i := range []int{0, len(ct) / 2, len(ct) - 1} {
				bad := bytes.Clone(ct)
				bad[i] ^= 0x80
				if _, err := km.Decrypt(ctx, key, bad, aad); !errors.Is(err, ErrDecrypt) {
					t.Fatalf("byte %d flipped: %v, want ErrDecrypt", i, err)
				}
			}
		})
	}
}

// fakeKMS answers with canned responses, to prove the client side rejects what real KMS
// would never send.
type fakeKMS struct {
	kmspb.UnimplementedKeyManagementServiceServer
	enc  *kmspb.EncryptResponse
	dec  *kmspb.DecryptResponse
	reqs []interface{ GetAdditionalAuthenticatedDataCrc32C() *wrapperspb.Int64Value }
}

func (f *fakeKMS) Encrypt(_ context.Context, r *kmspb.EncryptRequest) (*kmspb.EncryptResponse, error) {
	f.reqs = append(f.reqs, r)
	return f.enc, nil
}

func (f *fakeKMS) Decrypt(_ context.Context, r *kmspb.DecryptRequest) (*kmspb.DecryptResponse, error) {
	f.reqs = append(f.reqs, r)
	return f.dec, nil
}

func TestKMSIntegrityChecks(t *testing.T) {
	ctx := context.Background()
	const key = "projects/p/locations/global/keyRings/r/cryptoKeys/k"
	ct, pt := []byte("wrapped"), []byte("data key")
	goodEnc := func() *kmspb.EncryptResponse {
		return &kmspb.EncryptResponse{
			Name: key + "/cryptoKeyVersions/1", Ciphertext: ct, CiphertextCrc32C: wrapperspb.Int64(crc32c(ct)),
			VerifiedPlaintextCrc32C: true, VerifiedAdditionalAuthenticatedDataCrc32C: true,
		}
	}
	goodDec := func() *kmspb.DecryptResponse {
		return &kmspb.DecryptResponse{Plaintext: pt, PlaintextCrc32C: wrapperspb.Int64(crc32c(pt))}
	}
	tests := []struct {
		name    string
		enc     func(*kmspb.EncryptResponse)
		dec     func(*kmspb.DecryptResponse)
		wantErr bool
	}{
		{name: "valid"},
		{name: "plaintext crc not verified", enc: func(r *kmspb.EncryptResponse) { r.VerifiedPlaintextCrc32C = false }, wantErr: true},
		{name: "aad crc not verified", enc: func(r *kmspb.EncryptResponse) { r.VerifiedAdditionalAuthenticatedDataCrc32C = false }, wantErr: true},
		{name: "ciphertext crc wrong", enc: func(r *kmspb.EncryptResponse) { r.CiphertextCrc32C = wrapperspb.Int64(1) }, wantErr: true},
		{name: "ciphertext crc missing", enc: func(r *kmspb.EncryptResponse) { r.CiphertextCrc32C = nil }, wantErr: true},
		{name: "key sharing a prefix", enc: func(r *kmspb.EncryptResponse) { r.Name = key + "2/cryptoKeyVersions/1" }, wantErr: true},
		{name: "foreign key", enc: func(r *kmspb.EncryptResponse) {
			r.Name = "projects/x/locations/global/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1"
		}, wantErr: true},
		{name: "plaintext crc wrong", dec: func(r *kmspb.DecryptResponse) { r.PlaintextCrc32C = wrapperspb.Int64(1) }, wantErr: true},
		{name: "plaintext crc missing", dec: func(r *kmspb.DecryptResponse) { r.PlaintextCrc32C = nil }, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeKMS{enc: goodEnc(), dec: goodDec()}
			if tc.enc != nil {
				tc.enc(f.enc)
			}
			if tc.dec != nil {
				tc.dec(f.dec)
			}
			km := NewKMS(fakeClient(t, f))
			_, encErr := km.Encrypt(ctx, key, pt, []byte("aad"))
			_, decErr := km.Decrypt(ctx, key, ct, []byte("aad"))
			if gotErr := encErr != nil || decErr != nil; gotErr != tc.wantErr {
				t.Fatalf("encrypt err %v, decrypt err %v, want error %v", encErr, decErr, tc.wantErr)
			}
			for _, r := range f.reqs {
				if r.GetAdditionalAuthenticatedDataCrc32C().GetValue() != crc32c([]byte("aad")) {
					t.Fatal("request without the aad checksum")
				}
			}
			if er := f.reqs[0].(*kmspb.EncryptRequest); er.GetPlaintextCrc32C().GetValue() != crc32c(pt) {
				t.Fatal("encrypt request without the plaintext checksum")
			}
			if dr := f.reqs[1].(*kmspb.DecryptRequest); dr.GetCiphertextCrc32C().GetValue() != crc32c(ct) {
				t.Fatal("decrypt request without the ciphertext checksum")
			}
		})
	}
}

func fakeClient(t *testing.T, f *fakeKMS) *kms.KeyManagementClient {
	t.Helper()
	return grpctest.Client(t, func(g *grpc.Server) { kmspb.RegisterKeyManagementServiceServer(g, f) }, kms.NewKeyManagementClient)
}
