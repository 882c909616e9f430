// The room's history over REST: the latest page when a room opens, and
// older pages on "Load older messages".

import { apiURL, requestJSON } from "./api.js";
import { el } from "./dom.js";
import { addMessages, keepScrollFromBottom } from "./messages.js";
import { reportFor } from "./refusal.js";
import { session } from "./state.js";

const HISTORY_PAGE = 50;

// One page of the room's messages, oldest first, plus the cursor to the
// page before it (null when there is none) and, for an after= page,
// whether newer messages remain. The server bounds a page in bytes too, so
// a page may hold fewer messages than asked and still have more.
export async function fetchPage(s, params) {
  const body = await requestJSON(apiURL("", Object.assign({ room_id: s.room }, params)));
  return {
    messages: Array.isArray(body.messages) ? body.messages : [],
    cursor: body.next_cursor || null,
    hasMore: body.has_more === true,
  };
}

// loadLatest shows the latest page, the room's past when the page opens
// it: its newest id is the first page's, below which no catch-up reads
// (catchup.js).
export async function loadLatest(s) {
  const page = await fetchPage(s, { limit: HISTORY_PAGE });
  if (s !== session) return;
  s.historyLoaded = true;
  setLoadOlder(s, page.cursor);
  addMessages(s, page.messages);
  const newest = page.messages.length ? page.messages[page.messages.length - 1].id : "";
  if (typeof newest === "string" && newest > s.firstPageNewest) s.firstPageNewest = newest;
  if (s.firstPageNewest > s.lastId) s.lastId = s.firstPageNewest;
}

export async function loadOlder() {
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

export function setLoadOlder(s, cursor) {
  s.cursor = cursor;
  el.loadOlder.hidden = !cursor;
}
