#!/usr/bin/env bash
# MyStore side by side with etcd and Redis on this machine, one system at a time.
#
#   bench/compare.sh                      # everything (about 10-15 minutes on 2 cores)
#   SYSTEMS="mystore" CLIENTS="64" bench/compare.sh
#
# Load shape for every system: 32-byte keys drawn at random from 100,000, 256-byte values,
# 1/16/64/256 concurrent clients (one connection each, one request in flight), writes and
# linearizable reads.
#   MyStore: a 3-node release cluster (ports 17001-17003, peers +200, HTTP +100) in a temp dir,
#            driven by mystore-bench (routing `leader`: keys sent to their shard leader's node,
#            and `any`: connections spread over the nodes, which forward) and by redis-benchmark
#            (one node, and --cluster). The shard knob is measured apart: SHARD_PAIRS pairs of fresh
#            clusters (SHARDS shards, then 1 shard), each filled with every key and run at the top
#            client count back to back; the ratio reported is the median of the pairs' ratios.
#   etcd:    3 members of Debian's etcd-server (client ports 17401-17403), driven by etcd's own
#            benchmark tool (tools/benchmark of Debian's etcd 3.4 source, built here when missing).
#   Redis:   one redis-server with --appendonly yes --appendfsync always (port 17501), driven by
#            redis-benchmark.
# Server CPU is utime+stime of the server processes (from /proc) over each run, per request,
# summed over processes; client CPU is the load tool's own CPU per request.
#
# Prints one table and, as its last line, a JSON object with MyStore's ratios against etcd and
# Redis (MyStore's figures: mystore-bench with leader routing).
#
# Environment:
#   SYSTEMS="mystore etcd redis"  which systems to run
#   CLIENTS="1 16 64 256"         concurrency levels
#   DURATION=8                    measured seconds per point (count-based tools aim for this)
#   SHARDS=16                     MyStore shard count of the main cluster
#   SHARD_COMPARE=1               also compare SHARDS shards with 1 shard at the highest client count
#   SHARD_PAIRS=3                 fresh-cluster pairs for that comparison (runs here vary by ±10%)
#   KEEP=0                        keep the work directory (data, logs) at the end
#   TOOLS_DIR=.bench-data/tools   where the etcd benchmark tool is built and kept
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

SYSTEMS=${SYSTEMS:-"mystore etcd redis"}
CLIENTS=${CLIENTS:-"1 16 64 256"}
DURATION=${DURATION:-8}
SHARDS=${SHARDS:-16}
SHARD_COMPARE=${SHARD_COMPARE:-1}
SHARD_PAIRS=${SHARD_PAIRS:-3}
KEEP=${KEEP:-0}
TOOLS_DIR=${TOOLS_DIR:-$ROOT/.bench-data/tools}
KEYS=100000
KEY_SIZE=32
VALUE_SIZE=256
RUN_LIMIT=120            # no single load run may take longer (seconds)

WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/mystore-compare.XXXXXX")
ROWS=$WORK/rows.tsv
: > "$ROWS"
PIDS=()

log() { echo "compare: $*" >&2; }
die() { log "$*"; exit 1; }

