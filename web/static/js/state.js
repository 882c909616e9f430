// The one piece of state the modules share: the room being shown, null
// while on the join form. Every async callback checks that its session is
// still this one, so late answers for a room we already left are dropped.
// Only room.js sets it (join, leave), where its fields are listed.

export let session = null;

export function setSession(s) {
  session = s;
}
