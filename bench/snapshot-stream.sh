#!/usr/bin/env bash
# Snapshot streaming benchmark: one shard with a large state moves to a new node.
#
# Starts a 3-node release cluster with one shard (ports 6301-6303, data under a temp dir),
# loads about STATE_MB of values (1 KiB each, JSON-like text, so they compress like real data),
# lets the shard snapshot and compact its log, starts a 4th node with --join, registers it
# and moves the shard's replica from node 3 to node 4, which makes the leader stream its
# snapshot file. Reports: state bytes, wire bytes (snapshot file bytes streamed), compression
# ratio, transfer time, MB/s of state and of wire, and the peak RSS growth of the sender and of
# the receiver while the stream runs (sampled every 20 ms from /proc; the receiver's state
# machine only grows after the stream, when it installs the snapshot). Last line: JSON.
#
# Usage: bench/snapshot-stream.sh [STATE_MB]   (default 200; everything stops at the end)
set -euo pipefail
cd "$(dirname "$0")/.."
state_mb=${1:-200}
[[ $state_mb =~ ^[0-9]+$ ]] || { echo "usage: $0 [STATE_MB]" >&2; exit 2; }

scripts/build-deps
swift build -c release --product mystore-server > /dev/null
swift build -c release --product mystore > /dev/null
bin=$(swift build -c release --show-bin-path)
command -v redis-cli > /dev/null || { echo "snapshot-stream: redis-cli is needed (apt-get install redis-tools)" >&2; exit 2; }

work=$(mktemp -d /tmp/mystore-snapbench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

printf '127.0.0.1:6301\n127.0.0.1:6302\n127.0.0.1:6303\n' > "$work/membership"
common=(--membership "$work/membership" --set shard_count=1 --set snapshot_trailing_entries=1000
        --set snapshot_send_bytes_per_second=0 --set request_timeout_ms=20000)
# While loading, no snapshots; after the restart below, every replica snapshots its whole state.
no_snapshots=(--set snapshot_entries=1099511627776 --set snapshot_log_bytes=1125899906842624)
start_node() {  # port [extra args...]
  local port=$1; shift
  "$bin/mystore-server" --self "127.0.0.1:$port" --data-dir "$work/d$port" "${common[@]}" "$@" >> "$work/log$port" 2>&1 &
  pids+=($!)
  eval "pid_$port=$!"
}
for p in 6301 6302 6303; do start_node $p "${no_snapshots[@]}"; done
until redis-cli -p 6301 SET probe 1 2>/dev/null | grep -q OK; do sleep 0.2; done

echo "snapshot-stream: loading ${state_mb} MB of 1 KiB values..." >&2
keys=$((state_mb * 1024))
python3 - "$keys" <<'EOF' | redis-cli -p 6301 --pipe > "$work/load.txt"
import random, sys
n = int(sys.argv[1])
rnd = random.Random(7)
words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
         "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango"]
out = sys.stdout.buffer
for i in range(n):
    parts = []
    while sum(len(p) for p in parts) < 1000:
        parts.append('"%s":"%s-%d"' % (rnd.choice(words), rnd.choice(words), rnd.randrange(10**9)))
    value = ("{" + ",".join(parts) + "}")[:1024].encode()
    key = b"user:%010d" % i
    out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(value), value))
EOF
grep -q "errors: 0" "$work/load.txt" || { echo "snapshot-stream: load had errors:" >&2; cat "$work/load.txt" >&2; exit 1; }

