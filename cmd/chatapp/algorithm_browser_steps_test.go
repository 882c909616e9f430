// The web page's steps of docs/protocol.md's "client algorithm" that the
// shared scenario (algorithm_browser_test.go) does not reach: the
// constants and functions, through the page's own modules; a PUT tried
// again under one key; a catch-up that fails the attempt.

package main

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/oklog/ulid/v2"
)

// evalAsync evaluates an expression whose value is a promise (an async
// function's call) into T.
func evalAsync[T any](tb *tab, expr string) T {
	tb.t.Helper()
	return eval[T](tb, expr, chromedp.EvalAwaitPromise)
}

// TestBrowserAlgorithmFunctions checks, through the page's own modules,
// the constants of the spec's table and the functions the scenario cannot
// pin down: the backoff's bounds (full jitter, [0, min(cap, base·2ⁿ)]) and
// rewind, against the ulid package's ids.
func TestBrowserAlgorithmFunctions(t *testing.T) {
	t.Parallel() // its own server and browser tab
	srv := startServer(t, ServeConfig{})
	tb := newTab(t, newBrowser(t), "ada", srv.URL)
	tb.do("open the page", chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#join-form")))

	consts := evalAsync[map[string]float64](tb, `(async () => {
		const b = await import("/js/backoff.js"), c = await import("/js/catchup.js");
		return { base: b.BACKOFF_BASE_MS, cap: b.BACKOFF_CAP_MS, overlap: c.CATCH_UP_OVERLAP_MS, page: c.CATCH_UP_PAGE };
	})()`)
	if want := map[string]float64{"base": 500, "cap": 10000, "overlap": 5000, "page": 1000}; !maps.Equal(consts, want) {
		t.Errorf("constants %v, want %v", consts, want)
	}

	// For attempts 1 to 7: the ceiling, the wait when Math.random gives
	// its least and its most, and the extremes of 2000 real draws.
	bounds := evalAsync[[][]float64](tb, `(async () => {
		const { backoffCeiling, backoffDelay } = await import("/js/backoff.js");
		const random = Math.random, out = [];
		try {
			for (let n = 1; n <= 7; n++) {
				Math.random = () => 0;
				const least = backoffDelay(n);
				Math.random = () => 1 - Number.EPSILON;
				const most = backoffDelay(n);
				Math.random = random;
				let lo = Infinity, hi = -Infinity;
				for (let i = 0; i < 2000; i++) {
					const d = backoffDelay(n);
					lo = Math.min(lo, d);
					hi = Math.max(hi, d);
				}
				out.push([backoffCeiling(n), least, most, lo, hi]);
			}
		} finally {
			Math.random = random;
		}
		return out;
	})()`)
	for i, b := range bounds {
		n := i + 1
		ceiling := min(10000, 500*float64(int(1)<<n))
		if b[0] != ceiling || b[1] != 0 || b[2] < ceiling-1 || b[2] > ceiling {
			t.Errorf("attempt %d: ceiling %v, waits %v to %v; want ceiling %v, waits 0 to it", n, b[0], b[1], b[2], ceiling)
		}
		// Full jitter: the draws spread over the whole range, not its top
		// half (the page's old jitter).
		if b[3] < 0 || b[4] > ceiling || b[3] > ceiling/10 || b[4] < ceiling*0.9 {
			t.Errorf("attempt %d: 2000 waits from %v to %v ms, want them spread over [0, %v]", n, b[3], b[4], ceiling)
		}
	}

	// rewind and resumeAfter against ids made here.
	now := ulid.Make()
	smallest := func(ms uint64) string {
		var id ulid.ULID
		if err := id.SetTime(ms); err != nil {
			t.Fatal(err)
		}
		return id.String()
	}
	early := ulid.MustNew(3000, bytes.NewReader(bytes.Repeat([]byte{0xff}, 16))) // 3 s after the epoch
	floor := smallest(now.Time() - 2000)
	cases := []struct{ expr, want string }{
		{`c.rewind(` + js(now.String()) + `, 5000)`, smallest(now.Time() - 5000)},
		{`c.rewind(` + js(strings.ToLower(now.String())) + `, 5000)`, strings.ToLower(now.String())}, // not how the server writes ids: as it is
		{`c.rewind(` + js(early.String()) + `, 5000)`, smallest(0)},
		{`c.rewind("not an id", 5000)`, "not an id"},
		{`c.resumeAfter({ lastId: ` + js(now.String()) + `, firstPageNewest: "" })`, smallest(now.Time() - 5000)},
		// Never before the first page's newest id.
		{`c.resumeAfter({ lastId: ` + js(now.String()) + `, firstPageNewest: ` + js(floor) + ` })`, floor},
		{`c.resumeAfter({ lastId: ` + js(now.String()) + `, firstPageNewest: ` + js(now.String()) + ` })`, now.String()},
		// Nothing delivered, the room empty when opened: from its beginning.
		{`c.resumeAfter({ lastId: "", firstPageNewest: "" })`, strings.Repeat("0", 26)},
	}
	for _, tc := range cases {
		got := evalAsync[string](tb, `(async () => { const c = await import("/js/catchup.js"); return `+tc.expr+`; })()`)
		if got != tc.want {
			t.Errorf("%s = %q, want %q", tc.expr, got, tc.want)
		}
	}
}

// putSeen is a PUT /chat the front saw.
type putSeen struct {
	key, text string
	at        time.Time
}

// TestBrowserSendRetriesPut: with no socket the page sends by PUT. One
// that gets 503 (with Retry-After: 1) is tried again under the same key,
// each time after at least a second, up to 4 attempts; after the last the
// page says the message was not sent, and the text stays in the composer.
// Sending it again carries the same key (stored once, by the attempt that
// passes after one more 503); a changed text gets a new key.
func TestBrowserSendRetriesPut(t *testing.T) {
	t.Parallel() // its own server and browser tab
	srv := startServer(t, ServeConfig{})
	const room = "put-retry"
	var mu sync.Mutex
	var puts []putSeen
	failures := 4
	front := newFront(t, srv.URL, func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/ws" || r.URL.Path == "/chat/users" {
			unavailable(w) // no socket: every send is a PUT
			return true
		}
		if r.Method != http.MethodPut || strings.TrimSuffix(r.URL.Path, "/") != "/chat" {
			return false
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return false
		}
		var m struct {
			Key  string `json:"idempotency_key"`
			Text string `json:"text"`
		}
		json.Unmarshal(body, &m)
		mu.Lock()
		puts = append(puts, putSeen{m.Key, m.Text, time.Now()})
		fail := failures > 0
		if fail {
			failures--
		}
		mu.Unlock()
		if fail {
			w.Header().Set("Retry-After", "1")
			unavailable(w)
			return true
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		return false
	})
	seen := func() []putSeen {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(puts)
	}
	ada := openJoinFormAt(t, front)
	ada.fillJoinForm(room, "Ada")
	ada.waitJS("the page shows the room", `!document.getElementById("chat-view").hidden`)

	inputJS := `document.getElementById("input").value`
	ada.fillComposer("retried")
	ada.do("send", chromedp.Click(chromedp.CSS("#send")))
	ada.waitJS("the page says it was not sent", `(`+bannerJS+`).startsWith("Message not sent: ")`)
	time.Sleep(settle) // a fifth attempt would come now, or at once
	first := seen()
	if len(first) != 4 {
		t.Fatalf("%d PUTs, want 4: %+v", len(first), first)
	}
	for i, p := range first {
		if p.key == "" || p.key != first[0].key || p.text != "retried" {
			t.Errorf("PUT %d: key %q, text %q; want the first's key %q and the text", i+1, p.key, p.text, first[0].key)
		}
		if i > 0 && p.at.Sub(first[i-1].at) < 900*time.Millisecond {
			t.Errorf("PUT %d came %v after the one before, want at least its Retry-After, 1 s", i+1, p.at.Sub(first[i-1].at))
		}
	}
	if got := eval[string](ada, inputJS); got != "retried" {
		t.Errorf("the composer holds %q after the send failed, want the text", got)
	}

	// The same text again: the same key. One more 503, then it passes.
	mu.Lock()
	failures = 1
	mu.Unlock()
	ada.waitJS("Send is enabled again", `!document.getElementById("send").disabled`)
	ada.do("send again", chromedp.Click(chromedp.CSS("#send")))
	ada.waitJS("the message is shown, the composer empty", countJS("retried")+` === 1 && `+inputJS+` === ""`)
	again := seen()[len(first):]
	if len(again) != 2 || again[0].key != first[0].key || again[1].key != first[0].key {
		t.Errorf("PUTs of the text sent again %+v, want two under the key %q", again, first[0].key)
	}
	if h := getHistory(t, srv.URL, "room_id="+room); !slices.Equal(historyTexts(h), []string{"retried"}) {
		t.Errorf("stored %q, want the message once", historyTexts(h))
	}

	// A changed text is another message: a new key.
	ada.send("changed", true)
	last := seen()[len(first)+len(again):]
	if len(last) != 1 || last[0].key == first[0].key || last[0].key == "" {
		t.Errorf("PUTs of another text %+v, want one under a new key (not %q)", last, first[0].key)
	}
}

