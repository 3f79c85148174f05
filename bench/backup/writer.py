#!/usr/bin/env python3
# Keeps writing fresh keys w:<n> (value = n) until killed; appends each acknowledged key to a
# file with the time it was acknowledged, so keys acknowledged before a moment can be listed.
import socket, sys, time
port = int(sys.argv[1]); out = open(sys.argv[2], "w", buffering=1)
s = socket.create_connection(("127.0.0.1", port)); f = s.makefile("rb")
n = 0
while True:
    key = f"w:{n}".encode(); v = str(n).encode()
    s.sendall(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(v), v))
    if f.readline().startswith(b"+OK"): out.write(f"{time.time():.6f} w:{n}\n")
    n += 1
