#!/usr/bin/env bash
# Two builds of MyStore against each other, on fresh clusters in turn (A B A B ...), so the
# comparison holds while the machine's speed drifts.
#
#   bench/ab.sh OLD_BIN_DIR NEW_BIN_DIR
#   PAIRS=5 CLIENTS=64 ROUTINGS="leader any" bench/ab.sh /tmp/old/.build/release .build/release
#
# Each BIN_DIR holds release builds of mystore-server and mystore-bench (the load always comes
# from NEW_BIN_DIR's mystore-bench, so only the server differs). Every round starts a fresh
# 3-node cluster (SHARDS shards, ports 17601-17603), writes every key once, then measures
# `mystore-bench put` for DURATION seconds per routing (`leader`: each key sent to its shard
# leader's node; `any`: connections spread over the nodes, which forward). Prints every run,
# then per routing the median throughput, p99 and server CPU per write of A and B, and the
# median of the per-pair ratios B/A.
#
# Environment: PAIRS=3, CLIENTS=64, DURATION=8, SHARDS=16, ROUTINGS="leader any", KEEP=0.
set -euo pipefail
cd "$(dirname "$0")/.."

[[ $# -eq 2 ]] || { echo "usage: bench/ab.sh OLD_BIN_DIR NEW_BIN_DIR" >&2; exit 2; }
A=$(cd "$1" && pwd)
B=$(cd "$2" && pwd)
for bin in "$A" "$B"; do
  [[ -x $bin/mystore-server && -x $bin/mystore-bench ]] || { echo "ab: $bin lacks mystore-server or mystore-bench" >&2; exit 2; }
done
PAIRS=${PAIRS:-3}
CLIENTS=${CLIENTS:-64}
DURATION=${DURATION:-8}
SHARDS=${SHARDS:-16}
ROUTINGS=${ROUTINGS:-"leader any"}
KEEP=${KEEP:-0}
KEYS=100000
ENDPOINTS=127.0.0.1:17601,127.0.0.1:17602,127.0.0.1:17603
WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/mystore-ab.XXXXXX")
RESULTS=$WORK/results.tsv
: > "$RESULTS"
PIDS=()

log() { echo "ab: $*" >&2; }

stop_cluster() {
  local pid
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2> /dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2> /dev/null || true; done
  PIDS=()
}
cleanup() {
  stop_cluster
  [[ $KEEP == 1 ]] && log "work directory kept: $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_cluster() {
  local bin=$1 dir=$WORK/cluster port
  rm -rf "$dir"
  mkdir -p "$dir"
  printf '127.0.0.1:17601\n127.0.0.1:17602\n127.0.0.1:17603\n' > "$dir/membership"
  # An empty config file: both builds run with their defaults (an older build would refuse
  # settings this checkout's config/mystore.conf added since).
  : > "$dir/empty.conf"
  for port in 17601 17602 17603; do
    "$bin/mystore-server" --self "127.0.0.1:$port" --membership "$dir/membership" --config "$dir/empty.conf" --data-dir "$dir/n$port" \
      --set shard_count="$SHARDS" --set peer_port_offset=300 --set http_port_offset=150 > "$dir/n$port.log" 2>&1 < /dev/null &
    PIDS+=($!)
  done
  local deadline=$((SECONDS + 60))
  until "$B/mystore-bench" put --endpoints "$ENDPOINTS" -c 3 -n 300 --warmup 0 --quiet > /dev/null 2>&1; do
    (( SECONDS < deadline )) || { log "cluster not ready after 60 s (logs in $dir)"; KEEP=1; exit 1; }
    sleep 0.5
  done
  sleep 6  # the leader balancer settles
  timeout 120 "$B/mystore-bench" put --endpoints "$ENDPOINTS" --routing leader -c 64 -p 1 --keys "$KEYS" \
    --key-size 32 --value-size 256 --preload -n 1 --warmup 0 --quiet > /dev/null 2>&1 || log "preload failed"
}

measure() {
  local label=$1 pair=$2 routing=$3 out
  out=$(timeout 120 "$B/mystore-bench" put --endpoints "$ENDPOINTS" --routing "$routing" -c "$CLIENTS" -p 1 \
        --keys "$KEYS" --key-size 32 --value-size 256 -d "$DURATION" --warmup 2 \
        --server-pids "$(IFS=,; echo "${PIDS[*]}")" --json --quiet 2> "$WORK/bench.err" | tail -1) || true
  [[ $out == \{* ]] || { log "$label $routing failed: $(tail -c 300 "$WORK/bench.err")"; return; }
  python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print("\t".join(map(str, [sys.argv[2], sys.argv[3], sys.argv[4], round(j["ops_per_sec"]), j["latency_ms"]["p99"], round(j["server_cpu_us_per_op"], 1), j["errors"]])))' \
    "$out" "$label" "$pair" "$routing" | tee -a "$RESULTS" >&2
}

log "A=$A B=$B: $PAIRS pairs, $CLIENTS clients, $SHARDS shards, ${DURATION} s per run, routings: $ROUTINGS"
for pair in $(seq 1 "$PAIRS"); do
  for side in A B; do
    bin=$A
    [[ $side == B ]] && bin=$B
    start_cluster "$bin"
    for routing in $ROUTINGS; do measure "$side" "$pair" "$routing"; done
    stop_cluster
  done
done

python3 - "$RESULTS" <<'EOF'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
by = {}
for side, pair, routing, ops, p99, cpu, errors in rows:
    by[(side, int(pair), routing)] = (float(ops), float(p99), float(cpu), int(errors))
for routing in sorted({r[2] for r in rows}):
    pairs = sorted({p for (s, p, r) in by if r == routing})
    med = lambda side, i: statistics.median(by[(side, p, routing)][i] for p in pairs if (side, p, routing) in by)
    ratios = [by[("B", p, routing)][0] / by[("A", p, routing)][0] for p in pairs if ("A", p, routing) in by and ("B", p, routing) in by]
    cpu_ratios = [by[("B", p, routing)][2] / by[("A", p, routing)][2] for p in pairs if ("A", p, routing) in by and ("B", p, routing) in by]
    print(f"{routing}: A {med('A', 0):,.0f}/s p99 {med('A', 1)} ms {med('A', 2)} µs/write | "
          f"B {med('B', 0):,.0f}/s p99 {med('B', 1)} ms {med('B', 2)} µs/write | "
          f"B/A throughput {statistics.median(ratios):.3f} (pairs {', '.join(f'{r:.3f}' for r in ratios)}), "
          f"CPU/write {statistics.median(cpu_ratios):.3f}")
EOF
