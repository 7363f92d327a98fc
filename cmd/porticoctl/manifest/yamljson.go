package manifest

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// maxDepth bounds the nesting of a YAML document and maxNodes the nodes
// its aliases may expand to, so a hostile file cannot exhaust memory.
const (
	maxDepth = 200
	maxNodes = 1_000_000
)

// yamlToJSON converts a YAML node to the value encoding/json would decode
// from the same document written as JSON: map[string]any, []any, float64,
// string, bool and nil. Keys become strings (a response code 200 becomes
// "200"); timestamps stay the text they were written as.
func yamlToJSON(n *yaml.Node, depth int) (any, error) {
	budget := maxNodes
	return toJSON(n, depth, &budget)
}

func toJSON(n *yaml.Node, depth int, budget *int) (any, error) {
	*budget--
	if depth > maxDepth {
		return nil, fmt.Errorf("line %d: the document nests too deeply", n.Line)
	}
	if *budget < 0 {
		return nil, fmt.Errorf("line %d: the document's aliases expand too far", n.Line)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return toJSON(n.Content[0], depth+1, budget)
	case yaml.AliasNode:
		return toJSON(n.Alias, depth+1, budget)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := toJSON(c, depth+1, budget)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.ShortTag() == "!!merge" {
				if err := mergeInto(out, v, depth, budget); err != nil {
					return nil, err
				}
				continue
			}
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: a mapping key must be a plain value", k.Line)
			}
			val, err := toJSON(v, depth+1, budget)
			if err != nil {
				return nil, err
			}
			out[k.Value] = val
		}
		return out, nil
	case yaml.ScalarNode:
		return scalar(n)
	}
	return nil, fmt.Errorf("line %d: unsupported YAML node", n.Line)
}

// mergeInto applies a YAML merge key (<<: *base): keys already present win.
func mergeInto(out map[string]any, v *yaml.Node, depth int, budget *int) error {
	srcs := []*yaml.Node{v}
	if v.Kind == yaml.SequenceNode {
		srcs = v.Content
	}
	for _, s := range srcs {
		m, err := toJSON(s, depth+1, budget)
		if err != nil {
			return err
		}
		mm, ok := m.(map[string]any)
		if !ok {
			return fmt.Errorf("line %d: a merge key needs a mapping", v.Line)
		}
		for k, x := range mm {
			if _, ok := out[k]; !ok {
				out[k] = x
			}
		}
	}
	return nil
}

func scalar(n *yaml.Node) (any, error) {
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		return b, nil
	case "!!int":
		var i int64
		if err := n.Decode(&i); err == nil {
			return float64(i), nil
		}
		var u uint64
		if err := n.Decode(&u); err == nil {
			return float64(u), nil
		}
		f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: %q is not a number JSON can hold", n.Line, n.Value)
		}
		return f, nil
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("line %d: %s has no JSON form", n.Line, n.Value)
		}
		return f, nil
	default: // !!str, !!timestamp, !!binary and custom tags keep their text
		return n.Value, nil
	}
}
