package envelope

import (
	"context"
	"fmt"
	"hash/crc32"
	"strings"

	kms "cloud.google.com/go/kms/apiv1"
	"cloud.google.com/go/kms/apiv1/kmspb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

func crc32c(b []byte) int64 { return int64(crc32.Checksum(b, crcTable)) }

type kmsManager struct {
	client *kms.KeyManagementClient
}

// NewKMS returns a KeyManager backed by Cloud KMS. keyName is a CryptoKey resource name,
// projects/P/locations/L/keyRings/R/cryptoKeys/K. Every request and response is checked
// with CRC32C, as Google recommends, so corruption in transit cannot produce a wrong key.
func NewKMS(client *kms.KeyManagementClient) KeyManager {
	return &kmsManager{client: client}
}

func (m *kmsManager) Encrypt(ctx context.Context, keyName string, plaintext, aad []byte) ([]byte, error) {
	resp, err := m.client.Encrypt(ctx, &kmspb.EncryptRequest{
		Name:                              keyName,
		Plaintext:                         plaintext,
		PlaintextCrc32C:                   wrapperspb.Int64(crc32c(plaintext)),
		AdditionalAuthenticatedData:       aad,
		AdditionalAuthenticatedDataCrc32C: wrapperspb.Int64(crc32c(aad)),
	})
	if err != nil {
		return nil, fmt.Errorf("envelope: kms encrypt with %s: %w", keyName, err)
	}
	// A false Verified* flag means KMS never saw our checksum: the request may have been
	// altered on the way, so the ciphertext cannot be trusted.
	if !resp.GetVerifiedPlaintextCrc32C() || !resp.GetVerifiedAdditionalAuthenticatedDataCrc32C() {
		return nil, fmt.Errorf("envelope: kms encrypt with %s: request checksums were not verified", keyName)
	}
	// Stricter than a plain prefix test, which would accept key "k2" for key "k".
	if n := resp.GetName(); n != keyName && !strings.HasPrefix(n, keyName+"/cryptoKeyVersions/") {
		return nil, fmt.Errorf("envelope: kms encrypt with %s: response came from key %s", keyName, resp.GetName())
	}
	if resp.GetCiphertextCrc32C() == nil || resp.GetCiphertextCrc32C().GetValue() != crc32c(resp.GetCiphertext()) {
		return nil, fmt.Errorf("envelope: kms encrypt with %s: ciphertext corrupted in transit", keyName)
	}
	return resp.GetCiphertext(), nil
}

func (m *kmsManager) Decrypt(ctx context.Context, keyName string, ciphertext, aad []byte) ([]byte, error) {
	resp, err := m.client.Decrypt(ctx, &kmspb.DecryptRequest{
		Name:                              keyName,
		Ciphertext:                        ciphertext,
		CiphertextCrc32C:                  wrapperspb.Int64(crc32c(ciphertext)),
		AdditionalAuthenticatedData:       aad,
		AdditionalAuthenticatedDataCrc32C: wrapperspb.Int64(crc32c(aad)),
	})
	if status.Code(err) == codes.InvalidArgument {
		// KMS answers InvalidArgument when the ciphertext or AAD does not authenticate.
		return nil, fmt.Errorf("%w: kms decrypt with %s: %w", ErrDecrypt, keyName, err)
	}
	if err != nil {
		return nil, fmt.Errorf("envelope: kms decrypt with %s: %w", keyName, err)
	}
	if resp.GetPlaintextCrc32C() == nil || resp.GetPlaintextCrc32C().GetValue() != crc32c(resp.GetPlaintext()) {
		return nil, fmt.Errorf("envelope: kms decrypt with %s: plaintext corrupted in transit", keyName)
	}
	return resp.GetPlaintext(), nil
}
