# What bench/run-all.sh, bench/cluster.sh, bench/centrifugo.sh and
# bench/versus.sh share (sourced, POSIX sh, from the repository's root):
# $OUT (default /tmp/chatbench), chatapp and chatbench built into it,
# $LIMITS_OFF, the `chatapp serve` flags that turn off every limit a
# benchmark would hit (rates, connections per user, concurrent requests),
# with warnings only in the log and pprof on, $SERVE, chatbench's
# --serve-cmd for a fresh server with them, and $ON_CLUSTER, what runs a
# chatbench inside scripts/cluster.sh on the cluster it started
# (`scripts/cluster.sh FLAGS -- bash -c "$ON_CLUSTER" CHATBENCH ARGS...`).
OUT=${OUT:-/tmp/chatbench}
mkdir -p "$OUT"
go build -o "$OUT/chatapp" ./cmd/chatapp
go build -o "$OUT/chatbench" ./cmd/chatbench
LIMITS_OFF="--send-rate 0 --frame-rate 0 --max-connections-per-user 0 --max-concurrent-requests 0 --log-level warn --pprof"
SERVE="$OUT/chatapp serve --addr 127.0.0.1:0 --data {data} $LIMITS_OFF"
# shellcheck disable=SC2016 # expanded by the bash -c inside scripts/cluster.sh
ON_CLUSTER='broker=()
if [[ -n $CLUSTER_NATS_PID ]]; then
  broker=(--broker-pid "$CLUSTER_NATS_PID" --broker-monitor "$CLUSTER_NATS_MONITOR")
fi
exec "$0" "$@" --url "$CLUSTER_URLS" --server-pid "$CLUSTER_NODE_PIDS" \
  --store-pid "$CLUSTER_POSTGRES_PID" --store-url "$CLUSTER_POSTGRES_URL" "${broker[@]}"'
