#!/usr/bin/env bash
# The cluster benchmarks of BENCHMARKS.md ("Cluster mode"): two scenarios
# on three set-ups, each run on fresh state:
#   fanout    one room of 3,000 members (FANOUT_FLAGS)
#   sends     100 rooms, 3 senders and 3 more members in each (SENDS_FLAGS):
#             on 3 nodes, one of each per room on every node
# on
#   sqlite    one node on SQLite, `chatapp serve`'s default (as bench/run-all.sh)
#   postgres  one node on PostgreSQL, no broker
#   cluster   3 nodes on PostgreSQL and NATS, members and senders spread
#             over them
# PostgreSQL (and NATS) are made afresh for each run by scripts/cluster.sh,
# and chatbench reports their CPU (and NATS's messages, PostgreSQL's
# write transactions and WAL) per message next to the nodes'. Every limit
# is off, as in bench/run-all.sh. Results go to
# $OUT/cluster-SCENARIO-SETUP.json (OUT defaults to /tmp/chatbench), with
# the nodes' CPU profiles beside them.
#
# Usage: bench/cluster.sh [fanout|sends ...] [sqlite|postgres|cluster ...]
#   (both scenarios, all three set-ups by default). CHATBENCH_FLAGS are
#   added to every run, after the rest: CHATBENCH_FLAGS="--duration 3s"
#   for a short one. Ports: CLUSTER_PORT (18081, the nodes' first),
#   CLUSTER_NATS_PORT (14222), CLUSTER_NATS_MONITOR_PORT (18222),
#   CLUSTER_POSTGRES_PORT (15433).
set -euo pipefail
cd "$(dirname "$0")/.."

scenarios=()
setups=()
for arg in "$@"; do
  case $arg in
  fanout | sends) scenarios+=("$arg") ;;
  sqlite | postgres | cluster) setups+=("$arg") ;;
  *)
    echo "usage: bench/cluster.sh [fanout|sends ...] [sqlite|postgres|cluster ...]" >&2
    exit 2
    ;;
  esac
done
((${#scenarios[@]})) || scenarios=(fanout sends)
((${#setups[@]})) || setups=(sqlite postgres cluster)

. bench/env.sh
export CLUSTER_CHATAPP=$OUT/chatapp
export CLUSTER_PORT=${CLUSTER_PORT:-18081} CLUSTER_NATS_PORT=${CLUSTER_NATS_PORT:-14222}
export CLUSTER_NATS_MONITOR_PORT=${CLUSTER_NATS_MONITOR_PORT:-18222} CLUSTER_POSTGRES_PORT=${CLUSTER_POSTGRES_PORT:-15433}
read -ra fanout_flags <<<"${FANOUT_FLAGS:---members 3000}"
read -ra sends_flags <<<"${SENDS_FLAGS:---senders 300 --members 300}"
read -ra extra_flags <<<"${CHATBENCH_FLAGS:-}"
read -ra limits_off <<<"$LIMITS_OFF"

failed=()
for scenario in "${scenarios[@]}"; do
  flags_var=${scenario}_flags[@]
  for setup in "${setups[@]}"; do
    name=cluster-$scenario-$setup
    chatbench=("$OUT/chatbench" "$scenario" --quiet --out "$OUT/$name.json" --cpu-profile "$OUT/$name.cpu.pprof"
      "${!flags_var}" "${extra_flags[@]}")
    echo "bench/cluster.sh: $name" >&2
    case $setup in
    sqlite)
      "${chatbench[@]}" --serve-cmd "$SERVE"
      ;;
    postgres)
      CLUSTER_NODES=1 CLUSTER_BROKER=off scripts/cluster.sh "${limits_off[@]}" -- bash -c "$ON_CLUSTER" "${chatbench[@]}"
      ;;
    cluster)
      CLUSTER_NODES=3 scripts/cluster.sh "${limits_off[@]}" -- bash -c "$ON_CLUSTER" "${chatbench[@]}"
      ;;
    esac || failed+=("$name")
  done
done
if ((${#failed[@]})); then
  echo "bench/cluster.sh: failed: ${failed[*]} (their results, if any, say how far they got)" >&2
  exit 1
fi
