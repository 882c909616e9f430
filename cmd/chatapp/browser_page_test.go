package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/auth"
	"github.com/chatapp-dev/chatapp/sqlite"
	"github.com/chatapp-dev/chatapp/storetest"
)

// The web page as a chat people use: the join form checks the server's
// rules, a refused room or token stops the page, a failed send keeps its
// text, and the conversation sits at the bottom, in runs and days, with
// links. browser_test.go has the tab helpers.

// openJoinForm starts a server behind a request counter and opens its page
// at the join form in a tab of the shared browser.
func openJoinForm(t *testing.T) (*tokenCounter, *tab) {
	t.Helper()
	front := newTokenCounter(t, startServer(t, ServeConfig{}).URL)
	return front, openJoinFormAt(t, front.URL)
}

// openJoinFormAt opens the page at base, at its join form, in a tab ("ada")
// of the shared browser.
func openJoinFormAt(t *testing.T, base string) *tab {
	t.Helper()
	ada := newTab(t, newBrowser(t), "ada", base)
	ada.do("open the page", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#join-form")))
	return ada
}

// fillJoinForm types room and name into the join form and submits it.
func (tb *tab) fillJoinForm(room, name string) {
	tb.t.Helper()
	tb.do("fill the join form with "+room+", "+name,
		chromedp.WaitVisible(chromedp.CSS("#join-form")),
		// SetValue cannot set "".
		chromedp.Evaluate[chromedp.Void](`document.getElementById("room").value = `+js(room)+`;
			document.getElementById("name").value = `+js(name)),
		chromedp.Click(chromedp.CSS("#join")),
	)
}

// fieldErrorJS is the error shown under the join form's field ("room" or
// "name"), "" when there is none.
func fieldErrorJS(field string) string {
	return `(document.getElementById("` + field + `-error").hidden ? "" : document.getElementById("` + field + `-error").textContent)`
}

const bannerJS = `(document.getElementById("error").hidden ? "" : document.getElementById("error-text").textContent)`

// handshakes is how many WebSocket handshakes and REST requests about rooms
// reached the server through front.
func handshakes(front *tokenCounter) (ws, rest int) {
	return front.path("/ws"), front.path("/chat") + front.path("/chat/users")
}

// TestBrowserJoinFormChecksServerRules: the join form refuses what the
// server would (validate.go's rules, at their exact bounds), says what is
// wrong under the field, and asks the server nothing; the longest room and
// name the server takes join. A room URL the server would refuse opens the
// form, saying why, instead of a page reconnecting forever.
func TestBrowserJoinFormChecksServerRules(t *testing.T) {
	t.Parallel() // its own server and browser
	front, ada := openJoinForm(t)

	for _, tc := range []struct {
		room, name, field, want string
	}{
		{"my room!", "Ada", "room", "Room may hold only letters, digits and -_.:@+ (not spaces, “!”)"},
		{strings.Repeat("é", chatapp.MaxIDBytes/2+1), "Ada", "room", "Room is longer than 128 bytes (130)"},
		{"", "Ada", "room", "Room is required"},
		{"lobby", strings.Repeat("😀", chatapp.MaxNameRunes+1), "name", "Display name is longer than 64 characters (65)"},
		{"lobby", "Ada\u00a0Lovelace", "name", "Display name holds a control character or a space other than the plain one"},
		{"lobby", "Ada\tLovelace", "name", "Display name holds a control character or a space other than the plain one"},
	} {
		// The server refuses each, as the page says.
		if tc.field == "room" && chatapp.ValidateRoomID(tc.room) == nil || tc.field == "name" && chatapp.ValidateName(tc.name) == nil {
			t.Fatalf("the server takes %s %q: not a case for the form to refuse", tc.field, tc.room+tc.name)
		}
		ada.fillJoinForm(tc.room, tc.name)
		other := map[string]string{"room": "name", "name": "room"}[tc.field]
		ada.waitJS(fmt.Sprintf("the form says %q", tc.want),
			fieldErrorJS(tc.field)+` === `+js(tc.want)+` && `+fieldErrorJS(other)+` === ""`)
		if !eval[bool](ada, `!document.getElementById("join-view").hidden && document.getElementById("chat-view").hidden`) {
			t.Errorf("%q, %q: the page left the join form%s", tc.room, tc.name, ada.state())
		}
		if got := eval[string](ada, `document.getElementById(`+js(tc.field)+`).getAttribute("aria-invalid")`); got != "true" {
			t.Errorf("%q, %q: the %s field's aria-invalid is %q", tc.room, tc.name, tc.field, got)
		}
	}
	if ws, rest := handshakes(front); ws+rest != 0 {
		t.Errorf("%d handshakes and %d REST requests reached the server for values the form refused", ws, rest)
	}

	// The longest the server takes: 128 bytes of room, 64 characters of
	// name (each two UTF-16 units, as the page's strings count them).
	room, name := strings.Repeat("é", chatapp.MaxIDBytes/2), strings.Repeat("😀", chatapp.MaxNameRunes)
	ada.fillJoinForm(room, name)
	ada.waitConnected()
	ada.waitMembers(name)

	// A reload of a room URL the server would refuse: the form, saying why.
	ws, _ := handshakes(front)
	ada.do("open a bad room's URL", chromedp.Navigate(front.URL+"/?room="+url.QueryEscape("my room!")), chromedp.WaitVisible(chromedp.CSS("#join-form")))
	ada.waitJS("the form says why", fieldErrorJS("room")+` === "Room may hold only letters, digits and -_.:@+ (not spaces, “!”)"`)
	if got := eval[string](ada, `document.getElementById("room").value`); got != "my room!" {
		t.Errorf("the room field holds %q, want the URL's room to fix", got)
	}
	time.Sleep(settle)
	if now, _ := handshakes(front); now != ws {
		t.Errorf("%d handshakes for a room the page knows the server refuses", now-ws)
	}
}

// newerLetter finds a character the browser takes for a letter or a digit
// and Go's unicode tables (so the server) do not: one new in a Unicode
// version newer than Go's. It skips the test when there is none.
func newerLetter(t *testing.T, tb *tab) rune {
	t.Helper()
	raw := eval[[]byte](tb, `(() => {
		const out = [];
		for (let cp = 0x80; cp <= 0x3ffff; cp++) {
			if (cp >= 0xd800 && cp <= 0xdfff) continue;
			if (/^[\p{L}\p{Nd}]$/u.test(String.fromCodePoint(cp))) out.push(cp);
		}
		return out;
	})()`)
	var letters []rune
	if err := json.Unmarshal(raw, &letters); err != nil {
		t.Fatal(err)
	}
	for _, r := range letters {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			return r
		}
	}
	t.Skipf("Chromium and Go (Unicode %s) agree on every letter: no room passes the page's check that the server refuses", unicode.Version)
	return 0
}

