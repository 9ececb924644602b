// Package specrules reads the parameter rules of an OpenAPI document into the operations
// package queryparams checks requests against, and writes them as the Go source of its
// generated table (spec_gen.go). Only the generator and the test that holds the table to
// the spec use it, so no function loads the spec when it starts.
package specrules

import (
	"bytes"
	"errors"
	"fmt"
	"go/format"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"tokapi.io/tok/shared/queryparams"
)

// Operations returns the path and query parameter rules of every operation of spec, sorted
// by path and method, with paths under the base path of the first server URL (/v1). A
// parameter whose schema uses a keyword the checker does not enforce is an error, so the
// spec cannot promise a rule that no request is held to.
func Operations(spec []byte) ([]queryparams.Operation, error) {
	doc, err := openapi3.NewLoader().LoadFromData(spec)
	if err != nil {
		return nil, fmt.Errorf("specrules: load spec: %w", err)
	}
	base := ""
	if len(doc.Servers) > 0 {
		u, err := url.Parse(doc.Servers[0].URL)
		if err != nil {
			return nil, fmt.Errorf("specrules: server URL: %w", err)
		}
		base = strings.TrimSuffix(u.Path, "/")
	}
	var out []queryparams.Operation
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			o := queryparams.Operation{Method: method, Path: base + path}
			// Path-level parameters first, so the operation's own override them.
			byName := map[string]int{}
			for _, list := range []openapi3.Parameters{item.Parameters, op.Parameters} {
				for _, ref := range list {
					p := ref.Value
					if p == nil || (p.In != openapi3.ParameterInQuery && p.In != openapi3.ParameterInPath) {
						continue
					}
					rule, err := rule(p)
					if err != nil {
						return nil, fmt.Errorf("specrules: %s %s: %w", method, path, err)
					}
					key := p.In + " " + p.Name
					if i, ok := byName[key]; ok {
						replace(&o, p.In, i, rule)
						continue
					}
					if p.In == openapi3.ParameterInPath {
						byName[key] = len(o.PathParams)
						o.PathParams = append(o.PathParams, rule)
					} else {
						byName[key] = len(o.QueryParams)
						o.QueryParams = append(o.QueryParams, rule)
					}
				}
			}
			sortParams(o.PathParams)
			sortParams(o.QueryParams)
			if _, err := queryparams.New([]queryparams.Operation{o}); err != nil {
				return nil, fmt.Errorf("specrules: %w", err)
			}
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Method < out[j].Method
	})
	return out, nil
}

func replace(o *queryparams.Operation, in string, i int, p queryparams.Param) {
	if in == openapi3.ParameterInPath {
		o.PathParams[i] = p
	} else {
		o.QueryParams[i] = p
	}
}

func sortParams(ps []queryparams.Param) {
	sort.Slice(ps, func(i, j int) bool { return ps[i].Name < ps[j].Name })
}

// rule reduces a parameter's schema to a queryparams.Param.
func rule(p *openapi3.Parameter) (queryparams.Param, error) {
	if p.Schema == nil || p.Schema.Value == nil {
		return queryparams.Param{}, fmt.Errorf("parameter %s has no schema", p.Name)
	}
	out := queryparams.Param{Name: p.Name}
	s := p.Schema.Value
	if s.Type.Is(openapi3.TypeArray) {
		if s.Items == nil || s.Items.Value == nil {
			return queryparams.Param{}, fmt.Errorf("query parameter %s: an array needs items", p.Name)
		}
		out.Array = true
		if s.MaxItems != nil {
			if *s.MaxItems == 0 {
				return queryparams.Param{}, fmt.Errorf("query parameter %s: maxItems 0 admits no value", p.Name)
			}
			out.MaxItems = *s.MaxItems
		}
		s = s.Items.Value
	}
	if err := supported(s); err != nil {
		return queryparams.Param{}, fmt.Errorf("%s parameter %s: %w", p.In, p.Name, err)
	}
	if !s.Type.IsEmpty() {
		out.Type = s.Type.Slice()[0]
	}
	out.Pattern, out.MinLength, out.Format = s.Pattern, s.MinLength, s.Format
	if s.MaxLength != nil {
		if *s.MaxLength == 0 {
			return queryparams.Param{}, fmt.Errorf("%s parameter %s: maxLength 0 admits only the empty string", p.In, p.Name)
		}
		out.MaxLength = *s.MaxLength
	}
	if s.Min != nil {
		out.Min, out.HasMin = *s.Min, true
	}
	if s.Max != nil {
		out.Max, out.HasMax = *s.Max, true
	}
	for _, e := range s.Enum {
		out.Enum = append(out.Enum, fmt.Sprint(e))
	}
	return out, nil
}

// supported refuses a schema with a keyword the checker does not enforce.
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

// Source is the Go file that declares ops as package queryparams' specOperations.
func Source(ops []queryparams.Operation) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("// Code generated by go generate ./shared/queryparams from api/openapi.yaml; DO NOT EDIT.\n\n")
	b.WriteString("package queryparams\n\n")
	b.WriteString("// specOperations is what api/openapi.yaml declares of each operation's parameters.\n")
	b.WriteString("var specOperations = []Operation{\n")
	for _, o := range ops {
		fmt.Fprintf(&b, "{Method: %q, Path: %q,\n", o.Method, o.Path)
		writeParams(&b, "PathParams", o.PathParams)
		writeParams(&b, "QueryParams", o.QueryParams)
		b.WriteString("},\n")
	}
	b.WriteString("}\n")
	src, err := format.Source(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("specrules: format the table: %w", err)
	}
	return src, nil
}

func writeParams(b *bytes.Buffer, field string, ps []queryparams.Param) {
	if len(ps) == 0 {
		return
	}
	fmt.Fprintf(b, "%s: []Param{\n", field)
	for _, p := range ps {
		var f []string
		add := func(format string, args ...any) { f = append(f, fmt.Sprintf(format, args...)) }
		add("Name: %q", p.Name)
		if p.Array {
			add("Array: true")
		}
		if p.MaxItems != 0 {
			add("MaxItems: %d", p.MaxItems)
		}
		if p.Type != "" {
			add("Type: %q", p.Type)
		}
		if p.Pattern != "" {
			add("Pattern: %s", strconv.Quote(p.Pattern))
		}
		if p.MinLength != 0 {
			add("MinLength: %d", p.MinLength)
		}
		if p.MaxLength != 0 {
			add("MaxLength: %d", p.MaxLength)
		}
		if len(p.Enum) > 0 {
			quoted := make([]string, len(p.Enum))
			for i, e := range p.Enum {
				quoted[i] = strconv.Quote(e)
			}
			add("Enum: []string{%s}", strings.Join(quoted, ", "))
		}
		if p.HasMin {
			add("Min: %s, HasMin: true", strconv.FormatFloat(p.Min, 'g', -1, 64))
		}
		if p.HasMax {
			add("Max: %s, HasMax: true", strconv.FormatFloat(p.Max, 'g', -1, 64))
		}
		if p.Format != "" {
			add("Format: %q", p.Format)
		}
		fmt.Fprintf(b, "{%s},\n", strings.Join(f, ", "))
	}
	b.WriteString("},\n")
}
