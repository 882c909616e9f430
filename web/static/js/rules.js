// The server's limits and character rules (validate.go), checked by the
// join form and the composer before anything is sent, and by the user id
// this page makes for itself.
//
// Each check returns what is wrong, in the server's words with the field's
// name on this page, or "" when the server would accept the value. The
// server still decides: a browser whose Unicode tables are newer than the
// server's can take a new letter for one the server does not know, and
// the page then stops with the server's answer (connection.js,
// probeThenReconnect).

const utf8 = new TextEncoder();

const MAX_ID_BYTES = 128; // room and user ids, UTF-8
const MAX_NAME_RUNES = 64; // display names, code points
const MAX_MESSAGE_BYTES = 16 * 1024; // message text, UTF-8
// Go's unicode.IsLetter is \p{L} and unicode.IsDigit is \p{Nd}.
const ID_CHAR = /^[\p{L}\p{Nd}\-_.:@+]$/u;
// Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and
// the ASCII space (no other space).
const NAME_CHAR = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;
// Go's unicode.IsSpace is the White_Space property; a text of only those
// and format characters (Cf: zero-width spaces) is blank.
const BLANK_TEXT = /^[\p{White_Space}\p{Cf}]*$/u;

export function byteLength(s) {
  return utf8.encode(s).length;
}

// A lone surrogate (half of a pasted emoji) is not UTF-8 the server reads.
function wellFormed(s) {
  return !/\p{Cs}/u.test(s);
}

// idProblem checks a room or user id: 1 to MAX_ID_BYTES bytes of letters,
// digits and -_.:@+. It names the characters that are not allowed.
export function idProblem(field, id) {
  if (id === "") return field + " is required";
  if (byteLength(id) > MAX_ID_BYTES) {
    return field + " is longer than " + MAX_ID_BYTES + " bytes (" + byteLength(id) + ")";
  }
  if (!wellFormed(id)) return field + " is not valid UTF-8";
  const bad = [];
  for (const ch of id) {
    if (!ID_CHAR.test(ch) && !bad.includes(ch)) bad.push(ch);
  }
  if (bad.length === 0) return "";
  const shown = bad.slice(0, 5).map((ch) => (ch === " " ? "spaces" : /\s/.test(ch) ? "blanks" : "“" + ch + "”"));
  return field + " may hold only letters, digits and -_.:@+ (not " + Array.from(new Set(shown)).join(", ") + ")";
}

// nameProblem checks a display name: at most MAX_NAME_RUNES printable
// characters (code points, as Go counts runes).
export function nameProblem(name) {
  if (!wellFormed(name)) return "Display name is not valid UTF-8";
  const runes = Array.from(name).length;
  if (runes > MAX_NAME_RUNES) return "Display name is longer than " + MAX_NAME_RUNES + " characters (" + runes + ")";
  for (const ch of name) {
    if (!NAME_CHAR.test(ch)) return "Display name holds a control character or a space other than the plain one";
  }
  return "";
}

// textProblem checks a message text the page is about to send (a blank
// one is never sent: the Send button stays disabled).
export function textProblem(text) {
  const n = byteLength(text);
  if (n > MAX_MESSAGE_BYTES) {
    return (
      "Message not sent: it is " + n.toLocaleString() + " bytes long, and the most is " +
      MAX_MESSAGE_BYTES.toLocaleString() + " bytes (16 KiB). Shorten it and send again."
    );
  }
  if (!wellFormed(text)) return "Message not sent: it holds a broken character (half of an emoji?). Remove it and send again.";
  return "";
}

export function isBlank(text) {
  return BLANK_TEXT.test(text);
}
