package awslambda_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/apigw"
	"github.com/chatapp-dev/chatapp/awslambda"
	"github.com/chatapp-dev/chatapp/dynamodb"
	"github.com/chatapp-dev/chatapp/handler"
	"github.com/chatapp-dev/chatapp/internal/awsenv"
	"github.com/chatapp-dev/chatapp/internal/dynamolocal"
	"github.com/chatapp-dev/chatapp/protocol"
)

func TestMain(m *testing.M) { os.Exit(dynamolocal.Main(m)) }

// docs/deploy.md's "What it costs" is arithmetic on two tables, prices and
// the units one operation uses: the checks below redo it. What the code
// and the template decide is taken from them, not from the doc: the writes
// and reads each operation makes (its function run on DynamoDB Local, the
// reads' capacity as DynamoDB reports it), whether the REST authorizer
// caches and the functions' memory (template.yaml), and how many posts run
// at a time (apigw.DefaultConcurrency). A room listing reads every row of
// the room, so its RRU grow with the room: ceil(N × row bytes / 4 KB),
// strongly consistent, with the row size measured too.

// costSection returns docs/deploy.md's "What it costs" section.
func costSection(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../docs/deploy.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	i := strings.Index(doc, "\n## What it costs\n")
	if i < 0 {
		t.Fatal("docs/deploy.md has no section What it costs")
	}
	section := doc[i+1:]
	if j := strings.Index(section[3:], "\n## "); j >= 0 {
		section = section[:j+3]
	}
	return section
}

// mdTable is a markdown table: its header cells, and its rows by first cell.
type mdTable struct {
	header []string
	rows   [][]string
}

func cells(line string) []string {
	line = strings.TrimSpace(line)
	parts := strings.Split(strings.Trim(line, "|"), "|")
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p)
	}
	return parts
}

// tables returns the section's tables, each with the "### " heading it
// stands under.
func tables(section string) (out []mdTable, headings []string) {
	heading := ""
	var cur *mdTable
	for line := range strings.Lines(section) {
		switch {
		case strings.HasPrefix(line, "### "):
			heading = strings.TrimSpace(strings.TrimPrefix(line, "### "))
		case strings.HasPrefix(line, "|"):
			c := cells(line)
			switch {
			case cur == nil:
				out = append(out, mdTable{header: c})
				headings = append(headings, heading)
				cur = &out[len(out)-1]
			case strings.HasPrefix(c[0], "---"):
			default:
				cur.rows = append(cur.rows, c)
			}
		default:
			cur = nil
		}
	}
	return out, headings
}

// number parses "$3.50", "16,250" or "0.5".
func number(t *testing.T, s string) float64 {
	t.Helper()
	s = strings.NewReplacer("$", "", ",", "", "*", "").Replace(s)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("%q is not a number", s)
	}
	return f
}

// units is one row of the units table.
type units struct {
	rest, wsIn, framesPerMember, functionMS, authorizer, txnItems, standardWrites, rru, roomListings, bytesOut float64
}

// costModel is the section's tables.
type costModel struct {
	prices      map[string]float64
	ops         map[string]units
	assumptions map[string]float64
}

var unitColumns = []string{"operation", "REST requests", "WebSocket messages in", "frames out per member", "function ms", "authorizer calls", "transactional items", "standard writes", "RRU", "room listings", "bytes out"}

func readCostModel(t *testing.T, all []mdTable) costModel {
	t.Helper()
	m := costModel{prices: map[string]float64{}, ops: map[string]units{}, assumptions: map[string]float64{}}
	for _, tb := range all {
		switch {
		case strings.HasPrefix(tb.header[0], "price"):
			for _, r := range tb.rows {
				m.prices[r[0]] = number(t, r[1])
			}
		case tb.header[0] == "operation":
			if strings.Join(tb.header, "|") != strings.Join(unitColumns, "|") {
				t.Fatalf("units table columns %q, want %q", tb.header, unitColumns)
			}
			for _, r := range tb.rows {
				var u units
				for i, p := range []*float64{&u.rest, &u.wsIn, &u.framesPerMember, &u.functionMS, &u.authorizer, &u.txnItems, &u.standardWrites, &u.rru, &u.roomListings, &u.bytesOut} {
					*p = number(t, r[i+1])
				}
				m.ops[r[0]] = u
			}
		case tb.header[0] == "assumption":
			for _, r := range tb.rows {
				m.assumptions[r[0]] = number(t, r[1])
			}
		}
	}
	for _, name := range []string{"REST API request", "WebSocket message", "Lambda request", "Lambda duration, arm64", "DynamoDB write request unit", "DynamoDB read request unit", "CloudWatch Logs ingestion", "data transfer out"} {
		if _, ok := m.prices[name]; !ok {
			t.Fatalf("no price %q in %v", name, m.prices)
		}
	}
	for _, name := range []string{"frame bytes", "connection row bytes", "function memory GB", "authorizer ms", "log KB per invocation"} {
		if _, ok := m.assumptions[name]; !ok {
			t.Fatalf("no assumption %q", name)
		}
	}
	return m
}

