// The REST API (/chat, /chat/users): URLs on the configured API, requests
// that carry the sign-in token only where it may go, and what an error
// answer means for retrying.

import { config } from "./config.js";
import { auth, foreignOrigins, mayUseToken } from "./signin.js";

// A request with no answer within this long has failed (docs/protocol.md,
// "Client algorithm"): fetch has no timeout of its own, and a half-open
// connection would hold a send, or a catch-up, for good.
export const REQUEST_TIMEOUT_MS = 30000;

export function apiURL(path, params) {
  const url = new URL(config.api + path, location.href);
  for (const [key, value] of Object.entries(params)) {
    url.searchParams.set(key, String(value));
  }
  return url;
}

// fetch that resolves to the parsed JSON body and rejects with the
// server's error message ({"error":{"message"}}) on a non-2xx answer.
// The error has the HTTP status, the server's code, if any, and
// retryAfterMs, its Retry-After (0 without one); one that got no answer
// has noAnswer set. With a token, every request carries it as
// Authorization: Bearer, and none is made where the user would not send
// it.
export async function requestJSON(url, options) {
  const opts = Object.assign({}, options);
  if (auth && !mayUseToken()) throw new Error("Not sending the sign-in token to " + foreignOrigins().join(" and "));
  if (auth) opts.headers = Object.assign({}, opts.headers, { Authorization: "Bearer " + auth.token });
  let resp;
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), REQUEST_TIMEOUT_MS);
  opts.signal = timeout.signal;
  try {
    resp = await fetch(url, opts);
  } catch (_) {
    const err = new Error(
      timeout.signal.aborted
        ? "No answer from the chat server within " + REQUEST_TIMEOUT_MS / 1000 + " s"
        : "Network error: could not reach the chat server"
    );
    err.noAnswer = true;
    throw err;
  } finally {
    clearTimeout(timer);
  }
  const body = await resp.json().catch(() => null);
  if (!resp.ok) {
    const info = (body && body.error) || {};
    const err = new Error(info.message || "Request failed (HTTP " + resp.status + ")");
    err.status = resp.status;
    err.code = info.code || "";
    err.retryAfterMs = retryAfterMs(resp.headers.get("Retry-After"));
    throw err;
  }
  return body || {};
}

// retryAfterMs reads a Retry-After header, seconds or an HTTP date, as ms
// from now (0 for none, or one that cannot be read). Cross-origin (?api=)
// a browser shows it only if the server exposes it.
function retryAfterMs(value) {
  if (!value) return 0;
  const secs = Number(value);
  const ms = Number.isFinite(secs) ? secs * 1000 : Date.parse(value) - Date.now();
  return Number.isFinite(ms) && ms > 0 ? ms : 0;
}

// Whether a request that failed may have been stored, and may pass if
// tried again: no answer, 408, 429 or a 5xx (docs/protocol.md, "Client
// algorithm", step 3). Any other 4xx is final.
export function isRetryable(err) {
  return Boolean(err) && (err.noAnswer === true || err.status === 408 || err.status === 429 || err.status >= 500);
}

// 401 (no or a bad token) and 403 (a room the token does not allow) will
// not pass on a retry, whatever the request.
export function isRefusal(err) {
  return Boolean(err) && (err.status === 401 || err.status === 403);
}

// Whether the server's answer about the room itself (the history, the
// members) means that connecting again cannot help: any 4xx but 408 and
// 429, which say "later".
export function isPermanent(err) {
  return Boolean(err) && err.status >= 400 && err.status < 500 && err.status !== 408 && err.status !== 429;
}
