// Package queryparams checks every API request's path parameters and query string against
// the API spec before a handler sees it: each parameter the matched operation declares is
// checked by its schema (type, pattern, length, enum, range, date formats), a query
// parameter it does not declare is refused, and either is a 400 VALIDATION_ERROR naming the
// parameter. The rules are the spec's own, read from api/openapi.yaml when the code is
// generated (spec_gen.go, by go generate ./shared/queryparams; a test fails when it differs
// from the spec), so a new operation or a tightened parameter is checked the moment the spec
// says so, and no function parses the spec when it starts. A value no handler should see (a
// 1,500-character ID that Firestore would refuse, an ID of the wrong kind) never reaches
// one; a well-formed ID that names nothing is the handler's 404.
package queryparams

//go:generate go run ./genrules

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"regexp/syntax"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"tokapi.io/tok/shared/httpapi"
)

// Operation is what the spec declares of one operation's parameters.
type Operation struct {
	Method string
	// Path is the path template under the server's base path, which is also its net/http
	// mux pattern: /v1/accounts/{accountId}.
	Path        string
	PathParams  []Param
	QueryParams []Param
}

// Param is one declared parameter's schema, reduced to the keywords the checker enforces
// (package specrules refuses a schema with any other).
type Param struct {
	Name string
	// Array is a query parameter that may be given several times, at most MaxItems; the
	// fields below are then its items' schema.
	Array    bool
	MaxItems uint64 // 0: no bound
	// Type is string, integer, number, boolean, or "" for any.
	Type      string
	Pattern   string
	MinLength uint64
	MaxLength uint64 // 0: no bound
	Enum      []string
	// Min and Max bound a number when HasMin and HasMax say so. No field is a pointer, so
	// the generated table is static data, with nothing to build when the process starts.
	Min, Max       float64
	HasMin, HasMax bool
	Format         string // "", date or date-time
}

// Checker knows the query parameters of every operation of a spec.
type Checker struct {
	// mux matches a request to its operation with net/http's own precedence rules, as the
	// functions' routers do (a literal segment beats a wildcard).
	mux *http.ServeMux
	ops map[string]map[string]*param // mux pattern → query parameter name → rule
	// paths holds, by mux pattern, the rule of each path segment: nil for a literal one.
	paths map[string][]*param
}

// param is one declared parameter and its pattern, compiled on first use.
type param struct {
	Param
	re func() *regexp.Regexp
}

var (
	specOnce    sync.Once
	specChecker *Checker
	specErr     error
)

// Spec returns the Checker of Tok's API spec (spec_gen.go), built once per process.
func Spec() (*Checker, error) {
	specOnce.Do(func() { specChecker, specErr = New(specOperations) })
	return specChecker, specErr
}

// SpecFor returns the Checker of the operations of Tok's API spec among patterns (a
// router's, "GET /v1/banks/{id}", whose wildcards may be named otherwise than the spec's): a
// function checks the operations it serves, with the precedence its own router applies, and
// its first request builds no rules for the other functions' operations. A pattern the spec
// does not declare is left out.
func SpecFor(patterns []string) (*Checker, error) {
	served := make(map[string]bool, len(patterns))
	for _, p := range patterns {
		served[shape(p)] = true
	}
	var ops []Operation
	for _, op := range specOperations {
		if served[shape(op.Method+" "+op.Path)] {
			ops = append(ops, op)
		}
	}
	return New(ops)
}

// shape is a mux pattern with its wildcards unnamed: "GET /v1/banks/{}".
func shape(pattern string) string {
	segments := strings.Split(pattern, "/")
	for i, seg := range segments {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			segments[i] = "{}"
		}
	}
	return strings.Join(segments, "/")
}

// New builds the Checker of a spec's operations. Every path parameter must be a string with
// a pattern and a maxLength, and every {name} of a path a declared path parameter.
func New(ops []Operation) (*Checker, error) {
	c := &Checker{mux: http.NewServeMux(), ops: map[string]map[string]*param{}, paths: map[string][]*param{}}
	// Most parameters share a handful of patterns (an ID's prefix and 26 characters); each
	// is compiled once, when a request first needs it.
	patterns := map[string]func() *regexp.Regexp{}
	compile := func(p Param) (*param, error) { return compile(p, patterns) }
	for _, op := range ops {
		pattern := op.Method + " " + op.Path
		query := map[string]*param{}
		inPath := map[string]*param{}
		for _, p := range op.QueryParams {
			rule, err := compile(p)
			if err != nil {
				return nil, fmt.Errorf("queryparams: %s: query parameter %s: %w", pattern, p.Name, err)
			}
			query[p.Name] = rule
		}
		for _, p := range op.PathParams {
			rule, err := compile(p)
			if err != nil {
				return nil, fmt.Errorf("queryparams: %s: path parameter %s: %w", pattern, p.Name, err)
			}
			// A path parameter is an ID or a name: unbounded, it would let any segment through.
			if p.Array || p.Type != "string" || p.Pattern == "" || p.MaxLength == 0 {
				return nil, fmt.Errorf("queryparams: %s: path parameter %s needs a string schema with a pattern and a maxLength", pattern, p.Name)
			}
			inPath[p.Name] = rule
		}
		segments, err := pathRules(op.Path, inPath)
		if err != nil {
			return nil, fmt.Errorf("queryparams: %s: %w", pattern, err)
		}
		if err := register(c.mux, pattern); err != nil {
			return nil, fmt.Errorf("queryparams: %w", err)
		}
		c.ops[pattern], c.paths[pattern] = query, segments
	}
	return c, nil
}

