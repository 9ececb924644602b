package tok

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// WebhookTolerance is how far a webhook's timestamp may be from now, either way.
const WebhookTolerance = 5 * time.Minute

// ErrWebhookSignature is returned by VerifyWebhook for any message that is not a genuine,
// fresh Tok webhook signed with the secret.
var ErrWebhookSignature = errors.New("tok: webhook signature invalid")

// VerifyWebhook checks a webhook per the Standard Webhooks spec: payload is the raw body,
// headers the request's headers, secret the endpoint's whsec_… secret. It succeeds when one
// of the signatures in webhook-signature (Tok sends two while a rotated secret overlaps) is
// the HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{payload}" under the secret and the
// timestamp is within WebhookTolerance of now.
func VerifyWebhook(payload []byte, headers http.Header, secret string) error {
	return VerifyWebhookAt(payload, headers, secret, time.Now())
}

// VerifyWebhookAt is VerifyWebhook with the tolerance measured from now, for messages
// verified later than they arrived (a queue, a stored delivery).
func VerifyWebhookAt(payload []byte, headers http.Header, secret string, now time.Time) error {
	id, ts, sigs := headers.Get("webhook-id"), headers.Get("webhook-timestamp"), headers.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return errors.New("tok: webhook headers missing (webhook-id, webhook-timestamp, webhook-signature)")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("tok: webhook-timestamp is not Unix seconds")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > WebhookTolerance || d < -WebhookTolerance {
		return errors.New("tok: webhook timestamp outside the 5-minute tolerance")
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || len(key) == 0 {
		return errors.New("tok: webhook secret is not a whsec_ base64 secret")
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(payload)
	want := mac.Sum(nil)
	for _, s := range strings.Fields(sigs) {
		version, sig, ok := strings.Cut(s, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrWebhookSignature
}