// scenario is "1 M × `PUT /chat`, rooms of 10": a count (millions) of one
// or more operations, and the room size their frames fan out to.
var scenarioRE = regexp.MustCompile(`^(\d+(?:\.\d+)?) M × (.+?)(?:, rooms of (\d+))?$`)

// lines returns what a scenario costs, line by line, as the worked
// examples name the lines.
func (m costModel) lines(t *testing.T, scenario string) map[string]float64 {
	t.Helper()
	match := scenarioRE.FindStringSubmatch(scenario)
	if match == nil {
		t.Fatalf("scenario %q is not of the form N M × `op` [+ `op`][, rooms of N]", scenario)
	}
	count := number(t, match[1]) * 1e6
	members := 0.0
	if match[3] != "" {
		members = number(t, match[3])
	}
	var rest, wsIn, wsOut, invocations, authz, seconds, wru, rru, bytesOut float64
	for _, name := range strings.Split(match[2], " + ") {
		u, ok := m.ops[name]
		if !ok {
			t.Fatalf("scenario %q: no operation %q in the units table", scenario, name)
		}
		if u.roomListings > 0 && members == 0 {
			t.Fatalf("scenario %q: %s lists a room, whose size the scenario does not name", scenario, name)
		}
		rest += u.rest * count
		wsIn += u.wsIn * count
		wsOut += u.framesPerMember * members * count
		invocations += count
		authz += u.authorizer * count
		seconds += (u.functionMS + u.authorizer*m.assumptions["authorizer ms"]) / 1000 * count
		wru += (2*u.txnItems + u.standardWrites) * count
		rru += (u.rru + u.roomListings*listingRRU(members, m.assumptions["connection row bytes"])) * count
		bytesOut += u.bytesOut * count
	}
	bytesOut += wsOut * m.assumptions["frame bytes"]
	p := m.prices
	return map[string]float64{
		"REST requests":          rest * p["REST API request"] / 1e6,
		"WebSocket messages in":  wsIn * p["WebSocket message"] / 1e6,
		"WebSocket messages out": wsOut * p["WebSocket message"] / 1e6,
		"Lambda requests":        (invocations + authz) * p["Lambda request"] / 1e6,
		"Lambda duration":        seconds * m.assumptions["function memory GB"] * p["Lambda duration, arm64"],
		"DynamoDB writes":        wru * p["DynamoDB write request unit"] / 1e6,
		"DynamoDB reads":         rru * p["DynamoDB read request unit"] / 1e6,
		"CloudWatch Logs":        (invocations + authz) * m.assumptions["log KB per invocation"] * 1e3 / 1e9 * p["CloudWatch Logs ingestion"],
		"data transfer out":      bytesOut / 1e9 * p["data transfer out"],
	}
}

// listingRRU is what a strongly consistent Query of a room of members rows
// of rowBytes consumes: DynamoDB adds up the sizes of the items a Query
// reads and rounds the sum up to 4 KB, one RRU each.
func listingRRU(members, rowBytes float64) float64 {
	return math.Ceil(members * rowBytes / 4096)
}

func cents(f float64) string { return fmt.Sprintf("$%.2f", math.Round(f*100)/100) }

func total(lines map[string]float64) float64 {
	sum := 0.0
	for _, v := range lines {
		sum += v
	}
	return sum
}

// TestCostArithmetic recomputes every line and total of the worked
// examples and of the other cases from the price and units tables.
func TestCostArithmetic(t *testing.T) {
	all, headings := tables(costSection(t))
	m := readCostModel(t, all)
	examples, cases := 0, 0
	for i, tb := range all {
		switch {
		case strings.Join(tb.header, "|") == "what|arithmetic|cost":
			examples++
			want := m.lines(t, headings[i])
			seen := map[string]bool{}
			for _, r := range tb.rows {
				label, cost := strings.Trim(r[0], "*"), strings.Trim(r[2], "*")
				if label == "total" {
					if cost != cents(total(want)) {
						t.Errorf("%s: total %s, want %s", headings[i], cost, cents(total(want)))
					}
					continue
				}
				v, ok := want[label]
				if !ok {
					t.Errorf("%s: line %q is none of %v", headings[i], label, want)
					continue
				}
				seen[label] = true
				if cost != cents(v) {
					t.Errorf("%s: %s costs %s, want %s", headings[i], label, cost, cents(v))
				}
			}
			for label, v := range want {
				if !seen[label] && v != 0 {
					t.Errorf("%s: no line %s (%s)", headings[i], label, cents(v))
				}
			}
		case tb.header[0] == "case":
			for _, r := range tb.rows {
				cases++
				if want := cents(total(m.lines(t, r[0]))); r[1] != want {
					t.Errorf("%s costs %s, want %s", r[0], r[1], want)
				}
			}
		}
	}
	if examples < 4 || cases < 2 {
		t.Errorf("%d worked examples and %d other cases found; the section's tables are not where this test looks", examples, cases)
	}
}

