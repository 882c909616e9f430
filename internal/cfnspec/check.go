package cfnspec

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/awslabs/goformation/v7/intrinsics"
)

// Check checks a template (YAML or JSON, with the short forms !Ref, !Sub,
// !GetAtt, !If… as goformation reads them) and returns what CloudFormation
// or SAM would refuse, one finding a line, or nil:
//
//   - every resource type exists (in the CloudFormation specification, or
//     SAM's for AWS::Serverless::*, which needs the SAM transform);
//   - every property exists for its type, at every depth, required
//     properties are present, and values have their type (string, number,
//     integer, boolean, list, map, tag, nested property types, unions; a
//     string's allowed values) — SAM's types by SAM's schema, and the
//     properties SAM passes through by the CloudFormation type it passes
//     them to: those its schema names the type of (__samPassThrough), and
//     those it leaves untyped as the same-named property of the resource
//     SAM generates (passthrough.go), in Globals too;
//   - an intrinsic function stands only where its result may: a list
//     (Fn::Split, Fn::GetAZs, Fn::Cidr, a Ref to a list parameter) only for
//     a list, a string (Fn::Join, Fn::Sub, Fn::Base64) only for a scalar,
//     no function but Fn::If and Ref AWS::NoValue for a structure; the
//     branches of Fn::If are checked as the value itself;
//   - every Ref names a parameter, a resource or a pseudo parameter; every
//     Fn::GetAtt a resource and an attribute its type has; every ${X} and
//     ${X.Attr} of Fn::Sub the same (less the names of its variable map);
//     resources SAM generates count (a function's FnRole, the ServerlessRestApi
//     of Api events without RestApiId, an Api's stage), and an
//     AWS::Serverless::* resource's attributes are those of the resource it
//     becomes (AWS::Lambda::Function's Arn);
//   - every condition named by Fn::If, a Condition key or a condition
//     function exists, and every DependsOn names a resource;
//   - no resource depends on itself through Ref, Fn::GetAtt, Fn::Sub and
//     DependsOn, the edges SAM's generated resources add included
//     (cycles.go);
//   - the template's top-level sections, and each resource's and output's
//     keys, are CloudFormation's.
func Check(spec *Spec, template []byte) []string {
	processed, err := intrinsics.ProcessYAML(template, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		return []string{err.Error()}
	}
	var doc map[string]any
	if err := json.Unmarshal(processed, &doc); err != nil {
		return []string{err.Error()}
	}
	c := &checker{spec: spec, params: map[string]bool{}, conditions: map[string]bool{}, targets: map[string]string{}, nodes: map[string]string{}}
	c.template(doc)
	return c.findings
}

type checker struct {
	spec       *Spec
	findings   []string
	params     map[string]bool   // name → is a list
	conditions map[string]bool   // names
	targets    map[string]string // logical id → CloudFormation type, SAM's generated resources included
	nodes      map[string]string // the same ids → their node of the dependency graph (cycles.go)
	sam        bool              // the template has the SAM transform
	// langExt: AWS::LanguageExtensions runs before SAM's transform, so an
	// Fn::If in a SAM property is resolved before SAM reads it.
	langExt bool
}

func (c *checker) errorf(path, format string, args ...any) {
	c.findings = append(c.findings, path+": "+fmt.Sprintf(format, args...))
}

// try runs f and returns its findings instead of keeping them.
func (c *checker) try(f func()) []string {
	saved := c.findings
	c.findings = nil
	f()
	found := c.findings
	c.findings = saved
	return found
}

// sections are the top-level keys of a template; Globals is SAM's.
var sections = []string{"AWSTemplateFormatVersion", "Description", "Metadata", "Parameters", "Rules",
	"Mappings", "Conditions", "Transform", "Resources", "Outputs", "Globals"}

// resourceKeys are the keys a resource may have.
var resourceKeys = []string{"Type", "Properties", "DependsOn", "Condition", "DeletionPolicy",
	"UpdateReplacePolicy", "Metadata", "CreationPolicy", "UpdatePolicy"}

