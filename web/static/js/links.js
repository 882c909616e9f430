// Web addresses in a message become links, built as elements with
// textContent (never markup: user text reaches the DOM only as text). Only
// http and https: "javascript:", "data:" and look-alikes stay text. A
// candidate starts at a word's start with the scheme (any case) and runs
// to a space or a character that cannot be in one; punctuation that ends a
// sentence is not part of it.

const LINK_CANDIDATE = /\bhttps?:\/\/[^\s<>"]+/giu;
const LINK_TRAILING = ".,:;!?'\"*_~";
const LINK_CLOSERS = new Map([
  [")", "("],
  ["]", "["],
  ["}", "{"],
]);
const LINK_OPENERS = new Map(Array.from(LINK_CLOSERS, ([closer, opener]) => [opener, closer]));
const FORMAT_CHAR = /^\p{Cf}$/u;

// linkify is text as a fragment of text nodes and links.
export function linkify(text) {
  const out = document.createDocumentFragment();
  let done = 0;
  for (const match of text.matchAll(LINK_CANDIDATE)) {
    const raw = trimLinkEnd(match[0]);
    const href = linkHref(raw);
    if (!href) continue;
    out.append(text.slice(done, match.index));
    const a = document.createElement("a");
    a.href = href;
    a.textContent = raw;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    out.append(a);
    done = match.index + raw.length;
  }
  out.append(text.slice(done));
  return out;
}

// trimLinkEnd drops from a candidate's end sentence punctuation,
// invisible format characters (Unicode Cf: zero-width spaces, bidi
// marks, embeddings, overrides and isolates, BOM: none may hide in a
// link's end or reorder what follows it), and a closing bracket that
// closes none opened in the link ("(see …/wiki/Go_(lang))"). The brackets
// are counted once: linear in the link's length, however many of them
// end it (16 KiB of ")" took seconds when each was counted anew).
function trimLinkEnd(raw) {
  const unclosed = new Map(); // closer -> its count minus its opener's, in raw[0, end)
  for (const closer of LINK_CLOSERS.keys()) unclosed.set(closer, 0);
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i];
    const closer = LINK_CLOSERS.has(ch) ? ch : LINK_OPENERS.get(ch);
    if (closer) unclosed.set(closer, unclosed.get(closer) + (ch === closer ? 1 : -1));
  }
  let end = raw.length;
  while (end > 0) {
    const ch = raw[end - 1];
    // A character past U+FFFF (Cf has some: tags) is two code units.
    const size = end > 1 && /[\uDC00-\uDFFF]/.test(ch) ? 2 : 1;
    if (LINK_TRAILING.includes(ch) || FORMAT_CHAR.test(raw.slice(end - size, end))) {
      end -= size;
    } else if (unclosed.get(ch) > 0) {
      unclosed.set(ch, unclosed.get(ch) - 1);
      end--;
    } else {
      break;
    }
  }
  return raw.slice(0, end);
}

// linkHref is the address a candidate links to, or "" when it is not an
// http or https URL with a host.
function linkHref(raw) {
  let url;
  try {
    url = new URL(raw);
  } catch (_) {
    return "";
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || !url.hostname) return "";
  return url.href;
}
