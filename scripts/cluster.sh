#!/usr/bin/env bash
# `make cluster`: a local cluster of chatapp nodes (docs/cluster.md), all on
# 127.0.0.1: a throwaway PostgreSQL cluster under .cache/ (initdb'd fresh,
# run as the postgres user when run as root, as internal/pglocal does in
# the tests), one nats-server, and 3 `chatapp serve` nodes on ports
# 8081-8083 sharing both. It prints the nodes' URLs, shows their logs
# prefixed with their names, and on Ctrl-C (or when a node dies) stops
# everything and removes the database. It refuses a port already in use:
# a node that cannot bind exits, while what holds the port would answer.
#
# Installs what is missing first (scripts/postgres.sh, scripts/nats.sh).
# The environment may change the defaults:
#   CLUSTER_NODES=3  CLUSTER_PORT=8081 (the first node's; the others follow)
#   CLUSTER_NATS_PORT=4222  CLUSTER_POSTGRES_PORT=5433
#   CLUSTER_BROKER=off           no nats-server: nodes on PostgreSQL alone
#   CLUSTER_NATS_MONITOR_PORT=   nats-server's monitoring port (-m), if set
#   CLUSTER_CHATAPP=             a chatapp binary to run instead of building one
# and any other `chatapp serve` flags may follow: scripts/cluster.sh --auth ...
#
# After `--`, a command to run once the nodes are up, instead of waiting
# for Ctrl-C: the cluster stops when it ends, and the script exits with its
# status, or 1 if a node or nats-server stopped while it ran. It finds
# the cluster in its environment: CLUSTER_URLS and CLUSTER_NODE_PIDS
# (comma-separated, in the same order),
# CLUSTER_POSTGRES_URL, CLUSTER_POSTGRES_PID (the postmaster),
# CLUSTER_NATS_PID and CLUSTER_NATS_MONITOR (http://127.0.0.1:PORT; both
# empty without them). bench/cluster.sh measures a fresh cluster so:
#   scripts/cluster.sh --log-level warn -- sh -c 'echo "$CLUSTER_URLS"'
set -euo pipefail
cd "$(dirname "$0")/.."

nodes=${CLUSTER_NODES:-3}
first_port=${CLUSTER_PORT:-8081}
nats_port=${CLUSTER_NATS_PORT:-4222}
pg_port=${CLUSTER_POSTGRES_PORT:-5433}
broker_on=${CLUSTER_BROKER:-on}
nats_monitor_port=${CLUSTER_NATS_MONITOR_PORT:-}

