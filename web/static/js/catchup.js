// Catch-up on each new socket (docs/protocol.md, "Client algorithm", step
// 1): the latest page the first time, then after a drop what the room got
// meanwhile, read from a little before the newest message delivered; and
// lastId, that newest message, where the next catch-up resumes.
//
// The page needs no hold of the pushes that come while history is read:
// the list puts each message at its id's place and shows an id once.

import { showError } from "./banner.js";
import { fetchPage, loadLatest } from "./history.js";
import { addMessages, newestShown } from "./messages.js";
import { session } from "./state.js";

// A catch-up starts this long before lastId's time: on AWS two sends can
// be committed, and pushed, out of id order (two Lambda instances, their
// clocks' skew and the time between minting an id and its commit), and a
// drop between the newer's push and the older's would lose the older for
// good. The list drops what it shows already.
export const CATCH_UP_OVERLAP_MS = 5000;
// Messages asked for a catch-up page: the server's most. It ends a page
// early on its byte bound, and says has_more.
export const CATCH_UP_PAGE = 1000;
// Pages one catch-up reads at most (100,000 messages): past it the page
// says so, and the rest of the gap is left in the history.
export const CATCH_UP_MAX_PAGES = 100;

// The smallest id: after= it reads a room from its beginning (a room that
// was empty when the page opened it).
const ZERO_ID = "0".repeat(26);
// A ULID is 26 characters of Crockford's base 32; its first 10 are its
// time, in ms since the epoch.
const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const TIME_CHARS = 10;

// rewind(id, ms) is the smallest id of the millisecond ms before id's
// time (none before the epoch's); an id that is not a ULID is given back
// as it is.
export function rewind(id, ms) {
  if (typeof id !== "string" || id.length !== 26) return id;
  let time = 0;
  for (const c of id.slice(0, TIME_CHARS)) {
    const digit = CROCKFORD.indexOf(c);
    if (digit < 0) return id;
    time = time * 32 + digit;
  }
  time = Math.max(0, time - ms);
  let out = "";
  for (let i = 0; i < TIME_CHARS; i++) {
    out = CROCKFORD[time % 32] + out;
    time = Math.floor(time / 32);
  }
  return out + "0".repeat(26 - TIME_CHARS);
}

// resumeAfter is where a catch-up reads from: the overlap before lastId,
// never before the first page's newest id (that page is the room's past,
// shown or not, so it counts as seen), and the room's beginning when the
// page has had nothing at all.
export function resumeAfter(s) {
  const floor = s.firstPageNewest;
  const base = s.lastId > floor ? s.lastId : floor;
  if (!base) return ZERO_ID;
  const back = rewind(base, CATCH_UP_OVERLAP_MS);
  return back > floor ? back : floor;
}

// catchUp reads, on s's new socket, what the page has not shown, and
// reports whether the socket is still s's when it is done: then the page
// is live, and pushes move lastId (pushed). A socket that closed meanwhile
// failed the attempt, and lastId stays where it was.
export async function catchUp(s, socket) {
  if (!s.historyLoaded) await loadLatest(s);
  else await readAfter(s, resumeAfter(s));
  if (s !== session || s.socket !== socket) return false;
  // Every message up to the last page read is shown, and every one
  // since was pushed on this socket, which opened before.
  const newest = newestShown(s);
  if (newest > s.lastId) s.lastId = newest;
  s.live = true;
  return true;
}

// readAfter shows the pages after the id after, for as long as the
// server says it has more, up to CATCH_UP_MAX_PAGES.
async function readAfter(s, after) {
  for (let pages = 1; ; pages++) {
    const page = await fetchPage(s, { after: after, limit: CATCH_UP_PAGE });
    if (s !== session) return;
    addMessages(s, page.messages);
    if (!page.hasMore || page.messages.length === 0) return;
    // A page that does not move past where it began (a broken server
    // answering has_more without advancing) ends the catch-up, which
    // would otherwise ask again at once, forever.
    const last = page.messages[page.messages.length - 1].id;
    if (typeof last !== "string" || last <= after) return;
    if (pages >= CATCH_UP_MAX_PAGES) {
      showError("More was missed while disconnected than the page reads at once: reload the page to see the latest messages in order.");
      return;
    }
    after = last;
  }
}

// pushed is told of each message pushed on s's socket. Only once the
// socket is caught up does a push move lastId: before, a message older
// than the push may still be unread, and a catch-up after a drop must
// not resume past it.
export function pushed(s, id) {
  if (s.live && typeof id === "string" && id > s.lastId) s.lastId = id;
}
