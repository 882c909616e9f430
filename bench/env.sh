# What bench/run-all.sh, bench/cluster.sh, bench/centrifugo.sh and
# bench/versus.sh share (sourced, POSIX sh, from the repository's root):
# $OUT (default /tmp/chatbench), chatapp and chatbench built into it,
# $LIMITS_OFF, the `chatapp serve` flags that turn off every limit a
# benchmark would hit (rates, connections per user, concurrent requests),
# with warnings only in the log and pprof on, and $SERVE, chatbench's
# --serve-cmd for a fresh server with them.
OUT=${OUT:-/tmp/chatbench}
mkdir -p "$OUT"
go build -o "$OUT/chatapp" ./cmd/chatapp
go build -o "$OUT/chatbench" ./cmd/chatbench
LIMITS_OFF="--send-rate 0 --frame-rate 0 --max-connections-per-user 0 --max-concurrent-requests 0 --log-level warn --pprof"
SERVE="$OUT/chatapp serve --addr 127.0.0.1:0 --data {data} $LIMITS_OFF"
