// Chat page: joins a room, shows its history and members, sends messages,
// and stays live over a WebSocket that reconnects by itself. This entry
// wires the ES modules of js/, one concern each (each one's first comment
// says what it owns):
//
//   room.js        joining and leaving a room: the session (state.js)
//   joinform.js    the join form, by the server's rules (rules.js)
//   connection.js  the WebSocket: backoff.js, keepalive.js, the handshake probe
//   frames.js      what a frame from the server means
//   catchup.js     what was missed while disconnected, with an overlap
//   history.js     the latest page of the history, and older ones
//   messages.js    the message list; links.js, the links in a message
//   members.js     the member list; status.js, the connection's status line
//   sending.js     sending: idempotency keys, the PUT fallback; composer.js
//   refusal.js     when the page stops trying; banner.js, the error banner
//   signin.js      the sign-in token and where it may go (mayUseToken)
//   identity.js    the user id; api.js, the REST requests
//   config.js      the URL's settings; storage.js; dom.js, the elements
//
// Security rule for every module: user-supplied text (messages, names,
// rooms, ids) only ever reaches the DOM through textContent, never as
// markup.

import { hideError } from "./js/banner.js";
import { reconnectNow } from "./js/connection.js";
import { el } from "./js/dom.js";
import { loadOlder } from "./js/history.js";
import { listenToJoinForm, startAtJoinForm } from "./js/joinform.js";
import { toggleMembers } from "./js/members.js";
import { followScrolling, onOwnMessage } from "./js/messages.js";
import { join, leave } from "./js/room.js";
import { confirmByPush, listenToComposer } from "./js/sending.js";
import { auth, identityText } from "./js/signin.js";
import { session } from "./js/state.js";

// A send on the WebSocket is done when its push comes back: the list
// hands each of the user's own messages to sending.js.
onOwnMessage(confirmByPush);
listenToJoinForm(join);
listenToComposer();
followScrolling();

el.loadOlder.addEventListener("click", loadOlder);
el.leave.addEventListener("click", leave);
el.errorDismiss.addEventListener("click", hideError);
el.membersToggle.addEventListener("click", toggleMembers);

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

startAtJoinForm(join);
