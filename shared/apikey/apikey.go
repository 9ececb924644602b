// Package apikey defines Tok's API keys: their format (tok_live_… and tok_sandbox_…, 200
// random bits), the Authorization header that carries them, and the keyed hash under which
// they are stored. A key itself is never stored or logged.
package apikey

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"

	"tokapi.io/tok/shared/tenant"
)

// Key prefixes per environment.
const (
	LivePrefix    = "tok_live_"
	SandboxPrefix = "tok_sandbox_"
)

// secretLen characters of a 32-symbol alphabet: 40 × 5 = 200 bits of randomness.
const secretLen = 40

// alphabet is lower-case Crockford base32: no i, l, o, u, so keys survive being read aloud.
const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// ErrMalformed is returned for anything that is not a well-formed Tok API key.
var ErrMalformed = errors.New("malformed API key")

// New returns a fresh key for env.
func New(env string) (string, error) {
	prefix, err := prefixFor(env)
	if err != nil {
		return "", err
	}
	buf := make([]byte, secretLen)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	// 256 is a multiple of 32, so masking to 5 bits keeps every symbol equally likely.
	for i, b := range buf {
		buf[i] = alphabet[b&31]
	}
	return prefix + string(buf), nil
}

func prefixFor(env string) (string, error) {
	switch env {
	case tenant.Live:
		return LivePrefix, nil
	case tenant.Sandbox:
		return SandboxPrefix, nil
	}
	return "", errors.New("unknown environment " + env)
}

// Parse checks a key's format and returns its environment.
func Parse(key string) (env string, err error) {
	var secret string
	switch {
	case strings.HasPrefix(key, LivePrefix):
		env, secret = tenant.Live, key[len(LivePrefix):]
	case strings.HasPrefix(key, SandboxPrefix):
		env, secret = tenant.Sandbox, key[len(SandboxPrefix):]
	default:
		return "", ErrMalformed
	}
	if len(secret) != secretLen {
		return "", ErrMalformed
	}
	for i := 0; i < len(secret); i++ {
		if strings.IndexByte(alphabet, secret[i]) < 0 {
			return "", ErrMalformed
		}
	}
	return env, nil
}

// FromHeader extracts the key from an Authorization header value, `ApiKey <key>`. The
// scheme is case-insensitive, as HTTP auth schemes are; the key is not.
func FromHeader(value string) (key, env string, err error) {
	scheme, key, ok := strings.Cut(value, " ")
	if !ok || !strings.EqualFold(scheme, "ApiKey") {
		return "", "", ErrMalformed
	}
	key = strings.TrimLeft(key, " ")
	env, err = Parse(key)
	if err != nil {
		return "", "", err
	}
	return key, env, nil
}

// Hash is the keyed hash under which a key is stored: HMAC-SHA256 with a pepper kept in
// Secret Manager, so a copy of the database alone cannot be used to test guesses.
func Hash(pepper []byte, key string) string {
	m := hmac.New(sha256.New, pepper)
	m.Write([]byte(key))
	return hex.EncodeToString(m.Sum(nil))
}

// Equal compares two hashes in constant time.
func Equal(a, b string) bool {
	return hmac.Equal([]byte(a), []byte(b))
}

// Mask shows a key as its prefix and last four characters, as listings do.
func Mask(key string) string {
	env, err := Parse(key)
	if err != nil {
		return ""
	}
	prefix, _ := prefixFor(env)
	return prefix + "…" + key[len(key)-4:]
}
