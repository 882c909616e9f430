package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/coder/websocket"
)

// The README's API examples are what a reader gets: each runs, in order,
// against a fresh `chatapp serve`, and its answer has the shape the README
// shows (readme_parse_test.go says what "shape" holds).

// idPlaceholder is an id in an example's command: the last id answered.
var idPlaceholder = regexp.MustCompile(`[0-9A-Z]*…`)

// TestREADMERESTExamples runs the curl commands of the README's API section.
func TestREADMERESTExamples(t *testing.T) {
	blocks := codeBlocks(readmeAPI(t), "sh")
	if len(blocks) == 0 {
		t.Fatal("the README's API section has no ```sh block")
	}
	s := startServer(t, ServeConfig{})
	lastID := ""
	ran := 0
	for _, block := range blocks {
		examples, err := parseRESTExamples(block)
		if err != nil {
			t.Fatal(err)
		}
		for _, ex := range examples {
			ran++
			u, body := ex.url, ex.body
			if !strings.HasPrefix(u, "http://"+readmeHost+"/") {
				t.Fatalf("%s: the URL is not on http://%s", ex.command, readmeHost)
			}
			if idPlaceholder.MatchString(u + body) {
				if lastID == "" {
					t.Fatalf("%s: an id placeholder before any answer held an id", ex.command)
				}
				u, body = idPlaceholder.ReplaceAllString(u, lastID), idPlaceholder.ReplaceAllString(body, lastID)
			}
			u = s.URL + strings.TrimPrefix(u, "http://"+readmeHost)
			r := do(t, ex.method, u, body, ex.header)
			want := ex.status
			if want == 0 {
				want = 200 // no status line shown: a success
			}
			if r.Status != want {
				t.Errorf("%s\nstatus %d, documented %d (%s)", ex.command, r.Status, want, truncate(r.Body))
			}
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("%s\nContent-Type %q, want JSON", ex.command, ct)
			}
			got, err := decodeStrict(r.Body)
			if err != nil {
				t.Fatalf("%s\n%v", ex.command, err)
			}
			if id := lastIDIn(got); id != "" {
				lastID = id
			}
			if ex.answer == "" {
				continue
			}
			doc, err := parseDocumented(ex.answer)
			if err != nil {
				t.Fatalf("%s\nthe documented answer: %v", ex.command, err)
			}
			for _, d := range shapeDiffs("answer", doc, got) {
				t.Errorf("%s\n%s\ngot %s", ex.command, d, truncate(r.Body))
			}
		}
	}
	if ran < 5 {
		t.Fatalf("ran %d examples: the README's blocks were not read as expected", ran)
	}
}

// lastIDIn returns the last "id" string in an answer, depth first.
func lastIDIn(v any) string {
	last := ""
	switch v := v.(type) {
	case map[string]any:
		for _, k := range keys(v) {
			if id := lastIDIn(v[k]); id != "" {
				last = id
			}
		}
		if id, ok := v["id"].(string); ok {
			last = id
		}
	case []any:
		for _, e := range v {
			if id := lastIDIn(e); id != "" {
				last = id
			}
		}
	}
	return last
}

// wscatSession is the README's WebSocket example: a wscat command, then
// what is sent (> ) and what arrives (< ).
type wscatSession struct {
	url   string
	steps []wscatStep
}

type wscatStep struct {
	send  bool
	frame string
}

var wscatCommand = regexp.MustCompile(`^\$ (?:npx )?wscat -c (.+)$`)

func parseWscat(block string) (wscatSession, error) {
	var session wscatSession
	lines := strings.Split(block, "\n")
	m := wscatCommand.FindStringSubmatch(lines[0])
	if m == nil {
		return session, fmt.Errorf("%q: not a wscat -c command", lines[0])
	}
	words, err := shellWords(m[1])
	if err != nil || len(words) != 1 {
		return session, fmt.Errorf("%q: one URL wanted (%v)", m[1], err)
	}
	session.url = words[0]
	for _, line := range lines[1:] {
		switch {
		case line == "Connected (press CTRL+C to quit)":
		case strings.HasPrefix(line, "> "):
			session.steps = append(session.steps, wscatStep{send: true, frame: line[2:]})
		case strings.HasPrefix(line, "< "):
			session.steps = append(session.steps, wscatStep{frame: line[2:]})
		default:
			return session, fmt.Errorf("%q: not a line of a wscat session", line)
		}
	}
	return session, nil
}

// TestREADMEWebSocketExample replays the README's wscat session over a Go
// WebSocket client: the frames it sends, and the shape of those it shows
// arriving.
func TestREADMEWebSocketExample(t *testing.T) {
	blocks := codeBlocks(readmeAPI(t), "console")
	if len(blocks) != 1 {
		t.Fatalf("the README's API section has %d ```console blocks, want the one wscat session", len(blocks))
	}
	session, err := parseWscat(blocks[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(session.url, "ws://"+readmeHost+"/") {
		t.Fatalf("%s is not on ws://%s", session.url, readmeHost)
	}
	s := startServer(t, ServeConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*waitTimeout)
	defer cancel()
	c, _, err := websocket.Dial(ctx, wsURL(s.URL)+strings.TrimPrefix(session.url, "ws://"+readmeHost), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	received := 0
	for _, step := range session.steps {
		if step.send {
			if err := c.Write(ctx, websocket.MessageText, []byte(step.frame)); err != nil {
				t.Fatalf("send %s: %v", step.frame, err)
			}
			continue
		}
		doc, err := parseDocumented(step.frame)
		if err != nil {
			t.Fatal(err)
		}
		_, data, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("waiting for %s: %v", step.frame, err)
		}
		received++
		got, err := decodeStrict(data)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range shapeDiffs("frame", doc, got) {
			t.Errorf("documented %s\n%s\ngot %s", step.frame, d, data)
		}
	}
	if received == 0 {
		t.Fatal("the wscat session shows no frame arriving")
	}
}
