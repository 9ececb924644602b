package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"hash"
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
	macs := make([]hash.Hash, 0, len(secrets))
	for _, s := range secrets {
		key, err := secretKey(s)
		if err != nil {
			return "", err
		}
		macs = append(macs, hmac.New(sha256.New, key))
	}
	return sign(id, strconv.FormatInt(ts.Unix(), 10), body, macs), nil
}

// sign is Sign with each secret's HMAC-SHA256 keyed and unused (as new or reset), and the
// timestamp formatted. It builds the header value in one buffer: it runs once per delivery.
func sign(id, ts string, body []byte, macs []hash.Hash) string {
	var b strings.Builder
	b.Grow(len(macs) * (len("v1, ") + base64.StdEncoding.EncodedLen(sha256.Size)))
	prefix := append(append(append(append(make([]byte, 0, len(id)+len(ts)+2), id...), '.'), ts...), '.')
	var sum [sha256.Size]byte
	var enc [(sha256.Size + 2) / 3 * 4]byte // its base64
	for i, mac := range macs {
		mac.Write(prefix)
		mac.Write(body)
		base64.StdEncoding.Encode(enc[:], mac.Sum(sum[:0]))
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("v1,")
		b.Write(enc[:])
	}
	return b.String()
}