state_bytes=$(redis-cli -p 6301 DBSIZE)
state_bytes=$((state_bytes * (15 + 1024)))
# Restart the nodes so each snapshots its whole state and compacts its log: the new replica
# can then only catch up from the snapshot.
for p in 6301 6302 6303; do eval "kill -TERM \$pid_$p"; done
for p in 6301 6302 6303; do eval "wait \$pid_$p" || true; done
for p in 6301 6302 6303; do start_node $p --set snapshot_entries=$keys; done
for p in 6301 6302 6303; do until ls "$work/d$p/snapshots/"snap-* > /dev/null 2>&1; do sleep 0.5; done; done
until redis-cli -p 6301 GET probe 2>/dev/null | grep -q 1; do sleep 0.2; done
leader=$(redis-cli -p 6301 MYSTORE.STATUS | python3 -c 'import json,sys; print(json.load(sys.stdin)["shards"][0]["leader"].split(":")[1])')
from=3; [[ $leader == 6303 ]] && from=2

start_node 6304 --join 127.0.0.1:6301
"$bin/mystore" node add 127.0.0.1:6304 --endpoint 127.0.0.1:6301 > /dev/null
until redis-cli -p 6301 MYSTORE.NODE LIST | grep -q 6304; do sleep 0.2; done
sleep 2   # the new node joins the meta group

rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
eval "sender=\$pid_$leader"; receiver=$pid_6304
s0=$(rss "$sender") r0=$(rss "$receiver")
"$bin/mystore" shard move 0 --from $from --to 4 --no-wait --endpoint 127.0.0.1:6301 > /dev/null
t0=$(date +%s.%N)
# Sample RSS while the receiver streams (until its state machine starts installing).
speak=$s0 rpeak=$r0 started=0 t1=""
while true; do
  st=$(redis-cli -p 6304 MYSTORE.STATUS 2>/dev/null || true)
  s=$(rss "$sender"); r=$(rss "$receiver")
  if [[ $st == *'"receiving":1'* ]]; then
    started=1
    (( s > speak )) && speak=$s
    (( r > rpeak )) && rpeak=$r
  elif (( started )) && [[ $st == *'"received":1'* ]]; then
    t1=$(date +%s.%N)
    break
  fi
  sleep 0.02
  if (( $(date +%s) - ${t0%.*} > 900 )); then echo "snapshot-stream: no stream within 900 s" >&2; exit 1; fi
done
wire=$(redis-cli -p 6304 MYSTORE.STATUS | python3 -c 'import json,sys; print(json.load(sys.stdin)["snapshots"]["bytes_received"])')
until redis-cli -p 6301 MYSTORE.MOVES | head -1 | grep -q '^1$'; do sleep 0.2; done
t2=$(date +%s.%N)

python3 - "$state_bytes" "$wire" "$t0" "$t1" "$t2" "$s0" "$speak" "$r0" "$rpeak" <<'EOF'
import json, sys
state, wire = int(sys.argv[1]), int(sys.argv[2])
t0, t1, t2 = map(float, sys.argv[3:6])
s0, speak, r0, rpeak = map(int, sys.argv[6:10])
stream = t1 - t0
r = {
    "state_mb": round(state / 1e6, 1), "wire_mb": round(wire / 1e6, 1), "compression_ratio": round(state / wire, 2),
    "stream_seconds": round(stream, 2), "move_seconds": round(t2 - t0, 2),
    "state_mb_per_s": round(state / 1e6 / stream, 1), "wire_mb_per_s": round(wire / 1e6 / stream, 1),
    "sender_rss_growth_mb": round((speak - s0) / 1024, 1), "receiver_rss_growth_mb": round((rpeak - r0) / 1024, 1),
    "sender_rss_mb": round(speak / 1024, 1), "receiver_rss_mb": round(rpeak / 1024, 1),
}
print("state %(state_mb)s MB, wire %(wire_mb)s MB (%(compression_ratio)s:1), stream %(stream_seconds)s s "
      "(%(state_mb_per_s)s MB/s of state, %(wire_mb_per_s)s MB/s on the wire), whole move %(move_seconds)s s" % r)
print("peak RSS while streaming: sender %(sender_rss_mb)s MB (+%(sender_rss_growth_mb)s), receiver %(receiver_rss_mb)s MB (+%(receiver_rss_growth_mb)s)" % r)
print(json.dumps(r))
EOF
