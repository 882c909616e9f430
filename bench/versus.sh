#!/usr/bin/env bash
# chatapp side by side with Centrifugo v6.9.1 in one sitting (issue 14):
# each case runs ROUNDS rounds, each round against a fresh `chatapp serve`
# (limits off, as bench/run-all.sh) and then a fresh Centrifugo
# (bench/centrifugo.sh), so that both see the same machine state. Results
# go to $OUT/versus-CASE-{chatapp,centrifugo}-N.json (OUT defaults to
# /tmp/chatbench); bench/versus-table.sh prints their medians side by side.
# Usage: bench/versus.sh [CASE...]
#   A case is a scenario, or a scenario and its own chatbench flags after a
#   colon, comma-separated: fanout:--senders,4 is named fanout-senders-4.
#   The default is the table of BENCHMARKS.md ("Against Centrifugo").
#   CHATBENCH_FLAGS are added to every run: CHATBENCH_FLAGS="--duration 3s"
#   for a short one; ROUNDS (3).
#   NODES=3 runs each case on three nodes of each: chatapp's on PostgreSQL
#   and NATS (scripts/cluster.sh, as bench/cluster.sh), Centrifugo's on
#   NATS (CENTRIFUGO_NODES); the results are named versus-3nodes-CASE-...
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/env.sh
read -ra extra_flags <<<"${CHATBENCH_FLAGS:-}"
read -ra limits_off <<<"$LIMITS_OFF"
nodes=${NODES:-1}
prefix=versus
((nodes == 1)) || prefix=versus-${nodes}nodes
export CLUSTER_CHATAPP=$OUT/chatapp CENTRIFUGO_NODES=$nodes
export CLUSTER_PORT=${CLUSTER_PORT:-18081} CLUSTER_NATS_PORT=${CLUSTER_NATS_PORT:-14222}
export CLUSTER_NATS_MONITOR_PORT=${CLUSTER_NATS_MONITOR_PORT:-18222} CLUSTER_POSTGRES_PORT=${CLUSTER_POSTGRES_PORT:-15433}

# chatapp ARGS...: chatbench ARGS against a fresh chatapp of $nodes nodes.
chatapp() {
  if ((nodes == 1)); then
    "$OUT/chatbench" "$@" --serve-cmd "$SERVE"
  else
    CLUSTER_NODES=$nodes scripts/cluster.sh "${limits_off[@]}" -- bash -c "$ON_CLUSTER" "$OUT/chatbench" "$@"
  fi
}
default_cases="fanout:--senders,4 fanout:--senders,16 latency:--rate,20 latency:--rate,50 connections"
failed=()
for c in ${*:-$default_cases}; do
  scenario=${c%%:*}
  flags=()
  name=$scenario
  if [[ $c == *:* ]]; then
    IFS=, read -ra flags <<<"${c#*:}"
    name=$scenario$(printf -- '-%s' "${flags[@]#--}")
  fi
  for round in $(seq "${ROUNDS:-3}"); do
    out=$prefix-$name-chatapp-$round
    echo "bench/versus.sh: $out" >&2
    chatapp "$scenario" --quiet --out "$OUT/$out.json" "${flags[@]}" "${extra_flags[@]}" || failed+=("$out")
    out=$prefix-$name-centrifugo-$round
    echo "bench/versus.sh: $out" >&2
    bench/centrifugo.sh "$scenario" --quiet --out "$OUT/$out.json" "${flags[@]}" "${extra_flags[@]}" || failed+=("$out")
  done
done
if ((${#failed[@]})); then
  echo "bench/versus.sh: failed: ${failed[*]} (their results, if any, say how far they got)" >&2
  exit 1
fi
