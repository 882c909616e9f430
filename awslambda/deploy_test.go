package awslambda_test

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7/intrinsics"
)

// The checks of this file read template.yaml as CloudFormation deploys it
// with given parameter values: the values are checked against each
// parameter's AllowedValues, AllowedPattern and MinValue, a parameter
// without a default must be given, the Rules must hold, and the Conditions
// decide which resources and outputs exist and which branch of each Fn::If
// stands (AWS::NoValue removes what holds it). What is left goes through
// loadTemplate's usual reading. The template's two transforms do the same on
// AWS: AWS::LanguageExtensions resolves the Fn::If on the REST API's Auth
// before SAM reads it.

// deployTemplate returns template.yaml, as JSON in long form, as
// CloudFormation would deploy it with params; an error is what
// CloudFormation would refuse the parameters with.
func deployTemplate(params map[string]string) ([]byte, error) {
	data, err := os.ReadFile("../template.yaml")
	if err != nil {
		return nil, err
	}
	return deployTemplateData(data, params)
}

// deployTemplateData is deployTemplate of a template given as data.
func deployTemplateData(data []byte, params map[string]string) ([]byte, error) {
	longForm, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(longForm, &doc); err != nil {
		return nil, err
	}
	d := &deployment{doc: doc, values: map[string]string{}, conditions: map[string]bool{}}
	if err := d.parameters(params); err != nil {
		return nil, err
	}
	if err := d.rules(); err != nil {
		return nil, err
	}
	if err := d.resolve(); err != nil {
		return nil, err
	}
	return json.Marshal(d.doc)
}

type deployment struct {
	doc        map[string]any
	values     map[string]string // parameter values
	conditions map[string]bool
}

// parameters takes each parameter's value, given or default, as
// CloudFormation validates it, and makes it the default, which
// loadTemplate's Ref resolves to.
func (d *deployment) parameters(given map[string]string) error {
	declared, _ := d.doc["Parameters"].(map[string]any)
	for name := range given {
		if _, ok := declared[name]; !ok {
			return fmt.Errorf("parameter %s is not in the template", name)
		}
	}
	for name, p := range declared {
		p, _ := p.(map[string]any)
		value, ok := given[name]
		if !ok {
			def, ok := p["Default"]
			if !ok {
				return fmt.Errorf("parameter %s has no default and is not given", name)
			}
			value = fmt.Sprint(def)
		}
		if allowed, ok := p["AllowedValues"].([]any); ok && !slices.ContainsFunc(allowed, func(a any) bool { return fmt.Sprint(a) == value }) {
			return fmt.Errorf("parameter %s = %q is none of %v", name, value, allowed)
		}
		if pattern, ok := p["AllowedPattern"].(string); ok {
			// CloudFormation matches the whole value.
			if !regexp.MustCompile(`^(?:` + pattern + `)$`).MatchString(value) {
				return fmt.Errorf("parameter %s = %q does not match %s", name, value, pattern)
			}
		}
		if p["Type"] == "Number" {
			n, err := strconv.ParseFloat(value, 64)
			if err != nil {
				return fmt.Errorf("parameter %s = %q is not a number", name, value)
			}
			if min, ok := p["MinValue"].(float64); ok && n < min {
				return fmt.Errorf("parameter %s = %v is under its MinValue %v", name, n, min)
			}
		}
		d.values[name] = value
		p["Default"] = value
		if p["Type"] == "Number" {
			p["Default"], _ = strconv.ParseFloat(value, 64)
		}
	}
	return nil
}

// rules checks each rule's assertions where its RuleCondition holds.
func (d *deployment) rules() error {
	rules, _ := d.doc["Rules"].(map[string]any)
	for name, r := range rules {
		r, _ := r.(map[string]any)
		if cond, ok := r["RuleCondition"]; ok {
			holds, err := d.eval(cond)
			if err != nil {
				return fmt.Errorf("rule %s: %w", name, err)
			}
			if !holds {
				continue
			}
		}
		assertions, _ := r["Assertions"].([]any)
		for _, a := range assertions {
			a, _ := a.(map[string]any)
			holds, err := d.eval(a["Assert"])
			if err != nil {
				return fmt.Errorf("rule %s: %w", name, err)
			}
			if !holds {
				return fmt.Errorf("rule %s: %v", name, a["AssertDescription"])
			}
		}
	}
	delete(d.doc, "Rules")
	return nil
}