// pseudo are CloudFormation's pseudo parameters.
var pseudo = []string{"AWS::AccountId", "AWS::NotificationARNs", "AWS::NoValue", "AWS::Partition",
	"AWS::Region", "AWS::StackId", "AWS::StackName", "AWS::URLSuffix"}

const (
	samTransform     = "AWS::Serverless-2016-10-31"
	langExtTransform = "AWS::LanguageExtensions"
)

func (c *checker) template(doc map[string]any) {
	for _, k := range sortedKeys(doc) {
		if !slices.Contains(sections, k) {
			c.errorf(k, "not a section of a CloudFormation template")
		}
	}
	switch t := doc["Transform"].(type) {
	case string:
		c.sam = t == samTransform
	case []any:
		c.sam = slices.Contains(t, any(samTransform))
		if i := slices.Index(t, any(langExtTransform)); i >= 0 {
			c.langExt = !c.sam || i < slices.Index(t, any(samTransform))
			if !c.langExt {
				c.errorf("Transform", "%s must come before %s", langExtTransform, samTransform)
			}
		}
	}
	for name, p := range asMap(doc["Parameters"]) {
		typ := fmt.Sprint(asMap(p)["Type"])
		c.params[name] = strings.Contains(typ, "List<") || typ == "CommaDelimitedList"
	}
	for name := range asMap(doc["Conditions"]) {
		c.conditions[name] = true
	}
	resources := asMap(doc["Resources"])
	if len(resources) == 0 {
		c.errorf("Resources", "a template needs at least one resource")
	}
	for id, r := range resources {
		c.targets[id] = fmt.Sprint(asMap(r)["Type"])
		c.nodes[id] = id
	}
	c.samGenerated(resources)

	for _, id := range sortedKeys(resources) {
		c.resource("Resources."+id, asMap(resources[id]))
	}
	if g, ok := doc["Globals"]; ok {
		if !c.sam {
			c.errorf("Globals", "needs Transform: %s", samTransform)
		}
		c.samValue("Globals", g, c.spec.sam.globals)
		for _, section := range sortedKeys(asMap(g)) {
			c.passThrough("Globals."+section, "AWS::Serverless::"+section, asMap(asMap(g)[section]))
		}
	}
	outputs := asMap(doc["Outputs"])
	for _, name := range sortedKeys(outputs) {
		out := asMap(outputs[name])
		path := "Outputs." + name
		for _, k := range sortedKeys(out) {
			if !slices.Contains([]string{"Value", "Description", "Export", "Condition"}, k) {
				c.errorf(path+"."+k, "not a key of an output")
			}
		}
		if _, ok := out["Value"]; !ok {
			c.errorf(path, "an output needs a Value")
		}
		c.condition(path+".Condition", out["Condition"])
	}
	for _, section := range []string{"Conditions", "Rules", "Resources", "Outputs", "Globals"} {
		c.references(section, doc[section], nil, section == "Conditions" || section == "Rules")
	}
	c.cycles(resources, asMap(doc["Globals"]))
}

func (c *checker) resource(path string, r map[string]any) {
	typ, _ := r["Type"].(string)
	for _, k := range sortedKeys(r) {
		if !slices.Contains(resourceKeys, k) && !(strings.HasPrefix(typ, "AWS::Serverless::") && k == "IgnoreGlobals") {
			c.errorf(path+"."+k, "not a key of a resource")
		}
	}
	c.condition(path+".Condition", r["Condition"])
	deps := r["DependsOn"]
	if d, ok := deps.(string); ok {
		deps = []any{d}
	}
	for _, d := range asList(deps) {
		if _, ok := c.targets[fmt.Sprint(d)]; !ok {
			c.errorf(path+".DependsOn", "%v is not a resource of this template", d)
		}
	}
	for _, k := range []string{"DeletionPolicy", "UpdateReplacePolicy"} {
		if p, ok := r[k].(string); ok && !slices.Contains([]string{"Delete", "Retain", "Snapshot", "RetainExceptOnCreate"}, p) {
			c.errorf(path+"."+k, "%q is not a deletion policy", p)
		}
	}
	switch {
	case typ == "":
		c.errorf(path, "no Type")
	case strings.HasPrefix(typ, "AWS::Serverless::"):
		def := c.spec.sam.resources[typ]
		switch {
		case !c.sam:
			c.errorf(path, "%s needs Transform: %s", typ, samTransform)
		case def == nil:
			c.errorf(path, "unknown resource type %s (SAM's schema)", typ)
		default:
			c.samValue(path, r, def)
			c.passThrough(path+".Properties", typ, asMap(r["Properties"]))
		}
	case strings.HasPrefix(typ, "Custom::"):
		// A custom resource takes any properties.
	default:
		rt := c.spec.resources[typ]
		if rt == nil {
			c.errorf(path, "unknown resource type %s", typ)
			return
		}
		if _, ok := r["Properties"]; !ok {
			c.properties(path+".Properties", map[string]any{}, rt.Properties)
			return
		}
		c.value(path+".Properties", r["Properties"], valueType{Kind: "props", props: rt.Properties})
	}
}

