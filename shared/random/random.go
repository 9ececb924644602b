// Package random makes the unguessable values Tok hands out (OAuth states, codes, tokens,
// secrets) from crypto/rand.
package random

import (
	"crypto/rand"
	"encoding/base64"
)

// Bytes returns n random bytes. crypto/rand.Read never fails since Go 1.24: it crashes
// the program instead.
func Bytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// Token returns n random bytes as unpadded URL-safe base64, safe in URLs and headers.
func Token(n int) string {
	return base64.RawURLEncoding.EncodeToString(Bytes(n))
}
