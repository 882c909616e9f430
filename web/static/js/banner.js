// The error banner at the top of the page: one message at a time, until
// dismissed or outdated. Its text, which may quote the server and the
// user's input, goes in by textContent only, never as markup.

import { el } from "./dom.js";

export function showError(message) {
  el.errorText.textContent = message;
  el.error.hidden = false;
}

export function hideError() {
  el.error.hidden = true;
  el.errorText.textContent = "";
}

// hideErrorIfShowing takes the banner away if it still says message (a
// problem solved since), and leaves any other.
export function hideErrorIfShowing(message) {
  if (!el.error.hidden && el.errorText.textContent === message) hideError();
}
