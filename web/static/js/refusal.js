// When the page stops trying: the server refused the room or the token, or
// the user would not send the token to another server. No more reconnects,
// the composer off, and the banner says what to do. Also how a background
// request's failure is reported (reportFor), since a refusal is one.

import { isRefusal } from "./api.js";
import { showError } from "./banner.js";
import { updateComposer } from "./composer.js";
import { el } from "./dom.js";
import { auth, foreignOrigins } from "./signin.js";
import { session } from "./state.js";
import { setStatus } from "./status.js";

// Reports a failed background request unless the room was left meanwhile.
export function reportFor(s) {
  return (err) => {
    if (s !== session) return;
    if (isRefusal(err)) refuse(s, err);
    else showError(err.message);
  };
}

// The server refused us: stop reconnecting, drop the socket and say what
// to do, instead of retrying what cannot succeed. err is a request's error
// (its HTTP status and message).
export function refuse(s, err) {
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
  } else {
    setStatus("refused", "not connected");
    showError("Cannot join this room. The server says: " + (err.message || "HTTP " + err.status) + ". Leave, and pick another room.");
  }
  el.input.disabled = true;
  updateComposer();
}

// The user would not send the token to the other server: the page does
// not connect at all. Connecting without the token would chat under
// another identity than the one signed in, or be refused by a server
// that wants a token, and every request would still tell that server
// who is reading which room.
export function declineForeign(s) {
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

// handshakesRefused is what the page says after n handshakes in a row
// were refused while the REST API answers for the room; it goes on trying.
export function handshakesRefused(n) {
  return (
    "The server refused to connect " + n + " times, though it answers for this room; still trying. " +
    "If it goes on: check your display name (leave, and join with another), or close other tabs of this chat."
  );
}
