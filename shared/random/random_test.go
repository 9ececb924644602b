package random

import (
	"encoding/base64"
	"testing"
)

func TestTokenIsURLSafeAndFresh(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok := Token(16)
		b, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || len(b) != 16 {
			t.Fatalf("Token(16) = %q: %v, %d bytes", tok, err, len(b))
		}
		if seen[tok] {
			t.Fatalf("Token repeated %q", tok)
		}
		seen[tok] = true
	}
	if len(Bytes(32)) != 32 {
		t.Fatal("Bytes(32) is not 32 bytes")
	}
}
