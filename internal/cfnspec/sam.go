package cfnspec

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strings"
)

// samSchema is SAM's JSON schema (draft 4, as pydantic writes it): the
// keywords it uses are $ref, allOf, anyOf, enum, type, properties,
// additionalProperties, required and items, and SAM's own
// __samPassThrough, which names the CloudFormation property a value is
// handed to. Values that are intrinsic functions are objects to it, as to
// any JSON schema validator: SAM's types say where one may stand (an
// anyOf with "type": "object"); the functions themselves are checked by
// check.go.
type samSchema struct {
	defs      map[string]map[string]any
	resources map[string]map[string]any // AWS::Serverless::* → its Resource definition
	globals   map[string]any
}

func loadSAM(gz []byte) (*samSchema, error) {
	z, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(z)
	if err != nil {
		return nil, err
	}
	var root struct {
		Definitions map[string]map[string]any `json:"definitions"`
		Properties  struct {
			Globals   map[string]any `json:"Globals"`
			Resources struct {
				AdditionalProperties struct {
					AnyOf []map[string]any `json:"anyOf"`
				} `json:"additionalProperties"`
			} `json:"Resources"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(data, &root); err != nil {
		return nil, err
	}
	s := &samSchema{defs: root.Definitions, resources: map[string]map[string]any{}, globals: root.Properties.Globals}
	for _, ref := range root.Properties.Resources.AdditionalProperties.AnyOf {
		def := s.resolve(ref)
		typ, _ := def["properties"].(map[string]any)["Type"].(map[string]any)
		enum, _ := typ["enum"].([]any)
		if len(enum) == 1 && strings.HasPrefix(fmt.Sprint(enum[0]), "AWS::Serverless::") {
			s.resources[fmt.Sprint(enum[0])] = def
		}
	}
	if s.resources["AWS::Serverless::Function"] == nil || s.globals == nil {
		return nil, fmt.Errorf("no AWS::Serverless::Function or Globals: not the schema this was written for")
	}
	return s, nil
}

// resolve follows a node's $ref, if it has one.
func (s *samSchema) resolve(node map[string]any) map[string]any {
	for range 10 {
		ref, ok := node["$ref"].(string)
		if !ok {
			return node
		}
		node = s.defs[strings.TrimPrefix(ref, "#/definitions/")]
	}
	return node
}

// samValue checks v against a node of SAM's schema.
func (c *checker) samValue(path string, v any, node map[string]any) {
	if node == nil {
		return
	}
	if branches, ok := c.resolvedIf(v); ok {
		for _, b := range branches {
			c.samValue(path, b, node)
		}
		return
	}
	if pass, ok := node["__samPassThrough"].(map[string]any); ok {
		var schemaPath []string
		for _, p := range pass["schemaPath"].([]any) {
			schemaPath = append(schemaPath, fmt.Sprint(p))
		}
		t, ok := c.spec.cfnDefinition(schemaPath)
		if !ok {
			c.errorf(path, "SAM passes it to %s, which the CloudFormation specification does not have", strings.Join(schemaPath, "/"))
			return
		}
		c.value(path, v, t)
		return
	}
	if ref, ok := node["$ref"].(string); ok {
		c.samValue(path, v, c.spec.sam.defs[strings.TrimPrefix(ref, "#/definitions/")])
	}
	if all, ok := node["allOf"].([]any); ok {
		for _, n := range all {
			c.samValue(path, v, n.(map[string]any))
		}
	}
	if anyOf, ok := node["anyOf"].([]any); ok {
		var best []string
		for i, n := range anyOf {
			found := c.try(func() { c.samValue(path, v, n.(map[string]any)) })
			if len(found) == 0 {
				best = nil
				break
			}
			if i == 0 || len(found) < len(best) {
				best = found
			}
		}
		c.findings = append(c.findings, best...)
	}
	if enum, ok := node["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return reflect.DeepEqual(e, v) }) {
		c.errorf(path, "%v is not one of %v", v, enum)
		return
	}
	if typ, ok := node["type"].(string); ok && !jsonType(v, typ) {
		c.errorf(path, "%s, want %s", describe(v), typ)
		return
	}
	switch v := v.(type) {
	case map[string]any:
		props, _ := node["properties"].(map[string]any)
		for _, name := range sortedKeys(v) {
			if p, ok := props[name].(map[string]any); ok {
				c.samValue(path+"."+name, v[name], p)
				continue
			}
			switch extra := node["additionalProperties"].(type) {
			case bool:
				if !extra {
					c.errorf(path+"."+name, "unknown property (SAM's schema)")
				}
			case map[string]any:
				c.samValue(path+"."+name, v[name], extra)
			}
		}
		if req, ok := node["required"].([]any); ok {
			for _, r := range req {
				if _, ok := v[fmt.Sprint(r)]; !ok {
					c.errorf(path, "required property %s is missing (SAM's schema)", r)
				}
			}
		}
	case []any:
		if items, ok := node["items"].(map[string]any); ok {
			for i, e := range v {
				c.samValue(fmt.Sprintf("%s[%d]", path, i), e, items)
			}
		}
	}
}

// jsonType reports whether v, decoded from JSON, has the JSON schema type.
func jsonType(v any, typ string) bool {
	switch typ {
	case "object":
		return is[map[string]any](v)
	case "array":
		return is[[]any](v)
	case "string":
		return is[string](v)
	case "boolean":
		return is[bool](v)
	case "number":
		return is[float64](v)
	case "integer":
		f, ok := v.(float64)
		return ok && f == math.Trunc(f)
	}
	return true
}

// is reports whether v holds a T.
func is[T any](v any) bool {
	_, ok := v.(T)
	return ok
}

// resolvedIf gives the branches of an Fn::If that AWS::LanguageExtensions
// resolves before SAM reads the value (SAM itself takes no Fn::If in most
// properties); a branch of Ref AWS::NoValue leaves the property out, so it
// is not checked.
func (c *checker) resolvedIf(v any) ([]any, bool) {
	m, ok := v.(map[string]any)
	if !c.langExt || !ok || len(m) != 1 {
		return nil, false
	}
	args, ok := m["Fn::If"].([]any)
	if !ok || len(args) != 3 {
		return nil, false
	}
	var branches []any
	for _, b := range args[1:] {
		if ref, ok := b.(map[string]any); ok && ref["Ref"] == "AWS::NoValue" {
			continue
		}
		branches = append(branches, b)
	}
	return branches, true
}
