"""A small, paced probe of the cheap route: one GET /api/ping every INTERVAL seconds (a closed-loop
`ab -c 1` would itself be a flood once pings are fast). Prints JSON: count, p50, p99, max (seconds).
Usage: probe.py PORT SECONDS [INTERVAL]"""
import json
import socket
import sys
import time

port, seconds = int(sys.argv[1]), float(sys.argv[2])
interval = float(sys.argv[3]) if len(sys.argv) > 3 else 0.05
request = b"GET /api/ping HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
latencies, errors = [], 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    started = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
            connection.sendall(request)
            reply = b""
            while chunk := connection.recv(65536):
                reply += chunk
        if reply.startswith(b"HTTP/1.1 200"):
            latencies.append(time.monotonic() - started)
        else:
            errors += 1
    except OSError:
        errors += 1
    time.sleep(max(0.0, interval - (time.monotonic() - started)))
latencies.sort()
pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else None
print(json.dumps({"count": len(latencies), "errors": errors, "p50": pick(0.5), "p99": pick(0.99), "max": pick(1.0)}))
