package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
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

// EncodeCursor makes an opaque cursor from a position (any JSON-encodable value).
func EncodeCursor(position any) (string, error) {
	b, err := json.Marshal(position)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// DecodeCursor reads the `cursor` query parameter into position; absent leaves it
// untouched and returns false. Anything that is not a cursor Tok made is a 400.
func DecodeCursor(r *http.Request, position any) (bool, error) {
	raw := r.URL.Query().Get("cursor")
	if raw == "" {
		return false, nil
	}
	bad := InvalidField("cursor", "is not a cursor from a previous page of this list")
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || len(b) > 2048 {
		return false, bad
	}
	if err := json.Unmarshal(b, position); err != nil {
		return false, bad
	}
	return true, nil
}
