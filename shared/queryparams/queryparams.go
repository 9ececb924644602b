// Package queryparams checks every API request's path parameters and query string against
// the API spec before a handler sees it: each parameter the matched operation declares is
// checked by its schema (type, pattern, length, enum, range, date formats), a query
// parameter it does not declare is refused, and either is a 400 VALIDATION_ERROR naming the
// parameter. The rules are the spec's own (package api embeds it), so a new operation or a
// tightened parameter is checked the moment the spec says so, and a value no handler should
// see (a 1,500-character ID that Firestore would refuse, an ID of the wrong kind) never
// reaches one; a well-formed ID that names nothing is the handler's 404.
package queryparams

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"

	"tokapi.io/tok/api"
	"tokapi.io/tok/shared/httpapi"
)

// Checker knows the query parameters of every operation of a spec.
type Checker struct {
	// mux matches a request to its operation with net/http's own precedence rules, as the
	// functions' routers do (a literal segment beats a wildcard).
	mux *http.ServeMux
	ops map[string]map[string]*param // mux pattern → query parameter name → rule
	// paths holds, by mux pattern, the rule of each path segment: nil for a literal one.
	paths map[string][]*param
}

// param is one declared query parameter and its compiled rule.
type param struct {
	name   string
	schema *openapi3.Schema
	re     *regexp.Regexp // schema.Pattern compiled, or the array items' pattern
}

var (
	specOnce    sync.Once
	specChecker *Checker
	specErr     error
)

// Spec returns the Checker of Tok's API spec (package api), built once per process.
func Spec() (*Checker, error) {
	specOnce.Do(func() { specChecker, specErr = New(api.YAML) })
	return specChecker, specErr
}

// New builds the Checker of an OpenAPI document. Paths are served under the path of the
// first server URL (/v1).
func New(spec []byte) (*Checker, error) {
	doc, err := openapi3.NewLoader().LoadFromData(spec)
	if err != nil {
		return nil, fmt.Errorf("queryparams: load spec: %w", err)
	}
	base := ""
	if len(doc.Servers) > 0 {
		u, err := url.Parse(doc.Servers[0].URL)
		if err != nil {
			return nil, fmt.Errorf("queryparams: server URL: %w", err)
		}
		base = strings.TrimSuffix(u.Path, "/")
	}
	c := &Checker{mux: http.NewServeMux(), ops: map[string]map[string]*param{}, paths: map[string][]*param{}}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			params := map[string]*param{}
			inPath := map[string]*param{}
			// Path-level parameters first, so the operation's own override them.
			for _, list := range []openapi3.Parameters{item.Parameters, op.Parameters} {
				for _, ref := range list {
					p := ref.Value
					if p == nil || (p.In != openapi3.ParameterInQuery && p.In != openapi3.ParameterInPath) {
						continue
					}
					rule, err := compile(p)
					if err != nil {
						return nil, fmt.Errorf("queryparams: %s %s: %w", method, path, err)
					}
					if p.In == openapi3.ParameterInPath {
						inPath[p.Name] = rule
					} else {
						params[p.Name] = rule
					}
				}
			}
			segments, err := pathRules(path, inPath)
			if err != nil {
				return nil, fmt.Errorf("queryparams: %s %s: %w", method, path, err)
			}
			pattern := method + " " + base + path
			if err := register(c.mux, pattern); err != nil {
				return nil, fmt.Errorf("queryparams: %w", err)
			}
			c.ops[pattern], c.paths[pattern] = params, segments
		}
	}
	return c, nil
}

// pathRules returns the rule of each segment of a path template ("/accounts/{accountId}"),
// nil for a literal segment; every {name} must be a declared path parameter, and every
// declared one must appear.
func pathRules(path string, declared map[string]*param) ([]*param, error) {
	segments := strings.Split(strings.TrimPrefix(path, "/"), "/")
	out := make([]*param, len(segments))
	used := 0
	for i, seg := range segments {
		name, ok := strings.CutPrefix(seg, "{")
		if !ok {
			continue
		}
		name = strings.TrimSuffix(name, "}")
		p, ok := declared[name]
		if !ok {
			return nil, fmt.Errorf("path parameter %s is not declared", name)
		}
		out[i] = p
		used++
	}
	if used != len(declared) {
		return nil, errors.New("a declared path parameter is not in the path")
	}
	return out, nil
}

// register adds pattern to mux, turning the panic of a pattern net/http refuses into an error.
func register(mux *http.ServeMux, pattern string) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("operation %q: %v", pattern, p)
		}
	}()
	mux.Handle(pattern, http.NotFoundHandler())
	return nil
}