// TestCostFromCode holds the section to what the code and the template
// decide: every write and read count of the units table is measured by
// running the operation's function, as the bootstrap builds it, on
// DynamoDB Local.
func TestCostFromCode(t *testing.T) {
	section := costSection(t)
	all, _ := tables(section)
	m := readCostModel(t, all)

	// Posts to a room run apigw.DefaultConcurrency at a time.
	for _, match := range regexp.MustCompile(`posts run (\d+) at a time`).FindAllStringSubmatch(section, -1) {
		if n, _ := strconv.Atoi(match[1]); n != apigw.DefaultConcurrency {
			t.Errorf("the section says the posts run %d at a time; apigw.DefaultConcurrency is %d", n, apigw.DefaultConcurrency)
		}
	}

	// The REST authorizer does not cache, so every REST request invokes
	// it; on the WebSocket API only $connect does.
	tmpl, _ := loadTemplate(t)
	for id, api := range tmpl.GetAllServerlessApiResources() {
		authorizers, _ := api.Auth.Authorizers.(map[string]any)
		def, _ := authorizers[deref(api.Auth.DefaultAuthorizer)].(map[string]any)
		identity, _ := def["Identity"].(map[string]any)
		if fmt.Sprint(identity["ReauthorizeEvery"]) != "0" {
			t.Fatalf("%s: the authorizer caches (Identity %v): the units table's authorizer calls assume one per REST request", id, identity)
		}
	}
	for name, u := range m.ops {
		want := u.rest
		if name == "`$connect`" {
			want = 1
		}
		if u.authorizer != want {
			t.Errorf("%s: %v authorizer calls, want %v (no caching: one per REST request, and one per $connect)", name, u.authorizer, want)
		}
	}

	// Lambda duration is billed by the memory each function has
	// (template.yaml's MemorySize, in MB of 1024² bytes: 256 is 0.25 GB).
	for id, fn := range tmpl.GetAllServerlessFunctionResources() {
		if gb := float64(deref(fn.MemorySize)) / 1024; gb != m.assumptions["function memory GB"] {
			t.Errorf("%s: MemorySize %d MB is %v GB; the section assumes %v", id, deref(fn.MemorySize), gb, m.assumptions["function memory GB"])
		}
	}

	got := measureOperations(t, m.assumptions["connection row bytes"])
	for op, w := range got.ops {
		u, ok := m.ops[op]
		if !ok {
			t.Errorf("no operation %s in the units table", op)
			continue
		}
		if u.txnItems != float64(w.txnItems) {
			t.Errorf("%s: the units table says %v transactional items; the function writes %d (%v)", op, u.txnItems, w.txnItems, w.calls)
		}
		if u.standardWrites != float64(w.standardWrites) {
			t.Errorf("%s: the units table says %v standard writes; the function makes %d (%v)", op, u.standardWrites, w.standardWrites, w.calls)
		}
		if u.rru != w.rru {
			t.Errorf("%s: the units table says %v RRU besides the room listings; the function consumes %v (%v)", op, u.rru, w.rru, w.calls)
		}
		if u.roomListings != float64(w.roomListings) {
			t.Errorf("%s: the units table says %v room listings; the function makes %d (%v)", op, u.roomListings, w.roomListings, w.calls)
		}
	}
	for op := range m.ops {
		if _, ok := got.ops[op]; !ok {
			t.Errorf("the units table's %s is not measured here", op)
		}
	}
	// A room listing reads every row of the room, strongly consistently:
	// ceil(N × row bytes / 4 KB) RRU, with the row size of the assumptions.
	for members, rru := range got.listing {
		if want := listingRRU(float64(members), m.assumptions["connection row bytes"]); rru != want {
			t.Errorf("a room of %d: its listing consumes %v RRU; %v connection row bytes make it %v", members, rru, m.assumptions["connection row bytes"], want)
		}
	}
}

