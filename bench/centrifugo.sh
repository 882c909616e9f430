#!/usr/bin/env bash
# Runs a chatbench scenario against Centrifugo v6.9.1 (issue 14: chatapp
# side by side with it): installs Centrifugo into .cache/bin if it is not
# there (a benchmark-only tool, never in go.mod), starts it on
# 127.0.0.1:CENTRIFUGO_PORT (18000) with the memory engine, the JSON
# protocol and anonymous connect, subscribe and publish in namespace
# "chat", runs chatbench --protocol centrifugo against it, and stops it.
# Usage: bench/centrifugo.sh SCENARIO [chatbench flags...]
#   e.g. bench/centrifugo.sh fanout --members 100 --duration 2s
set -euo pipefail
cd "$(dirname "$0")/.."
if (($# < 1)); then
  echo "usage: bench/centrifugo.sh SCENARIO [chatbench flags...]" >&2
  exit 2
fi
. bench/env.sh

version=v6.9.1
bin=.cache/bin/centrifugo
if [[ ! -x $bin || "$(cat "$bin.version" 2>/dev/null)" != "$version" ]]; then
  echo "bench/centrifugo.sh: installing Centrifugo $version into .cache/bin" >&2
  GOBIN="$PWD/.cache/bin" go install "github.com/centrifugal/centrifugo/v6@$version"
  echo "$version" >"$bin.version"
fi

port=${CENTRIFUGO_PORT:-18000}
url=http://127.0.0.1:$port
if curl -s -o /dev/null "$url"; then
  echo "bench/centrifugo.sh: 127.0.0.1:$port is in use (CENTRIFUGO_PORT)" >&2
  exit 1
fi
config=$OUT/centrifugo.json
cat >"$config" <<JSON
{
  "http_server": {"address": "127.0.0.1", "port": $port},
  "log": {"level": "error"},
  "engine": {"type": "memory"},
  "health": {"enabled": true},
  "usage_stats": {"disabled": true},
  "client": {"allow_anonymous_connect_without_token": true},
  "channel": {
    "namespaces": [{
      "name": "chat",
      "allow_subscribe_for_anonymous": true, "allow_subscribe_for_client": true,
      "allow_publish_for_anonymous": true, "allow_publish_for_client": true
    }]
  }
}
JSON
"$bin" checkconfig -c "$config" >&2
"$bin" -c "$config" >"$OUT/centrifugo.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -sf -o /dev/null "$url/health" && break
  kill -0 "$pid" 2>/dev/null || { cat "$OUT/centrifugo.log" >&2; exit 1; }
  sleep 0.1
done
curl -sf -o /dev/null "$url/health" || { echo "centrifugo.sh: Centrifugo did not come up on $url" >&2; cat "$OUT/centrifugo.log" >&2; exit 1; }
scenario=$1
shift
"$OUT/chatbench" "$scenario" --protocol centrifugo --url "$url" --server-pid "$pid" --out "$OUT/centrifugo-$scenario.json" "$@"
