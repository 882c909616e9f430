package cfnspec

import (
	"fmt"
	"slices"
	"strings"
)

// CloudFormation creates a resource after every resource it names with
// Ref, Fn::GetAtt or Fn::Sub, and after those of its DependsOn; a template
// whose resources wait on each other in a circle is refused ("Circular
// dependency between resources",
// https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-dependson.html).
// With SAM the circle is often between the resources SAM generates
// (https://repost.aws/knowledge-center/cloudformation-circular-dependency-sam):
// a function's role holds its Policies, so it waits on what they name, and
// the function waits on its role.
//
// The graph is the template as SAM's transform would leave it, as far as
// dependencies go:
//
//   - a CloudFormation resource depends on what its Properties, Metadata,
//     CreationPolicy and UpdatePolicy name, and on its DependsOn; every
//     branch of an Fn::If counts, as for a template validated without
//     parameter values;
//   - an AWS::Serverless::Function (or StateMachine) without a Role is two
//     nodes: the function, which depends on its role (FnRole) and on what
//     its other properties name, and the role, which depends on what
//     Policies, PermissionsBoundary, AssumeRolePolicyDocument, RolePath,
//     DeadLetterQueue and EventInvokeConfig name (SAM writes those into the
//     role's policies). Globals.Function counts for every function, less
//     what IgnoreGlobals drops and what the function sets itself (a map,
//     as Environment, is merged). Its alias and version are the function's
//     node;
//   - an Api event makes the API depend on the function (its definition
//     holds the function's ARN), ServerlessRestApi when it names no
//     RestApiId; an HttpApi event the same; an S3 event makes the bucket
//     depend on the function (SAM adds the notification to the bucket,
//     after the permission, which depends on the function). Other events'
//     resources (permissions, mappings, subscriptions) depend on the
//     function and on what they name, but nothing in a template can name
//     them, so they close no circle and are left out;
//   - an AWS::Serverless::Api is three nodes: the RestApi (its definition,
//     Auth, Name…), MyApi.Deployment, which depends on it, and MyApi.Stage,
//     which depends on both and on what StageName, Variables,
//     MethodSettings, AccessLogSetting, CanarySetting, TracingEnabled and
//     the cache settings name; an HttpApi two, the Api and its Stage
//     (StageName, StageVariables, AccessLogSettings, DefaultRouteSettings,
//     RouteSettings); Globals.Api and Globals.HttpApi count for each;
//   - an AWS::Serverless::WebSocketApi is the Api and its Stage, as an
//     HttpApi; its Routes and Auth become integrations, routes and an
//     authorizer that wait for the Api and for their functions, and the
//     stage's deployment waits for them, so their edges are the stage's;
//   - any other AWS::Serverless::* resource is one node.

// roleProperties are a function's (or state machine's) properties that SAM
// writes into the role it generates.
var roleProperties = []string{"Policies", "PermissionsBoundary", "AssumeRolePolicyDocument", "RolePath", "DeadLetterQueue", "EventInvokeConfig"}

// stageProperties are the properties of an Api (RestApi) and of an HttpApi
// that SAM gives to the stage it generates.
var stageProperties = map[string][]string{
	"AWS::Serverless::Api": {"StageName", "Variables", "MethodSettings", "AccessLogSetting", "CanarySetting",
		"TracingEnabled", "CacheClusterEnabled", "CacheClusterSize"},
	"AWS::Serverless::HttpApi": {"StageName", "StageVariables", "AccessLogSettings", "DefaultRouteSettings", "RouteSettings"},
	"AWS::Serverless::WebSocketApi": {"StageName", "StageVariables", "AccessLogSettings", "DefaultRouteSettings", "RouteSettings",
		"Routes", "Auth"},
}

// graph is the dependency graph: node → the nodes it waits for.
type graph map[string]map[string]bool

func (g graph) edge(from, to string) {
	if g[from] == nil {
		g[from] = map[string]bool{}
	}
	g[from][to] = true
	if g[to] == nil {
		g[to] = map[string]bool{}
	}
}

