package main

import (
	"bytes"
	"context"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/chatapp-dev/chatapp/client"
)

// screen keeps everything a teatest program has written, so that a wait can
// look at the output since a mark; teatest.WaitFor alone forgets what an
// earlier wait read.
type screen struct {
	t      *testing.T
	tm     *teatest.TestModel
	client *client.Client // the model's, closed when the test ends
	raw    []byte
}

func (s *screen) mark() int { return len(s.raw) }

// waitFor waits until the output since mark, without escape sequences,
// matches re.
func (s *screen) waitFor(what string, since int, re *regexp.Regexp) {
	s.t.Helper()
	s.t.Logf("waiting for %s", what)
	var read []byte
	teatest.WaitFor(s.t, s.tm.Output(), func(b []byte) bool {
		read = b
		out := append(s.raw[since:len(s.raw):len(s.raw)], b...)
		return re.MatchString(ansi.Strip(string(out)))
	}, teatest.WithDuration(waitTimeout), teatest.WithCheckInterval(20*time.Millisecond))
	s.raw = append(s.raw, read...)
}

// line matches a message line of the list: "15:04 Ada: text".
func line(name, text string) *regexp.Regexp {
	return regexp.MustCompile(`\d\d:\d\d ` + regexp.QuoteMeta(name+": "+text))
}

func literal(s string) *regexp.Regexp { return regexp.MustCompile(regexp.QuoteMeta(s)) }

// TestChatTerminal drives the terminal chat against a real server: history
// at start, sending, messages and members of others, escape sequences in
// text, and a server restart.
func TestChatTerminal(t *testing.T) {
	cfg := ServeConfig{DataDir: t.TempDir()}
	s1 := startServer(t, cfg)
	addr := strings.TrimPrefix(s1.URL, "http://")
	putMessage(t, s1.URL, "tui", "olga", "Olga", "from before")

	me := chatIdentity{Room: "tui", UserID: "ada-1", Name: "Ada"}
	ccfg := chatConfig{Server: s1.URL, chatIdentity: me}.clientConfig()
	ccfg.MinBackoff, ccfg.MaxBackoff = 10*time.Millisecond, 100*time.Millisecond
	// The client's own transport, to close its idle connections before the
	// server closes: http.Server.Shutdown waits 5 s for a connection
	// dialed but never used, which a transport leaves when requests race.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	ccfg.HTTPClient = specClient(&http.Client{Transport: tr})
	t.Cleanup(tr.CloseIdleConnections)
	scr := chatScreen(t, ccfg, me, 100, 30)
	scr.waitFor("the history", 0, line("Olga", "from before"))
	scr.waitFor("the connection state", 0, literal("● connected"))
	scr.waitFor("me in the member list", 0, literal("• Ada (you)"))

	// Typing and Enter sends: the message is stored and shown.
	scr.tm.Type("hello from the terminal")
	scr.tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	scr.waitFor("my message", 0, line("Ada", "hello from the terminal"))
	h := getHistory(t, s1.URL, "room_id=tui")
	if last := h.Messages[len(h.Messages)-1]; last.Text != "hello from the terminal" || last.UserID != "ada-1" || last.Name != "Ada" {
		t.Errorf("stored %+v", last)
	}

	// Someone else connects, then someone sends.
	dialClient(t, s1.URL, client.Config{Room: "tui", UserID: "bob", Name: "Bob"})
	scr.waitFor("Bob in the member list", 0, regexp.MustCompile(`members \(2\)(.|\n)*• Bob`))
	putMessage(t, s1.URL, "tui", "carol", "Carol", "hi from rest")
	scr.waitFor("Carol's message", 0, line("Carol", "hi from rest"))

	// Escape sequences in text are not passed to the terminal.
	putMessage(t, s1.URL, "tui", "mallory", "Mallory", "evil \x1b]0;pwned\a\x1b[2J\u009b31m\u202eend")
	scr.waitFor("Mallory's message, defused", 0, line("Mallory", "evil ]0;pwned[2J31mend"))
	for _, seq := range []string{"\x1b]0;pwned", "\a", "\u009b", "\u202e"} {
		if bytes.Contains(scr.raw, []byte(seq)) {
			t.Errorf("the output holds %q from a message", seq)
		}
	}

	// The server restarts on the same address: the status line tells, the
	// connection comes back and new messages show.
	mark := scr.mark()
	tr.CloseIdleConnections()
	s1.close(t)
	scr.waitFor("the reconnecting status", mark, regexp.MustCompile(`· retrying (in \d+s|now)`))
	s2 := restartServer(t, cfg, addr)
	mark = scr.mark()
	scr.waitFor("connected again", mark, literal("● connected"))
	putMessage(t, s2.URL, "tui", "carol", "Carol", "after the restart")
	scr.waitFor("a message after the restart", mark, line("Carol", "after the restart"))
	scr.tm.Type("back online")
	scr.tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	scr.waitFor("my message after the restart", mark, line("Ada", "back online"))

	scr.tm.Send(tea.KeyMsg{Type: tea.KeyEsc})
	final, ok := scr.tm.FinalModel(t, teatest.WithFinalTimeout(waitTimeout)).(*chatModel)
	if !ok {
		t.Fatalf("final model is %T", final)
	}
	var got []string
	for _, m := range final.messages {
		got = append(got, m.Text)
	}
	want := []string{"from before", "hello from the terminal", "hi from rest", "evil \x1b]0;pwned\a\x1b[2J\u009b31m\u202eend", "after the restart", "back online"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("messages on screen %q, want %q", got, want)
	}
	// Before the second server's cleanup: see tr.
	scr.client.Close()
	tr.CloseIdleConnections()
}