stop_all() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  PIDS=()
}
cleanup() {
  stop_all
  if [[ $KEEP == 1 ]]; then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------- helpers

apt_install() {
  log "installing $*"
  apt-get update -qq > /dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" > "$WORK/apt.log" 2>&1 || { tail -5 "$WORK/apt.log" >&2; die "could not install $*"; }
}

# Sum of utime+stime (clock ticks) of the given pids.
cpu_ticks() {
  local total=0 pid t
  for pid in "$@"; do
    t=$(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat" 2>/dev/null || echo 0)
    total=$((total + t))
  done
  echo "$total"
}
TICK=$(getconf CLK_TCK)

# Runs a load tool (bounded by RUN_LIMIT) with stdout to $WORK/out and stderr to $WORK/err;
# sets CLIENT_CPU to the CPU seconds (user + system) it used.
run_tool() {
  local TIMEFORMAT='%3U %3S'
  { time timeout "$RUN_LIMIT" "$@" > "$WORK/out" 2> "$WORK/err"; } 2> "$WORK/time" || true
  CLIENT_CPU=$(awk '{ print $1 + $2 }' "$WORK/time" | tail -1)
}

# row SYSTEM TOOL WORKLOAD CLIENTS REQ/S P50MS P99MS SERVER_US_PER_OP CLIENT_US_PER_OP
row() { [[ ${NOROW:-0} == 1 ]] && return 0; printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >> "$ROWS"; }

per_op() { python3 -c "import sys; ops=float(sys.argv[2]); print(round(float(sys.argv[1]) * 1e6 / ops, 1) if ops > 0 else 0)" "$1" "$2"; }

# Fails when something already listens on one of the ports (a leftover server would be measured
# instead of ours).
ports_free() {
  local port
  for port in "$@"; do
    if (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null; then die "port $port is in use; stop what listens there first"; fi
  done
}

wait_port() {
  local port=$1 deadline=$((SECONDS + 60))
  until (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null; do
    (( SECONDS < deadline )) || die "nothing listens on port $port after 60 s"
    sleep 0.2
  done
}

# Requests a count-based tool should send to run about DURATION seconds at `rate` per second.
count_for() { python3 -c "import sys; print(max(500, int(float(sys.argv[1]) * float(sys.argv[2]))))" "$1" "$DURATION"; }

# Count-based runs over the client levels: each level's count comes from the rate measured at
# the level before (rates grow with clients, so a run takes at most about DURATION seconds);
# the first level starts from a short probe of PROBE requests.
# sweep PROBE COMMAND... (COMMAND gets CLIENTS and COUNT appended, and must set LAST_RATE)
sweep() {
  local probe=$1 c rate=0
  shift
  for c in $CLIENTS; do
    if (( rate == 0 )); then
      NOROW=1 "$@" "$c" "$probe"
      rate=$LAST_RATE
      (( rate > 0 )) || rate=100
      "$@" "$c" "$(count_for "$rate")"
    else
      "$@" "$c" "$(count_for "$((rate * 3 / 2))")"
    fi
    (( LAST_RATE > 0 )) && rate=$LAST_RATE
  done
}

VALUE=$(head -c "$VALUE_SIZE" /dev/zero | tr '\0' v)
# 4 + 16 + 12 digits of __rand_int__ = 32 bytes.
RB_KEY="key:0000000000000000__rand_int__"

# redis-benchmark run: SYSTEM TOOL-LABEL WORKLOAD CLIENTS COUNT SERVER-PIDS... -- EXTRA-ARGS...
redis_bench() {
  local system=$1 label=$2 workload=$3 clients=$4 count=$5
  shift 5
  local pids=()
  while [[ $1 != -- ]]; do pids+=("$1"); shift; done
  shift
  local cmd=(SET "$RB_KEY" "$VALUE")
  [[ $workload == get ]] && cmd=(GET "$RB_KEY")
  local s0 s1 out
  s0=$(cpu_ticks "${pids[@]}")
  run_tool redis-benchmark "$@" -c "$clients" -n "$count" -r "$KEYS" --csv "${cmd[@]}"
  s1=$(cpu_ticks "${pids[@]}")
  out=$(tail -1 "$WORK/out")
  # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
  local rps p50 p99
  LAST_RATE=0
  rps=$(echo "$out" | awk -F'","' '{ print $2 }')
  p50=$(echo "$out" | awk -F'","' '{ print $5 }')
  p99=$(echo "$out" | awk -F'","' '{ print $7 }')
  if [[ -z $rps || $rps == *[!0-9.]* ]]; then
    log "$label $workload c=$clients failed: $(head -c 300 "$WORK/err") $(echo "$out" | head -c 200)"
    row "$system" "$label" "$workload" "$clients" 0 0 0 0 0
    return
  fi
  local server client
  server=$(per_op "$(python3 -c "print(($s1 - $s0) / $TICK)")" "$count")
  client=$(per_op "$CLIENT_CPU" "$count")
  row "$system" "$label" "$workload" "$clients" "$rps" "$p50" "$p99" "$server" "$client"
  log "$label $workload c=$clients: $rps req/s p50 $p50 ms p99 $p99 ms, server $server µs/op"
  LAST_RATE=$(printf '%.0f' "$rps")
}

# ---------------------------------------------------------------------------- MyStore

MS_PIDS=()
MS_ENDPOINTS=127.0.0.1:17001,127.0.0.1:17002,127.0.0.1:17003

mystore_start() {
  local shards=$1 dir=$WORK/mystore-$1
  # Always a fresh cluster: a directory left by an earlier cluster of this shard count (the
  # main one, an earlier pair) would otherwise be restarted with its data and key history.
  rm -rf "$dir"
  mkdir -p "$dir"
  printf '127.0.0.1:17001\n127.0.0.1:17002\n127.0.0.1:17003\n' > "$dir/membership"
  local port
  MS_PIDS=()
  ports_free 17001 17002 17003 17201 17202 17203 17101 17102 17103
  for port in 17001 17002 17003; do
    "$BIN/mystore-server" --self "127.0.0.1:$port" --membership "$dir/membership" --data-dir "$dir/n$port" \
      --set shard_count="$shards" --set peer_port_offset=200 --set http_port_offset=100 > "$dir/n$port.log" 2>&1 < /dev/null &
    PIDS+=($!); MS_PIDS+=($!); disown $!
  done
  for port in 17001 17002 17003; do wait_port "$port"; done
  # Ready when a write through every node succeeds (every shard has a leader).
  local deadline=$((SECONDS + 60))
  until "$BIN/mystore-bench" put --endpoints "$MS_ENDPOINTS" -c 3 -n 300 --warmup 0 --quiet --server-pids "${MS_PIDS[0]}" > /dev/null 2>&1; do
    (( SECONDS < deadline )) || die "MyStore cluster not ready after 60 s (logs in $dir)"
    sleep 0.5
  done
  # Let the leader balancer settle (it moves leaders to their preferred replicas every few seconds).
  sleep 6
  # Every key written once before anything is measured, so that each cluster (16 shards and
  # the 1-shard comparison alike) is measured against the same 100,000 keys: otherwise the
  # first measured run of a fresh cluster writes into a store still filling up.
  timeout "$RUN_LIMIT" "$BIN/mystore-bench" put --endpoints "$MS_ENDPOINTS" --routing leader -c 64 -p 1 \
    --keys "$KEYS" --key-size "$KEY_SIZE" --value-size "$VALUE_SIZE" --preload -n 1 --warmup 0 --quiet \
    --server-pids "${MS_PIDS[0]}" > /dev/null 2> "$WORK/preload.err" || log "preload of $shards-shard cluster failed: $(tail -c 300 "$WORK/preload.err")"
  log "MyStore: 3 nodes, $shards shards (pids ${MS_PIDS[*]})"
}

mystore_bench() {
  local workload=$1 clients=$2 routing=$3 label=$4 system=${5:-MyStore}
  local out
  LAST_RATE=0
  out=$(timeout "$RUN_LIMIT" "$BIN/mystore-bench" "$workload" --endpoints "$MS_ENDPOINTS" --routing "$routing" -c "$clients" -p 1 \
        --keys "$KEYS" --key-size "$KEY_SIZE" --value-size "$VALUE_SIZE" -d "$DURATION" --warmup 2 \
        --server-pids "$(IFS=,; echo "${MS_PIDS[*]}")" --json --quiet 2> "$WORK/msb.err" | tail -1) || true
  if [[ $out != \{* ]]; then
    log "$label $workload c=$clients failed: $(tail -c 300 "$WORK/msb.err")"
    row "$system" "$label" "$workload" "$clients" 0 0 0 0 0
    return
  fi
  echo "$out" >> "$WORK/mystore-bench.jsonl"
  local fields
  fields=$(python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(round(j["ops_per_sec"]), j["latency_ms"]["p50"], j["latency_ms"]["p99"], round(j["server_cpu_us_per_op"],1), round(j["client_cpu_us_per_op"],1), j["errors"])' "$out")
  read -r rps p50 p99 server client errors <<< "$fields"
  row "$system" "$label" "$workload" "$clients" "$rps" "$p50" "$p99" "$server" "$client"
  log "$label $workload c=$clients: $rps req/s p50 $p50 ms p99 $p99 ms, server $server µs/op, errors $errors"
  LAST_RATE=$rps
}

run_mystore() {
  [[ -x $BIN/mystore-server && -x $BIN/mystore-bench && ${BUILD:-1} == 0 ]] || {
    log "building mystore-server and mystore-bench (release)"
    "$ROOT/scripts/build-deps"
    swift build -c release --product mystore-server > "$WORK/build.log" 2>&1 || { tail -20 "$WORK/build.log" >&2; die "build failed"; }
    swift build -c release --product mystore-bench >> "$WORK/build.log" 2>&1 || { tail -20 "$WORK/build.log" >&2; die "build failed"; }
  }
  mystore_start "$SHARDS"
  local c workload
  for workload in put get; do
    for c in $CLIENTS; do
      mystore_bench "$workload" "$c" leader "mystore-bench"
      local rate=$LAST_RATE
      mystore_bench "$workload" "$c" any "mystore-bench any"
      [[ $rate -gt 0 ]] || rate=1000
      redis_bench MyStore "redis-benchmark" "$workload" "$c" "$(count_for "$rate")" "${MS_PIDS[@]}" -- -h 127.0.0.1 -p 17001
      redis_bench MyStore "redis-benchmark --cluster" "$workload" "$c" "$(count_for "$rate")" "${MS_PIDS[@]}" -- --cluster -h 127.0.0.1 -p 17001
    done
  done
  stop_all
  if [[ $SHARD_COMPARE == 1 && $SHARDS != 1 ]]; then
    # Back-to-back pairs of fresh clusters, prepared the same way, so that the two shard counts
    # meet the same machine state; one run of each differs by up to ±10% on this machine.
    local top=${CLIENTS##* } pair
    for pair in $(seq "$SHARD_PAIRS"); do
      mystore_start "$SHARDS"
      mystore_bench put "$top" leader "mystore-bench" "MyStore $SHARDS shards, pair $pair"
      stop_all
      mystore_start 1
      mystore_bench put "$top" leader "mystore-bench" "MyStore 1 shard, pair $pair"
      stop_all
    done
  fi
}

# ---------------------------------------------------------------------------- etcd

ETCD_BENCH=$TOOLS_DIR/etcd-benchmark

# etcd's benchmark tool from Debian's etcd 3.4 source, built offline in GOPATH mode against
# Debian's golang-*-dev packages (golang-etcd-server-dev carries etcd's packages but not tools/).
build_etcd_benchmark() {
  [[ -x $ETCD_BENCH ]] && return 0
  command -v go > /dev/null 2>&1 && dpkg -s golang-etcd-server-dev > /dev/null 2>&1 || apt_install golang-go golang-etcd-server-dev
  local src=$WORK/etcd-src
  mkdir -p "$src" "$TOOLS_DIR"
  if ! (cd "$src" && apt-get source --download-only etcd > "$WORK/apt-source.log" 2>&1); then
    # Debian's source index is not configured: add it for the same mirror as the binaries.
    local uri
    uri=$(grep -h '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 | awk '{ print $2 }')
    uri=${uri:-$(grep -h '^deb ' /etc/apt/sources.list 2>/dev/null | head -1 | awk '{ print $2 }')}
    [[ -n $uri ]] || die "no Debian mirror configured for apt"
    local suite
    suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
    log "adding deb-src for $suite to apt (to fetch etcd's source)"
    printf 'Types: deb-src\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" "$suite" \
      > /etc/apt/sources.list.d/mystore-bench-src.sources
    apt-get update -qq > /dev/null 2>&1 || true
    (cd "$src" && apt-get source --download-only etcd > "$WORK/apt-source.log" 2>&1) || { cat "$WORK/apt-source.log" >&2; die "apt-get source etcd failed"; }
  fi
  local orig
  orig=$(ls "$src"/etcd_*.orig.tar.* | head -1)
  mkdir -p "$src/unpacked"
  tar xf "$orig" -C "$src/unpacked" --wildcards '*/tools/benchmark/*'
  local gopath=$WORK/gopath
  mkdir -p "$gopath/src/go.etcd.io/etcd/tools"
  cp -r "$src"/unpacked/*/tools/benchmark "$gopath/src/go.etcd.io/etcd/tools/"
  log "building etcd's benchmark tool (GOPATH mode, Debian's Go packages)"
  (cd "$gopath/src/go.etcd.io/etcd/tools/benchmark" &&
    GO111MODULE=off GOPATH="$gopath:/usr/share/gocode" GOCACHE="$WORK/gocache" GOFLAGS= go build -o "$ETCD_BENCH" .) \
    > "$WORK/etcd-build.log" 2>&1 || { tail -20 "$WORK/etcd-build.log" >&2; die "building etcd's benchmark failed"; }
}

ETCD_PIDS=()
ETCD_ENDPOINTS=http://127.0.0.1:17401,http://127.0.0.1:17402,http://127.0.0.1:17403

etcd_start() {
  command -v etcd > /dev/null 2>&1 || apt_install etcd-server
  local dir=$WORK/etcd i cluster=""
  mkdir -p "$dir"
  for i in 1 2 3; do cluster+="${cluster:+,}m$i=http://127.0.0.1:1741$i"; done
  ports_free 17401 17402 17403 17411 17412 17413
  ETCD_PIDS=()
  for i in 1 2 3; do
    etcd --name "m$i" --data-dir "$dir/m$i" \
      --listen-client-urls "http://127.0.0.1:1740$i" --advertise-client-urls "http://127.0.0.1:1740$i" \
      --listen-peer-urls "http://127.0.0.1:1741$i" --initial-advertise-peer-urls "http://127.0.0.1:1741$i" \
      --initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token mystore-compare \
      --logger zap --log-level error > "$dir/m$i.log" 2>&1 < /dev/null &
    PIDS+=($!); ETCD_PIDS+=($!); disown $!
  done
  for i in 1 2 3; do wait_port "1740$i"; done
  local deadline=$((SECONDS + 60))
  until ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINTS" put bench-read-key "$VALUE" > /dev/null 2>&1; do
    (( SECONDS < deadline )) || die "etcd not ready after 60 s (logs in $dir)"
    sleep 0.5
  done
  log "etcd: 3 members (pids ${ETCD_PIDS[*]}), $(etcd --version | head -1)"
}

etcd_run() {
  local workload=$1 clients=$2 count=$3
  local args=(--endpoints "$ETCD_ENDPOINTS" --conns "$clients" --clients "$clients")
  if [[ $workload == put ]]; then
    args+=(put --key-size "$KEY_SIZE" --val-size "$VALUE_SIZE" --key-space-size "$KEYS" --total "$count")
  else
    args+=(range bench-read-key --consistency l --total "$count")
  fi
  local s0 s1 out
  s0=$(cpu_ticks "${ETCD_PIDS[@]}")
  run_tool "$ETCD_BENCH" "${args[@]}"
  s1=$(cpu_ticks "${ETCD_PIDS[@]}")
  out=$(cat "$WORK/out")
  local rps p50 p99
  LAST_RATE=0
  rps=$(echo "$out" | awk '/Requests\/sec:/ { print $2 }')
  p50=$(echo "$out" | awk '/ 50% in / { print $3 * 1000 }')
  p99=$(echo "$out" | awk '/ 99% in / { print $3 * 1000 }')
  if [[ -z $rps ]]; then
    log "etcd $workload c=$clients failed: $(tail -c 300 "$WORK/err")"
    row etcd "etcd benchmark" "$workload" "$clients" 0 0 0 0 0
    return
  fi
  local server client
  server=$(per_op "$(python3 -c "print(($s1 - $s0) / $TICK)")" "$count")
  client=$(per_op "$CLIENT_CPU" "$count")
  row etcd "etcd benchmark" "$workload" "$clients" "$(printf '%.0f' "$rps")" "$p50" "$p99" "$server" "$client"
  log "etcd $workload c=$clients: $rps req/s p50 $p50 ms p99 $p99 ms, server $server µs/op"
  LAST_RATE=$(printf '%.0f' "$rps")
}

run_etcd() {
  build_etcd_benchmark
  etcd_start
  sweep 300 etcd_run put
  sweep 300 etcd_run get
  stop_all
}

# ---------------------------------------------------------------------------- Redis

redis_point() { redis_bench Redis redis-benchmark "$1" "$2" "$3" "$REDIS_PID" -- -h 127.0.0.1 -p 17501; }

run_redis() {
  command -v redis-server > /dev/null 2>&1 && command -v redis-benchmark > /dev/null 2>&1 || apt_install redis-server redis-tools
  local dir=$WORK/redis
  mkdir -p "$dir"
  ports_free 17501
  redis-server --port 17501 --bind 127.0.0.1 --dir "$dir" --appendonly yes --appendfsync always --save '' \
    > "$dir/redis.log" 2>&1 < /dev/null &
  local pid=$!
  PIDS+=($pid); disown $pid
  wait_port 17501
  log "Redis: $(redis-server --version | awk '{ print $3 }') appendfsync always (pid $pid)"
  REDIS_PID=$pid
  sweep 300 redis_point put
  sweep 1000 redis_point get
  stop_all
}

# ---------------------------------------------------------------------------- main

BIN=$(swift build -c release --show-bin-path)
started=$SECONDS
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for s in $SYSTEMS; do
  case $s in
    mystore) run_mystore ;;
    etcd) run_etcd ;;
    redis) run_redis ;;
    *) die "unknown system '$s' (mystore, etcd, redis)" ;;
  esac
done
log "done in $((SECONDS - started)) s"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr); load average before $LOAD_BEFORE, after $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$ROWS" "$SHARDS" <<'EOF'
import json, statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
shards = sys.argv[2]
def num(x):
    try: return float(x)
    except ValueError: return 0.0
recs = [dict(system=r[0], tool=r[1], workload=r[2], clients=int(r[3]), rps=num(r[4]), p50=num(r[5]), p99=num(r[6]), server=num(r[7]), client=num(r[8])) for r in rows]
def find(system, tool, workload, clients):
    for r in recs:
        if r["system"] == system and r["tool"] == tool and r["workload"] == workload and r["clients"] == clients:
            return r
    return None
ref = {("etcd", w, c): find("etcd", "etcd benchmark", w, c) for w in ("put", "get") for c in (1, 16, 64, 256)}
red = {("redis", w, c): find("Redis", "redis-benchmark", w, c) for w in ("put", "get") for c in (1, 16, 64, 256)}
def ratio(a, b):
    return round(a / b, 2) if a and b else None
hdr = ["system", "tool", "workload", "clients", "req/s", "p50 ms", "p99 ms", "server CPU µs/op", "client CPU µs/op", "× etcd req/s", "× Redis req/s"]
out = []
for r in recs:
    e = ref.get(("etcd", r["workload"], r["clients"]))
    d = red.get(("redis", r["workload"], r["clients"]))
    out.append([r["system"] + ("" if r["system"] != "MyStore" else f" {shards} shards"), r["tool"], r["workload"], str(r["clients"]),
                f'{r["rps"]:,.0f}', f'{r["p50"]:.2f}', f'{r["p99"]:.2f}', f'{r["server"]:.1f}', f'{r["client"]:.1f}',
                str(ratio(r["rps"], e["rps"]) if e and r["system"] != "etcd" else "") or "",
                str(ratio(r["rps"], d["rps"]) if d and r["system"] != "Redis" else "") or ""])
widths = [max(len(h), *(len(o[i]) for o in out)) if out else len(h) for i, h in enumerate(hdr)]
print("| " + " | ".join(h.ljust(w) for h, w in zip(hdr, widths)) + " |")
print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
for o in out:
    print("| " + " | ".join(v.ljust(w) for v, w in zip(o, widths)) + " |")
result = {"mystore_tool": "mystore-bench --routing leader", "shards": int(shards), "vs_etcd": {}, "vs_redis": {}}
for w in ("put", "get"):
    for c in (1, 16, 64, 256):
        m = find("MyStore", "mystore-bench", w, c)
        if not m: continue
        for key, base in (("vs_etcd", ref.get(("etcd", w, c))), ("vs_redis", red.get(("redis", w, c)))):
            if base and base["rps"]:
                result[key][f"{w}_{c}"] = {"throughput": ratio(m["rps"], base["rps"]), "p99": ratio(m["p99"], base["p99"]),
                                           "server_cpu_per_op": ratio(m["server"], base["server"])}
top = max([r["clients"] for r in recs] or [0])
pairs = []
while True:
    many = find(f"MyStore {shards} shards, pair {len(pairs) + 1}", "mystore-bench", "put", top)
    one = find(f"MyStore 1 shard, pair {len(pairs) + 1}", "mystore-bench", "put", top)
    if not (many and one):
        break
    pairs.append({f"{shards}_shards": round(many["rps"]), "1_shard": round(one["rps"]), "ratio": ratio(many["rps"], one["rps"])})
ratios = [p["ratio"] for p in pairs if p["ratio"] is not None]
if ratios:
    result["shard_pairs"] = pairs
    result[f"put_{top}_{shards}_shards_vs_1_shard"] = round(statistics.median(ratios), 2)
goals = {}
for c in (64, 256):
    v = result["vs_etcd"].get(f"put_{c}")
    if v:
        goals[f"put_{c}_throughput_ge_2x_etcd"] = (v["throughput"] or 0) >= 2
        goals[f"put_{c}_p99_le_etcd"] = (v["p99"] or 99) <= 1
        goals[f"put_{c}_server_cpu_le_half_etcd"] = (v["server_cpu_per_op"] or 99) <= 0.5
    g = result["vs_etcd"].get(f"get_{c}")
    if g:
        goals[f"get_{c}_throughput_ge_2x_etcd"] = (g["throughput"] or 0) >= 2
if f"put_{top}_{shards}_shards_vs_1_shard" in result:
    goals["shards_not_slower_than_1"] = result[f"put_{top}_{shards}_shards_vs_1_shard"] >= 1
result["goals"] = goals
print(json.dumps(result, separators=(",", ":")))
EOF