// eval evaluates a condition function: Fn::Equals, Fn::Not, Fn::And,
// Fn::Or and Condition, on parameter values.
func (d *deployment) eval(expr any) (bool, error) {
	m, ok := expr.(map[string]any)
	if !ok || len(m) != 1 {
		return false, fmt.Errorf("not a condition: %v", expr)
	}
	for fn, arg := range m {
		args, _ := arg.([]any)
		switch fn {
		case "Fn::Equals":
			if len(args) != 2 {
				return false, fmt.Errorf("Fn::Equals of %v", arg)
			}
			a, err := d.scalar(args[0])
			if err != nil {
				return false, err
			}
			b, err := d.scalar(args[1])
			return a == b, err
		case "Fn::Not":
			if len(args) != 1 {
				return false, fmt.Errorf("Fn::Not of %v", arg)
			}
			v, err := d.eval(args[0])
			return !v, err
		case "Fn::And", "Fn::Or":
			and := fn == "Fn::And"
			for _, a := range args {
				v, err := d.eval(a)
				if err != nil {
					return false, err
				}
				if v != and {
					return !and, nil
				}
			}
			return and, nil
		case "Condition":
			name, _ := arg.(string)
			return d.condition(name)
		}
		return false, fmt.Errorf("unsupported condition function %s", fn)
	}
	panic("unreachable")
}

// scalar is a parameter's value or a literal.
func (d *deployment) scalar(v any) (string, error) {
	if m, ok := v.(map[string]any); ok {
		name, _ := m["Ref"].(string)
		value, ok := d.values[name]
		if len(m) != 1 || !ok {
			return "", fmt.Errorf("not a parameter or a literal: %v", v)
		}
		return value, nil
	}
	return fmt.Sprint(v), nil
}

// condition evaluates a named condition of the Conditions section, once.
func (d *deployment) condition(name string) (bool, error) {
	if v, ok := d.conditions[name]; ok {
		return v, nil
	}
	conditions, _ := d.doc["Conditions"].(map[string]any)
	expr, ok := conditions[name]
	if !ok {
		return false, fmt.Errorf("no condition %s", name)
	}
	v, err := d.eval(expr)
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	d.conditions[name] = v
	return v, nil
}

// noValue marks what AWS::NoValue removes.
type noValue struct{}

// resolve drops the resources and outputs whose Condition is false, and
// resolves every Fn::If of them and of Globals. What is left must refer
// only to what is left: a resource, an output or a SAM global naming a
// resource whose Condition is false is refused (an output's Condition must
// exclude it wherever its resources are not created).
func (d *deployment) resolve() error {
	for _, section := range []string{"Resources", "Outputs"} {
		entries, _ := d.doc[section].(map[string]any)
		for id, e := range entries {
			e, _ := e.(map[string]any)
			if name, ok := e["Condition"].(string); ok {
				holds, err := d.condition(name)
				if err != nil {
					return fmt.Errorf("%s %s: %w", section, id, err)
				}
				if !holds {
					delete(entries, id)
					continue
				}
				delete(e, "Condition")
			}
			v, err := d.ifs(e)
			if err != nil {
				return fmt.Errorf("%s %s: %w", section, id, err)
			}
			entries[id] = v
		}
	}
	if globals, ok := d.doc["Globals"]; ok {
		v, err := d.ifs(globals)
		if err != nil {
			return fmt.Errorf("Globals: %w", err)
		}
		d.doc["Globals"] = v
	}
	resources, _ := d.doc["Resources"].(map[string]any)
	for id := range resources {
		if dangling := d.dangling(resources[id], resources); dangling != "" {
			return fmt.Errorf("resource %s refers to %s, which this deployment does not create", id, dangling)
		}
	}
	outputs, _ := d.doc["Outputs"].(map[string]any)
	for name := range outputs {
		if dangling := d.dangling(outputs[name], resources); dangling != "" {
			return fmt.Errorf("output %s refers to %s, which this deployment does not create", name, dangling)
		}
	}
	if dangling := d.dangling(d.doc["Globals"], resources); dangling != "" {
		return fmt.Errorf("Globals refer to %s, which this deployment does not create", dangling)
	}
	delete(d.doc, "Conditions")
	return nil
}

func (d *deployment) ifs(v any) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		if arg, ok := v["Fn::If"]; ok && len(v) == 1 {
			args, _ := arg.([]any)
			name, _ := args[0].(string)
			if len(args) != 3 {
				return nil, fmt.Errorf("Fn::If of %v", arg)
			}
			holds, err := d.condition(name)
			if err != nil {
				return nil, err
			}
			if holds {
				return d.ifs(args[1])
			}
			return d.ifs(args[2])
		}
		if v["Ref"] == "AWS::NoValue" && len(v) == 1 {
			return noValue{}, nil
		}
		out := map[string]any{}
		for k, e := range v {
			r, err := d.ifs(e)
			if err != nil {
				return nil, err
			}
			if _, ok := r.(noValue); !ok {
				out[k] = r
			}
		}
		return out, nil
	case []any:
		out := []any{}
		for _, e := range v {
			r, err := d.ifs(e)
			if err != nil {
				return nil, err
			}
			if _, ok := r.(noValue); !ok {
				out = append(out, r)
			}
		}
		return out, nil
	}
	return v, nil
}

