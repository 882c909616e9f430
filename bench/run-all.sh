#!/bin/sh
# Builds chatapp and chatbench and runs every scenario of BENCHMARKS-draft.md
# against a fresh server each (limits off, data in a temporary directory),
# writing results and server CPU profiles to $OUT (default /tmp/chatbench).
# Usage: bench/run-all.sh [scenario...]
set -eu
OUT=${OUT:-/tmp/chatbench}
mkdir -p "$OUT"
go build -o "$OUT/chatapp" ./cmd/chatapp
go build -o "$OUT/chatbench" ./cmd/chatbench
SERVE="$OUT/chatapp serve --addr 127.0.0.1:0 --data {data} --send-rate 0 --frame-rate 0 --max-connections-per-user 0 --max-concurrent-requests 0 --log-level warn --pprof"
for s in ${*:-fanout latency sends connections}; do
	"$OUT/chatbench" "$s" --quiet --serve-cmd "$SERVE" --out "$OUT/$s.json" --cpu-profile "$OUT/$s.cpu.pprof" \
		--heap-profile "$OUT/$s.heap.pprof" || true
done
