// Package envelope encrypts bank tokens with envelope encryption: each record gets a fresh
// AES-256-GCM data key, which Cloud KMS wraps. The caller's associated data (organisation and
// connection IDs) is bound at both layers, so a ciphertext cannot be moved to another record,
// and a KMS key rotation needs no re-encryption because every blob carries its wrapped key.
package envelope

import (
	"context"
	"errors"
)

// ErrDecrypt reports that a ciphertext failed an integrity check: it was tampered with, moved to
// another record (wrong associated data), or made under another key. Callers must fail closed.
var ErrDecrypt = errors.New("envelope: decryption failed")

// KeyManager wraps and unwraps small secrets (data keys) under a named key encryption key.
type KeyManager interface {
	Encrypt(ctx context.Context, keyName string, plaintext, aad []byte) ([]byte, error)
	Decrypt(ctx context.Context, keyName string, ciphertext, aad []byte) ([]byte, error)
}