// condition checks a Condition key's value.
func (c *checker) condition(path string, v any) {
	if v == nil {
		return
	}
	if name, ok := v.(string); !ok || !c.conditions[name] {
		c.errorf(path, "%v is not a condition of this template", v)
	}
}

// value checks v against a type of the CloudFormation specification.
func (c *checker) value(path string, v any, t valueType) {
	if name, arg, ok := intrinsic(v); ok {
		c.intrinsicValue(path, name, arg, t)
		return
	}
	switch t.Kind {
	case "json":
	case "string", "date-time":
		if !scalar(v) {
			c.errorf(path, "%s, want a string", describe(v))
		} else if s, ok := v.(string); ok && len(t.AllowedValues) > 0 &&
			!slices.ContainsFunc(t.AllowedValues, func(a any) bool { return fmt.Sprint(a) == s }) {
			c.errorf(path, "%q is not one of %v", s, t.AllowedValues)
		}
	case "integer", "number":
		switch v := v.(type) {
		case float64:
			if t.Kind == "integer" && v != float64(int64(v)) {
				c.errorf(path, "%v, want an integer", v)
			}
		case string:
			if _, err := strconv.ParseFloat(v, 64); err != nil {
				c.errorf(path, "%q, want a number", v)
			}
		default:
			c.errorf(path, "%s, want a number", describe(v))
		}
	case "boolean":
		if b, ok := v.(string); !(ok && (b == "true" || b == "false")) {
			if _, ok := v.(bool); !ok {
				c.errorf(path, "%s, want a boolean", describe(v))
			}
		}
	case "array":
		l, ok := v.([]any)
		if !ok {
			c.errorf(path, "%s, want a list", describe(v))
			return
		}
		for i, e := range l {
			c.value(fmt.Sprintf("%s[%d]", path, i), e, *t.Element)
		}
	case "map":
		m, ok := v.(map[string]any)
		if !ok {
			c.errorf(path, "%s, want a map", describe(v))
			return
		}
		for _, k := range sortedKeys(m) {
			c.value(path+"."+k, m[k], *t.Element)
		}
	case "tag":
		c.value(path, v, valueType{Kind: "props", props: tagProps})
	case "ref":
		d := c.spec.typeDefs[t.Reference.ID]
		if d == nil {
			c.errorf(path, "the specification has no property type %s", t.Reference.ID)
			return
		}
		c.value(path, v, valueType{Kind: "props", props: d.Properties})
	case "props":
		m, ok := v.(map[string]any)
		if !ok {
			c.errorf(path, "%s, want a structure", describe(v))
			return
		}
		c.properties(path, m, t.props)
	case "union":
		var best []string
		for i, u := range t.Types {
			found := c.try(func() { c.value(path, v, u) })
			if len(found) == 0 {
				return
			}
			if i == 0 || len(found) < len(best) {
				best = found
			}
		}
		c.findings = append(c.findings, best...)
	default:
		c.errorf(path, "the specification's type %q is unknown to this checker", t.Kind)
	}
}

var tagProps = map[string]property{
	"Key":   {Type: valueType{Kind: "string"}, Required: true},
	"Value": {Type: valueType{Kind: "string"}, Required: true},
}

