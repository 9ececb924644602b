package tok

import (
	"context"
	"fmt"
	"iter"
	"net/url"
	"reflect"
	"strings"
)

// Page is one page of a list.
type Page[T any] struct {
	Data       []T     `json:"data"`
	HasMore    bool    `json:"hasMore"`
	NextCursor *string `json:"nextCursor"`
	// Response is the page's response metadata (request ID, rate limit).
	Response Response `json:"-"`
}

// Next returns the cursor of the next page, or "" on the last page.
func (p *Page[T]) Next() string {
	if !p.HasMore || p.NextCursor == nil {
		return ""
	}
	return *p.NextCursor
}

// list fetches one page of path with the query of params (a generated …Params struct).
func list[T any](ctx context.Context, c *Client, path string, params any, cursor string, opts []RequestOption) (*Page[T], error) {
	q := query(params)
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	var page Page[T]
	opts = append(opts, CaptureResponse(&page.Response))
	if err := c.do(ctx, request{method: "GET", path: path, query: q}, &page, opts); err != nil {
		return nil, err
	}
	return &page, nil
}

// all iterates over every item of the list, following nextCursor from the first page (or
// from params' cursor). The iteration stops at the first error, which it yields.
func all[T any](ctx context.Context, c *Client, path string, params any, opts []RequestOption) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		cursor := ""
		for {
			page, err := list[T](ctx, c, path, params, cursor, opts)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, item := range page.Data {
				if !yield(item, nil) {
					return
				}
			}
			if cursor = page.Next(); cursor == "" {
				return
			}
		}
	}
}

// query encodes a generated parameters struct by its form tags; nil fields are left out.
func query(params any) url.Values {
	q := url.Values{}
	v := reflect.ValueOf(params)
	if !v.IsValid() || (v.Kind() == reflect.Pointer && v.IsNil()) {
		return q
	}
	v = reflect.Indirect(v)
	for i := range v.NumField() {
		name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("form"), ",")
		f := v.Field(i)
		if name == "" || (f.Kind() == reflect.Pointer && f.IsNil()) {
			continue
		}
		q.Set(name, fmt.Sprint(reflect.Indirect(f).Interface()))
	}
	return q
}

// Ptr returns a pointer to v, for the optional fields of parameters and requests.
func Ptr[T any](v T) *T { return &v }

func escape(s string) string { return url.PathEscape(s) }
