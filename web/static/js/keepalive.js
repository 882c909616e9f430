// The WebSocket keepalive: a ping message at an interval, whose answer
// must come in time or the socket is taken for dead. What to do with a
// dead one is the caller's (connection.js).
//
// The keepalive message goes every KEEPALIVE_MS (?keepalive=SECONDS
// overrides it, e.g. 45 behind a proxy that drops connections idle for
// 60 s): API Gateway closes a WebSocket idle for 10 minutes and does not
// document that pings count (a browser cannot send one anyway). A
// ping that gets no frame back in KEEPALIVE_TIMEOUT_MS means the
// connection is dead: the page reconnects. Any frame counts, not only the
// pong: on AWS a throttled ping gets an error frame, and a connection
// that delivers frames is alive. ?keepalive= is clamped to
// [KEEPALIVE_MIN_MS, KEEPALIVE_MAX_MS]: a link must not make the page
// flood pings (a timer delay past 2^31 ms, or Infinity, fires at once) or
// outlast the idle timeout.

import { session } from "./state.js";

const KEEPALIVE_MS = 4 * 60 * 1000;
const KEEPALIVE_MIN_MS = 1000;
const KEEPALIVE_MAX_MS = 9 * 60 * 1000;
const KEEPALIVE_TIMEOUT_MS = 30 * 1000;
const PING_FRAME = JSON.stringify({ action: "ping" });

// keepaliveFrom reads ?keepalive=SECONDS, clamped; anything that is not a
// positive finite number gives the default.
export function keepaliveFrom(value) {
  const ms = Number(value) * 1000;
  if (value === null || !Number.isFinite(ms) || ms <= 0) return KEEPALIVE_MS;
  return Math.min(KEEPALIVE_MAX_MS, Math.max(KEEPALIVE_MIN_MS, ms));
}

// startKeepalive sends a ping on s's socket every everyMs, whose answer
// (frameArrived) must come within the timeout, or onDead is called.
export function startKeepalive(s, socket, everyMs, onDead) {
  stopKeepalive(s);
  const timeout = KEEPALIVE_TIMEOUT_MS;
  s.keepaliveTimer = setInterval(() => {
    if (s !== session || s.socket !== socket) return stopKeepalive(s);
    socket.send(PING_FRAME);
    if (!s.pongTimer) s.pongTimer = setTimeout(onDead, timeout);
  }, everyMs);
}

export function stopKeepalive(s) {
  clearInterval(s.keepaliveTimer);
  clearTimeout(s.pongTimer);
  s.keepaliveTimer = 0;
  s.pongTimer = 0;
}

// frameArrived is told of every frame on s's socket: any frame, the socket
// lives.
export function frameArrived(s) {
  clearTimeout(s.pongTimer);
  s.pongTimer = 0;
}
