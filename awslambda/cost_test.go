package awslambda_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/apigw"
	"github.com/chatapp-dev/chatapp/awslambda"
	"github.com/chatapp-dev/chatapp/dynamodb"
	"github.com/chatapp-dev/chatapp/internal/dynamolocal"
)

func TestMain(m *testing.M) { os.Exit(dynamolocal.Main(m)) }

// docs/deploy.md's "What it costs" is arithmetic on two tables, prices and
// the units one operation uses: the checks below redo it. What the code
// and the template decide is taken from them, not from the doc: how many
// items each transaction writes (the real store on DynamoDB Local), whether
// the REST authorizer caches (template.yaml), and how many posts run at a
// time (apigw.DefaultConcurrency).

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
	rest, wsIn, framesPerMember, functionMS, authorizer, txnItems, standardWrites, rru, bytesOut float64
}

// costModel is the section's tables.
type costModel struct {
	prices      map[string]float64
	ops         map[string]units
	assumptions map[string]float64
}

var unitColumns = []string{"operation", "REST requests", "WebSocket messages in", "frames out per member", "function ms", "authorizer calls", "transactional items", "standard writes", "RRU", "bytes out"}

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
				for i, p := range []*float64{&u.rest, &u.wsIn, &u.framesPerMember, &u.functionMS, &u.authorizer, &u.txnItems, &u.standardWrites, &u.rru, &u.bytesOut} {
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
	for _, name := range []string{"frame bytes", "function memory GB", "authorizer ms", "log KB per invocation"} {
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
		rest += u.rest * count
		wsIn += u.wsIn * count
		wsOut += u.framesPerMember * members * count
		invocations += count
		authz += u.authorizer * count
		seconds += (u.functionMS + u.authorizer*m.assumptions["authorizer ms"]) / 1000 * count
		wru += (2*u.txnItems + u.standardWrites) * count
		rru += u.rru * count
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
// decide.
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

	// Transactions: items per operation, from the real store.
	got := storeWrites(t)
	for op, w := range map[string]writes{
		"`PUT /chat`":                           got.send,
		"`sendmessage`":                         got.send,
		"`PUT /chat` with an idempotency key":   got.idempotentSend,
		"`sendmessage` with an idempotency key": got.idempotentSend,
		"`$connect`":                            got.connect,
	} {
		u, ok := m.ops[op]
		if !ok {
			t.Errorf("no operation %s in the units table", op)
			continue
		}
		if u.txnItems != float64(w.txnItems) {
			t.Errorf("%s: the units table says %v transactional items; the store writes %d (%v)", op, u.txnItems, w.txnItems, w.calls)
		}
		// A standard write is a call of its own; the table may add index
		// entries to them.
		if u.standardWrites < float64(w.standardCalls) {
			t.Errorf("%s: the units table says %v standard writes; the store makes %d (%v)", op, u.standardWrites, w.standardCalls, w.calls)
		}
	}
}

// writes is what one store call sent to DynamoDB.
type writes struct {
	txnItems, standardCalls int
	calls                   []string
}

type storeWriteCounts struct{ send, idempotentSend, connect writes }

// storeWrites runs a send, an idempotent send and a capped connect (the
// template's CHATAPP_MAX_CONNECTIONS_PER_USER) on DynamoDB Local, and
// counts their writes.
func storeWrites(t *testing.T) storeWriteCounts {
	t.Helper()
	endpoint := dynamolocal.Start(t)
	var cur *writes
	record := middleware.InitializeMiddlewareFunc("CountWrites", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		if cur != nil {
			switch p := in.Parameters.(type) {
			case *ddb.TransactWriteItemsInput:
				cur.txnItems += len(p.TransactItems)
				cur.calls = append(cur.calls, fmt.Sprintf("TransactWriteItems(%d)", len(p.TransactItems)))
			case *ddb.PutItemInput, *ddb.UpdateItemInput, *ddb.DeleteItemInput:
				cur.standardCalls++
				cur.calls = append(cur.calls, fmt.Sprintf("%T", p))
			}
		}
		return next.HandleInitialize(ctx, in)
	})
	client := ddb.NewFromConfig(dynamodb.EnvConfig(dynamodb.ClientConfig{Endpoint: endpoint}), func(o *ddb.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Initialize.Add(record, middleware.After)
		})
	})
	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
	db := dynamodb.New(client, dynamodb.Config{MessagesTable: "cost-messages-" + suffix, ConnectionsTable: "cost-connections-" + suffix})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := db.CreateTables(ctx); err != nil {
		t.Fatal(err)
	}
	maxPerUser, err := strconv.Atoi(templateEnv(t, awslambda.Connect, "CHATAPP_MAX_CONNECTIONS_PER_USER"))
	if err != nil {
		t.Fatal(err)
	}
	var out storeWriteCounts
	run := func(w *writes, f func() error) {
		cur = w
		defer func() { cur = nil }()
		if err := f(); err != nil {
			t.Fatal(err)
		}
	}
	run(&out.send, func() error {
		return db.CreateMessage(ctx, &chatapp.Message{RoomID: "lobby", UserID: "42", Text: "hi"})
	})
	run(&out.idempotentSend, func() error {
		return db.CreateMessage(ctx, &chatapp.Message{RoomID: "lobby", UserID: "42", Text: "hi", IdempotencyKey: "k1"})
	})
	run(&out.connect, func() error {
		return db.CreateConnection(ctx, &chatapp.Connection{ID: "c1=", RoomID: "lobby", UserID: "42", Timestamp: time.Now().UnixMilli()}, maxPerUser)
	})
	return out
}

// templateEnv returns an environment variable of the function with handler.
func templateEnv(t *testing.T, handler, key string) string {
	t.Helper()
	tmpl, _ := loadTemplate(t)
	for _, fn := range tmpl.GetAllServerlessFunctionResources() {
		if deref(fn.Handler) == handler && fn.Environment != nil {
			return fn.Environment.Variables[key]
		}
	}
	t.Fatalf("no function %s", handler)
	return ""
}
