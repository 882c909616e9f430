// Who the page chats as: with a sign-in token, the token's user (the
// server takes the id from the token); without one, a random id kept in
// localStorage. And the random hex of the ids the page makes.

import { idProblem } from "./rules.js";
import { auth } from "./signin.js";
import { storageGet, storageSet } from "./storage.js";

export const userId = auth ? auth.sub : loadUserId();

// A stored id that the server would refuse (edited by hand, or kept from
// an older page) is replaced, as a missing one is.
function loadUserId() {
  let id = storageGet("chat.userId");
  if (!id || idProblem("user_id", id)) {
    id = "web-" + randomHex(8);
    storageSet("chat.userId", id);
  }
  return id;
}

export function randomHex(bytes) {
  const buf = new Uint8Array(bytes);
  crypto.getRandomValues(buf);
  return Array.from(buf, (b) => b.toString(16).padStart(2, "0")).join("");
}
