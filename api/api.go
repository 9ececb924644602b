// Package api holds Tok's API contract. openapi.yaml in this folder is the one source: it
// is embedded here, so the function that serves the spec ships the very document the tests
// validate responses against, and JSON is that document converted, never a second copy.
package api

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"gopkg.in/yaml.v3"
)

// YAML is api/openapi.yaml, byte for byte.
//
//go:embed openapi.yaml
var YAML []byte

// JSON returns the spec as JSON: the same document, keys in the order the YAML has them.
func JSON() ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(YAML, &doc); err != nil {
		return nil, fmt.Errorf("parse openapi.yaml: %w", err)
	}
	v, err := toJSON(&doc)
	if err != nil {
		return nil, fmt.Errorf("convert openapi.yaml: %w", err)
	}
	return v, nil
}

// toJSON renders a YAML node as JSON. Maps keep their order (encoding/json would sort them).
func toJSON(n *yaml.Node) (json.RawMessage, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return nil, fmt.Errorf("line %d: want one document", n.Line)
		}
		return toJSON(n.Content[0])
	case yaml.AliasNode:
		return toJSON(n.Alias)
	case yaml.MappingNode:
		out := []byte{'{'}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: a map key must be a scalar", k.Line)
			}
			if i > 0 {
				out = append(out, ',')
			}
			key, err := json.Marshal(k.Value)
			if err != nil {
				return nil, err
			}
			val, err := toJSON(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			out = append(append(append(out, key...), ':'), val...)
		}
		return append(out, '}'), nil
	case yaml.SequenceNode:
		out := []byte{'['}
		for i, c := range n.Content {
			if i > 0 {
				out = append(out, ',')
			}
			val, err := toJSON(c)
			if err != nil {
				return nil, err
			}
			out = append(out, val...)
		}
		return append(out, ']'), nil
	case yaml.ScalarNode:
		return scalar(n)
	}
	return nil, fmt.Errorf("line %d: unsupported YAML node kind %d", n.Line, n.Kind)
}

// scalar renders a YAML scalar by its resolved tag, as a YAML 1.2 reader would type it.
func scalar(n *yaml.Node) (json.RawMessage, error) {
	switch n.ShortTag() {
	case "!!null":
		return json.RawMessage("null"), nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, err
		}
		return json.Marshal(b)
	case "!!int":
		var i int64
		if err := n.Decode(&i); err != nil {
			return nil, err
		}
		return json.RawMessage(strconv.FormatInt(i, 10)), nil
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, err
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("line %d: %s has no JSON form", n.Line, n.Value)
		}
		return json.Marshal(f)
	default:
		return json.Marshal(n.Value)
	}
}