// TestBrowserCatchUpFailureFailsTheAttempt: history that cannot be read
// fails the attempt: the page drops the socket and connects again, and
// that catch-up shows what it missed. The message is pushed while the
// proxy loses pushes, so only a catch-up can bring it.
func TestBrowserCatchUpFailureFailsTheAttempt(t *testing.T) {
	t.Parallel() // its own server and browser tab
	srv := startServer(t, ServeConfig{})
	const room = "catch-up-fails"
	var refuse, handshakes atomic.Int32 // catch-up pages to answer 503; handshakes seen
	front := newFront(t, srv.URL, func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/ws" {
			handshakes.Add(1)
		}
		if r.Method == http.MethodGet && r.URL.Query().Get("after") != "" && refuse.Add(-1) >= 0 {
			unavailable(w)
			return true
		}
		return false
	})
	proxy := newWSProxy(t, front)
	putMessage(t, srv.URL, room, "grace", "Grace", "before")
	ada := newTab(t, newBrowser(t), "ada", proxy.URL)
	ada.join(room, "Ada")
	ada.waitMessage("before", "Grace")

	proxy.lose(lossDown)
	putMessage(t, srv.URL, room, "grace", "Grace", "while the pushes are lost")
	proxy.waitLost(t, lossDown, len("while the pushes are lost"))
	refuse.Store(1)
	proxy.cut()
	ada.waitMessage("while the pushes are lost", "Grace")
	if n := handshakes.Load(); n < 3 {
		t.Errorf("%d handshakes, want at least 3: the first, the one whose catch-up failed, the one that caught up", n)
	}
	ada.waitConnected()
	if got := eval[string](ada, bannerJS); got != "" {
		t.Errorf("the banner says %q once caught up, want nothing", got)
	}
}