// TestBrowserServerRefusesRoom: the server decides. A room of a letter
// newer than the server's Unicode passes the page's check; the handshake
// gets 400, which a page cannot see, so it asks the REST API, gets the same
// 400 and stops with the server's message, instead of saying
// "reconnecting" forever.
func TestBrowserServerRefusesRoom(t *testing.T) {
	t.Parallel() // its own server and browser
	front, ada := openJoinForm(t)
	room := "room-" + string(newerLetter(t, ada))
	if err := chatapp.ValidateRoomID(room); err == nil {
		t.Fatalf("the server takes room %q", room)
	}
	t.Logf("room %q (%U)", room, []rune(room)[5])

	ada.fillJoinForm(room, "Ada")
	ada.waitJS("the page says the server refused", `document.getElementById("status").dataset.state === "refused"`)
	const want = "Cannot join this room. The server says: room_id may hold only letters, digits and -_.:@+. Leave, and pick another room."
	if got := eval[string](ada, bannerJS); got != want {
		t.Errorf("error banner %q, want %q", got, want)
	}
	if got := eval[string](ada, `document.getElementById("members-state").textContent`); got != "offline" {
		t.Errorf("members state %q, want offline", got)
	}
	if !eval[bool](ada, `document.getElementById("send").disabled && document.getElementById("input").disabled`) {
		t.Errorf("the composer is enabled on a refused page%s", ada.state())
	}
	ws, rest := handshakes(front)
	time.Sleep(2500 * time.Millisecond) // past the first reconnect delays (0.5 s, 1 s)
	if ws2, rest2 := handshakes(front); ws != 1 || ws2 != ws || rest2 != rest {
		t.Errorf("handshakes: %d when refused, %d 2.5 s later; REST requests %d, then %d: want one handshake and no retry", ws, ws2, rest, rest2)
	}
}

