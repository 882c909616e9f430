package apispec

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gobwas/ws"
	yamlnode "github.com/pb33f/go-yaml"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
	"github.com/pb33f/libopenapi/orderedmap"
	"gopkg.in/yaml.v3"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/awslambda"
	"github.com/chatapp-dev/chatapp/internal/reporoot"
	"github.com/chatapp-dev/chatapp/protocol"
)

// The tests here fail when the documents drift from the code's own tables:
// the close codes gateway/ and hub/ use, the error codes of error.go, the WebSocket
// routes of awslambda. (Routes of the REST API: cmd/chatapp's
// TestOpenAPIRoutes; bodies and frames: the end-to-end tests.)

// asyncAPI reads docs/asyncapi.yaml as plain YAML.
func asyncAPI(t *testing.T) map[string]any {
	t.Helper()
	path, err := docPath(AsyncAPIFile)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return doc
}

// dig follows keys through nested maps; nil when one is missing.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// wsStatusCodes are gobwas/ws's close codes by name, for reading gateway/
// and hub/.
var wsStatusCodes = map[string]ws.StatusCode{
	"NormalClosure": ws.StatusNormalClosure, "GoingAway": ws.StatusGoingAway,
	"ProtocolError": ws.StatusProtocolError, "UnsupportedData": ws.StatusUnsupportedData,
	"NoMeaningYet": ws.StatusNoMeaningYet, "NoStatusRcvd": ws.StatusNoStatusRcvd,
	"AbnormalClosure": ws.StatusAbnormalClosure, "InvalidFramePayloadData": ws.StatusInvalidFramePayloadData,
	"PolicyViolation": ws.StatusPolicyViolation, "MessageTooBig": ws.StatusMessageTooBig,
	"MandatoryExt": ws.StatusMandatoryExt, "InternalServerError": ws.StatusInternalServerError,
	"TLSHandshake": ws.StatusTLSHandshake,
}

// serverCloseCodes are the close codes the code of the gateway and the
// hub names (ws.StatusXxx outside their tests), with where (folder/file).
func serverCloseCodes(t *testing.T) map[int]string {
	t.Helper()
	root, err := reporoot.Find()
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, dir := range []string{"gateway", "hub"} {
		found, err := filepath.Glob(filepath.Join(root, dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, found...)
	}
	status := regexp.MustCompile(`\bws\.Status([A-Z][A-Za-z]*)\b`)
	codes := map[int]string{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range status.FindAllStringSubmatch(string(src), -1) {
			if m[1] == "Code" {
				continue // the type
			}
			code, ok := wsStatusCodes[m[1]]
			if !ok {
				t.Errorf("%s uses ws.Status%s: add it to wsStatusCodes", filepath.Base(f), m[1])
				continue
			}
			codes[int(code)] = filepath.Base(filepath.Dir(f)) + "/" + filepath.Base(f)
		}
	}
	if len(codes) < 5 {
		t.Fatalf("found only close codes %v in gateway/ and hub/: is the pattern stale?", codes)
	}
	return codes
}

// TestAsyncAPICloseCodes: every close code the gateway or the hub uses has
// its entry in asyncapi.yaml's x-close-codes, and every code entry there
// is one they use.
func TestAsyncAPICloseCodes(t *testing.T) {
	used := serverCloseCodes(t)
	entries, _ := dig(asyncAPI(t), "channels", "room", "x-close-codes").([]any)
	documented := map[int]bool{}
	for _, e := range entries {
		if code, ok := dig(e, "code").(int); ok {
			documented[code] = true
			if dig(e, "when") == nil || dig(e, "sentBy") == nil {
				t.Errorf("x-close-codes entry %d lacks when or sentBy", code)
			}
		}
	}
	for code, file := range used {
		if !documented[code] {
			t.Errorf("%s closes with %d, which %s's x-close-codes does not list", file, code, AsyncAPIFile)
		}
	}
	for code := range documented {
		if _, ok := used[code]; !ok {
			t.Errorf("%s lists close code %d, which neither gateway/ nor hub/ uses", AsyncAPIFile, code)
		}
	}
}

// errorCodes are the error codes error.go declares (its E... constants).
func errorCodes(t *testing.T) []string {
	t.Helper()
	root, err := reporoot.Find()
	if err != nil {
		t.Fatal(err)
	}
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(root, "error.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok && strings.HasPrefix(name.Name, "E") && lit.Kind == token.STRING {
					v, _ := strconv.Unquote(lit.Value)
					codes = append(codes, v)
				}
			}
		}
	}
	slices.Sort(codes)
	return codes
}

