# What bench/run-all.sh and bench/cluster.sh share (sourced, POSIX sh, from
# the repository's root): $OUT (default /tmp/chatbench), chatapp and
# chatbench built into it, and $LIMITS_OFF, the `chatapp serve` flags that
# turn off every limit a benchmark would hit (rates, connections per user,
# concurrent requests), with warnings only in the log and pprof on.
OUT=${OUT:-/tmp/chatbench}
mkdir -p "$OUT"
go build -o "$OUT/chatapp" ./cmd/chatapp
go build -o "$OUT/chatbench" ./cmd/chatbench
LIMITS_OFF="--send-rate 0 --frame-rate 0 --max-connections-per-user 0 --max-concurrent-requests 0 --log-level warn --pprof"
