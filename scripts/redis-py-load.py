#!/usr/bin/env python3
"""Load from redis-py's cluster client, as an application would run it, for rolling-restart checks.

Runs THREADS threads, each with its own redis.cluster.RedisCluster (redis-py's own retry
settings, bounded), writing unique keys and reading back what it wrote, until STOP_FILE exists
or MAX_SECONDS pass. Then it reads every acknowledged key back through a fresh client and
prints one JSON object: ops, failures (count and the first few errors), acknowledged writes
and how many of them did not read back.

    scripts/redis-py-load.py --nodes 127.0.0.1:7001,127.0.0.1:7002 --threads 16 \
        --stop-file /tmp/stop --max-seconds 120
"""
import argparse
import json
import os
import threading
import time

try:
    from redis.cluster import ClusterNode, RedisCluster
    from redis.exceptions import RedisError
except ImportError as e:  # the caller reports it; scripts/test installs redis-py
    print(json.dumps({"error": f"redis-py is not installed: {e}"}))
    raise SystemExit(2)


def make_client(nodes, timeout):
    startup = [ClusterNode(h, int(p)) for h, p in (n.rsplit(":", 1) for n in nodes)]
    # redis-py's defaults (RESP3 through HELLO 3 on redis-py 8, a bounded count of retries with
    # jittered exponential backoff), only the timeouts set.
    return RedisCluster(startup_nodes=startup, socket_timeout=timeout, socket_connect_timeout=timeout,
                        decode_responses=True)


def worker(index, args, stop, results, lock, started):
    ops = failures = 0
    errors = []
    acked = {}
    client = None
    seq = 0
    while not stop.is_set():
        try:
            if client is None:
                client = make_client(args.nodes, args.timeout)
            seq += 1
            key = f"rp:{index}:{seq}"
            value = f"v{seq}"
            client.set(key, value)
            acked[key] = value
            got = client.get(key)
            if got != value:
                raise RuntimeError(f"read {got!r} for {key}, wrote {value!r}")
            ops += 2
        except (RedisError, OSError, RuntimeError) as e:
            # Failures count once the caller says the load is warmed up (the measure file).
            if args.measure_file is None or os.path.exists(args.measure_file):
                failures += 1
                if len(errors) < 5:
                    errors.append(f"at {time.monotonic() - started:.1f} s: {type(e).__name__}: {e}")
            # A client whose retries ran out is rebuilt, as an application would.
            try:
                if client is not None:
                    client.close()
            except Exception:
                pass
            client = None
            time.sleep(0.05)
    with lock:
        results["ops"] += ops
        results["failures"] += failures
        results["errors"].extend(errors)
        results["acked"].update(acked)
    if client is not None:
        client.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", required=True, type=lambda s: s.split(","))
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--stop-file", required=True)
    parser.add_argument("--max-seconds", type=float, default=120)
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--measure-file", help="count failures only once this file exists")
    args = parser.parse_args()

    stop = threading.Event()
    lock = threading.Lock()
    results = {"ops": 0, "failures": 0, "errors": [], "acked": {}}
    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i, args, stop, results, lock, started), daemon=True) for i in range(args.threads)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + args.max_seconds
    while time.monotonic() < deadline and not os.path.exists(args.stop_file):
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join(timeout=30)

    # Every acknowledged write must read back.
    missing = 0
    verify_errors = []
    client = make_client(args.nodes, 5.0)
    keys = sorted(results["acked"])
    for key in keys:
        for attempt in range(5):
            try:
                if client.get(key) != results["acked"][key]:
                    missing += 1
                break
            except RedisError as e:
                if attempt == 4:
                    missing += 1
                    verify_errors.append(str(e))
                time.sleep(0.2)
    client.close()
    print(json.dumps({"ops": results["ops"], "failures": results["failures"], "errors": results["errors"][:10],
                      "acked": len(keys), "missing": missing, "verify_errors": verify_errors[:5]}))


if __name__ == "__main__":
    main()
