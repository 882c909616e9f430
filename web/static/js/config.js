// What the page's URL configures: the REST API and the WebSocket to talk
// to, the room to rejoin, the keepalive interval. Read once, at start.

import { keepaliveFrom } from "./keepalive.js";

// Same origin by default; ?api= and ?ws= point the page at another
// deployment (e.g. an API Gateway stage) without rebuilding it. room is
// the room to show on the join form (leave sets it to the room left).
export const config = readConfig();

function readConfig() {
  const params = new URLSearchParams(location.search);
  const wsScheme = location.protocol === "https:" ? "wss:" : "ws:";
  return {
    api: (params.get("api") || location.origin + "/chat").replace(/\/+$/, ""),
    ws: params.get("ws") || wsScheme + "//" + location.host + "/ws",
    room: params.get("room"),
    keepaliveMs: keepaliveFrom(params.get("keepalive")),
  };
}