serve_args=() # up to `--`
while (($#)) && [[ $1 != -- ]]; do
  serve_args+=("$1")
  shift
done
run=() # after it
if (($#)); then
  shift
  run=("$@")
fi

say() { echo "cluster.sh: $*" >&2; }

scripts/postgres.sh
scripts/nats.sh
pg_bin=$(compgen -G '/usr/lib/postgresql/*/bin' | sort -V | tail -n1 || true)
if [[ ! -x $pg_bin/initdb ]]; then
  say "no PostgreSQL server: install Debian's postgresql package (scripts/postgres.sh says how)"
  exit 1
fi
nats_bin=$PWD/.cache/bin/nats-server
[[ -x $nats_bin ]] || nats_bin=$(command -v nats-server) || {
  say "no nats-server: scripts/nats.sh says how to get one"
  exit 1
}

mkdir -p .cache
dir=$(mktemp -d "$PWD/.cache/cluster.XXXXXX")
# Built first: the ports are checked below just before they are bound.
chatapp=${CLUSTER_CHATAPP:-}
if [[ -z $chatapp ]]; then
  chatapp=$dir/chatapp
  go build -o "$chatapp" ./cmd/chatapp
fi
# initdb and pg_ctl refuse root: as root they run as the postgres user.
as_owner=()
if [[ $(id -u) == 0 ]]; then
  chown postgres: "$dir"
  as_owner=(runuser -u postgres --)
fi

node_pids=()
nats_pid=""
stop() {
  trap - EXIT INT TERM
  set +e # stop all of it, whatever fails
  say "stopping"
  # The nodes first: each runs its connections' $disconnect, and publishes
  # the leaves, before the broker goes.
  for pid in "${node_pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${node_pids[@]}"; do wait "$pid" 2>/dev/null; done
  if [[ -n $nats_pid ]]; then
    kill -TERM "$nats_pid" 2>/dev/null
    wait "$nats_pid" 2>/dev/null
  fi
  if [[ -f $dir/postgres/postmaster.pid ]]; then
    "${as_owner[@]}" "$pg_bin/pg_ctl" -D "$dir/postgres" stop -m fast -w >/dev/null 2>&1
  fi
  rm -rf "$dir"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

. scripts/ports.sh

# healthy PORT: what listens on PORT answers /healthz with 200.
healthy() {
  local status
  connect "$1" || return 1
  printf 'GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
  read -r -t 5 _ status _ <&3 || status=""
  exec 3>&-
  [[ $status == 200 ]]
}

# gone: the names of the nodes and nats-server started here that have
# stopped (bash reaps its children, so kill -0 fails once one exits).
gone() {
  local i
  for i in "${!node_pids[@]}"; do
    kill -0 "${node_pids[$i]}" 2>/dev/null || printf ' node%d' $((i + 1))
  done
  if [[ -n $nats_pid ]] && ! kill -0 "$nats_pid" 2>/dev/null; then
    printf ' nats-server'
  fi
}

refuse_taken "$pg_port" CLUSTER_POSTGRES_PORT
if [[ $broker_on != off ]]; then
  refuse_taken "$nats_port" CLUSTER_NATS_PORT
  [[ -z $nats_monitor_port ]] || refuse_taken "$nats_monitor_port" CLUSTER_NATS_MONITOR_PORT
fi
for i in $(seq "$nodes"); do
  refuse_taken $((first_port + i - 1)) "node$i"
done

"${as_owner[@]}" "$pg_bin/initdb" -D "$dir/postgres" -U postgres --auth=trust -E UTF8 \
  --locale=C.UTF-8 --no-instructions >"$dir/initdb.log" 2>&1 || {
  cat "$dir/initdb.log" >&2
  say "initdb failed"
  exit 1
}
"${as_owner[@]}" "$pg_bin/pg_ctl" -D "$dir/postgres" -l "$dir/postgres.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $dir" start >/dev/null || {
  cat "$dir/postgres.log" >&2
  say "PostgreSQL did not start on 127.0.0.1:$pg_port"
  exit 1
}
broker=""
broker_flags=()
nats_monitor=""
if [[ $broker_on != off ]]; then
  monitor_flags=()
  if [[ -n $nats_monitor_port ]]; then
    monitor_flags=(-m "$nats_monitor_port")
    nats_monitor="http://127.0.0.1:$nats_monitor_port"
  fi
  "$nats_bin" -a 127.0.0.1 -p "$nats_port" "${monitor_flags[@]}" >"$dir/nats.log" 2>&1 &
  nats_pid=$!
  broker="nats://127.0.0.1:$nats_port"
  broker_flags=(--broker "$broker")
fi

postgres_url="postgres://postgres@127.0.0.1:$pg_port/postgres?sslmode=disable"
urls=()
for i in $(seq "$nodes"); do
  port=$((first_port + i - 1))
  "$chatapp" serve --addr "127.0.0.1:$port" --store postgres --postgres-url "$postgres_url" \
    "${broker_flags[@]}" "${serve_args[@]}" > >(sed -u "s/^/node$i | /" >&2) 2>&1 &
  node_pids+=($!)
  urls+=("http://127.0.0.1:$port")
done

for i in "${!urls[@]}"; do
  port=$((first_port + i))
  for try in $(seq 300); do # 30 s
    # Alive too: if another server took the port after the check above,
    # it answers while our node, unable to bind, exits.
    healthy "$port" && kill -0 "${node_pids[$i]}" 2>/dev/null && break
    if ! kill -0 "${node_pids[$i]}" 2>/dev/null || ((try == 300)); then
      say "node$((i + 1)) did not come up on ${urls[$i]}"
      if [[ -n $nats_pid ]]; then
        say "the broker's log:"
        cat "$dir/nats.log" >&2
      fi
      exit 1
    fi
    sleep 0.1
  done
done
stopped=$(gone)
if [[ -n $stopped ]]; then
  say "stopped before the cluster was up:$stopped"
  [[ -z $nats_pid ]] || cat "$dir/nats.log" >&2
  exit 1
fi

echo "chatapp cluster: ${#urls[@]} nodes on PostgreSQL 127.0.0.1:$pg_port and NATS ${broker:-(none)}"
for i in "${!urls[@]}"; do
  echo "  node$((i + 1))  ${urls[$i]}/"
done

if ((${#run[@]})); then
  status=0
  (
    IFS=,
    export CLUSTER_URLS="${urls[*]}" CLUSTER_NODE_PIDS="${node_pids[*]}"
    export CLUSTER_POSTGRES_URL="$postgres_url" CLUSTER_POSTGRES_PID="$(head -n1 "$dir/postgres/postmaster.pid")"
    export CLUSTER_NATS_PID="$nats_pid" CLUSTER_NATS_MONITOR="$nats_monitor"
    unset IFS
    exec "${run[@]}"
  ) || status=$?
  stopped=$(gone)
  if [[ -n $stopped ]]; then
    say "stopped while the command ran:$stopped"
    ((status)) || status=1
  fi
  exit "$status"
fi
echo "Press Ctrl-C to stop."

# Until Ctrl-C, or a node's end, which ends the cluster.
wait -n "${node_pids[@]}" || true
say "a node stopped"
exit 1
