package cfnspec

import (
	"slices"
	"strings"
)

// samTargets are the CloudFormation resources an AWS::Serverless::*
// resource becomes whose properties it takes by name, in the order a name
// is looked up: an Api's Name is its RestApi's, its MethodSettings its
// Stage's (SAM's resource reference, "AWS CloudFormation compatibility" of
// each property: "passed directly to the X property of an AWS::Y resource",
// https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-resource-function.html
// and the pages next to it).
var samTargets = map[string][]string{
	"AWS::Serverless::Function":         {"AWS::Lambda::Function"},
	"AWS::Serverless::Api":              {"AWS::ApiGateway::RestApi", "AWS::ApiGateway::Stage"},
	"AWS::Serverless::HttpApi":          {"AWS::ApiGatewayV2::Api", "AWS::ApiGatewayV2::Stage"},
	"AWS::Serverless::WebSocketApi":     {"AWS::ApiGatewayV2::Api", "AWS::ApiGatewayV2::Stage"},
	"AWS::Serverless::SimpleTable":      {"AWS::DynamoDB::Table"},
	"AWS::Serverless::LayerVersion":     {"AWS::Lambda::LayerVersion"},
	"AWS::Serverless::StateMachine":     {"AWS::StepFunctions::StateMachine"},
	"AWS::Serverless::Application":      {"AWS::CloudFormation::Stack"},
	"AWS::Serverless::GraphQLApi":       {"AWS::AppSync::GraphQLApi"},
	"AWS::Serverless::CapacityProvider": {"AWS::Lambda::CapacityProvider"},
}

// passThrough checks the properties of an AWS::Serverless::* resource (or
// of its section of Globals) that SAM's schema leaves untyped, as SAM's
// PassThroughProp: MemorySize, Timeout, Layers, VpcConfig… SAM hands them
// unchanged to the same-named property of the resource it generates, which
// CloudFormation then checks, so they are checked as that property. Those
// SAM's schema types itself (its own shapes, as a function's Tags map) or
// types by __samPassThrough are samValue's, and a property SAM's reference
// calls unique to SAM (an HttpApi's CorsConfiguration, which may be true)
// is not CloudFormation's even where the generated resource has the name.
func (c *checker) passThrough(path, typ string, props map[string]any) {
	schema := c.spec.sam.propertiesOf(typ)
	for _, name := range sortedKeys(props) {
		node, ok := schema[name].(map[string]any)
		if !ok || !c.spec.sam.untyped(node) || uniqueToSAM(node) {
			continue
		}
		for _, target := range samTargets[typ] {
			rt := c.spec.resources[target]
			if rt == nil {
				continue
			}
			if p, ok := rt.Properties[name]; ok {
				v := props[name]
				if branches, ok := c.resolvedIf(v); ok {
					for _, b := range branches {
						c.value(path+"."+name, b, p.Type)
					}
					break
				}
				c.value(path+"."+name, v, p.Type)
				break
			}
		}
	}
}

// propertiesOf returns the schema of each property of an AWS::Serverless::*
// type, by name.
func (s *samSchema) propertiesOf(typ string) map[string]any {
	def := s.resources[typ]
	if def == nil {
		return nil
	}
	props, _ := def["properties"].(map[string]any)
	node, _ := props["Properties"].(map[string]any)
	node = s.resolve(node)
	schema, _ := node["properties"].(map[string]any)
	return schema
}

// untyped reports whether a property's schema accepts anything: SAM's
// PassThroughProp ({}), reached by $ref or a one-element allOf, without a
// __samPassThrough that names its CloudFormation type.
func (s *samSchema) untyped(node map[string]any) bool {
	for range 10 {
		if _, ok := node["__samPassThrough"]; ok {
			return false
		}
		if all, ok := node["allOf"].([]any); ok && len(all) == 1 {
			next, _ := all[0].(map[string]any)
			node = next
			continue
		}
		if _, ok := node["$ref"]; ok {
			node = s.resolve(node)
			continue
		}
		break
	}
	for k := range node {
		if !slices.Contains([]string{"title", "description", "markdownDescription"}, k) {
			return false
		}
	}
	return node != nil
}

// uniqueToSAM reports whether SAM's reference, which the schema's
// description quotes, says the property has no CloudFormation equivalent.
func uniqueToSAM(node map[string]any) bool {
	d, _ := node["markdownDescription"].(string)
	return strings.Contains(d, "unique to AWS SAM")
}