// TestBrowserServerRefusesName: the server decides names too. A name of a
// character newer than the server's Unicode passes the page's check; the
// handshake gets 400 ("name holds a control character"), but the probe
// (GET /chat/users?room_id=) does not look at the name and answers 200, so
// the page said "reconnecting" and no more. After three handshakes refused
// while the probe passes it says to check the name, and goes on trying
// (what the handshake alone carries may also be a full server, which
// clears: TestBrowserFullServerStopsReconnecting); the join form is one
// click away.
func TestBrowserServerRefusesName(t *testing.T) {
	t.Parallel() // its own server and browser
	front, ada := openJoinForm(t)
	name := "Ada " + string(newerLetter(t, ada))
	if err := chatapp.ValidateName(name); err == nil {
		t.Fatalf("the server takes name %q", name)
	}
	ada.fillJoinForm("lobby", name)
	// Three handshakes, up to 0.5 + 1 + 2 s of backoff apart.
	ada.waitJS("the page says to check the name", `(`+bannerJS+`).includes("check your display name")`)
	if ws, rest := handshakes(front); ws < 3 {
		t.Errorf("said so after %d handshakes (%d REST requests), want 3", ws, rest)
	}
	if got := eval[string](ada, `document.getElementById("status").dataset.state`); got != "reconnecting" && got != "connecting" {
		t.Errorf("status %q after three refused handshakes, want reconnecting or connecting (the page goes on trying)", got)
	}
	ada.do("leave", chromedp.Click(chromedp.CSS("#leave")), chromedp.WaitVisible(chromedp.CSS("#join-form")))
	if got := eval[string](ada, `document.getElementById("name").value`); got != name {
		t.Errorf("the join form's name is %q, want %q to change", got, name)
	}
	ada.fillJoinForm("lobby", "Ada")
	ada.waitConnected()
}

