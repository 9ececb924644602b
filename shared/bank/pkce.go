package bank

import (
	"crypto/sha256"
	"encoding/base64"

	"tokapi.io/tok/shared/random"
)

// NewPKCE returns a fresh PKCE code verifier (43 characters of base64url, 256 bits) and
// its S256 code challenge (RFC 7636).
func NewPKCE() (verifier, challenge string) {
	verifier = random.Token(32)
	return verifier, S256(verifier)
}

// S256 is the PKCE S256 transformation: base64url(SHA-256(verifier)), unpadded.
func S256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// NewState returns a random OAuth2 state value (128 bits, base64url).
func NewState() string { return random.Token(16) }
