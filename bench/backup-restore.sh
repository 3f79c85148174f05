#!/usr/bin/env bash
# Backup and restore round trip, measured: a 3-node release cluster (ports 7101-7103, data under
# a temp dir, an empty config: 16 shards x 3 replicas) is loaded with KEYS keys of 1 KiB random
# values (incompressible: the worst case for the zlib chunks), two clients keep writing fresh
# keys while `mystore backup` runs, then `backup verify`, `restore` into a second cluster's
# directories (ports 7111-7113), that cluster's start until every shard has a leader, and a read
# of every loaded key (compared with the source cluster) and of every key acknowledged before
# the backup started. Helpers: bench/backup/{load,writer,check}.py.
#
# Usage: bench/backup-restore.sh [KEYS]   (default 220000, about 225 MB of values)
set -euo pipefail
cd "$(dirname "$0")/.."
keys=${1:-220000}
[[ $keys =~ ^[0-9]+$ ]] || { echo "usage: $0 [KEYS]" >&2; exit 2; }
command -v redis-cli > /dev/null || { echo "backup-restore: redis-cli is needed (apt-get install redis-tools)" >&2; exit 2; }
swift build -c release --product mystore-server > /dev/null
swift build -c release --product mystore > /dev/null
bin=$(swift build -c release --show-bin-path)
helpers=$PWD/bench/backup

work=$(mktemp -d /tmp/mystore-backupbench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 1
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
: > empty.conf
mkdir -p src dst
printf '127.0.0.1:%s\n' 7101 7102 7103 > src/cluster.membership
printf '127.0.0.1:%s\n' 7111 7112 7113 > dst/cluster.membership

wait_ready() {
  while true; do
    local ok=1 p j
    for p in "$@"; do
      j=$(redis-cli -p "$p" MYSTORE.STATUS 2>/dev/null || true)
      [[ $j == *'"shards"'* && $j != *'"leader":null'* ]] || ok=0
    done
    [[ $ok == 1 ]] && return 0
    sleep 0.2
  done
}

for p in 7101 7102 7103; do
  "$bin/mystore-server" --self 127.0.0.1:$p --membership src/cluster.membership --config empty.conf --data-dir src/data-$p > src/node-$p.log 2>&1 &
  pids+=($!)
done
wait_ready 7101 7102 7103
python3 "$helpers/load.py" 7101,7102,7103 "$keys" 1024 bk

python3 "$helpers/writer.py" 7101 acks-1.txt & w1=$!; pids+=($w1)
python3 "$helpers/writer.py" 7103 acks-2.txt & w2=$!; pids+=($w2)
sleep 2
date +%s.%N > t0
echo "load average before the backup: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/time -f "backup: %e s wall, client max RSS %M KB" "$bin/mystore" backup full.backup --endpoint 127.0.0.1:7102 2>&1 | grep -vE '^backup: [0-9]+/[0-9]+ shards'
sleep 1
kill "$w1" "$w2"
echo "file: $(stat -c %s full.backup) bytes; writes acknowledged by the two clients meanwhile: $(cat acks-*.txt | wc -l)"

/usr/bin/time -f "verify: %e s wall, max RSS %M KB" "$bin/mystore" backup verify full.backup 2>&1 | grep -vE '^  shard '
/usr/bin/time -f "restore: %e s wall, max RSS %M KB" "$bin/mystore" restore full.backup --membership dst/cluster.membership --data-dir-root dst/data 2>&1 | grep -vE '^  mystore-server'
start=$(date +%s.%N)
for p in 7111 7112 7113; do
  "$bin/mystore-server" --self 127.0.0.1:$p --membership dst/cluster.membership --config empty.conf --data-dir dst/data/127.0.0.1_$p > dst/node-$p.log 2>&1 &
  pids+=($!)
done
wait_ready 7111 7112 7113
echo "restored cluster: every shard has a leader on every node $(echo "$(date +%s.%N) - $start" | bc) s after start"
python3 "$helpers/check.py" 7111 7101 "$keys" t0 acks-1.txt acks-2.txt
