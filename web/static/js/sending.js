// Sending what the composer holds (docs/protocol.md, "Client algorithm",
// step 3). What is typed stays in the composer until the server has the
// message, and stays on any failure, to be sent again: the page never
// loses a text. A message goes on the WebSocket when there is one and its
// frame fits, else by PUT; either way under an idempotency key of its own,
// which every attempt to store it carries (sending it again by PUT when
// the socket closed or no push came, a PUT tried again, the same text sent
// again after a failure), so that the server stores it once.

import { isRefusal, isRetryable, requestJSON } from "./api.js";
import { BACKOFF_CAP_MS, backoffDelay } from "./backoff.js";
import { hideErrorIfShowing, showError } from "./banner.js";
import { updateComposer } from "./composer.js";
import { config } from "./config.js";
import { el } from "./dom.js";
import { randomHex, userId } from "./identity.js";
import { addMessages } from "./messages.js";
import { refuse } from "./refusal.js";
import { byteLength, isBlank, textProblem } from "./rules.js";
import { auth } from "./signin.js";
import { session } from "./state.js";

// The largest frame the page sends on its WebSocket. A browser sends a
// message as one frame, and API Gateway closes a connection with 1009 on
// a frame over 32 KB (32,000 bytes is within it whether a KB is 1,000
// bytes or 1,024): a longer message (16 KiB of text JSON escapes six
// bytes a character is ~96 KB) is sent by PUT instead.
const MAX_FRAME_BYTES = 32000;
// How long a message sent on the WebSocket may wait for its push before
// it is sent again by PUT, under the same idempotency key.
const SEND_CONFIRM_MS = 10000;
// PUTs of one message in all: one that got no answer, 408, 429 or a 5xx
// may have been stored, and is tried again with the same key after the
// backoff (at least its Retry-After; one past BACKOFF_CAP_MS fails it).
const PUT_ATTEMPTS = 4;

// listenToComposer sends on Send and on Enter, and keeps the composer's
// look in step with its text.
export function listenToComposer() {
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
  const pending = { text: text, key: keyFor(s, text), socket: null, timer: 0 };
  s.sending = pending;
  updateComposer();

  const frame = JSON.stringify({ action: "sendmessage", text: text, name: s.name, idempotency_key: pending.key });
  if (s.socket && s.socket.readyState === WebSocket.OPEN && byteLength(frame) <= MAX_FRAME_BYTES) {
    // Done when its push comes back (confirmByPush); failed on an error
    // frame (frames.js); sent again by PUT if the socket closes first
    // or nothing comes back in time.
    pending.socket = s.socket;
    s.socket.send(frame);
    pending.timer = setTimeout(() => sendByPut(s, pending), SEND_CONFIRM_MS);
    return;
  }
  sendByPut(s, pending);
}

// keyFor is the idempotency key of a message: the key of the last one
// that failed for good when the text is that one's (sending it again is
// the same message, which may have been stored), else a new one.
function keyFor(s, text) {
  if (s.unsent && s.unsent.text === text) return s.unsent.key;
  return "web-" + randomHex(12);
}

// sendByPut stores the message by PUT, up to PUT_ATTEMPTS times. The
// stored message comes back in the reply (its push, if any, has the same
// id); a replay of an earlier attempt's answers it too.
async function sendByPut(s, pending) {
  clearTimeout(pending.timer);
  pending.socket = null;
  for (let attempt = 1; ; attempt++) {
    if (s !== session || s.sending !== pending) return; // left, or done
    try {
      const body = await putMessage(s, pending);
      if (s !== session) return;
      if (body.message) addMessages(s, [body.message]);
      sendDone(s, pending);
      return;
    } catch (err) {
      // A Retry-After past the cap (the user's send rate: minutes) fails
      // it now: the page does not hold a message that long.
      if (!isRetryable(err) || attempt >= PUT_ATTEMPTS || err.retryAfterMs > BACKOFF_CAP_MS) {
        sendFailed(s, pending, err);
        return;
      }
      const wait = Math.max(backoffDelay(attempt), err.retryAfterMs || 0);
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}

function putMessage(s, pending) {
  return requestJSON(config.api, {
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
}

// A message that waited for its push on a socket now gone may or may not
// have been stored: sending it again under its key stores it once.
export function resendPending(s, socket) {
  if (s.sending && s.sending.socket === socket) sendByPut(s, s.sending);
}

// The error frames' codes after which a message sent on the socket goes
// by PUT: rate_limited (the send rate, or the frame rate, whose frame was
// not routed), unavailable and internal (a fault: the message may or may
// not be stored, and its key settles which).
const RETRIED_CODES = ["rate_limited", "unavailable", "internal"];

// answeredByError is told of each error frame: error frames name no
// send, so one answers the message waiting for its push on this socket,
// if any. A code a retry may clear (RETRIED_CODES) sends it by PUT under
// its key, as its status is retried there; any other code is its
// refusal. It reports whether a message was waiting.
export function answeredByError(s, error) {
  const pending = s.sending;
  if (!pending || !pending.socket || pending.socket !== s.socket) return false;
  if (RETRIED_CODES.includes(error.code)) sendByPut(s, pending);
  else sendFailed(s, pending, new Error(error.message || "Server error"));
  return true;
}

// confirmByPush is told of each of the user's own messages as the list
// adds it (messages.js, onOwnMessage): the push of what the composer is
// sending means the server has it. Pushes carry no idempotency key (the
// original client's fields), so without one the same text from this user
// counts: another tab sending the same words marks this send done, and if
// this one's socket then drops before the server read it, it is not sent
// again by PUT. A push with a key is matched by it. It ends a PUT's
// retries too: the message is stored.
export function confirmByPush(s, msg) {
  const pending = s.sending;
  if (pending && (msg.idempotency_key ? msg.idempotency_key === pending.key : msg.message === pending.text)) {
    sendDone(s, pending);
  }
}

// The server has the message: the composer empties, unless the user
// has typed something else meanwhile.
function sendDone(s, pending) {
  if (s.sending !== pending) return;
  clearTimeout(pending.timer);
  s.sending = null;
  s.unsent = null;
  if (el.input.value.trim() === pending.text) clearInput();
  else updateComposer();
  // Why an earlier message was not sent is old news now.
  hideErrorIfShowing(lastSendError);
}

// The last "not sent" shown, so that a send that works can take it away.
let lastSendError = "";
function showSendError(message) {
  lastSendError = message;
  showError(message);
}

// A send that failed for good: the text stays in the composer, and its
// key with it (s.unsent), so that sending the same text again is still
// the same message, stored once if an attempt of it was.
function sendFailed(s, pending, err) {
  if (s !== session || s.sending !== pending) return;
  clearTimeout(pending.timer);
  s.sending = null;
  s.unsent = { text: pending.text, key: pending.key };
  updateComposer();
  if (isRefusal(err)) refuse(s, err);
  else showSendError("Message not sent: " + err.message);
}

function clearInput() {
  el.input.value = "";
  updateComposer();
  el.input.focus();
}
