// Command genmodels writes the Python SDK's dataclasses (sdks/python/src/tokapi/models.py)
// from the component schemas of api/openapi.yaml, so that the SDK's types follow the spec;
// its test fails when the committed file and the spec drift apart.
//
//	go run ./sdks/python/genmodels            # rewrites models.py
package main

import (
	"bytes"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"

	"tokapi.io/tok/shared/manifest"
)

const (
	specPath   = "api/openapi.yaml"
	modelsPath = "sdks/python/src/tokapi/models.py"
)

func main() {
	root, err := manifest.FindRoot()
	if err != nil {
		log.Fatal(err)
	}
	out, err := generate(filepath.Join(root, specPath))
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, modelsPath), out, 0o644); err != nil { //nolint:gosec // a source file
		log.Fatal(err)
	}
}

// schema is the part of a JSON Schema the generator reads, keeping property order.
type schema struct {
	Ref         string
	Types       []string
	Enum        []string
	Const       string
	Pattern     string
	Description string
	Properties  []property
	Required    map[string]bool
	Items       *schema
	OneOf       []*schema
	// Discriminator: the property that names a oneOf's variant, and each value's schema.
	Discriminator string
	Mapping       [][2]string
}

type property struct {
	Name   string
	Schema *schema
}

func parseSchema(n *yaml.Node) (*schema, error) {
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: a schema must be a mapping", n.Line)
	}
	s := &schema{Required: map[string]bool{}}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i].Value, n.Content[i+1]
		var err error
		switch key {
		case "$ref":
			s.Ref = strings.TrimPrefix(val.Value, "#/components/schemas/")
		case "type":
			if val.Kind == yaml.SequenceNode {
				err = val.Decode(&s.Types)
			} else {
				s.Types = []string{val.Value}
			}
		case "enum":
			err = val.Decode(&s.Enum)
		case "const":
			s.Const = val.Value
		case "pattern":
			s.Pattern = val.Value
		case "description":
			s.Description = val.Value
		case "required":
			var req []string
			err = val.Decode(&req)
			for _, r := range req {
				s.Required[r] = true
			}
		case "items":
			s.Items, err = parseSchema(val)
		case "oneOf":
			for _, o := range val.Content {
				var os *schema
				if os, err = parseSchema(o); err != nil {
					return nil, err
				}
				s.OneOf = append(s.OneOf, os)
			}
		case "discriminator":
			if pn := lookup(val, "propertyName"); pn != nil {
				s.Discriminator = pn.Value
			}
			if m := lookup(val, "mapping"); m != nil {
				for j := 0; j+1 < len(m.Content); j += 2 {
					s.Mapping = append(s.Mapping, [2]string{m.Content[j].Value, strings.TrimPrefix(m.Content[j+1].Value, "#/components/schemas/")})
				}
			}
		case "properties":
			for j := 0; j+1 < len(val.Content); j += 2 {
				ps, err := parseSchema(val.Content[j+1])
				if err != nil {
					return nil, err
				}
				s.Properties = append(s.Properties, property{val.Content[j].Value, ps})
			}
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %s: %w", val.Line, key, err)
		}
	}
	return s, nil
}

// generator collects the classes and aliases of models.py.
type generator struct {
	schemas map[string]*schema
	classes []class
	aliases []string // type aliases for enum schemas
	unions  []string // a type alias and a decoder per discriminated oneOf schema
}

type class struct {
	name   string
	doc    string
	fields []field
}

type field struct {
	py, json, typ, decode string
	required              bool
	money                 bool
}

// names for inline item objects where the generic Parent+Property+Item would read badly.
var inlineNames = map[string]string{"TransactionChanges.data": "TransactionChange"}

var moneyPattern = regexp.MustCompile(`^\^(-\?)?\[0-9\]\+\\\\?\.\[0-9\]\{4\}\$$`)

func generate(path string) ([]byte, error) {
	raw, err := os.ReadFile(path) //nolint:gosec // the spec of this repository
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	schemas := lookup(doc.Content[0], "components", "schemas")
	if schemas == nil {
		return nil, errors.New("genmodels: no components.schemas in the spec")
	}
	g := &generator{schemas: map[string]*schema{}}
	var names []string
	for i := 0; i+1 < len(schemas.Content); i += 2 {
		s, err := parseSchema(schemas.Content[i+1])
		if err != nil {
			return nil, fmt.Errorf("schema %s: %w", schemas.Content[i].Value, err)
		}
		g.schemas[schemas.Content[i].Value] = s
		names = append(names, schemas.Content[i].Value)
	}
	for _, name := range names {
		s := g.schemas[name]
		switch {
		case len(s.Properties) > 0:
			g.object(name, s)
		case len(s.Enum) > 0:
			g.aliases = append(g.aliases, fmt.Sprintf("%s = Literal[%s]", name, literals(s.Enum)))
		case s.Discriminator != "" && len(s.Mapping) > 0:
			g.unions = append(g.unions, union(name, s))
		}
	}
	return g.render(), nil
}