// TestBrowserKeepsRetryingWhileTheProbeFails: only refusals in a row whose
// probe passed stop the page. A server that is down (here: a proxy in
// front of it answering 503) fails the probe too, and one failed probe
// starts the count again: the page keeps trying until the server is back.
func TestBrowserKeepsRetryingWhileTheProbeFails(t *testing.T) {
	t.Parallel() // its own server and browser
	srv := startServer(t, ServeConfig{})
	var (
		back           atomic.Bool
		probes, shakes atomic.Int32
	)
	front := newFront(t, srv.URL, func(w http.ResponseWriter, r *http.Request) bool {
		switch {
		case back.Load():
			return false
		case r.URL.Path == "/ws":
			shakes.Add(1)
			unavailable(w)
		case r.URL.Path == "/chat/users" && probes.Add(1) == 3:
			unavailable(w) // passed, passed, failed, passed, passed...
		default:
			return false
		}
		return true
	})
	ada := openJoinFormAt(t, front)
	ada.fillJoinForm("lobby", "Ada")
	// Five handshakes: 3.75 to 7.5 s of backoff.
	deadline := time.Now().Add(2 * browserWait)
	for shakes.Load() < 5 && time.Now().Before(deadline) {
		if state := eval[string](ada, `document.getElementById("status").dataset.state`); state == "refused" {
			t.Fatalf("the page stopped after %d handshakes and %d probes, one of them failed%s", shakes.Load(), probes.Load(), ada.state())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := shakes.Load(); n < 5 {
		t.Fatalf("%d handshakes in %v, want 5", n, 2*browserWait)
	}
	back.Store(true)
	ada.waitConnected()
}

// TestBrowserTokenExpiresWhileChatting: the server closes a socket when its
// token expires, and refuses the handshakes after it, while its REST API
// still lets the token pass for 30 s of clock skew. The page stops at once,
// saying that sign-in is needed, instead of reconnecting for those 30 s.
func TestBrowserTokenExpiresWhileChatting(t *testing.T) {
	t.Parallel() // its own server and browser
	srv := startServer(t, ServeConfig{Auth: AuthConfig{Secret: authTestSecret}})
	front := newTokenCounter(t, srv.URL)
	browser := newBrowser(t)
	tok, err := (&auth.Issuer{Secret: []byte(authTestSecret)}).Issue(chatapp.Identity{UserID: "eve", Name: "Eve"}, 4*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	eve := newTab(t, browser, "eve", front.URL)
	eve.openWithToken("/?room=short-lived", tok)
	eve.waitJS("the page says sign-in is needed", `document.getElementById("status").dataset.state === "unauthorized"`)
	if got := eval[string](eve, bannerJS); !strings.HasPrefix(got, "Sign-in needed: the token is expired or not valid") {
		t.Errorf("error banner %q", got)
	}
	n := front.count(tok)
	time.Sleep(2500 * time.Millisecond)
	if later := front.count(tok); later != n {
		t.Errorf("requests with the expired token: %d when refused, %d 2.5 s later", n, later)
	}
}

// fillComposer sets the composer's text as typing would (SendKeys of 16 KiB
// is slow), and waits until Send takes it.
func (tb *tab) fillComposer(text string) {
	tb.t.Helper()
	tb.do("fill the composer", chromedp.Evaluate[chromedp.Void](`(() => {
		const input = document.getElementById("input");
		input.value = `+js(text)+`;
		input.dispatchEvent(new Event("input", { bubbles: true }));
	})()`), chromedp.WaitEnabled(chromedp.CSS("#send")))
}

// TestBrowserKeepsUnsentText: a text the server would refuse is not sent,
// the page says why, and the text stays in the composer; so does one the
// server refuses (here for the send rate). The longest text the server
// takes is sent.
func TestBrowserKeepsUnsentText(t *testing.T) {
	t.Parallel() // its own server and browser
	srv := startServer(t, ServeConfig{Limits: Limits{SendRate: 0.001, SendBurst: 2}})
	browser := newBrowser(t)
	const room = "keep-text"
	ada := newTab(t, browser, "ada", srv.URL)
	ada.join(room, "Ada")

	inputJS := `document.getElementById("input").value`
	tooLong := strings.Repeat("a", chatapp.MaxMessageBytes+1)
	ada.fillComposer(tooLong)
	ada.do("send", enter)
	ada.waitJS("the page says it is too long", bannerJS+` !== ""`)
	if got := eval[string](ada, bannerJS); got != "Message not sent: it is 16,385 bytes long, and the most is 16,384 bytes (16 KiB). Shorten it and send again." {
		t.Errorf("error banner %q", got)
	}
	if got := eval[string](ada, inputJS); got != tooLong {
		t.Errorf("the composer holds %d characters after the refused send, want the %d typed", len(got), len(tooLong))
	}

	// 16 KiB exactly, in two-byte characters: sent, and the composer empties.
	longest := strings.Repeat("é", chatapp.MaxMessageBytes/2)
	ada.fillComposer(longest)
	ada.do("send", chromedp.Click(chromedp.CSS("#send")))
	ada.waitJS("the longest message is shown", countJS(longest)+" === 1")
	ada.waitJS("the composer is empty, the error gone", inputJS+` === "" && `+bannerJS+` === ""`)
	ada.send("second", false)
	ada.waitMessage("second", "Ada")

	// The third is past the send rate: the server refuses it.
	ada.do("type a third", typeInto(chromedp.CSS("#input"), "third, refused"), enter)
	ada.waitJS("the page says it was not sent", `(`+bannerJS+`).startsWith("Message not sent: too many messages: retry in ")`)
	if got := eval[string](ada, inputJS); got != "third, refused" {
		t.Errorf("the composer holds %q after the server refused it, want the text", got)
	}
	ada.waitJS("Send is enabled again", `!document.getElementById("send").disabled`)
	if h := getHistory(t, srv.URL, "room_id="+room); len(h.Messages) != 2 {
		t.Errorf("%d messages stored, want 2", len(h.Messages))
	}
}

// seed stores messages with the given times before a server opens dir.
func seed(t *testing.T, dir string, msgs ...*chatapp.Message) {
	t.Helper()
	ctx, cancel := contextWithTimeout()
	defer cancel()
	db, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		m.ID = storetest.MessageID(time.UnixMilli(m.Timestamp))
	}
	if err := db.BulkInsert(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func seeded(room, user, name, text string, at time.Time) *chatapp.Message {
	return &chatapp.Message{RoomID: room, UserID: user, Name: name, Text: text, Timestamp: at.UnixMilli()}
}

// visibleJS lists the text of the elements matching selector that take
// room on screen (not hidden, not clipped to a pixel).
func visibleJS(selector string) string {
	return `Array.from(document.querySelectorAll(` + js(selector) + `)).filter((e) => {
		const r = e.getBoundingClientRect();
		return r.width > 1 && r.height > 1 && getComputedStyle(e).visibility !== "hidden";
	}).map((e) => e.textContent)`
}

// TestBrowserConversation: a conversation reads as in the chats people use.
// A few messages sit at the bottom, by the composer. Days are separated
// ("Today", "Yesterday", a date); a sender's messages less than 5 minutes
// apart are one run, named once (the name stays for screen readers). Web
// addresses are links, http and https only, without the punctuation after
// them. New messages keep the view at the end, unless the reader scrolled
// up: then a button counts them and jumps there.
func TestBrowserConversation(t *testing.T) {
	t.Parallel() // its own server and browser
	dir := t.TempDir()
	// "Today" and "Yesterday" are the browser's local days: the browser and
	// this test share a zone where it is now about noon, so that no run,
	// whenever it starts, crosses midnight.
	zone, zoneID := noonZone(time.Now())
	now := time.Now().In(zone)
	yesterday := time.Date(now.Year(), now.Month(), now.Day()-1, 12, 0, 0, 0, zone)
	msgs := []*chatapp.Message{
		seeded("few", "grace", "Grace", "one", now.Add(-2*time.Minute)),
		seeded("few", "grace", "Grace", "two", now.Add(-time.Minute)),
		seeded("days", "grace", "Grace", "An old one", time.Date(2024, time.March, 5, 10, 0, 0, 0, zone)),
		seeded("days", "grace", "Grace", "y1", yesterday),
		seeded("days", "grace", "Grace", "y2", yesterday.Add(time.Minute)),
		seeded("days", "bob", "Bob", "y3", yesterday.Add(2*time.Minute)),
		seeded("days", "grace", "Grace", "y4", yesterday.Add(3*time.Minute)),
		seeded("days", "grace", "Grace", "y5, after a pause", yesterday.Add(10*time.Minute)),
		seeded("days", "grace", "Grace", "y6", yesterday.Add(12*time.Minute)),
	}
	for i := range 60 {
		msgs = append(msgs, seeded("busy", "grace", "Grace", fmt.Sprintf("busy %02d", i), now.Add(time.Duration(i-60)*time.Second)))
	}
	seed(t, dir, msgs...)
	srv := startServer(t, ServeConfig{DataDir: dir})
	browser := newBrowser(t)
	ada := newTab(t, browser, "ada", srv.URL)
	if _, err := chromedp.Call(ada.ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: zoneID}); err != nil {
		t.Fatal(err)
	}

	// A few messages: at the bottom, the space above them.
	ada.join("few", "Ada")
	ada.waitJS("two messages", `document.querySelectorAll("#messages .message").length === 2`)
	var gaps struct{ Above, Below float64 }
	if err := json.Unmarshal(eval[[]byte](ada, `(() => {
		const sc = document.getElementById("scroller").getBoundingClientRect();
		const ms = document.querySelectorAll("#messages .message");
		return { above: ms[0].getBoundingClientRect().top - sc.top, below: sc.bottom - ms[ms.length - 1].getBoundingClientRect().bottom };
	})()`), &gaps); err != nil {
		t.Fatal(err)
	}
	if gaps.Below > 30 || gaps.Above < 200 {
		t.Errorf("two messages sit %v px below the top of the conversation and %v px above its bottom: want them at the bottom", gaps.Above, gaps.Below)
	}

	// Days and runs.
	ada.do("open the room of days", chromedp.Navigate(srv.URL+"/?room=days"))
	ada.waitConnected()
	const links = "Docs at https://example.com/docs?q=1&r=2, the (https://en.wikipedia.org/wiki/Go_(programming_language)) page, and HTTP://EXAMPLE.ORG/UP. " +
		"Not links: javascript:alert(1) data:text/html,<script>alert(1)</script> JavaScript://example.com/%0aalert(1) xhttp://evil.example ftp://example.com https:// and <b>markup</b>"
	putMessage(t, srv.URL, "days", "grace", "Grace", links)
	ada.waitJS("eight messages", `document.querySelectorAll("#messages .message").length === 8`)
	var days []string
	if err := json.Unmarshal(eval[[]byte](ada, visibleJS("#messages .day")), &days); err != nil {
		t.Fatal(err)
	}
	if len(days) != 3 || !strings.Contains(days[0], "2024") || !strings.Contains(days[0], "5") || days[1] != "Yesterday" || days[2] != "Today" {
		t.Errorf("day separators %q, want [5 March 2024 (in the browser's language), Yesterday, Today]", days)
	}
	// A run's later names are clipped to a pixel, in their .meta.
	var names []string
	if err := json.Unmarshal(eval[[]byte](ada, visibleJS("#messages .meta")+`.map((meta) => meta.split(" ")[0])`), &names); err != nil {
		t.Fatal(err)
	}
	// old, y1, (y2), y3, y4, y5, (y6), today's
	if want := []string{"Grace", "Grace", "Bob", "Grace", "Grace", "Grace"}; strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("names shown %q, want %q", names, want)
	}
	if got := eval[string](ada, `Array.from(document.querySelectorAll("#messages .message.continued .text"), (e) => e.textContent).join(",")`); got != "y2,y6" {
		t.Errorf("messages continuing a run: %q, want y2,y6", got)
	}
	if got := eval[string](ada, `Array.from(document.querySelectorAll("#messages .message.continued .name"), (e) => e.textContent).join(",")`); got != "Grace,Grace" {
		t.Errorf("names of continued messages in the page (for screen readers): %q", got)
	}

	// Links.
	type link struct{ Text, Href, Target, Rel string }
	var got []link
	if err := json.Unmarshal(eval[[]byte](ada, `Array.from(document.querySelectorAll("#messages a"), (a) =>
		({ text: a.textContent, href: a.getAttribute("href"), target: a.target, rel: a.rel }))`), &got); err != nil {
		t.Fatal(err)
	}
	want := []link{
		{"https://example.com/docs?q=1&r=2", "https://example.com/docs?q=1&r=2", "_blank", "noopener noreferrer"},
		{"https://en.wikipedia.org/wiki/Go_(programming_language)", "https://en.wikipedia.org/wiki/Go_(programming_language)", "_blank", "noopener noreferrer"},
		{"HTTP://EXAMPLE.ORG/UP", "http://example.org/UP", "_blank", "noopener noreferrer"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("links\n%+v\nwant\n%+v", got, want)
	}
	if n := eval[int](ada, countJS(links)); n != 1 {
		t.Errorf("the message with links is shown %d times with its exact text, want once", n)
	}
	if n := eval[int](ada, `document.querySelectorAll("#messages script, #messages b").length`); n != 0 || len(ada.dialogsSeen()) != 0 {
		t.Errorf("markup in a message ran: %d elements, dialogs %q", n, ada.dialogsSeen())
	}

	// Following the end, and the jump button.
	ada.do("open the busy room", chromedp.Navigate(srv.URL+"/?room=busy"))
	ada.waitConnected()
	atEnd := `(() => { const sc = document.getElementById("scroller"); return sc.scrollHeight - sc.scrollTop - sc.clientHeight < 2; })()`
	jumpJS := `(document.getElementById("jump").hidden ? "" : document.getElementById("jump").textContent.trim())`
	ada.waitJS("the latest page is shown, at its end", `document.querySelectorAll("#messages .message").length === 50 && `+atEnd)
	putMessage(t, srv.URL, "busy", "grace", "Grace", "while at the end")
	ada.waitJS("a new message keeps the view at the end", countJS("while at the end")+` === 1 && `+atEnd+` && `+jumpJS+` === ""`)

	ada.do("scroll up", chromedp.Evaluate[chromedp.Void](`document.getElementById("scroller").scrollTop = 0`))
	ada.waitJS("scrolled up", `document.getElementById("scroller").scrollTop === 0`)
	putMessage(t, srv.URL, "busy", "grace", "Grace", "while reading above")
	ada.waitJS("the button counts one new message", countJS("while reading above")+` === 1 && `+jumpJS+` === "1 new message ↓"`)
	putMessage(t, srv.URL, "busy", "grace", "Grace", "and another")
	ada.waitJS("the button counts two", countJS("and another")+` === 1 && `+jumpJS+` === "2 new messages ↓"`)
	if top := eval[float64](ada, `document.getElementById("scroller").scrollTop`); top != 0 {
		t.Errorf("new messages moved the view of a reader who scrolled up to %v", top)
	}
	ada.do("jump", chromedp.Click(chromedp.CSS("#jump")))
	ada.waitJS("at the end, the button gone", atEnd+` && `+jumpJS+` === ""`)
}

// noonZone is a fixed zone where t is between 11:30 and 12:30, as Go's
// location and as the IANA name Chromium knows (Etc/GMT-5 is UTC+5).
func noonZone(t time.Time) (*time.Location, string) {
	utc := t.UTC()
	offset := 12 - utc.Hour() // -12 … +12: all have Etc/GMT zones
	if utc.Minute() >= 30 {
		offset--
	}
	id := "Etc/GMT"
	switch {
	case offset > 0:
		id += fmt.Sprintf("-%d", offset)
	case offset < 0:
		id += fmt.Sprintf("+%d", -offset)
	}
	return time.FixedZone(id, offset*3600), id
}