// TestErrorCodesDocumented: both documents list exactly error.go's codes,
// and openapi.yaml has an answer of each code's status.
func TestErrorCodesDocumented(t *testing.T) {
	codes := errorCodes(t)
	if len(codes) < 8 {
		t.Fatalf("found only error codes %v in error.go", codes)
	}
	spec, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	var openapiCodes []string
	for _, v := range spec.Model.Components.Schemas.GetOrZero("ErrorCode").Schema().Enum {
		openapiCodes = append(openapiCodes, v.Value)
	}
	slices.Sort(openapiCodes)
	if !slices.Equal(openapiCodes, codes) {
		t.Errorf("%s's ErrorCode is %v, error.go's codes are %v", OpenAPIFile, openapiCodes, codes)
	}
	var asyncCodes []string
	for _, v := range dig(asyncAPI(t), "components", "schemas", "Error", "properties", "error", "properties", "code", "enum").([]any) {
		asyncCodes = append(asyncCodes, fmt.Sprint(v))
	}
	slices.Sort(asyncCodes)
	if !slices.Equal(asyncCodes, codes) {
		t.Errorf("%s's error codes are %v, error.go's are %v", AsyncAPIFile, asyncCodes, codes)
	}
	statuses := map[string]bool{}
	for p := spec.Model.Paths.PathItems.First(); p != nil; p = p.Next() {
		for op := p.Value().GetOperations().First(); op != nil; op = op.Next() {
			for r := op.Value().Responses.Codes.First(); r != nil; r = r.Next() {
				statuses[r.Key()] = true
			}
		}
	}
	if ext := spec.Model.Extensions.GetOrZero("x-unknown-route"); ext != nil {
		var unknown struct{ Status int }
		if err := ext.Decode(&unknown); err == nil && unknown.Status > 0 {
			statuses[strconv.Itoa(unknown.Status)] = true
		}
	}
	for _, code := range codes {
		status := protocol.ErrorStatus(&chatapp.Error{Code: code})
		if !statuses[strconv.Itoa(status)] {
			t.Errorf("error code %s is status %d, which no answer of %s has", code, status, OpenAPIFile)
		}
	}
}

// TestAsyncAPIActions: the actions asyncapi.yaml's client messages name are
// the WebSocket API's routes (awslambda.WebSocketRoutes, the mock routes),
// and the unrouted message is everything else; the keepalive's answer is
// the pong message's example.
func TestAsyncAPIActions(t *testing.T) {
	doc := asyncAPI(t)
	var routes []string
	for key := range maps.Keys(awslambda.WebSocketRoutes) {
		if !strings.HasPrefix(key, "$") {
			routes = append(routes, key)
		}
	}
	routes = slices.AppendSeq(routes, maps.Keys(awslambda.WebSocketMockRoutes))
	slices.Sort(routes)
	var actions []string
	for name, m := range dig(doc, "components", "messages").(map[string]any) {
		if a, ok := dig(m, "payload", "properties", "action", "const").(string); ok {
			actions = append(actions, a)
			if dig(m, "name") != a {
				t.Errorf("message %s carries the action %q but is named %v", name, a, dig(m, "name"))
			}
		}
	}
	slices.Sort(actions)
	if !slices.Equal(actions, routes) {
		t.Errorf("%s's client messages have the actions %v; the routes are %v", AsyncAPIFile, actions, routes)
	}
	var unrouted []string
	for _, a := range dig(doc, "components", "messages", "Unrouted", "payload", "not", "properties", "action", "enum").([]any) {
		unrouted = append(unrouted, fmt.Sprint(a))
	}
	slices.Sort(unrouted)
	if !slices.Equal(unrouted, routes) {
		t.Errorf("%s's Unrouted message excludes the actions %v; the routes are %v", AsyncAPIFile, unrouted, routes)
	}
	examples, _ := dig(doc, "components", "messages", "Pong", "examples").([]any)
	if len(examples) == 0 {
		t.Fatal("the Pong message has no example")
	}
	got, _ := chatapp.MarshalJSON(dig(examples[0], "payload"))
	if string(got) != awslambda.WebSocketMockRoutes[protocol.ActionPing] {
		t.Errorf("the Pong example is %s; the ping route answers %s", got, awslambda.WebSocketMockRoutes[protocol.ActionPing])
	}
}

// TestOpenAPIExamples: every example of openapi.yaml's requests and
// answers matches its schema.
func TestOpenAPIExamples(t *testing.T) {
	spec, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	sv := schema_validation.NewSchemaValidator()
	n := 0
	for p := spec.Model.Paths.PathItems.First(); p != nil; p = p.Next() {
		for op := p.Value().GetOperations().First(); op != nil; op = op.Next() {
			where := strings.ToUpper(op.Key()) + " " + p.Key()
			if rb := op.Value().RequestBody; rb != nil {
				n += checkExamples(t, sv, where+" request", rb.Content)
			}
			for r := op.Value().Responses.Codes.First(); r != nil; r = r.Next() {
				n += checkExamples(t, sv, where+" "+r.Key(), r.Value().Content)
			}
		}
	}
	if n < 20 {
		t.Errorf("checked only %d examples", n)
	}
}

// checkExamples checks the examples of each media type of content against
// its schema, and returns how many there were.
func checkExamples(t *testing.T, sv schema_validation.SchemaValidator, where string, content *orderedmap.Map[string, *v3.MediaType]) int {
	t.Helper()
	n := 0
	for c := content.First(); c != nil; c = c.Next() {
		mt := c.Value()
		if mt.Schema == nil {
			continue
		}
		var nodes []*yamlnode.Node
		if mt.Example != nil {
			nodes = append(nodes, mt.Example)
		}
		for e := mt.Examples.First(); e != nil; e = e.Next() {
			nodes = append(nodes, e.Value().Value)
		}
		for _, node := range nodes {
			var v any
			if err := node.Decode(&v); err != nil {
				t.Errorf("%s %s: example: %v", where, c.Key(), err)
				continue
			}
			if strings.HasPrefix(c.Key(), "text/") {
				v = fmt.Sprint(v)
			}
			n++
			if ok, errs := sv.ValidateSchemaObject(mt.Schema.Schema(), v); !ok {
				t.Errorf("%s %s: the example %v does not match its schema: %s", where, c.Key(), v, describe(errs))
			}
		}
	}
	return n
}
