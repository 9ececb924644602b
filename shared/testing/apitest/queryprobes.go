package apitest

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// QueryProbe is a request whose query string the spec refuses: the API must answer it 400
// VALIDATION_ERROR naming Param before any handler runs.
type QueryProbe struct {
	Method, Path string // Path starts with /v1, its path parameters filled in
	RawQuery     string
	Param        string // the parameter the error must name
	What         string // what is wrong, for test names
}

func (p QueryProbe) String() string {
	return p.Method + " " + p.Path + " " + p.What + " " + p.Param
}

// pathParam is one {name} of a path template.
var pathParam = regexp.MustCompile(`\{[^}]*\}`)

// QueryProbes derives, from the spec itself, the refused query strings of every
// authenticated operation: for each declared query parameter an over-long value (1,500
// characters, or one more than its maxLength) and, where its schema says how, a value of
// the wrong form (bad pattern, not in the enum, not an integer or out of range, not a
// date); and for every operation an undeclared parameter. Operations added to the spec are
// probed without a change here.
func QueryProbes(t testing.TB) []QueryProbe {
	t.Helper()
	doc, _ := Spec(t)
	var out []QueryProbe
	paths := doc.Paths.InMatchingOrder()
	sort.Strings(paths)
	for _, path := range paths {
		item := doc.Paths.Value(path)
		methods := make([]string, 0, 4)
		for m := range item.Operations() {
			methods = append(methods, m)
		}
		sort.Strings(methods)
		for _, method := range methods {
			op := item.GetOperation(method)
			if op.Security != nil && len(*op.Security) == 0 {
				continue // public operations (the bank callback, the spec) check their own input
			}
			full := "/v1" + pathParam.ReplaceAllString(path, "x1")
			probe := func(param, what string, q url.Values) {
				out = append(out, QueryProbe{Method: method, Path: full, RawQuery: q.Encode(), Param: param, What: what})
			}
			probe("unknownParam", "undeclared", url.Values{"unknownParam": {"1"}})
			for _, ref := range append(slices.Clone(item.Parameters), op.Parameters...) {
				p := ref.Value
				if p == nil || p.In != openapi3.ParameterInQuery || p.Schema == nil || p.Schema.Value == nil {
					continue
				}
				s := p.Schema.Value
				long := 1500
				if s.MaxLength != nil && int(*s.MaxLength) >= long {
					long = int(*s.MaxLength) + 1
				}
				probe(p.Name, "over-long", url.Values{p.Name: {strings.Repeat("A", long)}})
				if bad, ok := wrongForm(s); ok {
					probe(p.Name, "wrong form", url.Values{p.Name: {bad}})
				}
			}
		}
	}
	return out
}

// wrongForm returns a short value that s refuses for its form (not its length), if s
// constrains the form.
func wrongForm(s *openapi3.Schema) (string, bool) {
	switch {
	case s.Type.Is(openapi3.TypeInteger):
		if s.Max != nil {
			return fmt.Sprint(int64(*s.Max) + 1), true
		}
		return "1.5", true
	case len(s.Enum) > 0:
		return "not-one-of-them", true
	case s.Format == "date":
		return "2026-13-45", true
	case s.Format == "date-time":
		return "yesterday", true
	case s.Pattern != "":
		re := regexp.MustCompile(s.Pattern)
		// eur: the currency a client writes in lower case; the others break most ID patterns.
		for _, v := range []string{"eur", "x", "!", "a b", "9"} {
			if !re.MatchString(v) {
				return v, true
			}
		}
	}
	return "", false
}