// properties checks a structure's properties.
func (c *checker) properties(path string, m map[string]any, props map[string]property) {
	for _, k := range sortedKeys(m) {
		p, ok := props[k]
		if !ok {
			c.errorf(path+"."+k, "unknown property")
			continue
		}
		c.value(path+"."+k, m[k], p.Type)
	}
	for _, k := range sortedKeys(props) {
		if !props[k].Required {
			continue
		}
		if v, ok := m[k]; !ok || isNoValue(v) {
			c.errorf(path, "required property %s is missing", k)
		}
	}
}

// intrinsicValue checks that the function's result may stand for a value
// of type t.
func (c *checker) intrinsicValue(path, name string, arg any, t valueType) {
	var produces string // "list", "scalar", "any", or "" (anything but a structure)
	switch name {
	case "Ref":
		switch {
		case arg == "AWS::NoValue":
			return
		case arg == "AWS::NotificationARNs" || c.params[fmt.Sprint(arg)]:
			produces = "list"
		default:
			produces = "scalar"
		}
	case "Fn::If":
		if l := asList(arg); len(l) == 3 {
			c.value(path, l[1], t)
			c.value(path, l[2], t)
		}
		return
	case "Fn::Split", "Fn::GetAZs", "Fn::Cidr":
		produces = "list"
	case "Fn::Join", "Fn::Sub", "Fn::Base64":
		produces = "scalar"
	case "Fn::GetAtt", "Fn::Select", "Fn::FindInMap", "Fn::ImportValue":
	case "Fn::Transform":
		produces = "any"
	case "Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not":
		c.errorf(path, "%s is a condition function: it may stand only in Conditions, Rules and Fn::If's condition", name)
		return
	default:
		c.errorf(path, "%s is not an intrinsic function", name)
		return
	}
	if produces == "any" || accepts(t, produces) {
		return
	}
	want := map[string]string{"list": "a list", "scalar": "a single value", "": "a value"}[produces]
	kind, ok := map[string]string{"array": "a list", "integer": "an integer", "ref": "a structure", "props": "a structure"}[t.Kind]
	if !ok {
		kind = "a " + t.Kind
	}
	c.errorf(path, "%s gives %s, which cannot stand for %s", name, want, kind)
}

// accepts reports whether a value of type t may be what a function gives.
func accepts(t valueType, produces string) bool {
	switch t.Kind {
	case "json":
		return true
	case "union":
		return slices.ContainsFunc(t.Types, func(u valueType) bool { return accepts(u, produces) })
	case "array":
		return produces == "list" || produces == ""
	case "ref", "map", "tag", "props":
		return false
	}
	return produces == "scalar" || produces == ""
}

var subVariable = regexp.MustCompile(`\$\{([^}]*)\}`)

// references checks every Ref, Fn::GetAtt, Fn::Sub variable and condition
// name under v. locals are the names of an enclosing Fn::Sub's variable
// map; conditions is true in the Conditions and Rules sections, where
// {"Condition": name} names a condition.
func (c *checker) references(path string, v any, locals map[string]bool, conditions bool) {
	switch v := v.(type) {
	case []any:
		for i, e := range v {
			c.references(fmt.Sprintf("%s[%d]", path, i), e, locals, conditions)
		}
		return
	case map[string]any:
		name, arg, ok := intrinsic(v)
		if !ok {
			if cond, isCond := v["Condition"]; conditions && isCond && len(v) == 1 {
				c.condition(path+".Condition", cond)
				return
			}
			for _, k := range sortedKeys(v) {
				c.references(path+"."+k, v[k], locals, conditions)
			}
			return
		}
		path += "." + name
		switch name {
		case "Ref":
			if s, ok := arg.(string); ok {
				c.ref(path, s)
				return
			}
			c.errorf(path, "%s, want a logical id", describe(arg))
		case "Fn::GetAtt":
			c.getAtt(path, arg, locals, conditions)
		case "Fn::Sub":
			c.sub(path, arg, locals, conditions)
		case "Fn::If":
			l := asList(arg)
			if len(l) != 3 {
				c.errorf(path, "Fn::If takes [condition, value if true, value if false]")
				return
			}
			c.condition(path+"[0]", l[0])
			c.references(path+"[1]", l[1], locals, conditions)
			c.references(path+"[2]", l[2], locals, conditions)
		default:
			c.references(path, arg, locals, conditions)
		}
	}
}

