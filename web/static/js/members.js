// The member list: who is in the room, one entry a person, read from the
// REST API when the socket opens and again after joins and leaves; on
// narrow screens a panel opened from the header. Names reach the DOM
// only through textContent, never as markup.

import { apiURL, requestJSON } from "./api.js";
import { el } from "./dom.js";
import { userId } from "./identity.js";
import { reportFor } from "./refusal.js";
import { session } from "./state.js";

const MEMBERS_DEBOUNCE_MS = 200;

export function scheduleMembersRefresh(s) {
  clearTimeout(s.membersTimer);
  s.membersTimer = setTimeout(() => refreshMembers(s), MEMBERS_DEBOUNCE_MS);
}

export async function refreshMembers(s) {
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

// clearMembers empties the list, for a room just joined.
export function clearMembers() {
  el.members.replaceChildren();
  setMemberCount(0);
}

function setMemberCount(n) {
  el.memberCount.textContent = String(n);
  el.membersToggleCount.textContent = String(n);
}

// On narrow screens the member list is a panel opened from the header.
export function setMembersOpen(open) {
  el.chatView.classList.toggle("members-open", open);
  el.membersToggle.setAttribute("aria-expanded", String(open));
}

export function toggleMembers() {
  setMembersOpen(!el.chatView.classList.contains("members-open"));
}
