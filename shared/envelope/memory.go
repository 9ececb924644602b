package envelope

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
)

type inMemory struct {
	gcm cipher.AEAD
}

// NewInMemory returns a KeyManager for unit tests that keeps one random key in memory. The key
// name is bound as associated data, so unwrapping under another name fails as it would in KMS.
func NewInMemory() KeyManager {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		panic(fmt.Sprintf("envelope: random key: %v", err)) // crypto/rand never fails on supported platforms
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(fmt.Sprintf("envelope: aes: %v", err))
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		panic(fmt.Sprintf("envelope: gcm: %v", err))
	}
	return &inMemory{gcm: gcm}
}

func (m *inMemory) Encrypt(_ context.Context, keyName string, plaintext, aad []byte) ([]byte, error) {
	nonce := make([]byte, m.gcm.NonceSize(), m.gcm.NonceSize()+len(plaintext)+m.gcm.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("envelope: nonce: %w", err)
	}
	return m.gcm.Seal(nonce, nonce, plaintext, boundAD(keyName, aad)), nil
}

func (m *inMemory) Decrypt(_ context.Context, keyName string, ciphertext, aad []byte) ([]byte, error) {
	n := m.gcm.NonceSize()
	if len(ciphertext) < n+m.gcm.Overhead() {
		return nil, fmt.Errorf("%w: in-memory decrypt with %s: ciphertext too short", ErrDecrypt, keyName)
	}
	pt, err := m.gcm.Open(nil, ciphertext[:n], ciphertext[n:], boundAD(keyName, aad))
	if err != nil {
		return nil, fmt.Errorf("%w: in-memory decrypt with %s: %w", ErrDecrypt, keyName, err)
	}
	return pt, nil
}

// boundAD joins the key name and aad unambiguously (the name never contains a NUL).
func boundAD(keyName string, aad []byte) []byte {
	ad := make([]byte, 0, len(keyName)+1+len(aad))
	ad = append(ad, keyName...)
	ad = append(ad, 0)
	return append(ad, aad...)
}