func lookup(n *yaml.Node, path ...string) *yaml.Node {
	for _, key := range path {
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				next = n.Content[i+1]
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return n
}

func (g *generator) object(name string, s *schema) {
	c := class{name: name, doc: firstSentence(s.Description)}
	for _, p := range s.Properties {
		typ, decode := g.pyType(name, p.Name, p.Schema)
		c.fields = append(c.fields, field{
			py: snake(p.Name), json: p.Name, typ: typ, decode: decode, required: s.Required[p.Name],
			money: moneyPattern.MatchString(p.Schema.Pattern),
		})
	}
	g.classes = append(g.classes, c)
}

// pyType returns a property's Python type and how from_dict decodes its JSON value v
// ("" when it is used as it is).
func (g *generator) pyType(parent, prop string, s *schema) (string, string) {
	nullable := false
	types := s.Types
	if len(s.OneOf) == 2 && len(s.OneOf[1].Types) == 1 && s.OneOf[1].Types[0] == "null" {
		s, nullable = s.OneOf[0], true
		types = s.Types
	}
	var base []string
	for _, t := range types {
		if t == "null" {
			nullable = true
		} else {
			base = append(base, t)
		}
	}
	typ, decode := "Any", ""
	switch {
	case s.Ref != "":
		ref := g.schemas[s.Ref]
		switch {
		case ref != nil && len(ref.Properties) > 0:
			typ, decode = s.Ref, s.Ref+".from_dict(v)"
		case ref != nil && ref.Discriminator != "":
			typ, decode = s.Ref, snake(s.Ref)+"_from_dict(v)"
		default:
			typ = s.Ref
		}
	case s.Const != "":
		typ = fmt.Sprintf("Literal[%q]", s.Const)
	case len(s.Enum) > 0:
		typ = "Literal[" + literals(s.Enum) + "]"
	case len(base) == 1 && base[0] == "array" && s.Items != nil:
		itemName := parent + pascal(prop) + "Item"
		if n, ok := inlineNames[parent+"."+prop]; ok {
			itemName = n
		}
		var it, itDecode string
		if len(s.Items.Properties) > 0 {
			g.object(itemName, s.Items)
			it, itDecode = itemName, itemName+".from_dict(v)"
		} else {
			it, itDecode = g.pyType(itemName, "", s.Items)
		}
		typ = "list[" + it + "]"
		if itDecode != "" {
			decode = "[" + strings.ReplaceAll(itDecode, "(v)", "(i)") + " for i in v]"
		}
	case len(base) == 1 && base[0] == "object" && len(s.Properties) > 0:
		name := parent + pascal(prop)
		g.object(name, s)
		typ, decode = name, name+".from_dict(v)"
	case len(base) == 1:
		typ = map[string]string{"string": "str", "integer": "int", "boolean": "bool", "number": "Decimal", "object": "dict[str, Any]"}[base[0]]
		if typ == "" {
			typ = "Any"
		}
	}
	if nullable {
		typ = "Optional[" + typ + "]"
	}
	return typ, decode
}

func (g *generator) render() []byte {
	var b bytes.Buffer
	b.WriteString(`# Code generated by sdks/python/genmodels from api/openapi.yaml; DO NOT EDIT.
# Regenerate with: go run ./sdks/python/genmodels
"""The Tok API's objects as dataclasses, one per schema of api/openapi.yaml.

Field names are the JSON names in snake_case; amounts stay decimal strings, and each amount
field has a ` + "`<name>_decimal`" + ` property giving it as a decimal.Decimal.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, Mapping, Optional, Union

from ._model import Model, to_decimal

`)
	codes := g.errorCodes()
	fmt.Fprintf(&b, "ERROR_CODES: tuple[str, ...] = (%s)\n\"\"\"The error codes of the Tok error envelope.\"\"\"\n\n", quoted(codes))
	for _, a := range g.aliases {
		b.WriteString(a + "\n")
	}
	sort.SliceStable(g.classes, func(i, j int) bool { return g.classes[i].name < g.classes[j].name })
	for _, c := range g.classes {
		b.WriteString("\n\n@dataclass(kw_only=True)\nclass " + c.name + "(Model):\n")
		if c.doc != "" {
			b.WriteString("    \"\"\"" + c.doc + "\"\"\"\n\n")
		}
		for _, f := range c.fields {
			if f.required {
				fmt.Fprintf(&b, "    %s: %s\n", f.py, f.typ)
			} else {
				fmt.Fprintf(&b, "    %s: %s = None\n", f.py, optional(f.typ))
			}
		}
		for _, f := range c.fields {
			if !f.money {
				continue
			}
			ret := "Decimal"
			if strings.HasPrefix(optional(f.typ), "Optional[") && (!f.required || strings.HasPrefix(f.typ, "Optional[")) {
				ret = "Optional[Decimal]"
			}
			fmt.Fprintf(&b, "\n    @property\n    def %s_decimal(self) -> %s:\n        \"\"\"%s as a decimal.Decimal.\"\"\"\n        return to_decimal(self.%s)\n",
				f.py, ret, f.py, f.py)
		}
		fmt.Fprintf(&b, "\n    @classmethod\n    def from_dict(cls, d: Mapping[str, Any]) -> %s:\n        return cls(\n", c.name)
		for _, f := range c.fields {
			// A required property is always there (the API's responses are checked against
			// the spec); an optional one may be missing.
			value := fmt.Sprintf("d.get(%q)", f.json)
			if f.required {
				value = fmt.Sprintf("d[%q]", f.json)
			}
			if f.decode != "" {
				value = fmt.Sprintf("_decode(%s, lambda v: %s)", value, f.decode)
			}
			fmt.Fprintf(&b, "            %s=%s,\n", f.py, value)
		}
		b.WriteString("        )\n")
	}
	for _, u := range g.unions {
		b.WriteString(u)
	}
	b.WriteString(`

def _decode(v: Any, f: Any) -> Any:
    return None if v is None else f(v)
`)
	return b.Bytes()
}

// union renders a discriminated oneOf: a Union alias and a decoder choosing the variant by
// the discriminator's value.
func union(name string, s *schema) string {
	var b strings.Builder
	variants := make([]string, len(s.Mapping))
	for i, m := range s.Mapping {
		variants[i] = m[1]
	}
	// A type added to the API after this SDK was generated decodes to Unknown<name> rather
	// than failing, so listing events never breaks on an older client.
	unknown := "Unknown" + name
	fmt.Fprintf(&b, "\n\n@dataclass(kw_only=True)\nclass %s(Model):\n", unknown)
	fmt.Fprintf(&b, "    \"\"\"Any %s whose %s this SDK version does not know; raw is the object as received.\"\"\"\n\n", name, s.Discriminator)
	fmt.Fprintf(&b, "    %s: str\n    raw: dict[str, Any]\n", snake(s.Discriminator))
	variants = append(variants, unknown)
	fmt.Fprintf(&b, "\n\n%s = Union[%s]\n", name, strings.Join(variants, ", "))
	if doc := firstSentence(s.Description); doc != "" {
		fmt.Fprintf(&b, "\"\"\"%s\"\"\"\n", doc)
	}
	fmt.Fprintf(&b, "\n_%s_VARIANTS: dict[str, Any] = {\n", strings.ToUpper(snake(name)))
	for _, m := range s.Mapping {
		fmt.Fprintf(&b, "    %q: %s,\n", m[0], m[1])
	}
	fmt.Fprintf(&b, "}\n\n\ndef %s_from_dict(d: Mapping[str, Any]) -> %s:\n", snake(name), name)
	fmt.Fprintf(&b, "    \"\"\"The %s variant that d's %q names.\"\"\"\n", name, s.Discriminator)
	fmt.Fprintf(&b, "    cls = _%s_VARIANTS.get(str(d.get(%q)))\n", strings.ToUpper(snake(name)), s.Discriminator)
	fmt.Fprintf(&b, "    if cls is None:\n        return %s(%s=str(d.get(%q)), raw=dict(d))\n", unknown, snake(s.Discriminator), s.Discriminator)
	b.WriteString("    result: " + name + " = cls.from_dict(d)\n    return result\n")
	return b.String()
}

func (g *generator) errorCodes() []string {
	e := g.schemas["Error"]
	for _, p := range e.Properties {
		for _, q := range p.Schema.Properties {
			if q.Name == "code" {
				return q.Schema.Enum
			}
		}
	}
	return nil
}

func optional(typ string) string {
	if strings.HasPrefix(typ, "Optional[") {
		return typ
	}
	return "Optional[" + typ + "]"
}

func literals(values []string) string {
	return quoted(values)
}

func quoted(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = fmt.Sprintf("%q", v)
	}
	s := strings.Join(q, ", ")
	if len(values) == 1 {
		s += ","
	}
	return s
}

func firstSentence(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if i := strings.Index(s, ". "); i >= 0 {
		s = s[:i+1]
	}
	return strings.ReplaceAll(s, `"""`, `'''`)
}

func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

func pascal(s string) string {
	if s == "" {
		return ""
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
