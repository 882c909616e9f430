#!/usr/bin/env bash
# chatapp side by side with Centrifugo v6.9.1 in one sitting (issue 14):
# each scenario runs 3 rounds, each round against a fresh `chatapp serve`
# (limits off, as bench/run-all.sh) and then a fresh Centrifugo
# (bench/centrifugo.sh), so that both see the same machine state. Results
# go to $OUT/versus-SCENARIO-{chatapp,centrifugo}-N.json (OUT defaults to
# /tmp/chatbench); compare the medians of the rounds.
# Usage: bench/versus.sh SCENARIO... (default: fanout latency connections)
#   CHATBENCH_FLAGS are added to every run: CHATBENCH_FLAGS="--duration 3s"
#   for a short one; ROUNDS (3).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/env.sh
read -ra extra_flags <<<"${CHATBENCH_FLAGS:-}"
failed=()
for scenario in ${*:-fanout latency connections}; do
  for round in $(seq "${ROUNDS:-3}"); do
    name=versus-$scenario-chatapp-$round
    echo "bench/versus.sh: $name" >&2
    "$OUT/chatbench" "$scenario" --quiet --serve-cmd "$SERVE" --out "$OUT/$name.json" "${extra_flags[@]}" ||
      failed+=("$name")
    name=versus-$scenario-centrifugo-$round
    echo "bench/versus.sh: $name" >&2
    bench/centrifugo.sh "$scenario" --quiet --out "$OUT/$name.json" "${extra_flags[@]}" || failed+=("$name")
  done
done
if ((${#failed[@]})); then
  echo "bench/versus.sh: failed: ${failed[*]} (their results, if any, say how far they got)" >&2
  exit 1
fi
