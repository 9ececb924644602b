package apitest

import (
	"fmt"
	"net/http"
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
	var out []QueryProbe
	for _, o := range authenticatedOps(t) {
		full := o.url(t, nil)
		probe := func(param, what string, q url.Values) {
			out = append(out, QueryProbe{Method: o.method, Path: full, RawQuery: q.Encode(), Param: param, What: what})
		}
		probe("unknownParam", "undeclared", url.Values{"unknownParam": {"1"}})
		for _, ref := range o.params() {
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
			probe(p.Name, "invalid UTF-8", url.Values{p.Name: {"\xff\xfe"}})
			if bad, ok := wrongForm(s); ok {
				probe(p.Name, "wrong form", url.Values{p.Name: {bad}})
			}
		}
	}
	return out
}

// BodyProbe is a request whose JSON body the API refuses whatever the operation: 400
// VALIDATION_ERROR before any handler runs.
type BodyProbe struct {
	Method, Path string
	Body         string
	What         string
}

func (p BodyProbe) String() string { return p.Method + " " + p.Path + " " + p.What }

// BodyProbes derives, from the spec, for every authenticated operation with a JSON request
// body: null as the whole body, null for an optional field, a key twice in a nested object,
// and invalid UTF-8 in a string.
func BodyProbes(t testing.TB) []BodyProbe {
	t.Helper()
	var out []BodyProbe
	for _, o := range authenticatedOps(t) {
		if o.op.RequestBody == nil || o.op.RequestBody.Value == nil {
			continue
		}
		mt := o.op.RequestBody.Value.Content.Get("application/json")
		if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
			continue
		}
		field := "unknownField"
		names := make([]string, 0, len(mt.Schema.Value.Properties))
		for name := range mt.Schema.Value.Properties {
			if !slices.Contains(mt.Schema.Value.Required, name) {
				names = append(names, name)
			}
		}
		sort.Strings(names)
		if len(names) > 0 {
			field = names[0]
		}
		full := o.url(t, nil)
		for what, body := range map[string]string{
			"null body":                 `null`,
			"null for " + field:         `{"` + field + `":null}`,
			"a key twice, nested":       `{"` + field + `":{"a":1,"a":2}}`,
			"invalid UTF-8 in a string": "{\"" + field + "\":\"\xff\"}",
		} {
			out = append(out, BodyProbe{Method: o.method, Path: full, Body: body, What: what})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// ListOperations returns, for every authenticated GET operation with a cursor query
// parameter, its path with well-formed parameters that name nothing.
func ListOperations(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, o := range authenticatedOps(t) {
		if o.method != http.MethodGet {
			continue
		}
		for _, ref := range o.params() {
			if ref.Value != nil && ref.Value.In == openapi3.ParameterInQuery && ref.Value.Name == "cursor" {
				out = append(out, o.url(t, nil))
				break
			}
		}
	}
	sort.Strings(out)
	return out
}

// PathProbe is a request whose path the spec refuses: one path parameter is malformed or
// too long, the others well-formed. The API must answer it 400 VALIDATION_ERROR naming Param
// before any handler runs.
type PathProbe struct {
	Method, Path string
	Param        string // the parameter the error must name
	What         string // what is wrong, for test names
}

func (p PathProbe) String() string { return p.Method + " " + p.Path + " " + p.What + " " + p.Param }

// PathProbes derives, from the spec, the refused paths of every authenticated operation:
// for each path parameter a value one character longer than its maxLength and a short one
// its pattern refuses (an ID of another kind among them), every other parameter well
// formed.
func PathProbes(t testing.TB) []PathProbe {
	t.Helper()
	var out []PathProbe
	for _, o := range authenticatedOps(t) {
		for name, s := range pathParams(t, o.item, o.op) {
			if s.MaxLength == nil || s.Pattern == "" {
				t.Fatalf("%s %s: path parameter %s has no pattern or maxLength", o.method, o.path, name)
			}
			long := strings.Repeat("a", int(*s.MaxLength)+1)
			out = append(out, PathProbe{Method: o.method, Path: o.url(t, map[string]string{name: long}), Param: name, What: "over-long"})
			re := regexp.MustCompile(s.Pattern)
			for _, bad := range []string{"acc_1", "pay_01ARZ3NDEKTSV4RRFFQ69G5FAV", "x_" + strings.Repeat("0", 26), "Erste", "!"} {
				if !re.MatchString(bad) {
					out = append(out, PathProbe{Method: o.method, Path: o.url(t, map[string]string{name: bad}), Param: name, What: "wrong form " + bad})
					break
				}
			}
		}
	}
	return out
}

// WellFormedPaths returns, for every authenticated GET operation with path parameters, a
// path whose every parameter is well formed but names nothing: the API answers it 404.
func WellFormedPaths(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, o := range authenticatedOps(t) {
		if o.method != http.MethodGet || !strings.Contains(o.path, "{") {
			continue
		}
		out = append(out, o.url(t, nil))
	}
	sort.Strings(out)
	return out
}

// specOp is one operation of the spec with its path.
type specOp struct {
	path, method string
	item         *openapi3.PathItem
	op           *openapi3.Operation
}

// params are the operation's parameters with its path's.
func (o specOp) params() openapi3.Parameters {
	return append(slices.Clone(o.item.Parameters), o.op.Parameters...)
}

// url is the operation's path under /v1 with values for its path parameters (well-formed
// ones naming nothing for the others).
func (o specOp) url(t testing.TB, values map[string]string) string {
	t.Helper()
	return "/v1" + fillPath(t, o.path, o.item, o.op, values)
}

// authenticatedOps returns every operation of the spec that takes an API key, by path then
// method. Public operations (the bank callback, the spec, the hosted pages) check their own
// input.
func authenticatedOps(t testing.TB) []specOp {
	t.Helper()
	doc, _ := Spec(t)
	var out []specOp
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
				continue
			}
			out = append(out, specOp{path: path, method: method, item: item, op: op})
		}
	}
	return out
}

// pathParams returns the schema of each path parameter of an operation.
func pathParams(t testing.TB, item *openapi3.PathItem, op *openapi3.Operation) map[string]*openapi3.Schema {
	t.Helper()
	out := map[string]*openapi3.Schema{}
	for _, ref := range append(slices.Clone(item.Parameters), op.Parameters...) {
		if p := ref.Value; p != nil && p.In == openapi3.ParameterInPath && p.Schema != nil && p.Schema.Value != nil {
			out[p.Name] = p.Schema.Value
		}
	}
	return out
}

// idPattern is the pattern of a Tok ID path parameter, with its prefix.
var idPattern = regexp.MustCompile(`^\^([a-z]+)_\[0-9A-HJKMNP-TV-Z\]\{26\}\$$`)

// fillPath fills path's parameters: with values[name] when given, else a well-formed value
// of the parameter's schema that names nothing.
func fillPath(t testing.TB, path string, item *openapi3.PathItem, op *openapi3.Operation, values map[string]string) string {
	t.Helper()
	params := pathParams(t, item, op)
	return pathParam.ReplaceAllStringFunc(path, func(seg string) string {
		name := strings.Trim(seg, "{}")
		if v, ok := values[name]; ok {
			return url.PathEscape(v)
		}
		s := params[name]
		if s == nil {
			t.Fatalf("%s: path parameter %s is not declared", path, name)
		}
		if m := idPattern.FindStringSubmatch(s.Pattern); m != nil {
			return m[1] + "_" + strings.Repeat("0", 26)
		}
		return "x1"
	})
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
