// Chat page: joins a room, shows its history and members, sends messages,
// and stays live over a WebSocket that reconnects by itself.
//
// Security rule for this file: user-supplied text (messages, names, rooms,
// ids) only ever reaches the DOM through textContent, never as markup.
//
// Sign-in: a server with auth on (docs/auth.md) wants a token. Open the page
// with #token=TOKEN (or ?token=TOKEN); the page keeps it for this tab only
// and takes it out of the address bar. The token goes only to the page's own
// origin, unless the user confirms the other server that ?api= or ?ws= names
// (see mayUseToken).
(function () {
  "use strict";

  const HISTORY_PAGE = 50;
  const CATCH_UP_PAGE = 100;
  const MEMBERS_DEBOUNCE_MS = 200;
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 10000;
  // A connection that lived this long counts as healthy and resets the backoff;
  // one the server drops at once must not make us reconnect in a tight loop.
  const STABLE_CONNECTION_MS = 5000;
  // The keepalive message goes every KEEPALIVE_MS (?keepalive=SECONDS
  // overrides it, e.g. 45 behind a proxy that drops connections idle for
  // 60 s): API Gateway closes a WebSocket idle for 10 minutes and does not
  // document that pings count (a browser cannot send one anyway). An
  // ping that gets no frame back in KEEPALIVE_TIMEOUT_MS means the
  // connection is dead: the page reconnects. Any frame counts, not only the
  // pong: on AWS a throttled ping gets an error frame, and a connection
  // that delivers frames is alive. ?keepalive= is clamped to
  // [KEEPALIVE_MIN_MS, KEEPALIVE_MAX_MS]: a link must not make the page
  // flood pings (a timer delay past 2^31 ms, or Infinity, fires at once) or
  // outlast the idle timeout.
  const KEEPALIVE_MS = 4 * 60 * 1000;
  const KEEPALIVE_MIN_MS = 1000;
  const KEEPALIVE_MAX_MS = 9 * 60 * 1000;
  const KEEPALIVE_TIMEOUT_MS = 30 * 1000;
  const PING_FRAME = JSON.stringify({ action: "ping" });
  // How close to the bottom (px) still counts as "reading the latest".
  const NEAR_BOTTOM_PX = 80;
  // The largest frame the page sends on its WebSocket. A browser sends a
  // message as one frame, and API Gateway closes a connection with 1009 on
  // a frame over 32 KB (32,000 bytes is within it whether a KB is 1,000
  // bytes or 1,024): a longer message (16 KiB of text JSON escapes six
  // bytes a character is ~96 KB) is sent by PUT instead.
  const MAX_FRAME_BYTES = 32000;
  // How long a message sent on the WebSocket may wait for its push before
  // it is sent again by PUT, under the same idempotency key.
  const SEND_CONFIRM_MS = 10000;
  // Handshakes refused in a row while the REST API answers for the room
  // (a server that is down fails that probe too) before the page stops.
  const MAX_REFUSED_HANDSHAKES = 3;
  // Consecutive messages of one sender less than this apart are one run:
  // the name is shown once, on its first.
  const GROUP_GAP_MS = 5 * 60 * 1000;
  const utf8 = new TextEncoder();
  // The server's limits and character rules (validate.go), checked by the
  // join form and the composer before anything is sent.
  const MAX_ID_BYTES = 128; // room and user ids, UTF-8
  const MAX_NAME_RUNES = 64; // display names, code points
  const MAX_MESSAGE_BYTES = 16 * 1024; // message text, UTF-8
  // Go's unicode.IsLetter is \p{L} and unicode.IsDigit is \p{Nd}.
  const ID_CHAR = /^[\p{L}\p{Nd}\-_.:@+]$/u;
  // Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and
  // the ASCII space (no other space).
  const NAME_CHAR = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;
  // Go's unicode.IsSpace is the White_Space property; a text of only those
  // and format characters (Cf: zero-width spaces) is blank.
  const BLANK_TEXT = /^[\p{White_Space}\p{Cf}]*$/u;

  // sessionStorage key of the token: this tab only, gone when it closes.
  const TOKEN_KEY = "chat.token";
  // sessionStorage key of the other origins the user let the token go to.
  const TRUST_KEY = "chat.tokenOrigins";

  const $ = (id) => document.getElementById(id);
  const el = {
    error: $("error"),
    errorText: $("error-text"),
    errorDismiss: $("error-dismiss"),
    joinView: $("join-view"),
    joinForm: $("join-form"),
    room: $("room"),
    roomError: $("room-error"),
    name: $("name"),
    nameError: $("name-error"),
    identity: $("identity"),
    chatView: $("chat-view"),
    roomName: $("room-name"),
    status: $("status"),
    whoami: $("whoami"),
    membersToggle: $("members-toggle"),
    membersToggleCount: $("members-toggle-count"),
    leave: $("leave"),
    scroller: $("scroller"),
    jump: $("jump"),
    jumpText: $("jump-text"),
    loadOlder: $("load-older"),
    messages: $("messages"),
    composer: $("composer"),
    input: $("input"),
    send: $("send"),
    sidebar: $("sidebar"),
    membersState: $("members-state"),
    members: $("members"),
    memberCount: $("member-count"),
  };

  const config = readConfig();
  // With a token the server knows who we are from it; null without one.
  const auth = readAuth();
  const userId = auth ? auth.sub : loadUserId();
  // The room being shown; null while on the join form. Every async callback
  // checks that its session is still this one, so late answers for a room we
  // already left are dropped.
  let session = null;

  // ---- configuration and identity ----

  // Same origin by default; ?api= and ?ws= point the page at another
  // deployment (e.g. an API Gateway stage) without rebuilding it.
  function readConfig() {
    const params = new URLSearchParams(location.search);
    const wsScheme = location.protocol === "https:" ? "wss:" : "ws:";
    return {
      api: (params.get("api") || location.origin + "/chat").replace(/\/+$/, ""),
      ws: params.get("ws") || wsScheme + "//" + location.host + "/ws",
      room: params.get("room"),
      keepaliveMs: keepaliveFrom(params.get("keepalive")),
    };
  }

  // keepaliveFrom reads ?keepalive=SECONDS, clamped; anything that is not a
  // positive finite number gives the default.
  function keepaliveFrom(value) {
    const ms = Number(value) * 1000;
    if (value === null || !Number.isFinite(ms) || ms <= 0) return KEEPALIVE_MS;
    return Math.min(KEEPALIVE_MAX_MS, Math.max(KEEPALIVE_MIN_MS, ms));
  }

  // localStorage can throw (privacy modes, storage disabled): the page
  // still works, it just forgets the name and id on reload.
  function storageGet(key) {
    try {
      return localStorage.getItem(key);
    } catch (_) {
      return null;
    }
  }

  function storageSet(key, value) {
    try {
      localStorage.setItem(key, value);
    } catch (_) {
      // Not persisted; see storageGet.
    }
  }

  function sessionGet(key) {
    try {
      return sessionStorage.getItem(key);
    } catch (_) {
      return null;
    }
  }

  function sessionSet(key, value) {
    try {
      if (value) sessionStorage.setItem(key, value);
      else sessionStorage.removeItem(key);
    } catch (_) {
      // Kept in memory only: a reload forgets it.
    }
  }

  // The token comes in the fragment (#token=..., preferred: a browser never
  // sends the fragment to a server, so it stays out of access logs) or the
  // query (?token=...). It is kept in sessionStorage (this tab only, never
  // localStorage) so that a reload keeps it, and removed from the address
  // bar at once so that copying the URL does not share it. An empty
  // #token= forgets it.
  function readAuth() {
    const url = new URL(location.href);
    const fragment = new URLSearchParams(url.hash.replace(/^#/, ""));
    let token;
    if (fragment.has("token") || url.searchParams.has("token")) {
      token = fragment.get("token") || url.searchParams.get("token") || "";
      fragment.delete("token");
      url.searchParams.delete("token");
      const rest = fragment.toString();
      url.hash = rest ? "#" + rest : "";
      history.replaceState(null, "", url);
      sessionSet(TOKEN_KEY, token);
    } else {
      token = sessionGet(TOKEN_KEY);
    }
    token = (token || "").trim();
    if (!token) return null;
    const claims = decodeClaims(token);
    const str = (v) => (typeof v === "string" ? v : "");
    return { token: token, sub: str(claims.sub), name: str(claims.name), exp: Number(claims.exp) || 0 };
  }

  // The token's payload, for display only: the server verifies the token
  // and takes the identity from it, whatever this page thinks.
  function decodeClaims(token) {
    try {
      const part = token.split(".")[1];
      const b64 = part.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((part.length + 3) % 4);
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const claims = JSON.parse(new TextDecoder().decode(bytes));
      return claims && typeof claims === "object" ? claims : {};
    } catch (_) {
      return {};
    }
  }

  // "Ada (ada)" for the token's identity.
  function identityText() {
    if (!auth) return "";
    const who = auth.name && auth.sub ? auth.name + " (" + auth.sub + ")" : auth.name || auth.sub || "unknown user";
    return "Signed in as " + who;
  }

  // ---- where the token may go ----

  // The origins other than the page's own that ?api= and ?ws= point the
  // page at. A WebSocket to the page's own host, on the scheme that matches
  // the page's, is the page's own server.
  function foreignOrigins() {
    const out = [];
    const add = (raw, own) => {
      let origin;
      try {
        const u = new URL(raw, location.href);
        origin = u.protocol + "//" + u.host;
      } catch (_) {
        origin = String(raw);
      }
      if (origin !== own && !out.includes(origin)) out.push(origin);
    };
    add(config.api, location.origin);
    add(config.ws, (location.protocol === "https:" ? "wss:" : "ws:") + "//" + location.host);
    return out;
  }

  // Whether the token may be sent where the page connects. Anyone can send
  // a link to this page with ?api= naming their own server, and a token
  // sent there lets that server act as the user on the real one: so the
  // token goes to another origin only once the user confirms it by name.
  // The answer holds for this page; a yes is kept for the tab, so a reload
  // does not ask again.
  let tokenAllowed = null; // null: not decided yet
  function mayUseToken() {
    if (!auth) return false;
    if (tokenAllowed !== null) return tokenAllowed;
    const others = foreignOrigins();
    if (others.length === 0 || sessionGet(TRUST_KEY) === others.join(" ")) {
      tokenAllowed = true;
    } else {
      tokenAllowed = window.confirm(
        "This link points the chat at another server:\n\n" +
          others.join("\n") +
          "\n\nSend your sign-in token to it? Anyone who has the token can chat as you. " +
          "Cancel unless you trust that server."
      );
      if (tokenAllowed) sessionSet(TRUST_KEY, others.join(" "));
    }
    return tokenAllowed;
  }

  // The user would not send the token to the other server: the page does
  // not connect at all. Connecting without the token would chat under
  // another identity than the one signed in, or be refused by a server
  // that wants a token, and every request would still tell that server
  // who is reading which room.
  function declineForeign(s) {
    s.refused = true;
    setStatus("declined", "not connected");
    showError(
      "Not connected: you chose not to send your sign-in token to " +
        foreignOrigins().join(" and ") +
        ". Open the page without ?api= and ?ws= to chat on " +
        location.host +
        "."
    );
    el.input.disabled = true;
    updateComposer();
  }

  // A stored id that the server would refuse (edited by hand, or kept from
  // an older page) is replaced, as a missing one is.
  function loadUserId() {
    let id = storageGet("chat.userId");
    if (!id || idProblem("user_id", id)) {
      id = "web-" + randomHex(8);
      storageSet("chat.userId", id);
    }
    return id;
  }

  function randomHex(bytes) {
    const buf = new Uint8Array(bytes);
    crypto.getRandomValues(buf);
    return Array.from(buf, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // ---- validation: the server's rules (validate.go), checked before asking ----
  //
  // Each returns what is wrong, in the server's words with the field's name
  // on this page, or "" when the server would accept the value. The server
  // still decides: a browser whose Unicode tables are newer than the
  // server's can take a new letter for one the server does not know, and
  // the page then stops with the server's answer (probeThenReconnect).

  function byteLength(s) {
    return utf8.encode(s).length;
  }

  // A lone surrogate (half of a pasted emoji) is not UTF-8 the server reads.
  function wellFormed(s) {
    return !/\p{Cs}/u.test(s);
  }

  // idProblem checks a room or user id: 1 to MAX_ID_BYTES bytes of letters,
  // digits and -_.:@+. It names the characters that are not allowed.
  function idProblem(field, id) {
    if (id === "") return field + " is required";
    if (byteLength(id) > MAX_ID_BYTES) {
      return field + " is longer than " + MAX_ID_BYTES + " bytes (" + byteLength(id) + ")";
    }
    if (!wellFormed(id)) return field + " is not valid UTF-8";
    const bad = [];
    for (const ch of id) {
      if (!ID_CHAR.test(ch) && !bad.includes(ch)) bad.push(ch);
    }
    if (bad.length === 0) return "";
    const shown = bad.slice(0, 5).map((ch) => (ch === " " ? "spaces" : /\s/.test(ch) ? "blanks" : "“" + ch + "”"));
    return field + " may hold only letters, digits and -_.:@+ (not " + Array.from(new Set(shown)).join(", ") + ")";
  }

  // nameProblem checks a display name: at most MAX_NAME_RUNES printable
  // characters (code points, as Go counts runes).
  function nameProblem(name) {
    if (!wellFormed(name)) return "Display name is not valid UTF-8";
    const runes = Array.from(name).length;
    if (runes > MAX_NAME_RUNES) return "Display name is longer than " + MAX_NAME_RUNES + " characters (" + runes + ")";
    for (const ch of name) {
      if (!NAME_CHAR.test(ch)) return "Display name holds a control character or a space other than the plain one";
    }
    return "";
  }

  // textProblem checks a message text the page is about to send (a blank
  // one is never sent: the Send button stays disabled).
  function textProblem(text) {
    const n = byteLength(text);
    if (n > MAX_MESSAGE_BYTES) {
      return (
        "Message not sent: it is " + n.toLocaleString() + " bytes long, and the most is " +
        MAX_MESSAGE_BYTES.toLocaleString() + " bytes (16 KiB). Shorten it and send again."
      );
    }
    if (!wellFormed(text)) return "Message not sent: it holds a broken character (half of an emoji?). Remove it and send again.";
    return "";
  }

  function isBlank(text) {
    return BLANK_TEXT.test(text);
  }

  // ---- HTTP ----

  function apiURL(path, params) {
    const url = new URL(config.api + path, location.href);
    for (const [key, value] of Object.entries(params)) {
      url.searchParams.set(key, String(value));
    }
    return url;
  }

  // fetch that resolves to the parsed JSON body and rejects with the
  // server's error message ({"error":{"message"}}) on a non-2xx answer.
  // The error has the HTTP status and the server's code, if any. With a
  // token, every request carries it as Authorization: Bearer, and none is
  // made where the user would not send it.
  async function requestJSON(url, options) {
    const opts = Object.assign({}, options);
    if (auth && !mayUseToken()) throw new Error("Not sending the sign-in token to " + foreignOrigins().join(" and "));
    if (auth) opts.headers = Object.assign({}, opts.headers, { Authorization: "Bearer " + auth.token });
    let resp;
    try {
      resp = await fetch(url, opts);
    } catch (_) {
      throw new Error("Network error: could not reach the chat server");
    }
    const body = await resp.json().catch(() => null);
    if (!resp.ok) {
      const info = (body && body.error) || {};
      const err = new Error(info.message || "Request failed (HTTP " + resp.status + ")");
      err.status = resp.status;
      err.code = info.code || "";
      throw err;
    }
    return body || {};
  }

  // 401 (no or a bad token) and 403 (a room the token does not allow) will
  // not pass on a retry, whatever the request.
  function isRefusal(err) {
    return Boolean(err) && (err.status === 401 || err.status === 403);
  }

  // Whether the server's answer about the room itself (the history, the
  // members) means that connecting again cannot help: any 4xx but 408 and
  // 429, which say "later".
  function isPermanent(err) {
    return Boolean(err) && err.status >= 400 && err.status < 500 && err.status !== 408 && err.status !== 429;
  }

  // ---- error banner ----

  function showError(message) {
    el.errorText.textContent = message;
    el.error.hidden = false;
  }

  function hideError() {
    el.error.hidden = true;
    el.errorText.textContent = "";
  }

  // Reports a failed background request unless the room was left meanwhile.
  function reportFor(s) {
    return (err) => {
      if (s !== session) return;
      if (isRefusal(err)) refuse(s, err);
      else showError(err.message);
    };
  }

  // The server refused us: stop reconnecting, drop the socket and say what
  // to do, instead of retrying what cannot succeed.
  function refuse(s, err) {
    if (s !== session || s.refused) return;
    s.refused = true;
    clearTimeout(s.reconnectTimer);
    clearInterval(s.countdownTimer);
    clearTimeout(s.membersTimer);
    s.reconnectTimer = 0;
    const socket = s.socket;
    s.socket = null;
    if (socket) socket.close(1000, "refused");
    const why = err.message ? " (" + err.message + ")" : "";
    if (err.status === 401) {
      setStatus("unauthorized", "sign-in needed");
      showError(
        "Sign-in needed: " +
          (auth ? "the token is expired or not valid" : "this chat server requires a token") +
          ". Open the page with a new link ending in #token=…" +
          why
      );
    } else if (err.status === 403) {
      setStatus("forbidden", "not allowed in this room");
      showError("Not allowed in this room: " + (auth ? "the token does not allow room " + s.room : "refused by the server") + why);
    } else if (err.handshake) {
      setStatus("refused", "not connected");
      showError(
        "The server refused to connect " + MAX_REFUSED_HANDSHAKES + " times, though it answers for this room: " +
          "check your display name (leave, and join with another), or close other tabs of this chat."
      );
    } else {
      setStatus("refused", "not connected");
      showError("Cannot join this room. The server says: " + (err.message || "HTTP " + err.status) + ". Leave, and pick another room.");
    }
    el.input.disabled = true;
    updateComposer();
  }

  // ---- join / leave ----

  // The join form's fields, checked by the server's rules: what is wrong
  // shows under the field, and the form does not join.
  function checkRoomField() {
    return setFieldError(el.room, el.roomError, idProblem("Room", el.room.value.trim()));
  }

  function checkNameField() {
    const name = el.name.value.trim();
    // A token's name is the server's to use (it makes it valid): no check.
    const problem = name === "" ? "Display name is required" : el.name.readOnly ? "" : nameProblem(name);
    return setFieldError(el.name, el.nameError, problem);
  }

  // setFieldError shows problem under the input ("" clears it) and reports
  // whether the field is fine.
  function setFieldError(input, box, problem) {
    box.textContent = problem;
    box.hidden = !problem;
    if (problem) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
    return !problem;
  }

  function showJoinForm() {
    el.chatView.hidden = true;
    el.joinView.hidden = false;
    el.room.value = config.room || "lobby";
    el.name.value = storageGet("chat.name") || "";
    if (auth && auth.name) {
      // The server uses the token's name: show it, not an input for another.
      el.name.value = auth.name;
      el.name.readOnly = true;
    }
    setFieldError(el.room, el.roomError, "");
    setFieldError(el.name, el.nameError, "");
    (el.name.value ? el.room : el.name).focus();
  }

  function join(room, name) {
    if (!(auth && auth.name)) storageSet("chat.name", name);
    // Put the room in the URL (keeping ?api=/&ws=) so a reload rejoins it.
    const url = new URL(location.href);
    url.searchParams.set("room", room);
    history.replaceState(null, "", url);

    session = {
      room: room,
      name: name,
      ids: [], // message ids shown, sorted ascending (ULIDs sort by time)
      nodes: new Map(), // id -> .message element
      lastId: "", // newest id seen: where a catch-up resumes
      cursor: null, // next_cursor for "Load older"; null when at the start
      historyLoaded: false,
      sending: null, // the message being sent: { text, key, socket, timer }
      unseen: 0, // messages that came below the view while scrolled up
      socket: null,
      attempt: 0, // consecutive failed connects, drives the backoff
      refusedHandshakes: 0, // consecutive ones whose probe passed
      reconnectTimer: 0,
      countdownTimer: 0,
      membersTimer: 0,
      refused: false, // a 4xx the page cannot fix: no more reconnects
      relabelTimer: 0,
    };

    el.roomName.textContent = room;
    el.messages.replaceChildren();
    el.members.replaceChildren();
    setMemberCount(0);
    setLoadOlder(session, null);
    showJump(session, 0);
    pinned = true;
    scheduleRelabel(session);
    hideError();
    el.joinView.hidden = true;
    el.chatView.hidden = false;
    el.input.value = "";
    el.input.disabled = false;
    updateComposer();
    el.input.focus();
    if (auth && !mayUseToken()) {
      declineForeign(session);
      return;
    }
    connect(session);
  }

  function leave() {
    const s = session;
    session = null;
    if (s.socket) s.socket.close(1000, "left room");
    stopKeepalive(s);
    clearTimeout(s.reconnectTimer);
    clearInterval(s.countdownTimer);
    clearTimeout(s.membersTimer);
    clearTimeout(s.relabelTimer);
    if (s.sending) clearTimeout(s.sending.timer);
    const url = new URL(location.href);
    url.searchParams.delete("room");
    history.replaceState(null, "", url);
    config.room = s.room;
    hideError();
    setMembersOpen(false);
    showJoinForm();
  }

  // ---- WebSocket and reconnect ----

  function setStatus(state, text) {
    el.status.dataset.state = state;
    el.status.textContent = text;
    showMembersState(state);
  }

  // While the socket is down the member list is who was there, not who is:
  // it is dimmed and says so.
  function showMembersState(state) {
    const live = state === "connected";
    const first = state === "connecting" && session && session.attempt === 0;
    const retrying = state === "reconnecting" || state === "connecting";
    el.sidebar.classList.toggle("offline", !live);
    el.membersToggle.classList.toggle("offline", !live);
    el.membersState.hidden = live;
    el.membersState.textContent = first ? "connecting…" : retrying ? "offline · reconnecting" : "offline";
  }

  function connect(s) {
    if (auth && !mayUseToken()) return; // join said so
    setStatus("connecting", "connecting…");
    let socket;
    try {
      const url = new URL(config.ws, location.href);
      url.searchParams.set("room_id", s.room);
      // A browser cannot set headers on a WebSocket: the token goes in the
      // query, and the server takes the user id from it.
      if (auth) url.searchParams.set("token", auth.token);
      else url.searchParams.set("user_id", userId);
      url.searchParams.set("name", s.name);
      url.searchParams.set("events", "presence");
      socket = new WebSocket(url);
    } catch (err) {
      // A malformed ?ws= or a blocked scheme: say so, and keep the room
      // usable over HTTP meanwhile.
      showError("Cannot open WebSocket: " + err.message);
      scheduleReconnect(s);
      return;
    }
    s.socket = socket;
    let openedAt = 0;

    socket.onopen = () => {
      if (s !== session) return;
      openedAt = Date.now();
      s.refusedHandshakes = 0;
      startKeepalive(s, socket, openedAt);
      setStatus("connected", "connected");
      hideError(); // whatever failed before this connection is stale now
      catchUp(s).catch(reportFor(s));
      refreshMembers(s);
    };
    socket.onmessage = (event) => {
      if (s !== session) return;
      clearTimeout(s.pongTimer); // any frame: the socket lives
      s.pongTimer = 0;
      handleFrame(s, event.data);
    };
    socket.onclose = () => {
      if (s !== session || s.socket !== socket) return;
      s.socket = null;
      stopKeepalive(s);
      resendPending(s, socket);
      if (!openedAt) {
        probeThenReconnect(s);
        return;
      }
      if (openedAt && Date.now() - openedAt >= STABLE_CONNECTION_MS) s.attempt = 0;
      scheduleReconnect(s);
    };
  }

  // The keepalive: a ping message every config.keepaliveMs, whose answer
  // (handleFrame) must come within the timeout, or the socket is dead.
  function startKeepalive(s, socket, openedAt) {
    stopKeepalive(s);
    const timeout = KEEPALIVE_TIMEOUT_MS;
    s.keepaliveTimer = setInterval(() => {
      if (s !== session || s.socket !== socket) return stopKeepalive(s);
      socket.send(PING_FRAME);
      if (!s.pongTimer) s.pongTimer = setTimeout(() => dropDeadSocket(s, socket, openedAt), timeout);
    }, config.keepaliveMs);
  }

  function stopKeepalive(s) {
    clearInterval(s.keepaliveTimer);
    clearTimeout(s.pongTimer);
    s.keepaliveTimer = 0;
    s.pongTimer = 0;
  }

  // A dead connection may take minutes to report its close (the closing
  // handshake waits on a peer that is gone): forget it and reconnect now.
  function dropDeadSocket(s, socket, openedAt) {
    stopKeepalive(s);
    if (s !== session || s.socket !== socket) return;
    socket.onclose = null;
    socket.onmessage = null;
    s.socket = null;
    resendPending(s, socket);
    try {
      socket.close(4000, "keepalive unanswered");
    } catch (_) {
      // It is gone either way.
    }
    if (Date.now() - openedAt >= STABLE_CONNECTION_MS) s.attempt = 0;
    scheduleReconnect(s);
  }

  // A message that waited for its push on a socket now gone may or may not
  // have been stored: sending it again under its key stores it once.
  function resendPending(s, socket) {
    if (s.sending && s.sending.socket === socket) sendByPut(s, s.sending);
  }

  // A page cannot see why a WebSocket handshake failed. The REST API
  // answers the same token and room the same way, so ask it: a 4xx that a
  // retry cannot change (an invalid room, a refused token) stops the
  // reconnecting, with the server's message; a network error, a 5xx, 408
  // or 429 goes to the backoff. MAX_REFUSED_HANDSHAKES refused in a row
  // while the probe passes stop it too: what the server refuses is not
  // something the probe asks about, and it will not change by itself.
  function probeThenReconnect(s) {
    requestJSON(apiURL("/users", { room_id: s.room })).then(
      () => {
        if (s !== session || s.refused) return;
        // The REST API lets a token pass for 30 s past its expiry (clock
        // skew); a handshake refuses it at once. Retrying is no use.
        if (auth && auth.exp && auth.exp * 1000 <= Date.now()) {
          refuse(s, { status: 401, message: "the token expired at " + new Date(auth.exp * 1000).toLocaleString() });
        } else if (++s.refusedHandshakes >= MAX_REFUSED_HANDSHAKES) {
          // The server is up and takes the room and the token, yet
          // refuses the socket: something only the handshake carries,
          // the name (a character newer than the server's Unicode), or
          // the user's count of connections.
          refuse(s, { status: 0, handshake: true, message: "" });
        } else {
          scheduleReconnect(s);
        }
      },
      (err) => {
        if (s !== session || s.refused) return;
        s.refusedHandshakes = 0; // down, or busy: the backoff's, not ours
        if (isPermanent(err)) refuse(s, err);
        else scheduleReconnect(s);
      }
    );
  }

  // Exponential backoff with jitter: wait between half and all of a ceiling
  // that starts at 0.5 s and doubles up to 10 s, so clients dropped together
  // by a server restart do not all come back at the same instant.
  function scheduleReconnect(s) {
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** s.attempt);
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    s.attempt++;
    const due = Date.now() + delay;

    const tick = () => {
      const secs = Math.max(1, Math.ceil((due - Date.now()) / 1000));
      setStatus("reconnecting", "reconnecting in " + secs + "s");
    };
    tick();
    s.countdownTimer = setInterval(tick, 250);
    s.reconnectTimer = setTimeout(() => reconnectNow(s), delay);

    // Without a socket, still show the room and let PUT send messages. A
    // failure here is expected while the server is down, and the status
    // line already says so: no banner.
    if (!s.historyLoaded) {
      loadLatest(s).catch((err) => {
        if (isPermanent(err)) refuse(s, err);
      });
    }
  }

  function reconnectNow(s) {
    if (s.refused) return;
    clearTimeout(s.reconnectTimer);
    clearInterval(s.countdownTimer);
    s.reconnectTimer = 0;
    connect(s);
  }

  function handleFrame(s, data) {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch (_) {
      return; // not ours to show
    }
    if (!frame || typeof frame !== "object") return;
    if (frame.type === "pong") {
      // The keepalive's answer; onmessage has cleared its timer.
    } else if (frame.error) {
      // Error frames answer this connection's own frames: while a message
      // waits for its push, the error is its refusal.
      const err = new Error(frame.error.message || "Server error");
      if (s.sending && s.sending.socket === s.socket) sendFailed(s, s.sending, err);
      else showError(err.message);
    } else if (frame.type === "join" || frame.type === "leave") {
      // Deltas can be missed across reconnects; the server's list is the truth.
      scheduleMembersRefresh(s);
    } else if (frame.id && !frame.type && (!frame.room_id || frame.room_id === s.room)) {
      addMessages(s, [frame]);
    }
  }

  // ---- history ----

  // One page of the room's messages, oldest first, plus the cursor to the
  // page before it (null when there is none) and, for an after= page,
  // whether newer messages remain. The server bounds a page in bytes too, so
  // a page may hold fewer messages than asked and still have more.
  async function fetchPage(s, params) {
    const body = await requestJSON(apiURL("", Object.assign({ room_id: s.room }, params)));
    return {
      messages: Array.isArray(body.messages) ? body.messages : [],
      cursor: body.next_cursor || null,
      hasMore: body.has_more === true,
    };
  }

  async function loadLatest(s) {
    const page = await fetchPage(s, { limit: HISTORY_PAGE });
    if (s !== session) return;
    s.historyLoaded = true;
    setLoadOlder(s, page.cursor);
    addMessages(s, page.messages);
  }

  // Fetches what was missed while disconnected. The starting id is taken
  // now, before pushes on the new socket can move lastId past the gap.
  async function catchUp(s) {
    if (!s.lastId) return loadLatest(s);
    let after = s.lastId;
    for (;;) {
      const page = await fetchPage(s, { after: after, limit: CATCH_UP_PAGE });
      if (s !== session) return;
      addMessages(s, page.messages);
      if (!page.hasMore || page.messages.length === 0) return;
      // A page that does not move past where it began (a broken server
      // answering has_more without advancing) ends the catch-up, which
      // would otherwise ask again at once, forever.
      const last = page.messages[page.messages.length - 1].id;
      if (typeof last !== "string" || last <= after) return;
      after = last;
    }
  }

  async function loadOlder() {
    const s = session;
    if (!s || !s.cursor) return;
    el.loadOlder.disabled = true;
    try {
      const page = await fetchPage(s, { limit: HISTORY_PAGE, cursor: s.cursor });
      if (s !== session) return;
      setLoadOlder(s, page.cursor);
      keepScrollFromBottom(() => addMessages(s, page.messages));
    } catch (err) {
      reportFor(s)(err);
    } finally {
      el.loadOlder.disabled = false;
    }
  }

  function setLoadOlder(s, cursor) {
    s.cursor = cursor;
    el.loadOlder.hidden = !cursor;
  }

  // ---- message list ----
  //
  // The list reads as chats do: it sits at the bottom, near the composer,
  // and follows new messages while the reader is at the end; a reader who
  // scrolled up stays where they are and gets a "new messages" button.
  // Messages of one sender in a row are one run (the name once), and each
  // day starts with a separator.

  // Whether the view was at the end when last looked at (a scroll): a
  // resize (the composer growing, a rotated phone) keeps it there.
  let pinned = true;

  function isNearBottom() {
    const sc = el.scroller;
    return sc.scrollHeight - sc.scrollTop - sc.clientHeight < NEAR_BOTTOM_PX;
  }

  function scrollToBottom() {
    el.scroller.scrollTop = el.scroller.scrollHeight;
    pinned = true;
    if (session) showJump(session, 0);
  }

  // Prepending older messages must not move what the reader is looking at.
  function keepScrollFromBottom(change) {
    const sc = el.scroller;
    const fromBottom = sc.scrollHeight - sc.scrollTop;
    change();
    sc.scrollTop = sc.scrollHeight - fromBottom;
  }

  // The jump button counts the messages that came below the view.
  function showJump(s, unseen) {
    s.unseen = unseen;
    el.jump.hidden = unseen === 0;
    el.jumpText.textContent = unseen === 1 ? "1 new message" : unseen + " new messages";
  }

  // Adds messages from any source (history, catch-up, push, PUT reply),
  // once each, in id order.
  function addMessages(s, list) {
    const follow = isNearBottom();
    const newestBefore = s.lastId;
    let ownAdded = false;
    let unseen = 0;
    for (const msg of list) {
      if (!msg || typeof msg.id !== "string" || s.nodes.has(msg.id)) continue;
      insertMessage(s, msg);
      if (msg.id > s.lastId) s.lastId = msg.id;
      if (msg.user_id === userId) {
        ownAdded = true;
        // The push of what the composer is sending: the server has it.
        // Pushes carry no idempotency key (the original client's fields),
        // so without one the same text from this user counts: another tab
        // sending the same words marks this send done, and if this one's
        // socket then drops before the server read it, it is not sent
        // again by PUT. A push with a key is matched by it.
        const pending = s.sending;
        if (pending && (msg.idempotency_key ? msg.idempotency_key === pending.key : msg.message === pending.text)) {
          sendDone(s, pending);
        }
      } else if (newestBefore && msg.id > newestBefore) {
        unseen++;
      }
    }
    // Follow the conversation only if the reader was already at the end,
    // or just sent something themselves.
    if (follow || ownAdded) scrollToBottom();
    else if (unseen > 0) showJump(s, s.unseen + unseen);
  }

  function insertMessage(s, msg) {
    const node = renderMessage(msg);
    const index = sortedIndex(s.ids, msg.id);
    const next = index < s.ids.length ? s.nodes.get(s.ids[index]) : null;
    el.messages.insertBefore(node, next);
    s.ids.splice(index, 0, msg.id);
    s.nodes.set(msg.id, node);
    // Its run and day depend on the message before it, and the next
    // one's on it.
    decorate(s, index);
    decorate(s, index + 1);
  }

  // Binary search: where id goes in the ascending array ids.
  function sortedIndex(ids, id) {
    let lo = 0;
    let hi = ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ids[mid] < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  // A message is a row: a day separator (shown on a day's first message)
  // and the bubble, whose name and time are hidden from sight (not from
  // screen readers) when it continues its sender's run.
  function renderMessage(msg) {
    const item = document.createElement("li");
    item.className = "message";
    if (msg.user_id === userId) item.classList.add("own");
    item.dataset.id = msg.id;
    // Who the run belongs to: a new name starts a new run too.
    item.dataset.sender = String(msg.user_id) + "\n" + String(msg.name || "");
    const when = new Date(Number(msg.timestamp));
    const dated = !Number.isNaN(when.getTime()) && Number(msg.timestamp) > 0;
    item.dataset.ts = dated ? String(when.getTime()) : "";

    const day = document.createElement("div");
    day.className = "day";
    day.setAttribute("role", "separator");
    day.hidden = true;

    const bubble = document.createElement("div");
    bubble.className = "bubble";
    const meta = document.createElement("div");
    meta.className = "meta";
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = msg.name || msg.user_id || "anonymous";
    const time = document.createElement("time");
    time.className = "time";
    if (dated) {
      time.dateTime = when.toISOString();
      time.textContent = formatTime(when);
      bubble.title = when.toLocaleString();
    }
    meta.append(name, " ", time);

    const text = document.createElement("div");
    text.className = "text";
    text.append(linkify(msg.message == null ? "" : String(msg.message)));

    bubble.append(meta, text);
    item.append(day, bubble);
    return item;
  }

  // decorate sets the day separator and the run of the message at index
  // from the one before it.
  function decorate(s, index) {
    if (index >= s.ids.length) return;
    const node = s.nodes.get(s.ids[index]);
    const prev = index > 0 ? s.nodes.get(s.ids[index - 1]) : null;
    const ts = node.dataset.ts ? Number(node.dataset.ts) : NaN;
    const prevTs = prev && prev.dataset.ts ? Number(prev.dataset.ts) : NaN;
    const day = node.querySelector(".day");
    const newDay = !Number.isNaN(ts) && (Number.isNaN(prevTs) || dayKey(new Date(ts)) !== dayKey(new Date(prevTs)));
    day.hidden = !newDay;
    day.textContent = newDay ? dayLabel(new Date(ts), new Date()) : "";
    const continued =
      prev !== null &&
      !newDay &&
      prev.dataset.sender === node.dataset.sender &&
      ts - prevTs >= 0 &&
      ts - prevTs < GROUP_GAP_MS;
    node.classList.toggle("continued", continued);
  }

  function dayKey(date) {
    return date.getFullYear() * 10000 + date.getMonth() * 100 + date.getDate();
  }

  // "Today", "Yesterday", or the date in the reader's language (the year
  // only when it is not this one).
  function dayLabel(date, now) {
    const yesterday = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1);
    if (dayKey(date) === dayKey(now)) return "Today";
    if (dayKey(date) === dayKey(yesterday)) return "Yesterday";
    const opts = { weekday: "long", day: "numeric", month: "long" };
    if (date.getFullYear() !== now.getFullYear()) opts.year = "numeric";
    return date.toLocaleDateString(undefined, opts);
  }

  // At midnight "Today" becomes "Yesterday": the separators are named again.
  function scheduleRelabel(s) {
    const now = new Date();
    const midnight = new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1);
    s.relabelTimer = setTimeout(() => {
      if (s !== session) return;
      for (let i = 0; i < s.ids.length; i++) decorate(s, i);
      scheduleRelabel(s);
    }, midnight - now + 1000);
  }

  function formatTime(date) {
    const pad = (n) => String(n).padStart(2, "0");
    return pad(date.getHours()) + ":" + pad(date.getMinutes());
  }

  // ---- links ----
  //
  // Web addresses in a message become links, built as elements with
  // textContent (never markup). Only http and https: "javascript:",
  // "data:" and look-alikes stay text. A candidate starts at a word's start
  // with the scheme (any case) and runs to a space or a character that
  // cannot be in one; punctuation that ends a sentence is not part of it.
  const LINK_CANDIDATE = /\bhttps?:\/\/[^\s<>"]+/giu;
  const LINK_TRAILING = ".,:;!?'\"*_~";
  const LINK_CLOSERS = new Map([
    [")", "("],
    ["]", "["],
    ["}", "{"],
  ]);
  const LINK_OPENERS = new Map(Array.from(LINK_CLOSERS, ([closer, opener]) => [opener, closer]));
  const FORMAT_CHAR = /^\p{Cf}$/u;

  function linkify(text) {
    const out = document.createDocumentFragment();
    let done = 0;
    for (const match of text.matchAll(LINK_CANDIDATE)) {
      const raw = trimLinkEnd(match[0]);
      const href = linkHref(raw);
      if (!href) continue;
      out.append(text.slice(done, match.index));
      const a = document.createElement("a");
      a.href = href;
      a.textContent = raw;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      out.append(a);
      done = match.index + raw.length;
    }
    out.append(text.slice(done));
    return out;
  }

  // trimLinkEnd drops from a candidate's end sentence punctuation,
  // invisible format characters (Unicode Cf: zero-width spaces, bidi
  // marks, embeddings, overrides and isolates, BOM: none may hide in a
  // link's end or reorder what follows it), and a closing bracket that
  // closes none opened in the link ("(see …/wiki/Go_(lang))"). The brackets
  // are counted once: linear in the link's length, however many of them
  // end it (16 KiB of ")" took seconds when each was counted anew).
  function trimLinkEnd(raw) {
    const unclosed = new Map(); // closer -> its count minus its opener's, in raw[0, end)
    for (const closer of LINK_CLOSERS.keys()) unclosed.set(closer, 0);
    for (let i = 0; i < raw.length; i++) {
      const ch = raw[i];
      const closer = LINK_CLOSERS.has(ch) ? ch : LINK_OPENERS.get(ch);
      if (closer) unclosed.set(closer, unclosed.get(closer) + (ch === closer ? 1 : -1));
    }
    let end = raw.length;
    while (end > 0) {
      const ch = raw[end - 1];
      // A character past U+FFFF (Cf has some: tags) is two code units.
      const size = end > 1 && /[\uDC00-\uDFFF]/.test(ch) ? 2 : 1;
      if (LINK_TRAILING.includes(ch) || FORMAT_CHAR.test(raw.slice(end - size, end))) {
        end -= size;
      } else if (unclosed.get(ch) > 0) {
        unclosed.set(ch, unclosed.get(ch) - 1);
        end--;
      } else {
        break;
      }
    }
    return raw.slice(0, end);
  }

  // linkHref is the address a candidate links to, or "" when it is not an
  // http or https URL with a host.
  function linkHref(raw) {
    let url;
    try {
      url = new URL(raw);
    } catch (_) {
      return "";
    }
    if ((url.protocol !== "http:" && url.protocol !== "https:") || !url.hostname) return "";
    return url.href;
  }

  // ---- members ----

  function scheduleMembersRefresh(s) {
    clearTimeout(s.membersTimer);
    s.membersTimer = setTimeout(() => refreshMembers(s), MEMBERS_DEBOUNCE_MS);
  }

  async function refreshMembers(s) {
    try {
      const body = await requestJSON(apiURL("/users", { room_id: s.room }));
      if (s === session) renderMembers(Array.isArray(body.users) ? body.users : []);
    } catch (err) {
      reportFor(s)(err);
    }
  }

  // The server lists one entry per connection; people with several tabs
  // open should appear once.
  function renderMembers(connections) {
    const byUser = new Map();
    for (const c of connections) {
      if (c && c.user_id && !byUser.has(c.user_id)) byUser.set(c.user_id, String(c.name || c.user_id));
    }
    const sorted = Array.from(byUser).sort((a, b) => a[1].localeCompare(b[1]));
    el.members.replaceChildren(
      ...sorted.map(([id, name]) => {
        const item = document.createElement("li");
        item.className = "member";
        if (id === userId) item.classList.add("own");
        item.dataset.userId = id;
        item.textContent = name;
        item.title = id;
        return item;
      })
    );
    setMemberCount(byUser.size);
  }

  function setMemberCount(n) {
    el.memberCount.textContent = String(n);
    el.membersToggleCount.textContent = String(n);
  }

  // On narrow screens the member list is a panel opened from the header.
  function setMembersOpen(open) {
    el.chatView.classList.toggle("members-open", open);
    el.membersToggle.setAttribute("aria-expanded", String(open));
  }

  // ---- sending ----
  //
  // What is typed stays in the composer until the server has the message,
  // and stays on any failure, to be sent again: the page never loses a
  // text. A message goes on the WebSocket when there is one and its frame
  // fits, else by PUT; either way under an idempotency key of its own, so
  // that sending it again by PUT (the socket closed, or no answer came)
  // stores it once.

  function updateComposer() {
    el.send.disabled = isBlank(el.input.value) || Boolean(session && (session.sending || session.refused));
    // Grow with the text up to the CSS max-height, then scroll.
    el.input.style.height = "auto";
    el.input.style.height = el.input.scrollHeight + "px";
  }

  function sendMessage() {
    const s = session;
    if (!s || s.sending || s.refused) return;
    const text = el.input.value.trim();
    if (isBlank(text)) return;
    const problem = textProblem(text);
    if (problem) {
      showSendError(problem); // and the text stays, to be shortened
      return;
    }
    const pending = { text: text, key: "web-" + randomHex(12), socket: null, timer: 0 };
    s.sending = pending;
    updateComposer();

    const frame = JSON.stringify({ action: "sendmessage", text: text, name: s.name, idempotency_key: pending.key });
    if (s.socket && s.socket.readyState === WebSocket.OPEN && byteLength(frame) <= MAX_FRAME_BYTES) {
      // Done when its push comes back (addMessages); failed on an error
      // frame (handleFrame); sent again by PUT if the socket closes first
      // or nothing comes back in time.
      pending.socket = s.socket;
      s.socket.send(frame);
      pending.timer = setTimeout(() => sendByPut(s, pending), SEND_CONFIRM_MS);
      return;
    }
    sendByPut(s, pending);
  }

  // The stored message comes back in the reply (its push, if any, has the
  // same id).
  async function sendByPut(s, pending) {
    clearTimeout(pending.timer);
    pending.socket = null;
    if (s !== session || s.sending !== pending) return;
    try {
      const body = await requestJSON(config.api, {
        method: "PUT",
        headers: { "Content-Type": "application/json" },
        // With a token the server knows the user: no user_id.
        body: JSON.stringify({
          room_id: s.room,
          text: pending.text,
          user_id: auth ? undefined : userId,
          name: s.name,
          idempotency_key: pending.key,
        }),
      });
      if (s !== session) return;
      if (body.message) addMessages(s, [body.message]);
      sendDone(s, pending);
    } catch (err) {
      sendFailed(s, pending, err);
    }
  }

  // The server has the message: the composer empties, unless the user
  // has typed something else meanwhile.
  function sendDone(s, pending) {
    if (s.sending !== pending) return;
    clearTimeout(pending.timer);
    s.sending = null;
    if (el.input.value.trim() === pending.text) clearInput();
    else updateComposer();
    // Why an earlier message was not sent is old news now.
    if (!el.error.hidden && el.errorText.textContent === lastSendError) hideError();
  }

  // The last "not sent" shown, so that a send that works can take it away.
  let lastSendError = "";
  function showSendError(message) {
    lastSendError = message;
    showError(message);
  }

  function sendFailed(s, pending, err) {
    if (s !== session || s.sending !== pending) return;
    clearTimeout(pending.timer);
    s.sending = null;
    updateComposer();
    if (isRefusal(err)) refuse(s, err);
    else showSendError("Message not sent: " + err.message);
  }

  function clearInput() {
    el.input.value = "";
    updateComposer();
    el.input.focus();
  }

  // ---- wiring ----

  el.joinForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const roomOK = checkRoomField();
    const nameOK = checkNameField();
    if (!roomOK || !nameOK) {
      (roomOK ? el.name : el.room).focus();
      return;
    }
    hideError();
    join(el.room.value.trim(), el.name.value.trim());
  });
  // A field that said what is wrong says so again as it is fixed.
  el.room.addEventListener("input", () => {
    if (el.room.hasAttribute("aria-invalid")) checkRoomField();
  });
  el.name.addEventListener("input", () => {
    if (el.name.hasAttribute("aria-invalid")) checkNameField();
  });

  el.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    sendMessage();
  });

  el.input.addEventListener("input", updateComposer);
  el.input.addEventListener("keydown", (event) => {
    // Enter sends, Shift+Enter is a newline; leave Enter alone while an
    // input method is composing (e.g. picking CJK characters).
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      sendMessage();
    }
  });

  el.scroller.addEventListener("scroll", () => {
    pinned = isNearBottom();
    if (pinned && session && session.unseen) showJump(session, 0);
  });
  el.jump.addEventListener("click", scrollToBottom);
  // The view shrinks as the composer grows (or the window does): one that
  // was at the end stays there.
  if (typeof ResizeObserver === "function") {
    new ResizeObserver(() => {
      if (pinned) el.scroller.scrollTop = el.scroller.scrollHeight;
    }).observe(el.scroller);
  }

  el.loadOlder.addEventListener("click", loadOlder);
  el.leave.addEventListener("click", leave);
  el.errorDismiss.addEventListener("click", hideError);
  el.membersToggle.addEventListener("click", () => {
    setMembersOpen(!el.chatView.classList.contains("members-open"));
  });

  // Back online: retry now instead of waiting out the backoff.
  window.addEventListener("online", () => {
    if (session && session.reconnectTimer) reconnectNow(session);
  });

  if (auth) {
    el.identity.textContent = identityText();
    el.identity.hidden = false;
    el.whoami.textContent = identityText();
    el.whoami.hidden = false;
  }

  // A reload of a room URL rejoins directly when we already know the name
  // (the form fills it in: a token's, or the stored one). A room or name in
  // the URL or storage that the server would refuse stays in the form
  // instead, saying what is wrong.
  showJoinForm();
  if (config.room && config.room.trim() && el.name.value) {
    const roomOK = checkRoomField();
    if (checkNameField() && roomOK) join(el.room.value.trim(), el.name.value.trim());
  }
})();
