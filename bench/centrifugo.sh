#!/usr/bin/env bash
# Runs a chatbench scenario against Centrifugo v6.9.1 (issue 14: chatapp
# side by side with it): installs Centrifugo into .cache/bin if it is not
# there (a benchmark-only tool, never in go.mod), starts it on
# 127.0.0.1:CENTRIFUGO_PORT (18000) with the memory engine, the JSON
# protocol and anonymous connect, subscribe and publish in namespace
# "chat", runs chatbench --protocol centrifugo against it, and stops it.
#
# CENTRIFUGO_NODES=3 starts three nodes instead, on CENTRIFUGO_PORT and the
# ports after it, brokered by one nats-server on CENTRIFUGO_NATS_PORT
# (14333; the one scripts/nats.sh installs), as bench/cluster.sh runs
# chatapp's nodes; chatbench spreads members and senders over them and
# counts nats-server's CPU and traffic. Centrifugo serves its pprof
# handlers at /debug/pprof (its "debug" option), so that chatbench's
# --cpu-profile profiles it as it profiles chatapp.
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

nodes=${CENTRIFUGO_NODES:-1}
port=${CENTRIFUGO_PORT:-18000}
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null || true' EXIT

. scripts/ports.sh

# wait_up URL PID LOG: waits until URL answers, while PID lives.
wait_up() {
  for _ in $(seq 100); do
    curl -sf -o /dev/null "$1" && return 0
    kill -0 "$2" 2>/dev/null || { cat "$3" >&2; exit 1; }
    sleep 0.1
  done
  echo "bench/centrifugo.sh: nothing answers on $1" >&2
  cat "$3" >&2
  exit 1
}

broker='"engine": {"type": "memory"}'
chatbench_broker=()
if ((nodes > 1)); then
  nats_port=${CENTRIFUGO_NATS_PORT:-14333}
  refuse_taken "$nats_port" CENTRIFUGO_NATS_PORT
  refuse_taken "$((nats_port + 1))" "CENTRIFUGO_NATS_PORT+1, its monitor"
  nats_bin=$PWD/.cache/bin/nats-server
  [[ -x $nats_bin ]] || nats_bin=$(command -v nats-server) || {
    echo "bench/centrifugo.sh: no nats-server: scripts/nats.sh installs one" >&2
    exit 1
  }
  "$nats_bin" -a 127.0.0.1 -p "$nats_port" -m "$((nats_port + 1))" >"$OUT/centrifugo-nats.log" 2>&1 &
  pids+=($!)
  wait_up "http://127.0.0.1:$((nats_port + 1))/healthz" "${pids[-1]}" "$OUT/centrifugo-nats.log"
  broker='"broker": {"enabled": true, "type": "nats", "nats": {"url": "nats://127.0.0.1:'$nats_port'"}}'
  chatbench_broker=(--broker-pid "${pids[-1]}" --broker-monitor "http://127.0.0.1:$((nats_port + 1))")
fi

urls=()
node_pids=()
for i in $(seq 0 $((nodes - 1))); do
  p=$((port + i))
  refuse_taken "$p" "CENTRIFUGO_PORT+$i"
  config=$OUT/centrifugo-$i.json
  cat >"$config" <<JSON
{
  "http_server": {"address": "127.0.0.1", "port": $p},
  "log": {"level": "error"},
  $broker,
  "health": {"enabled": true},
  "debug": {"enabled": true},
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
  "$bin" -c "$config" >"$OUT/centrifugo-$i.log" 2>&1 &
  pids+=($!)
  node_pids+=($!)
  urls+=("http://127.0.0.1:$p")
  wait_up "http://127.0.0.1:$p/health" "$!" "$OUT/centrifugo-$i.log"
done

scenario=$1
shift
join() { local IFS=,; echo "$*"; }
"$OUT/chatbench" "$scenario" --protocol centrifugo --url "$(join "${urls[@]}")" --server-pid "$(join "${node_pids[@]}")" \
  "${chatbench_broker[@]}" --out "$OUT/centrifugo-$scenario.json" "$@"
