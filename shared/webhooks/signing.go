package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"

	"tokapi.io/tok/shared/random"
)

// Standard Webhooks headers.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts every signing secret, as the Standard Webhooks libraries expect.
const SecretPrefix = "whsec_"

// secretBytes is the key length: 24 random bytes (192 bits), as the reference libraries use.
const secretBytes = 24

// NewSecret returns a fresh signing secret, whsec_<base64 of 24 random bytes>.
func NewSecret() string {
	return SecretPrefix + base64.StdEncoding.EncodeToString(random.Bytes(secretBytes))
}

// secretKey returns the HMAC key of a whsec_ secret.
func secretKey(secret string) ([]byte, error) {
	raw, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, errors.New("webhooks: signing secret lacks the whsec_ prefix")
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || len(key) == 0 {
		return nil, errors.New("webhooks: signing secret is not base64")
	}
	return key, nil
}

// errNoSecret is why a delivery with no secret signing at its time is not sent.
var errNoSecret = errors.New("webhooks: no active signing secret")

// Sign returns the webhook-signature header value for a message: one "v1,<base64 HMAC-SHA256
// of {id}.{timestamp}.{body}>" per secret, space-separated (two during a rotation's overlap).
func Sign(id string, ts time.Time, body []byte, secrets []string) (string, error) {
	if len(secrets) == 0 {
		return "", errNoSecret
	}
	keys := make([][]byte, 0, len(secrets))
	for _, s := range secrets {
		key, err := secretKey(s)
		if err != nil {
			return "", err
		}
		keys = append(keys, key)
	}
	return sign(id, strconv.FormatInt(ts.Unix(), 10), body, keys), nil
}

// sign is Sign with the secrets' keys decoded and the timestamp formatted.
func sign(id, ts string, body []byte, keys [][]byte) string {
	prefix := []byte(id + "." + ts + ".")
	sigs := make([]string, len(keys))
	for i, key := range keys {
		mac := hmac.New(sha256.New, key)
		mac.Write(prefix)
		mac.Write(body)
		sigs[i] = "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	}
	return strings.Join(sigs, " ")
}