func compile(p *openapi3.Parameter) (*param, error) {
	if p.Schema == nil || p.Schema.Value == nil {
		return nil, fmt.Errorf("parameter %s has no schema", p.Name)
	}
	rule := &param{name: p.Name, schema: p.Schema.Value}
	s := rule.schema
	if s.Type.Is(openapi3.TypeArray) {
		if s.Items == nil || s.Items.Value == nil {
			return nil, fmt.Errorf("query parameter %s: an array needs items", p.Name)
		}
		s = s.Items.Value
	}
	if err := supported(s); err != nil {
		return nil, fmt.Errorf("query parameter %s: %w", p.Name, err)
	}
	// A path parameter is an ID or a name: unbounded, it would let any segment through.
	if p.In == openapi3.ParameterInPath && (s.Pattern == "" || s.MaxLength == nil || !s.Type.Is(openapi3.TypeString)) {
		return nil, fmt.Errorf("path parameter %s needs a string schema with a pattern and a maxLength", p.Name)
	}
	if s.Pattern != "" {
		re, err := regexp.Compile(s.Pattern)
		if err != nil {
			return nil, fmt.Errorf("query parameter %s: pattern: %w", p.Name, err)
		}
		rule.re = re
	}
	return rule, nil
}

// supported refuses a schema with a keyword checkValue does not enforce, so the spec cannot
// promise a rule that no request is held to.
func supported(s *openapi3.Schema) error {
	if !s.Type.IsEmpty() && !s.Type.Is(openapi3.TypeString) && !s.Type.Is(openapi3.TypeInteger) &&
		!s.Type.Is(openapi3.TypeNumber) && !s.Type.Is(openapi3.TypeBoolean) {
		return fmt.Errorf("type %v is not a scalar", s.Type.Slice())
	}
	if len(s.OneOf)+len(s.AnyOf)+len(s.AllOf) > 0 || s.Not != nil || s.Const != nil ||
		s.ExclusiveMin.IsSet() || s.ExclusiveMax.IsSet() || s.MultipleOf != nil {
		return errors.New("uses a keyword the query checker does not enforce (oneOf, anyOf, allOf, not, const, exclusive bounds, multipleOf)")
	}
	switch s.Format {
	case "", "date", "date-time":
	default:
		return fmt.Errorf("format %q is not enforced on query parameters", s.Format)
	}
	return nil
}

// Middleware answers a request whose query string breaks its operation's rules with 400
// VALIDATION_ERROR in the envelope, and passes every other request on. A request that
// matches no operation is passed on too: the router answers it 404 or 405.
func (c *Checker) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := c.Check(r); err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Check returns the 400 for r's path parameters and query string, or nil when they are what
// r's operation accepts (or r matches no operation).
func (c *Checker) Check(r *http.Request) error {
	if !httpapi.CanonicalPath(r.URL) {
		return nil
	}
	_, pattern := c.mux.Handler(r)
	params, ok := c.ops[pattern]
	if !ok {
		return nil
	}
	details := c.checkPath(pattern, r.URL.Path)
	var values url.Values
	if r.URL.RawQuery != "" {
		var err error
		if values, err = url.ParseQuery(r.URL.RawQuery); err != nil {
			return httpapi.Validation("The request is invalid: the query string is malformed (" + queryError(err) + ").")
		}
	}
	pathErrors := len(details)
	names := make([]string, 0, len(values))
	for name := range values {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		field := name
		if !utf8.ValidString(field) || len(field) > maxNameLen {
			field = "(a parameter name)"
		}
		p, declared := params[name]
		if !declared {
			details = append(details, httpapi.FieldError{Field: field, Message: "is not a parameter of this operation" + accepted(params)})
			continue
		}
		if msg := p.check(values[name]); msg != "" {
			details = append(details, httpapi.FieldError{Field: field, Message: msg})
		}
	}
	switch len(details) {
	case 0:
		return nil
	case 1:
		kind := "query"
		if pathErrors == 1 {
			kind = "path"
		}
		return httpapi.Validation("The request is invalid: "+kind+" parameter "+details[0].Field+" "+details[0].Message+".", details...)
	}
	return httpapi.Validation(fmt.Sprintf("The request is invalid: %d parameters are not accepted; see details.", len(details)), details...)
}

// checkPath returns what is wrong with the path parameters of a request for pattern whose
// (canonical, decoded) path is path: the mux matched it, so its segments line up with the
// pattern's after the base path.
func (c *Checker) checkPath(pattern, path string) []httpapi.FieldError {
	rules := c.paths[pattern]
	segments := strings.Split(strings.TrimPrefix(path, "/"), "/")
	// The pattern's segments are the base path's (/v1) and then the template's.
	offset := len(segments) - len(rules)
	if offset < 0 {
		return nil
	}
	var out []httpapi.FieldError
	for i, p := range rules {
		if p == nil {
			continue
		}
		if msg := checkValue(p.schema, p.re, segments[offset+i]); msg != "" {
			out = append(out, httpapi.FieldError{Field: p.name, Message: msg})
		}
	}
	return out
}

