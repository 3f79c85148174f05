#!/usr/bin/env python3
# Loads N keys with random (incompressible) values of SIZE bytes through plain RESP pipelines,
# spread over the given ports; prints keys acknowledged and MB/s.
import os, socket, sys, time, threading
ports = [int(p) for p in sys.argv[1].split(",")]
n = int(sys.argv[2]); size = int(sys.argv[3]); prefix = sys.argv[4] if len(sys.argv) > 4 else "bk"
threads = 6
acked = [0] * threads
def worker(w):
    s = socket.create_connection(("127.0.0.1", ports[w % len(ports)]))
    f = s.makefile("rb")
    batch = 200
    for start in range(w, n, threads * batch):
        keys = range(start, min(n, start + threads * batch), threads)
        out = []
        for k in keys:
            key = f"{prefix}:{k}".encode(); v = os.urandom(size)
            out.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(v), v))
        s.sendall(b"".join(out))
        for _ in keys:
            line = f.readline()
            if line.startswith(b"+OK"): acked[w] += 1
            elif line.startswith(b"$"):
                ln = int(line[1:]); 
                if ln >= 0: f.read(ln + 2)
            else:
                sys.stderr.write(line.decode(errors="replace"))
t0 = time.time()
ts = [threading.Thread(target=worker, args=(w,)) for w in range(threads)]
[t.start() for t in ts]; [t.join() for t in ts]
dt = time.time() - t0
print(f"loaded {sum(acked)}/{n} keys of {size} B in {dt:.1f} s ({sum(acked)*size/dt/1e6:.1f} MB/s)")
