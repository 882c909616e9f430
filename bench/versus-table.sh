#!/usr/bin/env bash
# Prints the results of bench/versus.sh side by side, as the markdown table
# of BENCHMARKS.md: for each case, the median over its rounds of each
# figure, for chatapp and Centrifugo, and their ratio (chatapp's over
# Centrifugo's; for latencies, CPU and memory, lower is better).
# Usage: bench/versus-table.sh [OUT] (default $OUT or /tmp/chatbench)
#   PREFIX=versus-3nodes for bench/versus.sh's NODES=3 results.
set -euo pipefail
dir=${1:-${OUT:-/tmp/chatbench}}
prefix=${PREFIX:-versus}

# median FILES... JQ: the median of what JQ gives for each file.
median() {
  local expr=${*: -1} files=("${@:1:$#-1}")
  jq -r "$expr" "${files[@]}" | sort -g | awk '{v[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'
}

# row CASE LABEL JQ FORMAT: one figure of a case for both servers.
row() {
  local case=$1 label=$2 expr=$3 fmt=$4 a b
  shopt -s nullglob
  local as=("$dir/$prefix-$case"-chatapp-*.json) bs=("$dir/$prefix-$case"-centrifugo-*.json)
  ((${#as[@]} && ${#bs[@]})) || return 0
  a=$(median "${as[@]}" "$expr")
  b=$(median "${bs[@]}" "$expr")
  awk -v c="$case" -v l="$label" -v a="$a" -v b="$b" -v f="$fmt" -v n="${#as[@]}" 'BEGIN {
    r = (b + 0 != 0) ? sprintf("%.2f×", a / b) : "–"
    printf "| %s | %s | " f " | " f " | %s | %d |\n", c, l, a, b, r, n }'
}

echo "| case | figure (median of rounds) | chatapp | Centrifugo | ratio | rounds |"
echo "|---|---|---|---|---|---|"
shopt -s nullglob
for f in "$dir/$prefix"-*-chatapp-1.json; do
  case=${f#"$dir/$prefix"-}
  case=${case%-chatapp-1.json}
  case $case in
  fanout*)
    row "$case" "deliveries/s" '.deliveries.per_sec' "%.0f"
    row "$case" "lost" '.deliveries.lost' "%d"
    row "$case" "send→receive p50 ms" '.deliveries.latency.p50_ms' "%.1f"
    row "$case" "server CPU s per 1,000 messages" '.server.cpu_seconds_per_1000_messages' "%.2f"
    ;;
  latency*)
    row "$case" "p50 ms" '.deliveries.latency.p50_ms' "%.1f"
    row "$case" "p99 ms" '.deliveries.latency.p99_ms' "%.1f"
    row "$case" "lost" '.deliveries.lost' "%d"
    row "$case" "server CPU µs per delivery" '.server.cpu_seconds * 1e6 / .deliveries.received' "%.1f"
    ;;
  connections*)
    row "$case" "connects/s (last step)" '.connections[-1].connect_per_sec' "%.0f"
    row "$case" "server CPU µs per connect" '.connections[-1].server_cpu_per_conn_us' "%.0f"
    row "$case" "load generator CPU µs per connect" '.connections[-1].client_cpu_per_conn_us' "%.0f"
    row "$case" "RSS per idle connection, KB" '.connections[-1].rss_per_conn_bytes / 1000' "%.1f"
    ;;
  esac
done
