package handler_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/handler"
)

// lambdaPayload is the response as aws-lambda-go sends it to the Lambda
// service: the proxy response as JSON, encoded as its handler does by
// default (json.Encoder, SetEscapeHTML(false); lambda/handler.go). Lambda
// refuses a payload over 6 MB, and API Gateway answers that with a 502.
func lambdaPayload(t *testing.T, resp events.APIGatewayProxyResponse) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(resp); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// maxHistoryBody is the budget of a history page's body.
const maxHistoryBody = handler.MaxHistoryBodyBytes

// maxLambdaPayload is what the tests allow a history payload: well under
// Lambda's 6 MB, whatever the messages hold.
const maxLambdaPayload = 2*maxHistoryBody + 64<<10

type pageBody struct {
	Messages   []chatapp.Message `json:"messages"`
	NextCursor string            `json:"next_cursor"`
	HasMore    bool              `json:"has_more"`
}

// getPage is one GET /chat whose body and Lambda payload must be within
// their bounds and hold at least one message.
func (e *env) getPage(t *testing.T, query string) pageBody {
	t.Helper()
	resp, err := e.h.GetMessages(context.Background(), restRequest("GET", "/chat", query, ""))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /chat?%s: %d %s %v", query, resp.StatusCode, resp.Body[:min(len(resp.Body), 200)], err)
	}
	if n := len(resp.Body); n > maxHistoryBody {
		t.Errorf("GET /chat?%s: body of %d bytes, over the %d budget", query, n, maxHistoryBody)
	}
	if n := len(lambdaPayload(t, resp)); n > maxLambdaPayload {
		t.Errorf("GET /chat?%s: Lambda payload of %d bytes, over %d", query, n, maxLambdaPayload)
	}
	var page pageBody
	if err := json.Unmarshal([]byte(resp.Body), &page); err != nil {
		t.Fatalf("GET /chat?%s: %v", query, err)
	}
	if len(page.Messages) == 0 {
		t.Fatalf("GET /chat?%s: an empty page of a room that has messages", query)
	}
	return page
}

// TestHistoryPagesBoundedInBytes fills rooms with 40 messages of 16 KiB of
// the characters that grow most in JSON (json.Marshal made the default page
// of 100 "<" messages 9.8 MB: over Lambda's 6 MB, a 502 for the whole room;
// 40 of them are 3.9 MB, four times the body budget, four pages). Every page
// (the default, limit=1000, a cursor walk, an after= walk) stays within the
// body budget and its Lambda payload well under 6 MB, and walking
// next_cursor or has_more returns every message exactly once, in order.
func TestHistoryPagesBoundedInBytes(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ name, char string }{
		{"lt", "<"},      // \u003c under json.Marshal
		{"quote", `"`},   // \" in the body, \\\" in the payload
		{"ctrl", "\x01"}, // \u0001
		{"lsep", "\u2028"},
	} {
		t.Run(c.name, func(t *testing.T) {
			room := "big-" + c.name
			text := strings.Repeat(c.char, chatapp.MaxMessageBytes/len(c.char))
			batch := make([]*chatapp.Message, 40)
			for i := range batch {
				batch[i] = &chatapp.Message{RoomID: room, UserID: "u1", Name: strings.Repeat(c.char, 64), Text: text}
			}
			if err := e.db.BulkInsert(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
			want := make([]string, len(batch))
			for i, m := range batch {
				want[i] = m.ID
			}

			// The latest page keeps the newest messages; next_cursor leads
			// back through the rest.
			for _, limit := range []string{"", "&limit=1000", "&limit=7"} {
				var got []string
				q := "room_id=" + room + limit
				page := e.getPage(t, q)
				if last := page.Messages[len(page.Messages)-1].ID; last != want[len(want)-1] {
					t.Errorf("%s: the latest page ends at %s, not at the newest message", q, last)
				}
				for pages := 0; ; pages++ {
					if pages > len(want) {
						t.Fatalf("%s: the cursor walk does not end", q)
					}
					ids := make([]string, len(page.Messages))
					for i, m := range page.Messages {
						ids[i] = m.ID
						if m.Text != text || m.Name != batch[0].Name {
							t.Fatalf("%s: message %s came back altered", q, m.ID)
						}
					}
					got = append(ids, got...)
					if page.HasMore {
						t.Errorf("%s: has_more on a cursor page", q)
					}
					if page.NextCursor == "" {
						break
					}
					if page.NextCursor != page.Messages[0].ID {
						t.Errorf("%s: next_cursor %s is not the oldest message of the page", q, page.NextCursor)
					}
					page = e.getPage(t, q+"&cursor="+page.NextCursor)
				}
				checkWalk(t, "cursor walk "+q, got, want)
			}

			// An after= walk keeps the oldest of each page; has_more leads
			// on to the newest.
			for _, limit := range []string{"", "&limit=1000"} {
				var got []string
				after := "00000000000000000000000000"
				for pages := 0; ; pages++ {
					if pages > len(want) {
						t.Fatalf("after walk%s does not end", limit)
					}
					page := e.getPage(t, "room_id="+room+limit+"&after="+after)
					for _, m := range page.Messages {
						got = append(got, m.ID)
					}
					if page.NextCursor != "" {
						t.Errorf("after walk%s: next_cursor on an after= page", limit)
					}
					if !page.HasMore {
						break
					}
					after = page.Messages[len(page.Messages)-1].ID
				}
				checkWalk(t, "after walk"+limit, got, want)
			}
		})
	}
}