// measured is what one operation cost on DynamoDB Local.
type measured struct {
	txnItems, standardWrites int
	// rru is the read capacity of everything but the room listings, as
	// DynamoDB reports it (ReturnConsumedCapacity).
	rru          float64
	roomListings int
	calls        []string
}

type measurements struct {
	ops map[string]*measured
	// listing is the RRU of one listing of a room, by its members.
	listing map[int]float64
}

// measureOperations runs every operation of the units table through the
// function the bootstrap serves for it (awslambda.Handlers), on DynamoDB
// Local, in a room of 10 whose members' posts go to a Management API stub,
// and a history of 100 messages of 200 characters; and lists rooms of 10
// and 100. It counts the writes each makes, and reads the capacity its
// reads consume.
func measureOperations(t *testing.T, rowBytes float64) measurements {
	t.Helper()
	endpoint := dynamolocal.Start(t)
	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
	cfg := dynamodb.Config{MessagesTable: "cost-messages-" + suffix, ConnectionsTable: "cost-connections-" + suffix}
	var (
		mu      sync.Mutex
		cur     *measured
		listing *float64
	)
	meter := middleware.InitializeMiddlewareFunc("Meter", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		room := false
		switch p := in.Parameters.(type) {
		case *ddb.GetItemInput:
			p.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
		case *ddb.BatchGetItemInput:
			p.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
		case *ddb.ScanInput:
			p.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
		case *ddb.QueryInput:
			p.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
			key, _ := p.ExpressionAttributeValues[":room"].(*types.AttributeValueMemberS)
			room = aws.ToString(p.TableName) == cfg.ConnectionsTable && key != nil && !strings.HasPrefix(key.Value, "#")
		}
		out, md, err := next.HandleInitialize(ctx, in)
		mu.Lock()
		defer mu.Unlock()
		name := strings.TrimSuffix(fmt.Sprintf("%T", in.Parameters)[len("*dynamodb."):], "Input")
		var rru float64
		switch r := out.Result.(type) {
		case *ddb.GetItemOutput:
			rru = capacity(r.ConsumedCapacity)
		case *ddb.QueryOutput:
			rru = capacity(r.ConsumedCapacity)
		case *ddb.ScanOutput:
			rru = capacity(r.ConsumedCapacity)
		case *ddb.BatchGetItemOutput:
			for i := range r.ConsumedCapacity {
				rru += capacity(&r.ConsumedCapacity[i])
			}
		}
		if room && listing != nil {
			*listing += rru
		}
		if cur == nil {
			return out, md, err
		}
		switch p := in.Parameters.(type) {
		case *ddb.TransactWriteItemsInput:
			cur.txnItems += len(p.TransactItems)
			name = fmt.Sprintf("%s(%d)", name, len(p.TransactItems))
		case *ddb.PutItemInput, *ddb.UpdateItemInput, *ddb.DeleteItemInput:
			cur.standardWrites++
		}
		if room {
			cur.roomListings++
			name += "(room)"
		} else {
			cur.rru += rru
		}
		if rru > 0 {
			name += fmt.Sprintf(" %v RRU", rru)
		}
		cur.calls = append(cur.calls, name)
		return out, md, err
	})
	awsConfig := awsenv.LambdaConfig(dynamodb.ClientConfig{Endpoint: endpoint})
	client := ddb.NewFromConfig(awsConfig, func(o *ddb.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Initialize.Add(meter, middleware.After)
		})
	})
	db := dynamodb.New(client, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := db.CreateTables(ctx); err != nil {
		t.Fatal(err)
	}
	// The Management API: every post is delivered.
	management := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer management.Close()
	maxPerUser, err := strconv.Atoi(templateEnv(t, awslambda.Connect, "CHATAPP_MAX_CONNECTIONS_PER_USER"))
	if err != nil {
		t.Fatal(err)
	}
	h := &handler.Handler{
		Messages: db, Connections: db,
		Notifier:              &apigw.Notifier{Connections: db, AWS: awsConfig, Endpoint: management.URL},
		MaxConnectionsPerUser: maxPerUser,
	}
	fns := awslambda.Handlers(h, true)
	rest, ws := fns.REST, fns.WebSocket

	// Connections as API Gateway names them (16 characters), with a user,
	// a name and a token's expiry: rooms of 10 and of 100.
	now := time.Now()
	connID := func(i int) string { return fmt.Sprintf("Cost%011d=", i) }
	room := func(name string, n int) string {
		for i := range n {
			c := &chatapp.Connection{
				ID: connID(len(name)*1000 + i), RoomID: name, UserID: fmt.Sprintf("user-%04d", i), Name: fmt.Sprintf("Member %02d", i),
				Timestamp: now.UnixMilli(), Presence: i%2 == 0, ExpiresAt: now.Add(24 * time.Hour).UnixMilli(),
			}
			if err := db.CreateConnection(ctx, c, maxPerUser); err != nil {
				t.Fatal(err)
			}
		}
		return name
	}
	lobby, big := room("lobby", 10), room("hundred", 100)
	text := strings.Repeat("Two hundred characters of chat. ", 7)[:200]
	for i := range 100 {
		if err := db.CreateMessage(ctx, &chatapp.Message{RoomID: lobby, UserID: fmt.Sprintf("user-%04d", i%10), Name: fmt.Sprintf("Member %02d", i%10), Text: text}); err != nil {
			t.Fatal(err)
		}
	}

	out := measurements{ops: map[string]*measured{}, listing: map[int]float64{}}
	for members, name := range map[int]string{10: lobby, 100: big} {
		var rru float64
		mu.Lock()
		listing = &rru
		mu.Unlock()
		if _, err := db.FindConnectionsByRoom(ctx, name); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		listing = nil
		mu.Unlock()
		out.listing[members] = rru
	}

	run := func(op string, f func() (events.APIGatewayProxyResponse, error)) {
		t.Helper()
		w := &measured{}
		mu.Lock()
		cur = w
		mu.Unlock()
		resp, err := f()
		mu.Lock()
		cur = nil
		mu.Unlock()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s, %v", op, resp.StatusCode, resp.Body, err)
		}
		out.ops[op] = w
	}
	put := func(key string) func() (events.APIGatewayProxyResponse, error) {
		return func() (events.APIGatewayProxyResponse, error) {
			req := events.APIGatewayProxyRequest{HTTPMethod: "PUT", Path: "/chat", Body: `{"room_id":"lobby","user_id":"user-0001","name":"Member 01","text":"` + text + `"}`}
			if key != "" {
				req.Headers = map[string]string{protocol.IdempotencyKeyHeader: key}
			}
			return rest[awslambda.PutMessage](ctx, req)
		}
	}
	event := func(id string, query map[string]string, body string) events.APIGatewayWebsocketProxyRequest {
		e := events.APIGatewayWebsocketProxyRequest{QueryStringParameters: query, Body: body}
		e.RequestContext.ConnectionID = id
		return e
	}
	send := func(key string) func() (events.APIGatewayProxyResponse, error) {
		return func() (events.APIGatewayProxyResponse, error) {
			body := `{"action":"sendmessage","text":"` + text + `"`
			if key != "" {
				body += `,"idempotency_key":"` + key + `"`
			}
			return ws[awslambda.SendMessage](ctx, event(connID(len(lobby)*1000+1), nil, body+"}"))
		}
	}
	run("`PUT /chat`", put(""))
	run("`PUT /chat` with an idempotency key", put("cost-rest"))
	run("`sendmessage`", send(""))
	run("`sendmessage` with an idempotency key", send("cost-ws"))
	joiner := connID(999999)
	run("`$connect`", func() (events.APIGatewayProxyResponse, error) {
		return ws[awslambda.Connect](ctx, event(joiner, map[string]string{"room_id": lobby, "user_id": "user-joiner", "name": "Joiner", "events": "presence"}, ""))
	})
	run("`$disconnect`", func() (events.APIGatewayProxyResponse, error) {
		return ws[awslambda.Disconnect](ctx, event(joiner, nil, ""))
	})
	run("`GET /chat`", func() (events.APIGatewayProxyResponse, error) {
		return rest[awslambda.GetMessages](ctx, events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/chat", QueryStringParameters: map[string]string{"room_id": lobby}})
	})
	for op, w := range out.ops {
		t.Logf("%s: %v", op, w.calls)
	}
	t.Logf("room listings: %v RRU", out.listing)
	return out
}

// capacity is the capacity units of a call's ConsumedCapacity.
func capacity(c *types.ConsumedCapacity) float64 {
	if c == nil {
		return 0
	}
	return aws.ToFloat64(c.CapacityUnits)
}

// templateEnv returns an environment variable of the function with Handler
// name.
func templateEnv(t *testing.T, name, key string) string {
	t.Helper()
	tmpl, _ := loadTemplate(t)
	for _, fn := range tmpl.GetAllServerlessFunctionResources() {
		if deref(fn.Handler) == name && fn.Environment != nil {
			return fn.Environment.Variables[key]
		}
	}
	t.Fatalf("no function %s", name)
	return ""
}