// TestBrowserRateLimitedFrameGoesByPut: a message whose frame the server
// refuses with a rate_limited error frame (here the connection's frame
// rate, which routes nothing past it) is sent by PUT under its key at
// once, not refused, and not after the 10 s wait for its push.
func TestBrowserRateLimitedFrameGoesByPut(t *testing.T) {
	t.Parallel() // its own server and browser tab
	srv := startServer(t, ServeConfig{Limits: Limits{FrameRate: 0.001, FrameBurst: 1}})
	const room = "frame-rate"
	ada := newTab(t, newBrowser(t), "ada", srv.URL)
	ada.join(room, "Ada")
	ada.send("first", true) // the burst's one frame, confirmed by its push
	start := time.Now()
	ada.send("second", true) // refused rate_limited: by PUT
	if took := time.Since(start); took >= 9*time.Second {
		t.Errorf("the rate-limited message was stored after %v: the page waited for its push, not sending it by PUT at once", took)
	}
	ada.waitMessage("second", "Ada")
	if h := getHistory(t, srv.URL, "room_id="+room); !slices.Equal(historyTexts(h), []string{"first", "second"}) {
		t.Errorf("stored %q, want first and second once each", historyTexts(h))
	}
	if !eval[bool](ada, `document.getElementById("error").hidden`) {
		t.Errorf("an error banner is shown%s", ada.state())
	}
}