func checkWalk(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d messages, want %d", what, len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Errorf("%s: message %d is %s, want %s", what, i, got[i], want[i])
			return
		}
	}
}

// pushNotifier records the frames pushed to rooms.
type pushNotifier struct {
	mu     sync.Mutex
	frames [][]byte
}

func (n *pushNotifier) Broadcast(_ context.Context, _ string, push chatapp.Push) (chatapp.Delivery, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.frames = append(n.frames, push.Data)
	return chatapp.Delivery{}, nil
}

func (n *pushNotifier) Members(context.Context, string) ([]*chatapp.Connection, error) {
	return nil, nil
}

func (n *pushNotifier) Post(context.Context, string, []byte) error { return nil }

func (n *pushNotifier) Disconnect(context.Context, string, string) error { return nil }

// TestNoHTMLEscaping: the push of a message, the REST answers and the error
// bodies carry <, > and & as themselves, not as 6-byte \u003c escapes.
func TestNoHTMLEscaping(t *testing.T) {
	e := newEnv(t)
	n := &pushNotifier{}
	e.h.Notifier = n
	const text = "<b>a & b</b>"
	body := `{"room_id":"html","user_id":"u1","name":"<Ada>","text":"` + text + `"}`
	resp, err := e.h.PutMessage(context.Background(), restRequest("PUT", "/chat", "", body))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("PUT: %d %s %v", resp.StatusCode, resp.Body, err)
	}
	if len(n.frames) != 1 {
		t.Fatalf("%d pushes, want 1", len(n.frames))
	}
	get, _ := e.h.GetMessages(context.Background(), restRequest("GET", "/chat", "room_id=html", ""))
	bad, _ := e.h.GetMessages(context.Background(), restRequest("GET", "/chat", "room_id=<x>", ""))
	for what, b := range map[string]string{"push": string(n.frames[0]), "PUT answer": resp.Body, "history": get.Body} {
		if !strings.Contains(b, `"message":"`+text+`"`) || !strings.Contains(b, `"name":"<Ada>"`) || strings.Contains(b, `\u00`) {
			t.Errorf("%s: %s, want the text and name unescaped", what, b)
		}
	}
	var m chatapp.Message
	if err := json.Unmarshal(n.frames[0], &m); err != nil || m.Text != text || bytes.HasSuffix(n.frames[0], []byte("\n")) {
		t.Errorf("push %q is not the message's JSON: %v", n.frames[0], err)
	}
	if bad.StatusCode != 400 || strings.Contains(bad.Body, `\u00`) {
		t.Errorf("error answer %d %s", bad.StatusCode, bad.Body)
	}
}
