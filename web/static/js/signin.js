// Sign-in: a server with auth on (docs/auth.md) wants a token. Open the page
// with #token=TOKEN (or ?token=TOKEN); the page keeps it for this tab only
// and takes it out of the address bar. The token goes only to the page's own
// origin, unless the user confirms the other server that ?api= or ?ws=
// names (mayUseToken).

import { config } from "./config.js";
import { sessionGet, sessionSet } from "./storage.js";

// sessionStorage key of the token: this tab only, gone when it closes.
const TOKEN_KEY = "chat.token";
// sessionStorage key of the other origins the user let the token go to.
const TRUST_KEY = "chat.tokenOrigins";

// With a token the server knows who we are from it; null without one.
export const auth = readAuth();

// The token comes in the fragment (#token=..., preferred: a browser never
// sends the fragment to a server, so it stays out of access logs) or the
// query (?token=...). It is kept in sessionStorage (this tab only, never
// localStorage) so that a reload keeps it, and removed from the address
// bar at once so that copying the URL does not share it. An empty
// #token= forgets it.
function readAuth() {
  const url = new URL(location.href);
  const fragment = new URLSearchParams(url.hash.replace(/^#/, ""));
  let token;
  if (fragment.has("token") || url.searchParams.has("token")) {
    token = fragment.get("token") || url.searchParams.get("token") || "";
    fragment.delete("token");
    url.searchParams.delete("token");
    const rest = fragment.toString();
    url.hash = rest ? "#" + rest : "";
    history.replaceState(null, "", url);
    sessionSet(TOKEN_KEY, token);
  } else {
    token = sessionGet(TOKEN_KEY);
  }
  token = (token || "").trim();
  if (!token) return null;
  const claims = decodeClaims(token);
  const str = (v) => (typeof v === "string" ? v : "");
  return { token: token, sub: str(claims.sub), name: str(claims.name), exp: Number(claims.exp) || 0 };
}

// The token's payload, for display only: the server verifies the token
// and takes the identity from it, whatever this page thinks.
function decodeClaims(token) {
  try {
    const part = token.split(".")[1];
    const b64 = part.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((part.length + 3) % 4);
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return claims && typeof claims === "object" ? claims : {};
  } catch (_) {
    return {};
  }
}

// "Ada (ada)" for the token's identity.
export function identityText() {
  if (!auth) return "";
  const who = auth.name && auth.sub ? auth.name + " (" + auth.sub + ")" : auth.name || auth.sub || "unknown user";
  return "Signed in as " + who;
}

// ---- where the token may go ----

// The origins other than the page's own that ?api= and ?ws= point the
// page at. A WebSocket to the page's own host, on the scheme that matches
// the page's, is the page's own server.
export function foreignOrigins() {
  const out = [];
  const add = (raw, own) => {
    let origin;
    try {
      const u = new URL(raw, location.href);
      origin = u.protocol + "//" + u.host;
    } catch (_) {
      origin = String(raw);
    }
    if (origin !== own && !out.includes(origin)) out.push(origin);
  };
  add(config.api, location.origin);
  add(config.ws, (location.protocol === "https:" ? "wss:" : "ws:") + "//" + location.host);
  return out;
}

// Whether the token may be sent where the page connects. Anyone can send
// a link to this page with ?api= naming their own server, and a token
// sent there lets that server act as the user on the real one: so the
// token goes to another origin only once the user confirms it by name.
// The answer holds for this page; a yes is kept for the tab, so a reload
// does not ask again.
let tokenAllowed = null; // null: not decided yet
export function mayUseToken() {
  if (!auth) return false;
  if (tokenAllowed !== null) return tokenAllowed;
  const others = foreignOrigins();
  if (others.length === 0 || sessionGet(TRUST_KEY) === others.join(" ")) {
    tokenAllowed = true;
  } else {
    tokenAllowed = window.confirm(
      "This link points the chat at another server:\n\n" +
        others.join("\n") +
        "\n\nSend your sign-in token to it? Anyone who has the token can chat as you. " +
        "Cancel unless you trust that server."
    );
    if (tokenAllowed) sessionSet(TRUST_KEY, others.join(" "));
  }
  return tokenAllowed;
}