func (c *checker) ref(path, name string) {
	if slices.Contains(pseudo, name) {
		return
	}
	if _, ok := c.params[name]; ok {
		return
	}
	if _, ok := c.targets[name]; ok {
		return
	}
	c.errorf(path, "%s is not a parameter, a resource or a pseudo parameter of this template", name)
}

func (c *checker) getAtt(path string, arg any, locals map[string]bool, conditions bool) {
	var id, attr string
	switch a := arg.(type) {
	case string:
		id, attr, _ = strings.Cut(a, ".")
	case []any:
		if len(a) != 2 {
			c.errorf(path, "Fn::GetAtt takes [logical id, attribute]")
			return
		}
		id = fmt.Sprint(a[0])
		if s, ok := a[1].(string); ok {
			attr = s
		} else {
			// An attribute given by Ref: only the resource can be checked.
			c.references(path+"[1]", a[1], locals, conditions)
			attr = "*"
		}
	default:
		c.errorf(path, "%s, want logical id.attribute", describe(arg))
		return
	}
	c.attribute(path, id, attr)
}

// attribute checks that the resource id has the attribute.
func (c *checker) attribute(path, id, attr string) {
	typ, ok := c.targets[id]
	if !ok {
		c.errorf(path, "%s is not a resource of this template", id)
		return
	}
	if base, ok := samBase[typ]; ok {
		typ = base
	}
	if attr == "*" || strings.HasPrefix(typ, "Custom::") || typ == "AWS::CloudFormation::CustomResource" ||
		typ == "AWS::CloudFormation::Stack" && strings.HasPrefix(attr, "Outputs.") {
		return
	}
	rt := c.spec.resources[typ]
	if rt == nil {
		return // the unknown type is reported with its resource
	}
	if _, ok := rt.Attributes[attr]; !ok {
		c.errorf(path, "%s (%s) has no attribute %s; it has %q", id, typ, attr, slices.Sorted(maps.Keys(rt.Attributes)))
	}
}

func (c *checker) sub(path string, arg any, locals map[string]bool, conditions bool) {
	var s string
	switch a := arg.(type) {
	case string:
		s = a
	case []any:
		if len(a) != 2 {
			c.errorf(path, "Fn::Sub takes a string or [string, variables]")
			return
		}
		vars, ok := a[1].(map[string]any)
		str, isStr := a[0].(string)
		if !ok || !isStr {
			c.errorf(path, "Fn::Sub takes a string or [string, variables]")
			return
		}
		s = str
		locals = maps.Clone(locals)
		if locals == nil {
			locals = map[string]bool{}
		}
		for k := range vars {
			locals[k] = true
		}
		c.references(path+"[1]", vars, nil, conditions)
	default:
		c.errorf(path, "%s, want a string or [string, variables]", describe(arg))
		return
	}
	for _, m := range subVariable.FindAllStringSubmatch(s, -1) {
		name := m[1]
		switch {
		case strings.HasPrefix(name, "!"): // ${!Literal}
		case locals[name]:
		case strings.Contains(name, "."):
			if _, ok := c.targets[name]; ok {
				continue // a SAM referenceable property, as MyApi.Stage
			}
			id, attr, _ := strings.Cut(name, ".")
			c.attribute(path, id, attr)
		default:
			c.ref(path, name)
		}
	}
}

// intrinsic returns the function of a one-key map whose key is Ref or
// Fn::*, and its argument.
func intrinsic(v any) (string, any, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", nil, false
	}
	for k, arg := range m {
		if k == "Ref" || strings.HasPrefix(k, "Fn::") {
			return k, arg, true
		}
	}
	return "", nil, false
}

func isNoValue(v any) bool {
	name, arg, ok := intrinsic(v)
	return ok && name == "Ref" && arg == "AWS::NoValue"
}

func scalar(v any) bool {
	switch v.(type) {
	case string, float64, bool:
		return true
	}
	return false
}

func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "a structure"
	case []any:
		return "a list"
	case string:
		return strconv.Quote(v)
	}
	return fmt.Sprint(v)
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
