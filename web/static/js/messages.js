// The message list. It reads as chats do: it sits at the bottom, near the
// composer, and follows new messages while the reader is at the end; a
// reader who scrolled up stays where they are and gets a "new messages"
// button. Messages of one sender in a row are one run (the name once), and
// each day starts with a separator.
//
// User text (names, messages) reaches the DOM only through textContent
// (and links.js's elements), never as markup.

import { el } from "./dom.js";
import { userId } from "./identity.js";
import { linkify } from "./links.js";
import { session } from "./state.js";

// How close to the bottom (px) still counts as "reading the latest".
const NEAR_BOTTOM_PX = 80;
// Consecutive messages of one sender less than this apart are one run:
// the name is shown once, on its first.
const GROUP_GAP_MS = 5 * 60 * 1000;

// Whether the view was at the end when last looked at (a scroll): a
// resize (the composer growing, a rotated phone) keeps it there.
let pinned = true;

// What is done with each of the user's own messages as it is added: a
// send is done when its push comes back (sending.js, confirmByPush).
// app.js sets it, so that the list needs to know nothing of sending.
let ownMessageAdded = () => {};

export function onOwnMessage(hook) {
  ownMessageAdded = hook;
}

// startMessageList empties the list for the new session s, at its end, and
// names its days again at each midnight.
export function startMessageList(s) {
  el.messages.replaceChildren();
  showJump(s, 0);
  pinned = true;
  scheduleRelabel(s);
}

// followScrolling keeps the view at the end while the reader is there, and
// the jump button in step with what they have seen.
export function followScrolling() {
  el.scroller.addEventListener("scroll", () => {
    pinned = isNearBottom();
    if (pinned && session && session.unseen) showJump(session, 0);
  });
  el.jump.addEventListener("click", scrollToBottom);
  // The view shrinks as the composer grows (or the window does): one that
  // was at the end stays there.
  if (typeof ResizeObserver === "function") {
    new ResizeObserver(() => {
      if (pinned) el.scroller.scrollTop = el.scroller.scrollHeight;
    }).observe(el.scroller);
  }
}

function isNearBottom() {
  const sc = el.scroller;
  return sc.scrollHeight - sc.scrollTop - sc.clientHeight < NEAR_BOTTOM_PX;
}

function scrollToBottom() {
  el.scroller.scrollTop = el.scroller.scrollHeight;
  pinned = true;
  if (session) showJump(session, 0);
}

// Prepending older messages must not move what the reader is looking at.
export function keepScrollFromBottom(change) {
  const sc = el.scroller;
  const fromBottom = sc.scrollHeight - sc.scrollTop;
  change();
  sc.scrollTop = sc.scrollHeight - fromBottom;
}

// The jump button counts the messages that came below the view.
function showJump(s, unseen) {
  s.unseen = unseen;
  el.jump.hidden = unseen === 0;
  el.jumpText.textContent = unseen === 1 ? "1 new message" : unseen + " new messages";
}

// newestShown is the id of the list's last message ("" while empty).
export function newestShown(s) {
  return s.ids.length ? s.ids[s.ids.length - 1] : "";
}

// Adds messages from any source (history, catch-up, push, PUT reply),
// once each, in id order: an id the list shows is dropped.
export function addMessages(s, list) {
  const follow = isNearBottom();
  const newestBefore = newestShown(s);
  let ownAdded = false;
  let unseen = 0;
  for (const msg of list) {
    if (!msg || typeof msg.id !== "string" || s.nodes.has(msg.id)) continue;
    insertMessage(s, msg);
    if (msg.user_id === userId) {
      ownAdded = true;
      ownMessageAdded(s, msg);
    } else if (newestBefore && msg.id > newestBefore) {
      unseen++;
    }
  }
  // Follow the conversation only if the reader was already at the end,
  // or just sent something themselves.
  if (follow || ownAdded) scrollToBottom();
  else if (unseen > 0) showJump(s, s.unseen + unseen);
}

