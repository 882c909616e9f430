package cfnspec

import "fmt"

// samBase is the CloudFormation resource each SAM resource becomes, under
// the same logical id: its Ref and its attributes are that resource's
// (https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-specification-generated-resources.html).
var samBase = map[string]string{
	"AWS::Serverless::Function":         "AWS::Lambda::Function",
	"AWS::Serverless::Api":              "AWS::ApiGateway::RestApi",
	"AWS::Serverless::HttpApi":          "AWS::ApiGatewayV2::Api",
	"AWS::Serverless::WebSocketApi":     "AWS::ApiGatewayV2::Api",
	"AWS::Serverless::SimpleTable":      "AWS::DynamoDB::Table",
	"AWS::Serverless::LayerVersion":     "AWS::Lambda::LayerVersion",
	"AWS::Serverless::StateMachine":     "AWS::StepFunctions::StateMachine",
	"AWS::Serverless::Application":      "AWS::CloudFormation::Stack",
	"AWS::Serverless::GraphQLApi":       "AWS::AppSync::GraphQLApi",
	"AWS::Serverless::CapacityProvider": "AWS::Lambda::CapacityProvider",
}

// samGenerated adds to the reference targets the resources SAM generates
// that a template may name, by logical id or by referenceable property
// (MyApi.Stage), as SAM's documentation lists them:
// sam-specification-generated-resources-function.html and -api.html under
// the page above. Only those whose logical id does not hang on a hash.
// Each is also given its node of the dependency graph (cycles.go): its own,
// but for a function's alias and version, which are the function's (they
// depend on it and on nothing else the template names).
func (c *checker) samGenerated(resources map[string]any) {
	if !c.sam {
		return
	}
	add := func(id, typ, node string) {
		if _, ok := c.targets[id]; !ok {
			c.targets[id] = typ
			c.nodes[id] = node
		}
	}
	for id, r := range resources {
		r := asMap(r)
		props := asMap(r["Properties"])
		switch r["Type"] {
		case "AWS::Serverless::Function":
			if _, ok := props["Role"]; !ok {
				add(id+"Role", "AWS::IAM::Role", id+"Role")
			}
			if alias, ok := props["AutoPublishAlias"].(string); ok {
				add(id+".Alias", "AWS::Lambda::Alias", id)
				add(id+"Alias"+alias, "AWS::Lambda::Alias", id)
				add(id+".Version", "AWS::Lambda::Version", id)
			}
			for _, e := range asMap(props["Events"]) {
				e := asMap(e)
				ep := asMap(e["Properties"])
				switch e["Type"] {
				case "Api":
					if _, ok := ep["RestApiId"]; !ok {
						add("ServerlessRestApi", "AWS::ApiGateway::RestApi", "ServerlessRestApi")
						add("ServerlessRestApiProdStage", "AWS::ApiGateway::Stage", "ServerlessRestApi.Stage")
					}
				case "HttpApi":
					if _, ok := ep["ApiId"]; !ok {
						add("ServerlessHttpApi", "AWS::ApiGatewayV2::Api", "ServerlessHttpApi")
						add("ServerlessHttpApiApiGatewayDefaultStage", "AWS::ApiGatewayV2::Stage", "ServerlessHttpApi.Stage")
					}
				}
			}
		case "AWS::Serverless::Api":
			add(id+".Stage", "AWS::ApiGateway::Stage", id+".Stage")
			add(id+".Deployment", "AWS::ApiGateway::Deployment", id+".Deployment")
			if stage, ok := props["StageName"].(string); ok {
				add(fmt.Sprintf("%s%sStage", id, stage), "AWS::ApiGateway::Stage", id+".Stage")
			}
		case "AWS::Serverless::HttpApi":
			add(id+".Stage", "AWS::ApiGatewayV2::Stage", id+".Stage")
			add(id+"ApiGatewayDefaultStage", "AWS::ApiGatewayV2::Stage", id+".Stage")
		case "AWS::Serverless::StateMachine":
			if _, ok := props["Role"]; !ok {
				add(id+"Role", "AWS::IAM::Role", id+"Role")
			}
		}
	}
}