// pathRules returns the rule of each segment of a path template ("/v1/accounts/{accountId}"),
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

// compile checks p's rule and parses its pattern; the pattern is compiled on its first use
// (compiling every pattern of the spec would cost a new instance's first request
// milliseconds), once for all the parameters in patterns that share it.
func compile(p Param, patterns map[string]func() *regexp.Regexp) (*param, error) {
	switch p.Type {
	case "", "string", "integer", "number", "boolean":
	default:
		return nil, fmt.Errorf("type %q is not a scalar", p.Type)
	}
	switch p.Format {
	case "", "date", "date-time":
	default:
		return nil, fmt.Errorf("format %q is not enforced", p.Format)
	}
	rule := &param{Param: p}
	if p.Pattern != "" {
		re, ok := patterns[p.Pattern]
		if !ok {
			// regexp.Compile fails only where syntax.Parse does, so the compile on first
			// use cannot.
			if _, err := syntax.Parse(p.Pattern, syntax.Perl); err != nil {
				return nil, fmt.Errorf("pattern: %w", err)
			}
			pattern := p.Pattern
			re = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(pattern) })
			patterns[p.Pattern] = re
		}
		rule.re = re
	}
	return rule, nil
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
// pattern's.
func (c *Checker) checkPath(pattern, path string) []httpapi.FieldError {
	rules := c.paths[pattern]
	segments := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if len(segments) != len(rules) {
		return nil
	}
	var out []httpapi.FieldError
	for i, p := range rules {
		if p == nil {
			continue
		}
		if msg := p.checkValue(segments[i]); msg != "" {
			out = append(out, httpapi.FieldError{Field: p.Name, Message: msg})
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
	if p.Array {
		if p.MaxItems != 0 && uint64(len(values)) > p.MaxItems {
			return fmt.Sprintf("may be given at most %d times", p.MaxItems)
		}
		for _, v := range values {
			if msg := p.checkValue(v); msg != "" {
				return msg
			}
		}
		return ""
	}
	if len(values) != 1 {
		return "must be given once"
	}
	return p.checkValue(values[0])
}

// checkValue returns what is wrong with one value of a scalar parameter, or "". Messages
// never echo the value.
func (p *param) checkValue(v string) string {
	if !utf8.ValidString(v) {
		return "must be valid UTF-8"
	}
	var n uint64 // characters, as maxLength counts them
	for range v {
		n++
	}
	switch p.Type {
	case "integer":
		return p.checkNumber(v, true)
	case "number":
		return p.checkNumber(v, false)
	case "boolean":
		if v != "true" && v != "false" {
			return "must be true or false"
		}
		return ""
	}
	if p.MaxLength != 0 && n > p.MaxLength {
		return fmt.Sprintf("must be at most %d characters", p.MaxLength)
	}
	if n < p.MinLength {
		return fmt.Sprintf("must be at least %d characters", p.MinLength)
	}
	if len(p.Enum) > 0 && !slices.Contains(p.Enum, v) {
		return "must be one of " + strings.Join(p.Enum, ", ")
	}
	switch p.Format {
	case "date":
		if _, err := time.Parse(time.DateOnly, v); err != nil {
			return "must be a date (YYYY-MM-DD)"
		}
	case "date-time":
		if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
			return "must be a date-time (RFC 3339, such as 2026-01-31T12:00:00Z)"
		}
	}
	if p.re != nil && !p.re().MatchString(v) {
		return "must match " + p.Pattern
	}
	return ""
}

// decimalInteger reports whether v is an integer as a client writes it, of at most 18
// digits: no sign but -, no leading zeros, no exponent.
func decimalInteger(v string) bool {
	digits := strings.TrimPrefix(v, "-")
	if digits == "" || len(digits) > 18 || (digits[0] == '0' && len(digits) > 1) {
		return false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return false
		}
	}
	return true
}

func (p *param) checkNumber(v string, integer bool) string {
	want := "a number"
	if integer {
		want = "an integer"
	}
	var f float64
	if integer {
		if !decimalInteger(v) {
			return "must be " + want + p.rangeText()
		}
		i, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return "must be " + want + p.rangeText()
		}
		f = float64(i)
	} else {
		var err error
		if f, err = strconv.ParseFloat(v, 64); err != nil || len(v) > 32 {
			return "must be " + want + p.rangeText()
		}
	}
	if (p.HasMin && f < p.Min) || (p.HasMax && f > p.Max) {
		return "must be " + want + p.rangeText()
	}
	return ""
}

func (p *param) rangeText() string {
	format := func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
	switch {
	case p.HasMin && p.HasMax:
		return " from " + format(p.Min) + " to " + format(p.Max)
	case p.HasMin:
		return " of at least " + format(p.Min)
	case p.HasMax:
		return " of at most " + format(p.Max)
	}
	return ""
}