// cycles reports each set of resources that wait on each other in a
// circle, with one such circle.
func (c *checker) cycles(resources, globals map[string]any) {
	g := graph{}
	for _, id := range sortedKeys(resources) {
		r := asMap(resources[id])
		typ, _ := r["Type"].(string)
		if g[id] == nil {
			g[id] = map[string]bool{}
		}
		deps := r["DependsOn"]
		if d, ok := deps.(string); ok {
			deps = []any{d}
		}
		for _, d := range asList(deps) {
			if to, ok := c.nodes[fmt.Sprint(d)]; ok {
				g.edge(id, to)
			}
		}
		if !strings.HasPrefix(typ, "AWS::Serverless::") || !c.sam {
			for _, k := range []string{"Properties", "Metadata", "CreationPolicy", "UpdatePolicy"} {
				c.dependsOn(g, id, r[k])
			}
			continue
		}
		c.dependsOn(g, id, r["Metadata"])
		props := c.withGlobals(r, globals[strings.TrimPrefix(typ, "AWS::Serverless::")])
		switch typ {
		case "AWS::Serverless::Function", "AWS::Serverless::StateMachine":
			c.functionEdges(g, id, props)
		case "AWS::Serverless::Api", "AWS::Serverless::HttpApi", "AWS::Serverless::WebSocketApi":
			c.apiEdges(g, id, typ, props)
		default:
			for _, p := range props {
				c.dependsOn(g, id, p.value)
			}
		}
	}
	// The implicit APIs of events without RestApiId or ApiId.
	if _, ok := c.nodes["ServerlessRestApi"]; ok {
		c.apiEdges(g, "ServerlessRestApi", "AWS::Serverless::Api", c.withGlobals(nil, globals["Api"]))
	}
	if _, ok := c.nodes["ServerlessHttpApi"]; ok {
		c.apiEdges(g, "ServerlessHttpApi", "AWS::Serverless::HttpApi", c.withGlobals(nil, globals["HttpApi"]))
	}
	for _, scc := range g.components() {
		if len(scc) > 1 || g[scc[0]][scc[0]] {
			c.errorf("Resources", "circular dependency between resources: %s", strings.Join(g.circle(scc), " → "))
		}
	}
}

// samProperty is one property of a SAM resource, its own or from Globals.
type samProperty struct {
	name  string
	value any
}

// withGlobals returns a SAM resource's properties with those of its
// Globals section that SAM adds: all but those IgnoreGlobals names and
// those the resource sets (unless both are maps, which SAM merges).
func (c *checker) withGlobals(r map[string]any, section any) []samProperty {
	own := asMap(r["Properties"])
	var props []samProperty
	for _, k := range sortedKeys(own) {
		props = append(props, samProperty{k, own[k]})
	}
	ignore := r["IgnoreGlobals"]
	if ignore == "*" {
		return props
	}
	global := asMap(section)
	for _, k := range sortedKeys(global) {
		if slices.Contains(asList(ignore), any(k)) {
			continue
		}
		if v, ok := own[k]; ok && (asMap(v) == nil || asMap(global[k]) == nil) {
			continue
		}
		props = append(props, samProperty{k, global[k]})
	}
	return props
}

// functionEdges adds a function's (or state machine's) edges, its role's
// and those of its events.
func (c *checker) functionEdges(g graph, id string, props []samProperty) {
	role := id
	if node, ok := c.nodes[id+"Role"]; ok && !slices.ContainsFunc(props, func(p samProperty) bool { return p.name == "Role" }) {
		role = node
		g.edge(id, role)
	}
	for _, p := range props {
		switch {
		case slices.Contains(roleProperties, p.name):
			c.dependsOn(g, role, p.value)
		case p.name == "Events":
			for _, name := range sortedKeys(asMap(p.value)) {
				c.eventEdges(g, id, asMap(asMap(p.value)[name]))
			}
		default:
			c.dependsOn(g, id, p.value)
		}
	}
}

// eventEdges adds the edges of one event of the function id: the resource
// SAM changes to call the function waits for it.
func (c *checker) eventEdges(g graph, id string, event map[string]any) {
	props := asMap(event["Properties"])
	target := func(key, implicit string) (string, bool) {
		v, ok := props[key]
		if !ok {
			node, ok := c.nodes[implicit]
			return node, ok
		}
		name, arg, isFn := intrinsic(v)
		if s, ok := arg.(string); isFn && name == "Ref" && ok {
			node, ok := c.nodes[s]
			return node, ok
		}
		return "", false
	}
	var api string
	var ok bool
	switch event["Type"] {
	case "Api":
		api, ok = target("RestApiId", "ServerlessRestApi")
	case "HttpApi":
		api, ok = target("ApiId", "ServerlessHttpApi")
	case "S3":
		api, ok = target("Bucket", "")
	}
	if ok {
		g.edge(api, id)
	}
}

