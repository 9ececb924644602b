package webhooks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"tokapi.io/tok/shared/tenant"
)

// target is an endpoint made ready to deliver to: its URL checked and parsed, its client
// chosen, its signing secrets opened and their keys decoded. The endpoint cache keeps a
// tenant's targets with its endpoints, so this is done once per version of the endpoints
// (a rotation or a URL change makes a new version), not once per delivery.
type target struct {
	ep Endpoint
	// url is the parsed URL, nil when refused says why the policy refuses it.
	url       *url.URL
	refused   string
	transport http.RoundTripper
	// keys sign newest first; notSent is why none can (a secret that does not decode).
	keys    []signingKey
	notSent string
}

// signingKey is an opened secret's HMAC key and when it stops signing (nil: never).
type signingKey struct {
	// macs hold HMAC-SHA256 hashes keyed with the key, reused by the endpoint's deliveries: a
	// new one derives the key's inner and outer pads again and allocates twice.
	macs      *sync.Pool
	expiresAt *time.Time
}

func newSigningKey(key []byte, expiresAt *time.Time) signingKey {
	return signingKey{macs: &sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}, expiresAt: expiresAt}
}

// newTarget prepares ep of t: its URL checked, and its secrets that sign at now (or later)
// opened. An error means a secret could not be opened (the envelope's key service failed).
func (s *Service) newTarget(ctx context.Context, t tenant.Tenant, ep Endpoint, now time.Time) (*target, error) {
	tg := &target{ep: ep, transport: s.strict}
	if u, err := s.policy.ParseURL(t.Env, ep.URL); err != nil {
		tg.refused = "refused: the URL " + err.Error()
	} else {
		tg.url = u
		if s.policy.allowsLoopback(t.Env, u) {
			tg.transport = s.loopback
		}
	}
	for i := len(ep.Secrets) - 1; i >= 0; i-- {
		sec := ep.Secrets[i]
		if !sec.Active(now) {
			continue // expired: it never signs again
		}
		pt, err := s.sealer.Open(ctx, sec.Sealed, secretAAD(t, ep.ID))
		if err != nil {
			return nil, fmt.Errorf("open signing secret of %s: %w", ep.ID, err)
		}
		key, err := secretKey(string(pt))
		clear(pt)
		if err != nil {
			tg.notSent = "not sent: " + err.Error()
			return tg, nil
		}
		tg.keys = append(tg.keys, newSigningKey(key, sec.ExpiresAt))
	}
	return tg, nil
}

// activeKeys are the keys that sign at now, newest first, appended to keys.
func (tg *target) activeKeys(keys []signingKey, now time.Time) []signingKey {
	for _, k := range tg.keys {
		if k.expiresAt == nil || now.Before(*k.expiresAt) {
			keys = append(keys, k)
		}
	}
	return keys
}

// Header keys, canonical once, and the values every delivery shares (the client only reads
// a request's headers).
var (
	keyID, keyTimestamp, keySignature = http.CanonicalHeaderKey(HeaderID), http.CanonicalHeaderKey(HeaderTimestamp), http.CanonicalHeaderKey(HeaderSignature)
	contentTypeJSON                   = []string{"application/json"}
	userAgent                         = []string{UserAgent}
)

// request is the signed POST of payload, the event eventID, at now; notSent says why there
// is none.
func (tg *target) request(ctx context.Context, eventID string, payload []byte, now time.Time) (req *http.Request, notSent string) {
	if tg.notSent != "" {
		return nil, tg.notSent
	}
	var room [2]signingKey // a rotation's overlap
	keys := tg.activeKeys(room[:0], now)
	if len(keys) == 0 {
		return nil, "not sent: " + errNoSecret.Error()
	}
	var macRoom [len(room)]hash.Hash
	macs := macRoom[:0]
	for _, k := range keys {
		mac := k.macs.Get().(hash.Hash)
		mac.Reset()
		macs = append(macs, mac)
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	vals := [...]string{eventID, ts, sign(eventID, ts, payload, macs)} // one allocation for the three
	for i, k := range keys {
		k.macs.Put(macs[i])
	}
	h := make(http.Header, 5)
	h["Content-Type"] = contentTypeJSON
	h["User-Agent"] = userAgent
	h[keyID], h[keyTimestamp], h[keySignature] = vals[0:1:1], vals[1:2:2], vals[2:3:3]
	body := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(payload)), nil }
	rc, _ := body()
	// The URL is shared: post hands the request to the transport, which never modifies it.
	req = &http.Request{Method: http.MethodPost, URL: tg.url, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: rc, GetBody: body, ContentLength: int64(len(payload)), Host: tg.url.Host}
	return req.WithContext(ctx), ""
}
