package httpapi

import (
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"tokapi.io/tok/shared/tenant"
)

// List page sizes (design.md section 5).
const (
	DefaultLimit = 100
	MaxLimit     = 500
)

// List is the envelope of every list response.
type List[T any] struct {
	Data       []T     `json:"data"`
	HasMore    bool    `json:"hasMore"`
	NextCursor *string `json:"nextCursor"`
}

// NewList builds a page from up to limit+1 fetched items: the extra item only tells that
// there is more. cursorOf makes the cursor that resumes after an item.
func NewList[T any](items []T, limit int, cursorOf func(T) (string, error)) (List[T], error) {
	l := List[T]{Data: items}
	if l.Data == nil {
		l.Data = []T{}
	}
	if len(items) > limit {
		l.Data, l.HasMore = items[:limit], true
		c, err := cursorOf(items[limit-1])
		if err != nil {
			return List[T]{}, err
		}
		l.NextCursor = &c
	}
	return l, nil
}

// ParseLimit reads the `limit` query parameter: DefaultLimit when absent, 1..MaxLimit.
func ParseLimit(r *http.Request) (int, error) {
	raw := r.URL.Query().Get("limit")
	if raw == "" {
		return DefaultLimit, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > MaxLimit {
		return 0, InvalidField("limit", "must be an integer from 1 to "+strconv.Itoa(MaxLimit))
	}
	return n, nil
}

// Cursors are signed, so a client can neither forge a position (an edited cursor could
// make a query scan a whole history) nor carry a cursor to another list: the HMAC-SHA256
// covers the tenant, the method and path of the list (which name the list and its parent,
// such as the account), the filter query parameters (all but cursor and limit), and the
// position. The key is derived from the API key pepper (DeriveCursorKey) and travels in
// the request context (WithCursorKey), set by the authentication middleware.
const (
	// MaxCursorLen bounds a cursor before any work is done on it.
	MaxCursorLen = 1024
	cursorMACLen = sha256.Size
)

type cursorKeyCtx struct{}

// DeriveCursorKey derives the cursor signing key from a server secret (the API key pepper)
// with HKDF-SHA256, so the secret itself is never used for two purposes.
func DeriveCursorKey(secret []byte) []byte {
	key, err := hkdf.Key(sha256.New, secret, nil, "tok list cursor signing v1", 32)
	if err != nil {
		// hkdf.Key fails only for a length beyond 255 hashes; 32 bytes never does.
		panic(err)
	}
	return key
}

// WithCursorKey returns ctx carrying the key that signs and checks cursors.
func WithCursorKey(ctx context.Context, key []byte) context.Context {
	return context.WithValue(ctx, cursorKeyCtx{}, key)
}

// cursorMAC is the signature of payload as a cursor of r's list, for r's tenant and filters.
func cursorMAC(r *http.Request, payload []byte) ([]byte, error) {
	key, _ := r.Context().Value(cursorKeyCtx{}).([]byte)
	if len(key) == 0 {
		return nil, errors.New("cursor: no signing key in the request context")
	}
	t, err := tenant.From(r.Context())
	if err != nil {
		return nil, fmt.Errorf("cursor: %w", err)
	}
	filters := r.URL.Query()
	filters.Del("cursor")
	filters.Del("limit")
	mac := hmac.New(sha256.New, key)
	for _, part := range []string{t.Env, t.OrgID, r.Method, r.URL.Path, filters.Encode()} {
		// Length-prefixed, so no two different inputs concatenate alike.
		_, _ = fmt.Fprintf(mac, "%d:%s", len(part), part)
	}
	mac.Write(payload)
	return mac.Sum(nil), nil
}

// EncodeCursor makes the signed cursor that resumes r's list at position (any
// JSON-encodable value).
func EncodeCursor(r *http.Request, position any) (string, error) {
	payload, err := json.Marshal(position)
	if err != nil {
		return "", err
	}
	sig, err := cursorMAC(r, payload)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(append(payload, sig...)), nil
}

// DecodeCursor reads the `cursor` query parameter into position; absent leaves it
// untouched and returns false. A cursor that Tok did not sign for this tenant, this list
// and these filters is a 400, before any query runs.
func DecodeCursor(r *http.Request, position any) (bool, error) {
	q := r.URL.Query()
	raw := q.Get("cursor")
	if raw == "" && len(q["cursor"]) <= 1 {
		return false, nil
	}
	bad := InvalidField("cursor", "is not a cursor from a previous page of this list with these filters")
	if len(q["cursor"]) != 1 || len(raw) > MaxCursorLen {
		return false, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || len(b) <= cursorMACLen {
		return false, bad
	}
	payload, sig := b[:len(b)-cursorMACLen], b[len(b)-cursorMACLen:]
	want, err := cursorMAC(r, payload)
	if err != nil {
		return false, err
	}
	if !hmac.Equal(sig, want) {
		return false, bad
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(position); err != nil {
		return false, bad
	}
	return true, nil
}
