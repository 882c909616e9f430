// The connection's status line in the header, and the member list's note
// that follows it: while the socket is down, the list is who was there.

import { el } from "./dom.js";
import { session } from "./state.js";

export function setStatus(state, text) {
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
