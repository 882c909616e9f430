package cfnspec_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/chatapp-dev/chatapp/internal/cfnspec"
)

// head is the start of every test template: a parameter, a condition and
// the SAM transform.
const head = `
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage: {Type: String, Default: dev}
  Subnets: {Type: CommaDelimitedList, Default: "a,b"}
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
`

// TestCheckValid: templates CloudFormation and SAM accept give no finding,
// including references to what SAM generates and the WebSocket resource
// types the template uses.
func TestCheckValid(t *testing.T) {
	spec := cfnspec.ForTest(t)
	for name, body := range map[string]string{
		"sam": `
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: h
      Runtime: provided.al2023
      CodeUri: bin/
      Timeout: 10
      Architectures: [arm64]
      LoggingConfig: {LogFormat: JSON, LogGroup: !Ref Logs}
      Environment: {Variables: {TABLE: !Ref Table, ARN: !GetAtt Table.Arn}}
      Policies:
        - Statement: [{Effect: Allow, Action: dynamodb:Query, Resource: !Sub "${Table.Arn}/index/*"}]
      Events:
        Implicit: {Type: Api, Properties: {Path: /x, Method: GET}}
        Explicit: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /y, Method: PUT}}
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: !Ref Stage
      Auth: {DefaultAuthorizer: A, Authorizers: {A: {FunctionArn: !GetAtt Fn.Arn}}}
  Logs:
    Type: AWS::Logs::LogGroup
    Properties: {RetentionInDays: 14}
  Secret:
    Type: AWS::SecretsManager::Secret
    Condition: IsProd
    Properties:
      GenerateSecretString: {PasswordLength: 64, ExcludePunctuation: true}
Outputs:
  Role: {Value: !GetAtt FnRole.Arn}
  Implicit: {Value: !Sub "https://${ServerlessRestApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/Prod"}
  Stage: {Value: !Ref Api.Stage}
  Secret: {Value: !Ref Secret, Condition: IsProd}
`,
		"websocket": `
  Ws:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: ws, ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.action}
  Mock:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Ws
      IntegrationType: MOCK
      RequestTemplates: {"200": '{"statusCode": 200}'}
      TemplateSelectionExpression: "200"
  MockResponse:
    Type: AWS::ApiGatewayV2::IntegrationResponse
    Properties:
      ApiId: !Ref Ws
      IntegrationId: !Ref Mock
      IntegrationResponseKey: $default
      ResponseTemplates: {"200": '{"type":"pong"}'}
  Route:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Ws
      RouteKey: ping
      AuthorizationType: NONE
      RouteResponseSelectionExpression: $default
      Target: !Sub "integrations/${Mock}"
  RouteResponse:
    Type: AWS::ApiGatewayV2::RouteResponse
    Properties: {ApiId: !Ref Ws, RouteId: !Ref Route, RouteResponseKey: $default}
  Stage:
    Type: AWS::ApiGatewayV2::Stage
    DependsOn: [Route]
    Properties:
      ApiId: !Ref Ws
      StageName: !If [IsProd, prod, !Ref "AWS::NoValue"]
      AutoDeploy: !If [IsProd, true, false]
      DefaultRouteSettings: {ThrottlingRateLimit: 100, ThrottlingBurstLimit: "200"}
  Sub:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: !Sub ["/x/${Name}/${!Literal}/${AWS::StackName}", {Name: !Ref Stage}]
      Tags: [{Key: k, Value: !Select [0, !Ref Subnets]}]
`,
		// Properties SAM's schema leaves untyped, of the CloudFormation
		// type they become; and SAM's own shapes where the generated
		// resource has a property of the same name but another shape (an
		// Api's EndpointConfiguration {Type}, RestApi's {Types}; an
		// HttpApi's CorsConfiguration true, unique to SAM).
		"pass-through": `
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: h
      Runtime: provided.al2023
      CodeUri: bin/
      MemorySize: 256
      Timeout: !If [IsProd, 10, 3]
      ReservedConcurrentExecutions: 5
      Layers: [!Ref Layer]
      VpcConfig: {SubnetIds: !Ref Subnets, SecurityGroupIds: [sg-1]}
      PackageType: Zip
  Layer:
    Type: AWS::Serverless::LayerVersion
    Properties: {ContentUri: layer/, LayerName: l}
  Api:
    Type: AWS::Serverless::Api
    Properties: {StageName: v1, BinaryMediaTypes: [image~1png], DisableExecuteApiEndpoint: true}
  Http:
    Type: AWS::Serverless::HttpApi
    Properties: {CorsConfiguration: true, FailOnWarnings: true, StageVariables: {a: b}}
Globals:
  Function: {MemorySize: 512, Timeout: 10, Layers: [!Ref Layer]}
  Api: {EndpointConfiguration: {Type: REGIONAL}, BinaryMediaTypes: [image~1png]}
`,
		// No false circles: a resource naming a function's role while the
		// function names it (the role waits for neither); a function
		// naming an API it has no event on; an API whose authorizer is a
		// function; a global that IgnoreGlobals keeps from the functions
		// the API calls; a SAM WebSocketApi whose route's function names it
		// (the routes wait for the API, not the reverse).
		"no circle": `
  Fn:
    Type: AWS::Serverless::Function
    IgnoreGlobals: [Environment]
    Properties:
      Handler: h
      Runtime: provided.al2023
      CodeUri: bin/
      Environment: {Variables: {QUEUE: !Ref Queue, OTHER: !Ref Other}}
      Events: {Get: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /x, Method: GET}}}
  Queue:
    Type: AWS::SQS::Queue
    Properties: {RedriveAllowPolicy: {sourceQueueArns: [!GetAtt FnRole.Arn]}}
  Auth:
    Type: AWS::Serverless::Function
    IgnoreGlobals: "*"
    Properties: {Handler: h, Runtime: provided.al2023, CodeUri: bin/}
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: v1
      Auth: {DefaultAuthorizer: A, Authorizers: {A: {FunctionArn: !GetAtt Auth.Arn}}}
  Other:
    Type: AWS::Serverless::Api
    Properties: {StageName: v1}
  Push:
    Type: AWS::Serverless::Function
    IgnoreGlobals: "*"
    Properties:
      Handler: h
      Runtime: provided.al2023
      CodeUri: bin/
      Policies: [{Statement: [{Effect: Allow, Action: execute-api:ManageConnections, Resource: !Sub "arn:aws:execute-api:eu-west-1:123456789012:${Ws}/*"}]}]
  Ws:
    Type: AWS::Serverless::WebSocketApi
    Properties:
      RouteSelectionExpression: $request.body.action
      Routes: {$default: {FunctionArn: !GetAtt Push.Arn}}
Globals:
  Function: {Environment: {Variables: {API: !Ref Api}}}
`,
	} {
		t.Run(name, func(t *testing.T) {
			for _, f := range cfnspec.Check(spec, []byte(head+body)) {
				t.Error(f)
			}
		})
	}
}

