// Catch-up after a (re)connect: what the room got while the page had no
// socket, read from the history after the newest message shown.

import { fetchPage, loadLatest } from "./history.js";
import { addMessages } from "./messages.js";
import { session } from "./state.js";

const CATCH_UP_PAGE = 100;

// Fetches what was missed while disconnected. The starting id is taken
// now, before pushes on the new socket can move lastId past the gap.
export async function catchUp(s) {
  if (!s.lastId) return loadLatest(s);
  let after = s.lastId;
  for (;;) {
    const page = await fetchPage(s, { after: after, limit: CATCH_UP_PAGE });
    if (s !== session) return;
    addMessages(s, page.messages);
    if (!page.hasMore || page.messages.length === 0) return;
    // A page that does not move past where it began (a broken server
    // answering has_more without advancing) ends the catch-up, which
    // would otherwise ask again at once, forever.
    const last = page.messages[page.messages.length - 1].id;
    if (typeof last !== "string" || last <= after) return;
    after = last;
  }
}
