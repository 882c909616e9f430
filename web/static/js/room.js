// Joining and leaving a room: the session (state.js) each join makes and
// leave ends, with its timers, and the switch between the join form and
// the chat. The room's name reaches the DOM only through textContent.

import { hideError } from "./banner.js";
import { updateComposer } from "./composer.js";
import { config } from "./config.js";
import { connect } from "./connection.js";
import { el } from "./dom.js";
import { setLoadOlder } from "./history.js";
import { showJoinForm } from "./joinform.js";
import { stopKeepalive } from "./keepalive.js";
import { clearMembers, setMembersOpen } from "./members.js";
import { startMessageList } from "./messages.js";
import { declineForeign } from "./refusal.js";
import { auth, mayUseToken } from "./signin.js";
import { session, setSession } from "./state.js";
import { storageSet } from "./storage.js";

export function join(room, name) {
  if (!(auth && auth.name)) storageSet("chat.name", name);
  // Put the room in the URL (keeping ?api=/&ws=) so a reload rejoins it.
  const url = new URL(location.href);
  url.searchParams.set("room", room);
  history.replaceState(null, "", url);

  const s = {
    room: room,
    name: name,
    ids: [], // message ids shown, sorted ascending (ULIDs sort by time)
    nodes: new Map(), // id -> .message element
    lastId: "", // newest id delivered: where a catch-up resumes (catchup.js)
    firstPageNewest: "", // the first page's newest id: no catch-up reads below it
    live: false, // the socket is caught up: its pushes move lastId
    cursor: null, // next_cursor for "Load older"; null when at the start
    historyLoaded: false,
    sending: null, // the message being sent: { text, key, socket, timer }
    unsent: null, // the last message that failed for good: { text, key }
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
  setSession(s);

  el.roomName.textContent = room;
  startMessageList(s);
  clearMembers();
  setLoadOlder(s, null);
  hideError();
  el.joinView.hidden = true;
  el.chatView.hidden = false;
  el.input.value = "";
  el.input.disabled = false;
  updateComposer();
  el.input.focus();
  if (auth && !mayUseToken()) {
    declineForeign(s);
    return;
  }
  connect(s);
}

export function leave() {
  const s = session;
  setSession(null);
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
