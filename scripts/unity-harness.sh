#!/usr/bin/env bash
# Builds and runs the Unity client's console harness (unity/Tests~/Harness)
# with Mono: unity/Runtime compiled into ChatApp.Client.dll as Unity compiles
# the package's assembly (warnings as errors), the harness against it.
# The Go tests (cmd/chatapp/unity_test.go) and `make unity-harness` both use it.
#
#   scripts/unity-harness.sh build DIR         compile into DIR
#   scripts/unity-harness.sh run DIR ARGS...   run DIR/harness.exe ARGS (see Program.cs)
#   scripts/unity-harness.sh                   make unity-harness: build into
#       bin/unity-harness (or $UNITY_HARNESS_OUT), start `chatapp serve` on a free loopback port with
#       a fresh database, run the harness against it (the server restarted
#       midway, as the harness asks), stop the server; exit 0 only if every
#       check passed
#
# Mono: scripts/mono.sh installs it.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

need_mono() {
  if ! command -v mcs >/dev/null || ! command -v mono >/dev/null; then
    echo "unity-harness: Mono's mcs and mono are missing: run scripts/mono.sh" >&2
    exit 1
  fi
}

build() {
  local dir=$1
  need_mono
  local runtime=("$root"/unity/Runtime/*.cs)
  # The Runtime assembly has noEngineReferences: it must build without Unity.
  if grep -l UnityEngine "${runtime[@]}" >&2; then
    echo "unity-harness: the files above mention UnityEngine: the Runtime assembly has noEngineReferences" >&2
    exit 1
  fi
  local flags=(-debug -warnaserror+ -warn:4 -r:System.Net.Http.dll)
  mcs "${flags[@]}" -target:library -out:"$dir/ChatApp.Client.dll" "${runtime[@]}"
  mcs "${flags[@]}" -target:exe -out:"$dir/harness.exe" -r:"$dir/ChatApp.Client.dll" \
    "$root"/unity/Tests~/Harness/*.cs
}

run() {
  local dir=$1
  shift
  need_mono
  cd "$dir"
  exec mono --debug "$dir/harness.exe" "$@"
}

case ${1:-} in
build)
  [[ $# == 2 ]] || { echo "usage: $0 build DIR" >&2; exit 2; }
  mkdir -p "$2"
  build "$(cd "$2" && pwd)"
  exit 0
  ;;
run)
  [[ $# -ge 2 ]] || { echo "usage: $0 run DIR ARGS..." >&2; exit 2; }
  dir=$(cd "$2" && pwd)
  shift 2
  run "$dir" "$@"
  ;;
"") ;;
*)
  echo "usage: $0 [build DIR | run DIR ARGS...]" >&2
  exit 2
  ;;
esac

# ---- make unity-harness: the harness against a real `chatapp serve` -------

out=${UNITY_HARNESS_OUT:-$root/bin/unity-harness}
mkdir -p "$out"
out=$(cd "$out" && pwd)
away=3 # messages sent while the harness's clients are away
build "$out"
go -C "$root" build -o "$out/chatapp" ./cmd/chatapp
work=$(mktemp -d)
data=$work/data

# serve ADDR LOG: starts `chatapp serve` on ADDR with the data, waits for its
# banner and prints its URL.
serve() {
  local addr=$1 log=$2 url=""
  "$out/chatapp" serve --addr "$addr" --data "$data" --log-level warn >"$log" 2>&1 &
  local pid=$!
  echo "$pid" >"$log.pid" # for stop, from whichever subshell
  for _ in $(seq 200); do # 20 s
    url=$(sed -n 's/^chatapp is serving on \(http:[^ ]*\)$/\1/p' "$log")
    [[ -n $url ]] && break
    kill -0 "$pid" 2>/dev/null || { echo "unity-harness: chatapp serve exited:" >&2; cat "$log" >&2; return 1; }
    sleep 0.1
  done
  [[ -n $url ]] || { echo "unity-harness: chatapp serve did not start in 20 s:" >&2; cat "$log" >&2; return 1; }
  echo "$url"
}

# stop LOG: stops the server of LOG as Ctrl-C does, waiting up to 10 s.
stop() {
  local pid
  pid=$(cat "$1.pid")
  rm -f "$1.pid"
  kill -INT "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  echo "unity-harness: chatapp serve (pid $pid) did not stop in 10 s: killed" >&2
  kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
  local f
  for f in "$work"/*.pid; do
    [[ -e $f ]] && stop "${f%.pid}"
  done
  rm -rf "$work"
}
trap cleanup EXIT

# restart ROOM: the server goes away (its WebSockets closed with 1001);
# meanwhile a server on the same data at another address stores the away
# messages, which the harness's clients can only get by catching up; then
# the server comes back on the same address, at least 0.5 s after it left,
# so that the first reconnect attempts fail.
restart() {
  local room=$1 side i
  stop "$work/serve.log"
  side=$(serve 127.0.0.1:0 "$work/side.log")
  for i in $(seq "$away"); do
    curl -fsS -o /dev/null -X PUT "$side/chat" -H 'Content-Type: application/json' \
      -d "{\"room_id\":\"$room\",\"user_id\":\"go-test\",\"name\":\"Go\",\"text\":\"away $i\"}"
  done
  stop "$work/side.log"
  sleep 0.5
  for i in $(seq 50); do # the address may linger a moment
    serve "${url#http://}" "$work/serve.log" >/dev/null && return 0
    sleep 0.1
  done
  return 1
}

url=$(serve 127.0.0.1:0 "$work/serve.log")
echo "unity-harness: chatapp serve on $url (data in $data)"
# The harness's stdout is read line by line for its requests; it ends
# when the harness does. A failed restart is the harness's failure: it
# then waits for a reconnect that never comes and says so.
set +e
mono --debug "$out/harness.exe" --away "$away" --no-drop "$url" | while IFS= read -r line; do
  printf '%s\n' "$line"
  case $line in
  "READY-FOR-RESTART room="*)
    restart "${line#READY-FOR-RESTART room=}" || echo "unity-harness: the restart failed" >&2
    ;;
  esac
done
status=${PIPESTATUS[0]}
set -e
if [[ $status != 0 ]]; then
  echo "unity-harness: FAILED (harness exit $status); server log:" >&2
  cat "$work/serve.log" >&2
  exit 1
fi
echo "unity-harness: passed"