// chatScreen dials a client with cfg for me and runs the chat's model on it
// in a w×h test terminal; both end with the test.
func chatScreen(t *testing.T, cfg client.Config, me chatIdentity, w, h int) *screen {
	t.Helper()
	ctx, cancel := contextWithTimeout()
	defer cancel()
	c, err := client.Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &screen{t: t, tm: teatest.NewTestModel(t, newChatModel(c, me), teatest.WithInitialTermSize(w, h)), client: c}
}

// TestChatNarrowTerminal: a resize to a narrow terminal hides the member
// list and wraps long messages instead of cutting them.
func TestChatNarrowTerminal(t *testing.T) {
	s := startServer(t, ServeConfig{})
	me := chatIdentity{Room: "narrow", UserID: "n", Name: "Nia"}
	scr := chatScreen(t, chatConfig{Server: s.URL, chatIdentity: me}.clientConfig(), me, 100, 20)
	scr.waitFor("the member list", 0, literal("• Nia (you)"))

	scr.tm.Send(tea.WindowSizeMsg{Width: 40, Height: 12})
	long := strings.Repeat("word ", 20) + "tail"
	putMessage(t, s.URL, "narrow", "x", "X", long)
	scr.waitFor("the end of the long message", 0, literal("word tail"))
	scr.tm.Send(tea.KeyMsg{Type: tea.KeyCtrlC})
	final := scr.tm.FinalModel(t, teatest.WithFinalTimeout(waitTimeout)).(*chatModel)
	view := final.View()
	if strings.Contains(view, "members (") {
		t.Errorf("a 40-column screen shows the member list:\n%s", view)
	}
	lines := strings.Split(view, "\n")
	if len(lines) != 12 {
		t.Errorf("the view has %d lines, want 12:\n%s", len(lines), view)
	}
	for i, l := range lines {
		if w := ansi.StringWidth(l); w > 40 {
			t.Errorf("line %d is %d columns wide: %q", i, w, l)
		}
	}
	// Wrapped, not cut: every word is on screen, over several lines.
	plain := ansi.Strip(view)
	if n := strings.Count(plain, "word"); n != 20 || !strings.Contains(plain, "tail") {
		t.Errorf("the long message is not wrapped whole (%d words):\n%s", n, plain)
	}
}

// TestChatHelp: `chatapp chat --help` prints its usage and succeeds; bad
// flags fail.
func TestChatHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"chat", "--help"}, &stdout, &stderr); err != nil {
		t.Fatalf("chat --help: %v", err)
	}
	for _, want := range []string{"Usage: chatapp chat", "-server", "-api", "-ws", "-room", "-name", "-user"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("chat --help does not mention %q:\n%s", want, stdout.String())
		}
	}
	if err := run(context.Background(), []string{"chat", "--api", "https://example.com/dev/chat"}, &stdout, &stderr); err == nil {
		t.Error("chat with --api and no --ws succeeded")
	}
	if err := run(context.Background(), []string{"chat", "--nope"}, &stdout, &stderr); err == nil {
		t.Error("chat with an unknown flag succeeded")
	}

	// The real binary, as `go run ./cmd/chatapp chat --help` runs it.
	bin := buildBinary(t)
	ctx, cancel := contextWithTimeout()
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "chat", "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Usage: chatapp chat") {
		t.Errorf("chatapp chat --help: %v\n%s", err, out)
	}
}

