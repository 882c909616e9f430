// The join form: a room and a display name, checked by the server's rules
// (rules.js) before joining; what is wrong shows under the field, and the
// form does not join. A field's error may quote what was typed: it goes in
// by textContent only, never as markup.

import { hideError } from "./banner.js";
import { config } from "./config.js";
import { el } from "./dom.js";
import { idProblem, nameProblem } from "./rules.js";
import { auth } from "./signin.js";
import { storageGet } from "./storage.js";

// listenToJoinForm calls join(room, name) on a submit the server would
// take, and says again what is wrong with a field as it is fixed.
export function listenToJoinForm(join) {
  el.joinForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const roomOK = checkRoomField();
    const nameOK = checkNameField();
    if (!roomOK || !nameOK) {
      (roomOK ? el.name : el.room).focus();
      return;
    }
    hideError();
    join(el.room.value.trim(), el.name.value.trim());
  });
  // A field that said what is wrong says so again as it is fixed.
  el.room.addEventListener("input", () => {
    if (el.room.hasAttribute("aria-invalid")) checkRoomField();
  });
  el.name.addEventListener("input", () => {
    if (el.name.hasAttribute("aria-invalid")) checkNameField();
  });
}

// startAtJoinForm opens the form, as the page starts. A reload of a room
// URL rejoins directly when we already know the name (the form fills it
// in: a token's, or the stored one). A room or name in the URL or storage
// that the server would refuse stays in the form instead, saying what is
// wrong.
export function startAtJoinForm(join) {
  showJoinForm();
  if (config.room && config.room.trim() && el.name.value) {
    const roomOK = checkRoomField();
    if (checkNameField() && roomOK) join(el.room.value.trim(), el.name.value.trim());
  }
}

function checkRoomField() {
  return setFieldError(el.room, el.roomError, idProblem("Room", el.room.value.trim()));
}

function checkNameField() {
  const name = el.name.value.trim();
  // A token's name is the server's to use (it makes it valid): no check.
  const problem = name === "" ? "Display name is required" : el.name.readOnly ? "" : nameProblem(name);
  return setFieldError(el.name, el.nameError, problem);
}

// setFieldError shows problem under the input ("" clears it) and reports
// whether the field is fine.
function setFieldError(input, box, problem) {
  box.textContent = problem;
  box.hidden = !problem;
  if (problem) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
  return !problem;
}

// showJoinForm shows the form in place of the chat, filled in with the
// room to join (the URL's, or the one just left) and the name.
export function showJoinForm() {
  el.chatView.hidden = true;
  el.joinView.hidden = false;
  el.room.value = config.room || "lobby";
  el.name.value = storageGet("chat.name") || "";
  if (auth && auth.name) {
    // The server uses the token's name: show it, not an input for another.
    el.name.value = auth.name;
    el.name.readOnly = true;
  }
  setFieldError(el.room, el.roomError, "");
  setFieldError(el.name, el.nameError, "");
  (el.name.value ? el.room : el.name).focus();
}
