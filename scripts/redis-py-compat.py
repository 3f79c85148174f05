#!/usr/bin/env python3
"""What an application does with redis-py, with redis-py's defaults (RESP3), against MyStore.

Runs the same checks through `redis.Redis` on one node and through `redis.cluster.RedisCluster`
on the cluster: connect, get/set, pipelines, a transaction on hash-tagged keys (MULTI/EXEC and
the WATCH retry loop), scan_iter and expire/ttl. Prints one JSON object: the checks passed and,
for each failure, the check and what went wrong; exits 1 when any failed.

    scripts/redis-py-compat.py --nodes 127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003
"""
import argparse
import json
import traceback

try:
    import redis
    from redis.cluster import ClusterNode, RedisCluster
except ImportError as e:  # the caller reports it; scripts/test installs redis-py
    print(json.dumps({"error": f"redis-py is not installed: {e}"}))
    raise SystemExit(2)


def checks(r, prefix):
    """(name, function) pairs; each function raises AssertionError on a wrong answer."""
    k = lambda name: f"{{{prefix}}}:{name}"  # one hash tag: every key in one slot

    def get_set():
        assert r.set(k("a"), "1") is True
        assert r.get(k("a")) == b"1"
        assert r.set(k("a"), "2", nx=True) is None
        assert r.incr(k("a")) == 2
        assert r.delete(k("a")) == 1
        assert r.get(k("a")) is None

    def pipeline():
        p = r.pipeline(transaction=False)
        for i in range(20):
            p.set(k(f"p{i}"), i)
        for i in range(20):
            p.get(k(f"p{i}"))
        out = p.execute()
        assert out[:20] == [True] * 20, out
        assert out[20:] == [str(i).encode() for i in range(20)], out

    # redis-py's cluster client returns SET's reply inside a transaction as sent (b"OK").
    ok = (True, b"OK")

    def transaction():
        r.delete(k("t1"), k("t2"))
        p = r.pipeline(transaction=True)
        p.set(k("t1"), "x").incr(k("t2")).get(k("t1")).incr(k("t2"))
        out = p.execute()
        assert out[0] in ok and out[1:] == [1, b"x", 2], out

    def watch_retry():
        r.set(k("w"), 10)
        with r.pipeline(transaction=True) as p:
            p.watch(k("w"))
            value = int(p.get(k("w")))
            r.set(k("w"), 100)  # another client changes the key: EXEC must fail
            p.multi()
            p.set(k("w"), value + 1)
            try:
                p.execute()
                raise AssertionError("EXEC ran although the watched key changed")
            except redis.WatchError:
                pass
        assert r.get(k("w")) == b"100"

        def incr(pipe):
            v = int(pipe.get(k("w")))
            pipe.multi()
            pipe.set(k("w"), v + 1)
        out = r.transaction(incr, k("w"))
        assert len(out) == 1 and out[0] in ok, out
        assert r.get(k("w")) == b"101"

    def transaction_errors():
        p = r.pipeline(transaction=True)
        p.set(k("e"), "notanumber").incr(k("e")).get(k("e"))
        out = p.execute(raise_on_error=False)
        assert out[0] in ok and isinstance(out[1], redis.ResponseError) and out[2] == b"notanumber", out

    def scan():
        names = {k(f"s{i}") for i in range(30)}
        for n in names:
            r.set(n, "v")
        found = {x.decode() for x in r.scan_iter(match=f"{{{prefix}}}:s*", count=7)}
        assert found == names, (len(found), len(names))

    def expire_ttl():
        r.set(k("x"), "v")
        assert r.ttl(k("x")) == -1
        assert r.expire(k("x"), 100) is True
        assert 98 <= r.ttl(k("x")) <= 100
        assert 98_000 <= r.pttl(k("x")) <= 100_000
        assert r.persist(k("x")) is True
        assert r.ttl(k("x")) == -1
        assert r.set(k("x"), "v", px=50) is True
        assert r.ttl(k("missing")) == -2

    return [("get/set", get_set), ("pipeline", pipeline), ("transaction", transaction), ("watch", watch_retry),
            ("transaction errors", transaction_errors), ("scan_iter", scan), ("expire/ttl", expire_ttl)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", required=True, help="host:port,... (the first is used in single-node mode)")
    args = parser.parse_args()
    nodes = [n.rsplit(":", 1) for n in args.nodes.split(",")]
    passed, failures = [], []
    host, port = nodes[0]
    clients = [
        ("Redis", lambda: redis.Redis(host=host, port=int(port), socket_timeout=15)),
        ("RedisCluster", lambda: RedisCluster(startup_nodes=[ClusterNode(h, int(p)) for h, p in nodes], socket_timeout=15)),
    ]
    for mode, make in clients:
        try:
            r = make()
            assert r.ping() is True
        except Exception as e:
            failures.append({"check": f"{mode}: connect", "error": repr(e)})
            continue
        for name, check in checks(r, mode.lower()):
            try:
                check()
                passed.append(f"{mode}: {name}")
            except Exception as e:
                failures.append({"check": f"{mode}: {name}", "error": repr(e), "trace": traceback.format_exc(limit=3)})
        r.close()
    print(json.dumps({"redis_py": redis.__version__, "passed": passed, "failures": failures}))
    raise SystemExit(1 if failures else 0)


if __name__ == "__main__":
    main()