// maxNameLen bounds a parameter name echoed back in an error.
const maxNameLen = 64

// queryError says what is wrong with a query string without echoing it.
func queryError(err error) string {
	var esc url.EscapeError
	if errors.As(err, &esc) {
		return "an invalid percent-escape"
	}
	if strings.Contains(err.Error(), "semicolon") {
		return "a semicolon separates parameters; use &"
	}
	return "not application/x-www-form-urlencoded"
}

// accepted lists the operation's parameters for an error message.
func accepted(params map[string]*param) string {
	if len(params) == 0 {
		return "; it takes none"
	}
	names := make([]string, 0, len(params))
	for n := range params {
		names = append(names, n)
	}
	sort.Strings(names)
	return "; it takes " + strings.Join(names, ", ")
}

// check returns what is wrong with a parameter's values, or "".
func (p *param) check(values []string) string {
	s := p.schema
	if s.Type.Is(openapi3.TypeArray) {
		if s.MaxItems != nil && uint64(len(values)) > *s.MaxItems {
			return fmt.Sprintf("may be given at most %d times", *s.MaxItems)
		}
		for _, v := range values {
			if msg := checkValue(s.Items.Value, p.re, v); msg != "" {
				return msg
			}
		}
		return ""
	}
	if len(values) != 1 {
		return "must be given once"
	}
	return checkValue(s, p.re, values[0])
}

// checkValue returns what is wrong with one value of a scalar parameter, or "". Messages
// never echo the value.
func checkValue(s *openapi3.Schema, re *regexp.Regexp, v string) string {
	if !utf8.ValidString(v) {
		return "must be valid UTF-8"
	}
	var n uint64 // characters, as maxLength counts them
	for range v {
		n++
	}
	switch {
	case s.Type.Is(openapi3.TypeInteger):
		return checkNumber(s, v, true)
	case s.Type.Is(openapi3.TypeNumber):
		return checkNumber(s, v, false)
	case s.Type.Is(openapi3.TypeBoolean):
		if v != "true" && v != "false" {
			return "must be true or false"
		}
		return ""
	}
	if s.MaxLength != nil && n > *s.MaxLength {
		return fmt.Sprintf("must be at most %d characters", *s.MaxLength)
	}
	if n < s.MinLength {
		return fmt.Sprintf("must be at least %d characters", s.MinLength)
	}
	if len(s.Enum) > 0 {
		allowed := make([]string, 0, len(s.Enum))
		for _, e := range s.Enum {
			allowed = append(allowed, fmt.Sprint(e))
		}
		if !slices.Contains(allowed, v) {
			return "must be one of " + strings.Join(allowed, ", ")
		}
	}
	switch s.Format {
	case "date":
		if _, err := time.Parse(time.DateOnly, v); err != nil {
			return "must be a date (YYYY-MM-DD)"
		}
	case "date-time":
		if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
			return "must be a date-time (RFC 3339, such as 2026-01-31T12:00:00Z)"
		}
	}
	if re != nil && !re.MatchString(v) {
		return "must match " + s.Pattern
	}
	return ""
}

// decimalInteger is an integer as a client writes it: no sign but -, no leading zeros, no
// exponent.
var decimalInteger = regexp.MustCompile(`^-?(0|[1-9][0-9]{0,17})$`)

func checkNumber(s *openapi3.Schema, v string, integer bool) string {
	want := "a number"
	if integer {
		want = "an integer"
	}
	var f float64
	if integer {
		if !decimalInteger.MatchString(v) {
			return "must be " + want + rangeText(s)
		}
		i, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return "must be " + want + rangeText(s)
		}
		f = float64(i)
	} else {
		var err error
		if f, err = strconv.ParseFloat(v, 64); err != nil || len(v) > 32 {
			return "must be " + want + rangeText(s)
		}
	}
	if (s.Min != nil && f < *s.Min) || (s.Max != nil && f > *s.Max) {
		return "must be " + want + rangeText(s)
	}
	return ""
}

func rangeText(s *openapi3.Schema) string {
	format := func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
	switch {
	case s.Min != nil && s.Max != nil:
		return " from " + format(*s.Min) + " to " + format(*s.Max)
	case s.Min != nil:
		return " of at least " + format(*s.Min)
	case s.Max != nil:
		return " of at most " + format(*s.Max)
	}
	return ""
}