function insertMessage(s, msg) {
  const node = renderMessage(msg);
  const index = sortedIndex(s.ids, msg.id);
  const next = index < s.ids.length ? s.nodes.get(s.ids[index]) : null;
  el.messages.insertBefore(node, next);
  s.ids.splice(index, 0, msg.id);
  s.nodes.set(msg.id, node);
  // Its run and day depend on the message before it, and the next
  // one's on it.
  decorate(s, index);
  decorate(s, index + 1);
}

// Binary search: where id goes in the ascending array ids.
function sortedIndex(ids, id) {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ids[mid] < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// A message is a row: a day separator (shown on a day's first message)
// and the bubble, whose name and time are hidden from sight (not from
// screen readers) when it continues its sender's run.
function renderMessage(msg) {
  const item = document.createElement("li");
  item.className = "message";
  if (msg.user_id === userId) item.classList.add("own");
  item.dataset.id = msg.id;
  // Who the run belongs to: a new name starts a new run too.
  item.dataset.sender = String(msg.user_id) + "\n" + String(msg.name || "");
  const when = new Date(Number(msg.timestamp));
  const dated = !Number.isNaN(when.getTime()) && Number(msg.timestamp) > 0;
  item.dataset.ts = dated ? String(when.getTime()) : "";

  const day = document.createElement("div");
  day.className = "day";
  day.setAttribute("role", "separator");
  day.hidden = true;

  const bubble = document.createElement("div");
  bubble.className = "bubble";
  const meta = document.createElement("div");
  meta.className = "meta";
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = msg.name || msg.user_id || "anonymous";
  const time = document.createElement("time");
  time.className = "time";
  if (dated) {
    time.dateTime = when.toISOString();
    time.textContent = formatTime(when);
    bubble.title = when.toLocaleString();
  }
  meta.append(name, " ", time);

  const text = document.createElement("div");
  text.className = "text";
  text.append(linkify(msg.message == null ? "" : String(msg.message)));

  bubble.append(meta, text);
  item.append(day, bubble);
  return item;
}

// decorate sets the day separator and the run of the message at index
// from the one before it.
function decorate(s, index) {
  if (index >= s.ids.length) return;
  const node = s.nodes.get(s.ids[index]);
  const prev = index > 0 ? s.nodes.get(s.ids[index - 1]) : null;
  const ts = node.dataset.ts ? Number(node.dataset.ts) : NaN;
  const prevTs = prev && prev.dataset.ts ? Number(prev.dataset.ts) : NaN;
  const day = node.querySelector(".day");
  const newDay = !Number.isNaN(ts) && (Number.isNaN(prevTs) || dayKey(new Date(ts)) !== dayKey(new Date(prevTs)));
  day.hidden = !newDay;
  day.textContent = newDay ? dayLabel(new Date(ts), new Date()) : "";
  const continued =
    prev !== null &&
    !newDay &&
    prev.dataset.sender === node.dataset.sender &&
    ts - prevTs >= 0 &&
    ts - prevTs < GROUP_GAP_MS;
  node.classList.toggle("continued", continued);
}

function dayKey(date) {
  return date.getFullYear() * 10000 + date.getMonth() * 100 + date.getDate();
}

// "Today", "Yesterday", or the date in the reader's language (the year
// only when it is not this one).
function dayLabel(date, now) {
  const yesterday = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1);
  if (dayKey(date) === dayKey(now)) return "Today";
  if (dayKey(date) === dayKey(yesterday)) return "Yesterday";
  const opts = { weekday: "long", day: "numeric", month: "long" };
  if (date.getFullYear() !== now.getFullYear()) opts.year = "numeric";
  return date.toLocaleDateString(undefined, opts);
}

// At midnight "Today" becomes "Yesterday": the separators are named again.
function scheduleRelabel(s) {
  const now = new Date();
  const midnight = new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1);
  s.relabelTimer = setTimeout(() => {
    if (s !== session) return;
    for (let i = 0; i < s.ids.length; i++) decorate(s, i);
    scheduleRelabel(s);
  }, midnight - now + 1000);
}

function formatTime(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return pad(date.getHours()) + ":" + pad(date.getMinutes());
}
