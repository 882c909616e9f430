package awslambda_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/chatapp-dev/chatapp/internal/cfnspec"
)

// TestTemplateSpec holds template.yaml to AWS's own specifications of
// CloudFormation's resource types and SAM's (internal/cfnspec says what is
// checked against what): what a deploy would refuse fails here.
func TestTemplateSpec(t *testing.T) {
	spec := cfnspec.ForTest(t)
	data, err := os.ReadFile("../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range cfnspec.Check(spec, data) {
		t.Error(f)
	}
}

// TestTemplateSpecCatches breaks template.yaml in small ways, each of which
// a deploy would refuse, and wants TestTemplateSpec's check to say so: the
// check reaches the real template's resources, SAM's and CloudFormation's.
func TestTemplateSpecCatches(t *testing.T) {
	spec := cfnspec.ForTest(t)
	data, err := os.ReadFile("../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ old, new, want string }{
		// A CloudFormation property misspelt.
		{"RouteSelectionExpression:", "RouteSelectionExpresion:", "Properties.RouteSelectionExpresion: unknown property"},
		// A property SAM passes to AWS::Lambda::Function, misspelt inside.
		{"LogFormat: JSON", "LogFormats: JSON", "Properties.LoggingConfig.LogFormats: unknown property"},
		// Properties SAM's schema leaves untyped, in Globals, checked as
		// AWS::Lambda::Function's.
		{"MemorySize: 256", "MemorySize: lots", `Globals.Function.MemorySize: "lots", want a number`},
		{"Timeout: 10", "Timeout: soon", `Globals.Function.Timeout: "soon", want a number`},
		// A SAM property SAM's schema lacks.
		{"Handler: connect", "Handler: connect\n      Memory: 256", "Properties.Memory: unknown property (SAM's schema)"},
		// An attribute the generated AWS::Lambda::Function lacks.
		{"${AuthorizerFunction.Arn}", "${AuthorizerFunction.Arm}", "AuthorizerFunction (AWS::Lambda::Function) has no attribute Arm"},
		// References to nothing.
		{"!Ref LogRetentionDays", "!Ref LogRetentionDay", "LogRetentionDay is not a parameter"},
		{"${AWS::StackName}", "${AWS::StackNam}", "AWS::StackNam is not a parameter"},
		{"DependsOn: [", "DependsOn: [NoSuchRoute, ", "DependsOn: NoSuchRoute is not a resource"},
		// A required property gone.
		{"IntegrationType: AWS_PROXY", "", "required property IntegrationType is missing"},
		// Circular dependencies: the WebSocket API naming a function whose
		// role (SAM's, from its Policies) names the API; a global naming
		// the REST API, whose definition names the functions of its events.
		{`RouteSelectionExpression: "$request.body.action"`, `RouteSelectionExpression: "$request.body.action"` + "\n      Description: !GetAtt ConnectFunction.Arn",
			"circular dependency between resources: ConnectFunction → ConnectFunctionRole → WebSocketApi → ConnectFunction"},
		{"        CHATAPP_SEND_RATE:", "        CHATAPP_REST_API: !Ref RestApi\n        CHATAPP_SEND_RATE:",
			"circular dependency between resources: AuthorizerFunction → RestApi → AuthorizerFunction"},
		// A value of the wrong type.
		{"AutoDeploy: true", "AutoDeploy: always", `AutoDeploy: "always", want a boolean`},
	} {
		broken := strings.Replace(string(data), c.old, c.new, 1)
		if broken == string(data) {
			t.Errorf("template.yaml has no %q any more: change this case", c.old)
			continue
		}
		found := cfnspec.Check(spec, []byte(broken))
		if !slices.ContainsFunc(found, func(f string) bool { return strings.Contains(f, c.want) }) {
			t.Errorf("%q → %q: findings %q, want one containing %q", c.old, c.new, found, c.want)
		}
	}
}
