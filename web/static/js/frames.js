// What a frame from the server means: a keepalive's answer, an error
// answering this connection's own frame, a join or leave in the room, or a
// message pushed to it.

import { showError } from "./banner.js";
import { pushed } from "./catchup.js";
import { scheduleMembersRefresh } from "./members.js";
import { addMessages } from "./messages.js";
import { answeredByError } from "./sending.js";

export function handleFrame(s, data) {
  let frame;
  try {
    frame = JSON.parse(data);
  } catch (_) {
    return; // not ours to show
  }
  if (!frame || typeof frame !== "object") return;
  if (frame.type === "pong") {
    // The keepalive's answer; onmessage has cleared its timer.
  } else if (frame.error) {
    // Error frames answer this connection's own frames: while a message
    // waits for its push, the error answers it (sending.js).
    if (!answeredByError(s, frame.error)) showError(frame.error.message || "Server error");
  } else if (frame.type === "join" || frame.type === "leave") {
    // Deltas can be missed across reconnects; the server's list is the truth.
    scheduleMembersRefresh(s);
  } else if (frame.id && !frame.type && (!frame.room_id || frame.room_id === s.room)) {
    addMessages(s, [frame]);
    pushed(s, frame.id);
  }
}
