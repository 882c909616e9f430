// The composer's look: Send is enabled only for a text worth sending while
// nothing is being sent and the room is not refused, and the input grows
// with its text. What sending does is sending.js's.

import { el } from "./dom.js";
import { isBlank } from "./rules.js";
import { session } from "./state.js";

export function updateComposer() {
  el.send.disabled = isBlank(el.input.value) || Boolean(session && (session.sending || session.refused));
  // Grow with the text up to the CSS max-height, then scroll.
  el.input.style.height = "auto";
  el.input.style.height = el.input.scrollHeight + "px";
}