// TestCheckFindings: each broken template gives the finding that names its
// defect.
func TestCheckFindings(t *testing.T) {
	spec := cfnspec.ForTest(t)
	for _, c := range []struct{ name, body, want string }{
		{"unknown resource type", `
  X: {Type: AWS::DynamoDB::Tabel, Properties: {}}`, "Resources.X: unknown resource type AWS::DynamoDB::Tabel"},
		{"unknown property", `
  X: {Type: AWS::Logs::LogGroup, Properties: {Retention: 14}}`, "Resources.X.Properties.Retention: unknown property"},
		{"unknown nested property", `
  X:
    Type: AWS::DynamoDB::Table
    Properties:
      GlobalSecondaryIndexes:
        - IndexName: i
          KeySchema: [{AttributeName: id, KeyType: HASH, Order: 1}]
          Projection: {ProjectionType: ALL}`, "Resources.X.Properties.GlobalSecondaryIndexes[0].KeySchema[0].Order: unknown property"},
		{"missing required property", `
  X:
    Type: AWS::ApiGatewayV2::RouteResponse
    Properties: {ApiId: a, RouteId: r}`, "Resources.X.Properties: required property RouteResponseKey is missing"},
		{"missing required property in a property type", `
  X:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions: [{AttributeName: id}]`, "Resources.X.Properties.AttributeDefinitions[0]: required property AttributeType is missing"},
		{"no properties at all", `
  X: {Type: AWS::ApiGatewayV2::IntegrationResponse}`, "Resources.X.Properties: required property ApiId is missing"},
		{"string for a number", `
  X: {Type: AWS::Logs::LogGroup, Properties: {RetentionInDays: fortnight}}`, `Resources.X.Properties.RetentionInDays: "fortnight", want a number`},
		{"list for a string", `
  X: {Type: AWS::Logs::LogGroup, Properties: {LogGroupName: [a, b]}}`, "Resources.X.Properties.LogGroupName: a list, want a string"},
		{"string for a list", `
  X:
    Type: AWS::DynamoDB::Table
    Properties: {AttributeDefinitions: id}`, `Resources.X.Properties.AttributeDefinitions: "id", want a list`},
		{"string for a boolean", `
  X: {Type: AWS::ApiGatewayV2::Stage, Properties: {ApiId: a, StageName: s, AutoDeploy: yes please}}`, `Resources.X.Properties.AutoDeploy: "yes please", want a boolean`},
		{"string for a structure", `
  X: {Type: AWS::ApiGatewayV2::Stage, Properties: {ApiId: a, StageName: s, DefaultRouteSettings: fast}}`, `Resources.X.Properties.DefaultRouteSettings: "fast", want a structure`},
		{"value not allowed", `
  X: {Type: AWS::Lambda::Function, Properties: {Code: {ZipFile: x}, Role: r, PackageType: Jar}}`, `Resources.X.Properties.PackageType: "Jar" is not one of`},
		{"tag without value", `
  X: {Type: AWS::Logs::LogGroup, Properties: {Tags: [{Key: k}]}}`, "Resources.X.Properties.Tags[0]: required property Value is missing"},
		{"string function for a list", `
  X: {Type: AWS::Lambda::Function, Properties: {Code: {ZipFile: x}, Role: r, Layers: !Join [",", [a, b]]}}`, "Resources.X.Properties.Layers: Fn::Join gives a single value, which cannot stand for a list"},
		{"list function for a string", `
  X: {Type: AWS::Logs::LogGroup, Properties: {LogGroupName: !Split [",", "a,b"]}}`, "Resources.X.Properties.LogGroupName: Fn::Split gives a list, which cannot stand for a string"},
		{"list parameter for a string", `
  X: {Type: AWS::Logs::LogGroup, Properties: {LogGroupName: !Ref Subnets}}`, "Resources.X.Properties.LogGroupName: Ref gives a list"},
		{"wrong branch of Fn::If", `
  X: {Type: AWS::Logs::LogGroup, Properties: {RetentionInDays: !If [IsProd, 30, forever]}}`, `Resources.X.Properties.RetentionInDays: "forever", want a number`},
		{"dangling Ref", `
  X: {Type: AWS::Logs::LogGroup, Properties: {LogGroupName: !Ref Stag}}`, "Resources.X.Properties.LogGroupName.Ref: Stag is not a parameter, a resource or a pseudo parameter"},
		{"dangling pseudo parameter", `
  X: {Type: AWS::Logs::LogGroup, Properties: {LogGroupName: !Ref "AWS::Stack"}}`, "AWS::Stack is not a parameter"},
		{"GetAtt of a missing resource", `
  X: {Type: AWS::Logs::LogGroup, Properties: {LogGroupName: !GetAtt Tabel.Arn}}`, "Resources.X.Properties.LogGroupName.Fn::GetAtt: Tabel is not a resource of this template"},
		{"GetAtt of a missing attribute", `
  X: {Type: AWS::Logs::LogGroup, Properties: {LogGroupName: !GetAtt [Table, Name]}}`, "Table (AWS::DynamoDB::Table) has no attribute Name"},
		{"GetAtt of a SAM function's missing attribute", `
  Fn: {Type: AWS::Serverless::Function, Properties: {Handler: h, Runtime: provided.al2023, CodeUri: x}}
  X: {Type: AWS::Logs::LogGroup, Properties: {LogGroupName: !GetAtt Fn.FunctionArn}}`, "Fn (AWS::Lambda::Function) has no attribute FunctionArn"},
		{"Sub of a missing name", `
  X: {Type: AWS::Logs::LogGroup, Properties: {LogGroupName: !Sub "/x/${Stg}"}}`, "Resources.X.Properties.LogGroupName.Fn::Sub: Stg is not a parameter"},
		{"Sub of a missing attribute", `
  X: {Type: AWS::Logs::LogGroup, Properties: {LogGroupName: !Sub "${Table.Name}"}}`, "Table (AWS::DynamoDB::Table) has no attribute Name"},
		{"SAM role of a function that has one", `
  Fn: {Type: AWS::Serverless::Function, Properties: {Handler: h, Runtime: provided.al2023, CodeUri: x, Role: r}}
Outputs:
  Role: {Value: !GetAtt FnRole.Arn}`, "Outputs.Role.Value.Fn::GetAtt: FnRole is not a resource of this template"},
		{"Fn::If of a missing condition", `
  X: {Type: AWS::Logs::LogGroup, Properties: {RetentionInDays: !If [IsProduction, 30, 7]}}`, "Resources.X.Properties.RetentionInDays.Fn::If[0]: IsProduction is not a condition"},
		{"resource Condition missing", `
  X: {Type: AWS::Logs::LogGroup, Condition: IsProduction}`, "Resources.X.Condition: IsProduction is not a condition"},
		{"condition of a condition missing", `
  X: {Type: AWS::Logs::LogGroup}
Rules:
  R:
    Assertions:
      - Assert: !Not [!Equals [!Ref Stag, ""]]`, "Rules.R.Assertions[0].Assert.Fn::Not[0].Fn::Equals[0].Ref: Stag is not a parameter"},
		{"DependsOn missing", `
  X: {Type: AWS::Logs::LogGroup, DependsOn: Tabel}`, "Resources.X.DependsOn: Tabel is not a resource"},
		// Circular dependencies, which CloudFormation refuses.
		{"circular Ref", `
  X: {Type: AWS::Logs::LogGroup, Properties: {LogGroupName: !Ref Y}}
  Y: {Type: AWS::Logs::LogGroup, Properties: {LogGroupName: !Ref X}}`, "Resources: circular dependency between resources: X → Y → X"},
		{"circular DependsOn and GetAtt", `
  X: {Type: AWS::Logs::LogGroup, DependsOn: [Table, Z]}
  Y: {Type: AWS::Logs::LogGroup, Properties: {LogGroupName: !GetAtt X.Arn}}
  Z: {Type: AWS::Logs::LogGroup, Properties: {LogGroupName: !Sub "${Y}-z"}}`, "circular dependency between resources: X → Z → Y → X"},
		{"resource naming itself", `
  X: {Type: AWS::Logs::LogGroup, Properties: {LogGroupName: !Sub "${X.Arn}-x"}}`, "circular dependency between resources: X → X"},
		{"circle through a function's role", `
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: h
      CodeUri: x
      Policies: [{Statement: [{Effect: Allow, Action: execute-api:ManageConnections, Resource: !Sub "arn:aws:execute-api:eu-west-1:123456789012:${Ws}/*"}]}]
  Ws:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: ws, ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.action, Description: !GetAtt Fn.Arn}`,
			"circular dependency between resources: Fn → FnRole → Ws → Fn"},
		{"circle through an Api event", `
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: h
      CodeUri: x
      Environment: {Variables: {API: !Ref Api}}
      Events: {Get: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /x, Method: GET}}}
  Api: {Type: AWS::Serverless::Api, Properties: {StageName: v1}}`, "circular dependency between resources: Api → Fn → Api"},
		{"circle through the implicit API's stage", `
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: h
      CodeUri: x
      Environment: {Variables: {URL: !Sub "https://${ServerlessRestApi}/${ServerlessRestApiProdStage}"}}
      Events: {Get: {Type: Api, Properties: {Path: /x, Method: GET}}}`, "circular dependency between resources: Fn → ServerlessRestApi → Fn"},
		{"circle through an S3 event", `
  Bucket: {Type: AWS::S3::Bucket}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: h
      CodeUri: x
      Policies: [{Statement: [{Effect: Allow, Action: s3:GetObject, Resource: !Sub "arn:aws:s3:::${Bucket}/*"}]}]
      Events: {Put: {Type: S3, Properties: {Bucket: !Ref Bucket, Events: s3:ObjectCreated:*}}}`,
			"circular dependency between resources: Bucket → Fn → FnRole → Bucket"},
		{"circle through Globals", `
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: h
      CodeUri: x
      Events: {Get: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /x, Method: GET}}}
  Api: {Type: AWS::Serverless::Api, Properties: {StageName: v1}}
Globals:
  Function: {Environment: {Variables: {API: !Ref Api.Stage}}}`, "circular dependency between resources: Api → Fn → Api.Stage → Api"},
		{"unknown resource key", `
  X: {Type: AWS::Logs::LogGroup, Propertes: {}}`, "Resources.X.Propertes: not a key of a resource"},
		{"SAM type without the transform", "", ""}, // built below
		{"SAM unknown property", `
  Fn: {Type: AWS::Serverless::Function, Properties: {Handler: h, Runtime: provided.al2023, CodeUri: x, Memory: 256}}`, "Resources.Fn.Properties.Memory: unknown property (SAM's schema)"},
		{"SAM unknown resource type", `
  Fn: {Type: AWS::Serverless::Lambda, Properties: {}}`, "unknown resource type AWS::Serverless::Lambda (SAM's schema)"},
		{"SAM pass-through property of the wrong type", `
  Fn: {Type: AWS::Serverless::Function, Properties: {Handler: h, CodeUri: x, LoggingConfig: JSON}}`, `Resources.Fn.Properties.LoggingConfig: "JSON", want a structure`},
		{"SAM pass-through property unknown inside", `
  Fn: {Type: AWS::Serverless::Function, Properties: {Handler: h, CodeUri: x, LoggingConfig: {Format: JSON}}}`, "Resources.Fn.Properties.LoggingConfig.Format: unknown property"},
		// Properties SAM's schema leaves untyped (PassThroughProp), checked
		// as the AWS::Lambda::Function, RestApi or Stage property they become.
		{"SAM untyped pass-through property of the wrong type", `
  Fn: {Type: AWS::Serverless::Function, Properties: {Handler: h, CodeUri: x, MemorySize: lots}}`, `Resources.Fn.Properties.MemorySize: "lots", want a number`},
		{"SAM untyped pass-through property not an integer", `
  Fn: {Type: AWS::Serverless::Function, Properties: {Handler: h, CodeUri: x, ReservedConcurrentExecutions: 2.5}}`, "Resources.Fn.Properties.ReservedConcurrentExecutions: 2.5, want an integer"},
		{"SAM untyped pass-through list given a string", `
  Fn: {Type: AWS::Serverless::Function, Properties: {Handler: h, CodeUri: x, Layers: "arn:aws:lambda:eu-west-1:123456789012:layer:l:1"}}`, `Resources.Fn.Properties.Layers: "arn:aws:lambda:eu-west-1:123456789012:layer:l:1", want a list`},
		{"SAM untyped pass-through structure unknown inside", `
  Fn: {Type: AWS::Serverless::Function, Properties: {Handler: h, CodeUri: x, VpcConfig: {Subnets: [a]}}}`, "Resources.Fn.Properties.VpcConfig.Subnets: unknown property"},
		{"SAM untyped pass-through Fn::If branch", `
  Fn: {Type: AWS::Serverless::Function, Properties: {Handler: h, CodeUri: x, Timeout: !If [IsProd, 10, soon]}}`, `Resources.Fn.Properties.Timeout: "soon", want a number`},
		{"SAM untyped pass-through property of an Api", `
  Api: {Type: AWS::Serverless::Api, Properties: {StageName: v1, BinaryMediaTypes: image~1png}}`, `Resources.Api.Properties.BinaryMediaTypes: "image~1png", want a list`},
		{"SAM untyped pass-through property in Globals", `
Globals:
  Function: {Timeout: soon}`, `Globals.Function.Timeout: "soon", want a number`},
		{"SAM event without its required property", `
  Fn:
    Type: AWS::Serverless::Function
    Properties: {Handler: h, CodeUri: x, Events: {E: {Type: Api, Properties: {Path: /x}}}}`, "required property Method is missing (SAM's schema)"},
		{"SAM Globals unknown property", `
Globals:
  Function: {Runtimes: provided.al2023}`, "Globals.Function.Runtimes: unknown property (SAM's schema)"},
		{"condition function in a property", `
  X: {Type: AWS::Logs::LogGroup, Properties: {LogGroupName: !Equals [a, b]}}`, "Fn::Equals is a condition function"},
	} {
		t.Run(c.name, func(t *testing.T) {
			template := head + c.body
			if c.name == "SAM type without the transform" {
				template = strings.Replace(head, "Transform: AWS::Serverless-2016-10-31\n", "", 1) + `
  Fn: {Type: AWS::Serverless::Function, Properties: {Handler: h, CodeUri: x}}`
				c.want = "Resources.Fn: AWS::Serverless::Function needs Transform: AWS::Serverless-2016-10-31"
			}
			found := cfnspec.Check(spec, []byte(template))
			ok := false
			for _, f := range found {
				ok = ok || strings.Contains(f, c.want)
			}
			if !ok {
				t.Errorf("findings %q, want one containing %q", found, c.want)
			}
			if len(found) > 3 {
				t.Errorf("%d findings for one defect: %q", len(found), found)
			}
		})
	}
}

// TestLoadMissing: a machine without the specifications gets Missing, which
// ForTest turns into a skip (or, with CI=true, a failure).
func TestLoadMissing(t *testing.T) {
	_, err := cfnspec.Load(t.TempDir())
	if !errors.As(err, new(cfnspec.Missing)) {
		t.Fatalf("Load of an empty directory: %v, want a cfnspec.Missing", err)
	}
}
