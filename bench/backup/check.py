#!/usr/bin/env python3
# Reads back on the restored cluster (port A) every bk:<k> (compared with the source cluster's
# value, port B, the keys were not written after the load) and every w:<n> acknowledged before t0.
import socket, sys
a, b, n, t0 = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(open(sys.argv[4]).read())
acks = [l.split()[1] for f in sys.argv[5:] for l in open(f) if float(l.split()[0]) < t0]
def getter(port):
    s = socket.create_connection(("127.0.0.1", port)); f = s.makefile("rb")
    def get_many(keys):
        s.sendall(b"".join(b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(k), k) for k in keys))
        out = []
        for _ in keys:
            line = f.readline()
            if line.startswith(b"$-1"): out.append(None)
            elif line.startswith(b"$"): out.append(f.read(int(line[1:]) + 2)[:-2])
            else: out.append(("error", line))
        return out
    return get_many
ga, gb = getter(a), getter(b)
bad = 0
for start in range(0, n, 500):
    keys = [f"bk:{k}".encode() for k in range(start, min(n, start + 500))]
    va, vb = ga(keys), gb(keys)
    bad += sum(1 for x, y in zip(va, vb) if x != y or x is None)
wbad = 0
for start in range(0, len(acks), 500):
    keys = [k.encode() for k in acks[start:start + 500]]
    vals = ga(keys)
    wbad += sum(1 for k, v in zip(keys, vals) if v != k.split(b":")[1])
print(f"bk keys: {n - bad}/{n} equal to the source; w keys acknowledged before the backup: {len(acks) - wbad}/{len(acks)} read back")
sys.exit(1 if bad or wbad else 0)