func TestChatFlags(t *testing.T) {
	isolateConfig(t)
	var stdout, stderr bytes.Buffer
	cfg, err := parseChatFlags([]string{"--server", "http://127.0.0.1:9999", "--room", "r1", "--name", "Zoë Q"}, &stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	cc := cfg.clientConfig()
	if cc.APIURL != "http://127.0.0.1:9999/chat" || cc.WebSocketURL != "ws://127.0.0.1:9999/ws" || cc.Room != "r1" || cc.Name != "Zoë Q" {
		t.Errorf("client config %+v", cc)
	}
	if !regexp.MustCompile(`^zoë-q-[0-9a-f]{8}$`).MatchString(cc.UserID) {
		t.Errorf("default user id %q", cc.UserID)
	}
	cfg, err = parseChatFlags([]string{"--api", "https://a.example/dev/chat", "--ws", "wss://b.example/dev", "--user", "u1"}, &stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if cc := cfg.clientConfig(); cc.APIURL != "https://a.example/dev/chat" || cc.WebSocketURL != "wss://b.example/dev" || cc.UserID != "u1" {
		t.Errorf("client config for a stage %+v", cc)
	}
}

func TestCleanText(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                   "plain",
		"a\x1b[31mred\x1b[0m":     "a[31mred[0m",
		"title\x1b]0;x\a":         "title]0;x",
		"c1\u009b2J":              "c12J",
		"two\nlines\ttab\r":       "two lines tab ",
		"rtl\u202eoverride\u2066": "rtloverride",
		"bad \xff utf8":           "bad \ufffd utf8",
		"emoji 🙂 ok":              "emoji 🙂 ok",
	} {
		if got := cleanText(in); got != want {
			t.Errorf("cleanText(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestChatScreenshot shows a conversation in an 88×20 terminal and saves the
// screen as text (saveArtifact): the README's picture of `chatapp chat`.
func TestChatScreenshot(t *testing.T) {
	s := startServer(t, ServeConfig{})
	const room = "design-review"
	putMessage(t, s.URL, room, "grace-h", "Grace", "Morning! Is the terminal client ready for review?")
	me := chatIdentity{Room: room, UserID: "ada-1", Name: "Ada"}
	dialClient(t, s.URL, client.Config{Room: room, UserID: "grace-h", Name: "Grace"})
	scr := chatScreen(t, chatConfig{Server: s.URL, chatIdentity: me}.clientConfig(), me, 88, 20)
	scr.waitFor("Grace in the member list", 0, regexp.MustCompile(`members \(2\)`))

	scr.tm.Type("Yes: history, live messages, members and reconnects all work.")
	scr.tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	scr.waitFor("my message", 0, line("Ada", "Yes: history"))
	putMessage(t, s.URL, room, "grace-h", "Grace", "And escape sequences in messages \x1b[2Jstay harmless?")
	scr.waitFor("Grace's question", 0, line("Grace", "And escape"))
	scr.tm.Type("They do: control characters are dropped before they reach the terminal.")
	scr.tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	scr.waitFor("my answer", 0, line("Ada", "They do"))

	scr.tm.Send(tea.KeyMsg{Type: tea.KeyEsc})
	final := scr.tm.FinalModel(t, teatest.WithFinalTimeout(waitTimeout)).(*chatModel)
	view := ansi.Strip(final.View())
	for _, want := range []string{"Grace: Morning!", "Ada: Yes: history", "• Ada (you)", "• Grace"} {
		if !strings.Contains(view, want) {
			t.Errorf("the screen lacks %q:\n%s", want, view)
		}
	}
	lines := strings.Split(view, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	saveArtifact(t, "terminal-chat.txt", []byte(strings.Join(lines, "\n")+"\n"))
}
