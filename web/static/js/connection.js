// The room's WebSocket (docs/protocol.md, "Client algorithm", steps 1 and
// 2): connecting, reconnecting with backoff.js's backoff, dropping a socket
// the keepalive found dead or whose catch-up failed, and, after a handshake
// that failed, the probe that tells a refused one from a server that is
// down (and says so after MAX_REFUSED_HANDSHAKES refused in a row). What a
// frame means is frames.js's; what was missed meanwhile, catchup.js's.

import { apiURL, isPermanent, requestJSON } from "./api.js";
import { backoffDelay } from "./backoff.js";
import { hideError, showError } from "./banner.js";
import { catchUp } from "./catchup.js";
import { config } from "./config.js";
import { handleFrame } from "./frames.js";
import { loadLatest } from "./history.js";
import { userId } from "./identity.js";
import { frameArrived, startKeepalive, stopKeepalive } from "./keepalive.js";
import { refreshMembers } from "./members.js";
import { handshakesRefused, refuse } from "./refusal.js";
import { resendPending } from "./sending.js";
import { auth, mayUseToken } from "./signin.js";
import { session } from "./state.js";
import { setStatus } from "./status.js";

// A connection that lived this long counts as healthy and resets the backoff;
// one the server drops sooner is a failed attempt: a server that closes
// every socket at once must not be met with a reconnect (and a catch-up)
// every BACKOFF_BASE_MS.
const STABLE_CONNECTION_MS = 5000;
// Handshakes refused in a row while the REST API answers for the room
// (a server that is down fails that probe too) before the page stops.
const MAX_REFUSED_HANDSHAKES = 3;

export function connect(s) {
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
    startKeepalive(s, socket, config.keepaliveMs, () =>
      abandonSocket(s, socket, openedAt, 4000, "keepalive unanswered")
    );
    setStatus("connected", "connected");
    hideError(); // whatever failed before this connection is stale now
    catchUp(s, socket).catch((err) => catchUpFailed(s, socket, openedAt, err));
    refreshMembers(s);
  };
  socket.onmessage = (event) => {
    if (s !== session) return;
    frameArrived(s); // any frame: the socket lives
    handleFrame(s, event.data);
  };
  socket.onclose = () => {
    if (s !== session || s.socket !== socket) return;
    s.socket = null;
    s.live = false;
    stopKeepalive(s);
    resendPending(s, socket);
    if (!openedAt) {
      probeThenReconnect(s);
      return;
    }
    if (Date.now() - openedAt >= STABLE_CONNECTION_MS) s.attempt = 0;
    scheduleReconnect(s);
  };
}

// History that could not be read fails the attempt: the socket is dropped
// and the page reconnects with backoff, to catch up again from lastId,
// which the failed catch-up left where it was. A 4xx other than 408 and
// 429 will not pass on a retry: the page stops, saying why.
function catchUpFailed(s, socket, openedAt, err) {
  if (s !== session || s.refused) return;
  if (isPermanent(err)) {
    refuse(s, err);
    return;
  }
  showError(err.message);
  abandonSocket(s, socket, openedAt, 4001, "history not read");
}

// A dead connection may take minutes to report its close (the closing
// handshake waits on a peer that is gone): forget it and reconnect now.
function abandonSocket(s, socket, openedAt, code, reason) {
  stopKeepalive(s);
  if (s !== session || s.socket !== socket) return;
  socket.onclose = null;
  socket.onmessage = null;
  s.socket = null;
  s.live = false;
  resendPending(s, socket);
  try {
    socket.close(code, reason);
  } catch (_) {
    // It is gone either way.
  }
  if (Date.now() - openedAt >= STABLE_CONNECTION_MS) s.attempt = 0;
  scheduleReconnect(s);
}

// A page cannot see why a WebSocket handshake failed. The REST API
// answers the same token and room the same way, so ask it: a 4xx that a
// retry cannot change (an invalid room, a refused token) stops the
// reconnecting, with the server's message; a network error, a 5xx, 408
// or 429 goes to the backoff. MAX_REFUSED_HANDSHAKES refused in a row
// while the probe passes make the page say what may be wrong, and it goes
// on trying: what the handshake alone carries may clear by itself (a
// server at its connection cap, the user's quota) or not (a name the
// server refuses; the user can leave and join with another).
function probeThenReconnect(s) {
  requestJSON(apiURL("/users", { room_id: s.room })).then(
    () => {
      if (s !== session || s.refused) return;
      // The REST API lets a token pass for 30 s past its expiry (clock
      // skew); a handshake refuses it at once. Retrying is no use.
      if (auth && auth.exp && auth.exp * 1000 <= Date.now()) {
        refuse(s, { status: 401, message: "the token expired at " + new Date(auth.exp * 1000).toLocaleString() });
      } else {
        // The server is up and takes the room and the token, yet
        // refuses the socket: something only the handshake carries,
        // the name (a character newer than the server's Unicode), the
        // user's count of connections, or the server's.
        if (++s.refusedHandshakes >= MAX_REFUSED_HANDSHAKES) showError(handshakesRefused(s.refusedHandshakes));
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

// Attempt n after a drop (s.attempt, from 1) waits backoffDelay(n).
function scheduleReconnect(s) {
  s.attempt++;
  const delay = backoffDelay(s.attempt);
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

export function reconnectNow(s) {
  if (s.refused) return;
  clearTimeout(s.reconnectTimer);
  clearInterval(s.countdownTimer);
  s.reconnectTimer = 0;
  connect(s);
}