var subRef = regexp.MustCompile(`\$\{([\w]+)(?:\.[\w.]+)?\}`)

// dangling returns a logical id that v refers to (Ref, Fn::GetAtt, Fn::Sub)
// but that is neither a resource left nor a parameter.
func (d *deployment) dangling(v any, resources map[string]any) string {
	known := func(id string) bool {
		_, isResource := resources[id]
		_, isParameter := d.values[id]
		return isResource || isParameter || strings.HasPrefix(id, "AWS::")
	}
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			switch k {
			case "Ref":
				if id, _ := e.(string); !known(id) {
					return id
				}
			case "Fn::GetAtt":
				id, _, _ := strings.Cut(fmt.Sprint(e), ".") // the Resource.Attribute form
				if args, ok := e.([]any); ok && len(args) > 0 {
					id = fmt.Sprint(args[0])
				}
				if !known(id) {
					return id
				}
			case "Fn::Sub":
				s, _ := e.(string)
				var locals map[string]any
				if args, ok := e.([]any); ok && len(args) > 0 {
					s, _ = args[0].(string)
					if len(args) > 1 {
						locals, _ = args[1].(map[string]any)
					}
				}
				for _, m := range subRef.FindAllStringSubmatch(s, -1) {
					if _, local := locals[m[1]]; !local && !known(m[1]) {
						return m[1]
					}
				}
			}
			if id := d.dangling(e, resources); id != "" {
				return id
			}
		}
	case []any:
		for _, e := range v {
			if id := d.dangling(e, resources); id != "" {
				return id
			}
		}
	}
	return ""
}

// TestDeployDangling: a deployment whose resources, outputs or SAM globals
// name a resource that a false Condition removes is refused, in the mode
// that removes it; the template as it is passes in every mode.
func TestDeployDangling(t *testing.T) {
	data, err := os.ReadFile("../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	open := map[string]string{"AuthMode": "open"}
	ownSecret := map[string]string{"AuthSecretArn": ownSecretARN}
	for _, c := range []struct {
		name, old, new string
		params         map[string]string
		want           string
	}{
		{"output without the resource's condition", "Outputs:\n", "Outputs:\n  AuthorizerArn:\n    Value: !GetAtt AuthorizerFunction.Arn\n",
			open, "output AuthorizerArn refers to AuthorizerFunction"},
		{"output whose condition is too wide", "!If [GenerateAuthSecret, !Ref AuthSecret, !Ref AuthSecretArn]", "!Ref AuthSecret",
			ownSecret, "output AuthSecretArn refers to AuthSecret"},
		{"output Sub of a removed resource", "Outputs:\n", "Outputs:\n  AuthorizerLogs:\n    Value: !Sub \"${AuthorizerLogGroup}\"\n",
			open, "output AuthorizerLogs refers to AuthorizerLogGroup"},
		{"resource without the resource's condition", "AuthorizerId: !If [AuthOpen, !Ref AWS::NoValue, !Ref WebSocketAuthorizer]", "AuthorizerId: !Ref WebSocketAuthorizer",
			open, "resource ConnectRoute refers to WebSocketAuthorizer"},
		{"resource GetAtt (Resource.Attribute form) of a removed resource", `RouteSelectionExpression: "$request.body.action"`, `RouteSelectionExpression: "$request.body.action"` + "\n      Description: !GetAtt AuthorizerFunction.Arn",
			open, "resource WebSocketApi refers to AuthorizerFunction"},
		{"global of a removed resource", "        CHATAPP_SEND_RATE:", "        CHATAPP_SECRET_ARN: !Ref AuthSecret\n        CHATAPP_SEND_RATE:",
			open, "Globals refer to AuthSecret"},
	} {
		t.Run(c.name, func(t *testing.T) {
			broken := strings.Replace(string(data), c.old, c.new, 1)
			if broken == string(data) {
				t.Fatalf("template.yaml has no %q any more: change this case", c.old)
			}
			if _, err := deployTemplateData([]byte(broken), c.params); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("deploy with %v: err %v, want %q", c.params, err, c.want)
			}
			// Where the resource exists, the same template deploys.
			if _, err := deployTemplateData([]byte(broken), nil); err != nil {
				t.Errorf("deploy with the defaults: %v", err)
			}
		})
	}
	for _, params := range []map[string]string{nil, open, ownSecret, {"AuthMode": "jwks", "AuthJwksUrl": "https://idp.example/jwks.json"}} {
		if _, err := deployTemplateData(data, params); err != nil {
			t.Errorf("template.yaml with %v: %v", params, err)
		}
	}
}