// apiEdges adds the edges of an Api, HttpApi or WebSocketApi and of the
// stage (and deployment) SAM generates for it.
func (c *checker) apiEdges(g graph, id, typ string, props []samProperty) {
	stage := id + ".Stage"
	g.edge(stage, id)
	if typ == "AWS::Serverless::Api" {
		g.edge(stage, id+".Deployment")
		g.edge(id+".Deployment", id)
	}
	for _, p := range props {
		if slices.Contains(stageProperties[typ], p.name) {
			c.dependsOn(g, stage, p.value)
		} else {
			c.dependsOn(g, id, p.value)
		}
	}
}

// dependsOn adds an edge from the node from to each resource v names.
func (c *checker) dependsOn(g graph, from string, v any) {
	names(v, func(name string) {
		node, ok := c.nodes[name]
		if !ok {
			id, _, _ := strings.Cut(name, ".")
			node, ok = c.nodes[id]
		}
		if ok {
			g.edge(from, node)
		}
	})
}

// names calls f with each name v refers to: a Ref's, an Fn::GetAtt's
// resource, each ${X} and ${X.Attr} of an Fn::Sub less its own variables.
// Parameters and pseudo parameters are among them; dependsOn drops them.
func names(v any, f func(string)) {
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			names(e, f)
		}
	case map[string]any:
		name, arg, ok := intrinsic(v)
		switch {
		case !ok:
			for _, k := range sortedKeys(v) {
				names(v[k], f)
			}
		case name == "Ref":
			if s, ok := arg.(string); ok {
				f(s)
			}
		case name == "Fn::GetAtt":
			if s, ok := arg.(string); ok {
				id, _, _ := strings.Cut(s, ".")
				f(id)
			} else if l := asList(arg); len(l) == 2 {
				f(fmt.Sprint(l[0]))
				names(l[1], f)
			}
		case name == "Fn::Sub":
			s, isStr := arg.(string)
			vars := map[string]bool{}
			if l := asList(arg); len(l) == 2 {
				s, isStr = l[0].(string)
				for k, e := range asMap(l[1]) {
					vars[k] = true
					names(e, f)
				}
			}
			if !isStr {
				return
			}
			for _, m := range subVariable.FindAllStringSubmatch(s, -1) {
				if !strings.HasPrefix(m[1], "!") && !vars[m[1]] {
					f(m[1])
				}
			}
		default:
			names(arg, f)
		}
	}
}

// components returns the strongly connected components of g (Tarjan's
// algorithm), each sorted, in a stable order.
func (g graph) components() [][]string {
	index := map[string]int{}
	low := map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	var out [][]string
	var visit func(v string)
	visit = func(v string) {
		index[v] = len(index)
		low[v] = index[v]
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range sortedKeys(g[v]) {
			if _, seen := index[w]; !seen {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			var scc []string
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				scc = append(scc, w)
				if w == v {
					break
				}
			}
			slices.Sort(scc)
			out = append(out, scc)
		}
	}
	for _, v := range sortedKeys(g) {
		if _, seen := index[v]; !seen {
			visit(v)
		}
	}
	slices.SortFunc(out, func(a, b []string) int { return strings.Compare(a[0], b[0]) })
	return out
}

// circle returns a shortest circle through the first node of the
// component scc, from it back to it.
func (g graph) circle(scc []string) []string {
	start := scc[0]
	if g[start][start] {
		return []string{start, start}
	}
	prev := map[string]string{}
	queue := []string{start}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for _, w := range sortedKeys(g[v]) {
			if w == start {
				path := []string{start}
				for u := v; u != start; u = prev[u] {
					path = append(path, u)
				}
				slices.Reverse(path[1:])
				return append(path, start)
			}
			if _, seen := prev[w]; !seen && slices.Contains(scc, w) {
				prev[w] = v
				queue = append(queue, w)
			}
		}
	}
	return scc
}
