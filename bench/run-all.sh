#!/bin/sh
# Builds chatapp and chatbench and runs every scenario of BENCHMARKS.md
# against a fresh server each (limits off, data in a temporary directory),
# writing results and server CPU profiles to $OUT (default /tmp/chatbench).
# Usage: bench/run-all.sh [scenario...]
set -eu
cd "$(dirname "$0")/.."
. bench/env.sh
for s in ${*:-fanout latency sends connections}; do
	"$OUT/chatbench" "$s" --quiet --serve-cmd "$SERVE" --out "$OUT/$s.json" --cpu-profile "$OUT/$s.cpu.pprof" \
		--heap-profile "$OUT/$s.heap.pprof" || true
done
