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
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/env.sh
read -ra extra_flags <<<"${CHATBENCH_FLAGS:-}"
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
    out=versus-$name-chatapp-$round
    echo "bench/versus.sh: $out" >&2
    "$OUT/chatbench" "$scenario" --quiet --serve-cmd "$SERVE" --out "$OUT/$out.json" "${flags[@]}" "${extra_flags[@]}" ||
      failed+=("$out")
    out=versus-$name-centrifugo-$round
    echo "bench/versus.sh: $out" >&2
    bench/centrifugo.sh "$scenario" --quiet --out "$OUT/$out.json" "${flags[@]}" "${extra_flags[@]}" || failed+=("$out")
  done
done
if ((${#failed[@]})); then
  echo "bench/versus.sh: failed: ${failed[*]} (their results, if any, say how far they got)" >&2
  exit 1
fi
