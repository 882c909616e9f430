// The page's elements (index.html), looked up once by id. A module runs
// after the document is parsed, so every one of them is there.

const $ = (id) => document.getElementById(id);

export const el = {
  error: $("error"),
  errorText: $("error-text"),
  errorDismiss: $("error-dismiss"),
  joinView: $("join-view"),
  joinForm: $("join-form"),
  room: $("room"),
  roomError: $("room-error"),
  name: $("name"),
  nameError: $("name-error"),
  identity: $("identity"),
  chatView: $("chat-view"),
  roomName: $("room-name"),
  status: $("status"),
  whoami: $("whoami"),
  membersToggle: $("members-toggle"),
  membersToggleCount: $("members-toggle-count"),
  leave: $("leave"),
  scroller: $("scroller"),
  jump: $("jump"),
  jumpText: $("jump-text"),
  loadOlder: $("load-older"),
  messages: $("messages"),
  composer: $("composer"),
  input: $("input"),
  send: $("send"),
  sidebar: $("sidebar"),
  membersState: $("members-state"),
  members: $("members"),
  memberCount: $("member-count"),
};
