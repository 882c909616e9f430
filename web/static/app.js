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
  const utf8 = new TextEncoder();

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
    name: $("name"),
    identity: $("identity"),
    chatView: $("chat-view"),
    roomName: $("room-name"),
    status: $("status"),
    whoami: $("whoami"),
    membersToggle: $("members-toggle"),
    membersToggleCount: $("members-toggle-count"),
    leave: $("leave"),
    scroller: $("scroller"),
    loadOlder: $("load-older"),
    messages: $("messages"),
    composer: $("composer"),
    input: $("input"),
    send: $("send"),
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

  function loadUserId() {
    let id = storageGet("chat.userId");
    if (!id) {
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
  // not pass on a retry.
  function isRefusal(err) {
    return Boolean(err) && (err.status === 401 || err.status === 403);
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
    } else {
      setStatus("forbidden", "not allowed in this room");
      showError("Not allowed in this room: " + (auth ? "the token does not allow room " + s.room : "refused by the server") + why);
    }
    el.input.disabled = true;
    updateComposer();
  }

  // ---- join / leave ----

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
      sending: false, // a PUT is in flight
      socket: null,
      attempt: 0, // consecutive failed connects, drives the backoff
      reconnectTimer: 0,
      countdownTimer: 0,
      membersTimer: 0,
      refused: false, // a 401/403: no more reconnects
    };

    el.roomName.textContent = room;
    el.messages.replaceChildren();
    el.members.replaceChildren();
    setMemberCount(0);
    setLoadOlder(session, null);
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
    try {
      socket.close(4000, "keepalive unanswered");
    } catch (_) {
      // It is gone either way.
    }
    if (Date.now() - openedAt >= STABLE_CONNECTION_MS) s.attempt = 0;
    scheduleReconnect(s);
  }

  // A page cannot see why a WebSocket handshake failed. The REST API
  // answers the same token and room the same way, so ask it: a 401/403
  // stops the reconnecting; anything else (the server is down) goes to the
  // backoff as before.
  function probeThenReconnect(s) {
    requestJSON(apiURL("/users", { room_id: s.room })).then(
      () => {
        if (s === session && !s.refused) scheduleReconnect(s);
      },
      (err) => {
        if (s !== session || s.refused) return;
        if (isRefusal(err)) refuse(s, err);
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
        if (isRefusal(err)) refuse(s, err);
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
      showError(frame.error.message || "Server error");
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
      after = page.messages[page.messages.length - 1].id;
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

  function isNearBottom() {
    const sc = el.scroller;
    return sc.scrollHeight - sc.scrollTop - sc.clientHeight < NEAR_BOTTOM_PX;
  }

  function scrollToBottom() {
    el.scroller.scrollTop = el.scroller.scrollHeight;
  }

  // Prepending older messages must not move what the reader is looking at.
  function keepScrollFromBottom(change) {
    const sc = el.scroller;
    const fromBottom = sc.scrollHeight - sc.scrollTop;
    change();
    sc.scrollTop = sc.scrollHeight - fromBottom;
  }

  // Adds messages from any source (history, catch-up, push, PUT reply),
  // once each, in id order.
  function addMessages(s, list) {
    const follow = isNearBottom();
    let ownAdded = false;
    for (const msg of list) {
      if (!msg || typeof msg.id !== "string" || s.nodes.has(msg.id)) continue;
      insertMessage(s, msg);
      if (msg.id > s.lastId) s.lastId = msg.id;
      if (msg.user_id === userId) ownAdded = true;
    }
    // Follow the conversation only if the reader was already at the end,
    // or just sent something themselves.
    if (follow || ownAdded) scrollToBottom();
  }

  function insertMessage(s, msg) {
    const node = renderMessage(msg);
    const index = sortedIndex(s.ids, msg.id);
    const next = index < s.ids.length ? s.nodes.get(s.ids[index]) : null;
    el.messages.insertBefore(node, next);
    s.ids.splice(index, 0, msg.id);
    s.nodes.set(msg.id, node);
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

  function renderMessage(msg) {
    const item = document.createElement("li");
    item.className = "message";
    if (msg.user_id === userId) item.classList.add("own");
    item.dataset.id = msg.id;

    const meta = document.createElement("div");
    meta.className = "meta";
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = msg.name || msg.user_id || "anonymous";
    const time = document.createElement("time");
    time.className = "time";
    const when = new Date(Number(msg.timestamp));
    if (!Number.isNaN(when.getTime())) {
      time.dateTime = when.toISOString();
      time.title = when.toLocaleString();
      time.textContent = formatTime(when);
    }
    meta.append(name, " ", time);

    const text = document.createElement("div");
    text.className = "text";
    text.textContent = msg.message == null ? "" : String(msg.message);

    item.append(meta, text);
    return item;
  }

  function formatTime(date) {
    const pad = (n) => String(n).padStart(2, "0");
    return pad(date.getHours()) + ":" + pad(date.getMinutes());
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

  function updateComposer() {
    el.send.disabled =
      el.input.value.trim() === "" || Boolean(session && (session.sending || session.refused));
    // Grow with the text up to the CSS max-height, then scroll.
    el.input.style.height = "auto";
    el.input.style.height = el.input.scrollHeight + "px";
  }

  async function sendMessage() {
    const s = session;
    const text = el.input.value.trim();
    if (!s || !text || s.sending || s.refused) return;

    const frame = JSON.stringify({ action: "sendmessage", text: text, name: s.name });
    if (s.socket && s.socket.readyState === WebSocket.OPEN && utf8.encode(frame).length <= MAX_FRAME_BYTES) {
      // The server pushes the message back to us; it is shown then.
      s.socket.send(frame);
      clearInput();
      return;
    }

    // No live socket, or a frame too large for one: send over HTTP and show
    // the stored message from the reply (its push, if any, is the same id).
    s.sending = true;
    el.send.disabled = true;
    try {
      const body = await requestJSON(config.api, {
        method: "PUT",
        headers: { "Content-Type": "application/json" },
        // With a token the server knows the user: no user_id.
        body: JSON.stringify({ room_id: s.room, text: text, user_id: auth ? undefined : userId, name: s.name }),
      });
      if (s !== session) return;
      if (body.message) addMessages(s, [body.message]);
      if (el.input.value.trim() === text) clearInput();
    } catch (err) {
      reportFor(s)(err); // the text stays in the box to retry
    } finally {
      s.sending = false;
      updateComposer();
    }
  }

  function clearInput() {
    el.input.value = "";
    updateComposer();
    el.input.focus();
  }

  // ---- wiring ----

  el.joinForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const room = el.room.value.trim();
    const name = el.name.value.trim();
    if (!room || !name) {
      showError("Please enter a room and a display name.");
      return;
    }
    join(room, name);
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
  // (a token's name counts).
  const savedName = auth && auth.name ? auth.name : storageGet("chat.name");
  if (config.room && config.room.trim() && savedName) {
    join(config.room.trim(), savedName);
  } else {
    showJoinForm();
  }
})();
