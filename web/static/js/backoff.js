// The backoff of docs/protocol.md's client algorithm, for reconnecting
// (connection.js) and for sending again by PUT (sending.js): full jitter,
// a random wait in [0, min(cap, base·2ⁿ)] for attempt n (from 1), so that
// clients dropped together by a server restart do not all come back at
// the same instant (AWS's "Exponential Backoff And Jitter").

export const BACKOFF_BASE_MS = 500;
export const BACKOFF_CAP_MS = 10000;

// backoffCeiling is the longest wait before attempt n (from 1).
export function backoffCeiling(n) {
  return Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.max(1, n));
}

// backoffDelay is the wait before attempt n: anywhere from none to its
// ceiling.
export function backoffDelay(n) {
  return Math.random() * backoffCeiling(n);
}
