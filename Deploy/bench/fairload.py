#!/usr/bin/env python3
"""Several clients at once against one front, each from loopback source addresses of its own.

Each client is open loop (Poisson arrivals at a rate, whatever the service does, a new connection
each) or closed loop (N connections, each sending again the moment it is answered, as `ab -c N`).
It may rotate through many source addresses, name end users in a header, and ask for a bcrypt
cost. A paced probe pings the cheap route beside them. Prints one JSON object: per client, the
statuses, the 503 reasons, latency percentiles per status and reason, and answers within N.

    fairload.py --port 8080 --seconds 20 --deadline 2 --clients '[
        {"name": "flooder", "rate": 165, "sources": ["127.0.0.2"]},
        {"name": "light", "rate": 2, "sources": ["127.0.1.2"]}]'

A client: name; rate (arrivals per second) or concurrency (closed loop); sources (addresses, or
"A.B.C.0/24" for all 256 of a /24, rotated per request; IPv6 sources connect to [::1]); path (GET it) or cost (POST /api/hash with
that cost; with neither, GET /api/load at the service's cost); header (a Fullyloaded-Client value, "{n}" replaced
by a request counter); weight (the work of one of its requests, in whatever unit the caller
counts, 1 by default); start and stop (seconds into the run); or times (a list of seconds into the
run at which to send, instead of a rate).
"""
import argparse
import asyncio
import ipaddress
import json
import os
import random
import resource
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from openloop import summary  # noqa: E402

IP_FREEBIND = 15  # linux/in.h


def expand(sources):
    addresses = []
    for source in sources:
        if "/" in source:
            addresses.extend(str(address) for address in ipaddress.ip_network(source, strict=False))
        else:
            addresses.append(source)
    return addresses


async def one_request(host, port, source, request, timeout):
    """Returns (status or an error name, 503 reason or None, seconds, finished at)."""
    # Plain non-blocking sockets on the event loop, no streams: the generator shares the cores
    # with the service, and every cycle it spends is one the hashing does not get.
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    reason = None
    ipv6 = ":" in source
    sock = socket.socket(socket.AF_INET6 if ipv6 else socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        async with asyncio.timeout(timeout):
            if ipv6:
                # An IPv6 source of a prefix routed to this machine (ip -6 route add local … dev lo):
                # free-bound, as the address is on no interface, and to the front's [::1].
                sock.setsockopt(socket.SOL_IP, IP_FREEBIND, 1)
                sock.bind((source, 0))
                await loop.sock_connect(sock, ("::1", port))
            else:
                sock.bind((source, 0))
                await loop.sock_connect(sock, (host, port))
            await loop.sock_sendall(sock, request)
            chunks = []
            while True:  # until the server closes
                chunk = await loop.sock_recv(sock, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
        response = b"".join(chunks)
        if not response.startswith(b"HTTP/"):
            status = "bad_response"
        else:
            status = int(response.split(b" ", 2)[1])
            if status == 503:
                try:
                    reason = json.loads(response.split(b"\r\n\r\n", 1)[-1]).get("reason") or "unstated"
                except ValueError:
                    reason = "not_json"
    except TimeoutError:
        status = "unanswered"
    except (ConnectionError, OSError) as error:
        status = type(error).__name__
    finally:
        sock.close()
    finished = time.monotonic()
    return status, reason, finished - started, finished


def make_request(host, client, counter):
    headers = f"Host: {host}\r\nConnection: close\r\n"
    if client.get("header"):
        headers += "Fullyloaded-Client: " + client["header"].replace("{n}", str(counter)) + "\r\n"
    if client.get("path") or client.get("cost") is None:
        return f"GET {client.get('path', '/api/load')} HTTP/1.1\r\n{headers}\r\n".encode()
    body = json.dumps({"password": f"p{counter}", "cost": client["cost"]})
    return (
        f"POST /api/hash HTTP/1.1\r\n{headers}Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n{body}"
    ).encode()


async def run(arguments):
    random.seed(arguments.seed)
    clients = json.loads(arguments.clients)
    start = time.monotonic()
    end = start + arguments.seconds
    tasks = []
    results = {client["name"]: [] for client in clients}
    ping_results = []

    async def record(name, source, request, at):
        status, reason, seconds, finished = await one_request(
            arguments.host, arguments.port, source, request, arguments.timeout)
        results[name].append((at, status, reason, seconds, finished - start))

    async def open_loop(client):
        sources = expand(client.get("sources", ["127.0.0.1"]))
        at = start + client.get("start", 0)
        stop = min(end, start + client.get("stop", arguments.seconds))
        times = iter(sorted(client["times"])) if "times" in client else None
        counter = 0
        while True:
            at = start + next(times, arguments.seconds) if times else at + random.expovariate(client["rate"])
            if at >= stop:
                return
            delay = at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            source = sources[counter % len(sources)]
            request = make_request(arguments.host, client, counter)
            counter += 1
            tasks.append(asyncio.ensure_future(record(client["name"], source, request, at - start)))

    async def closed_loop(client, index):
        sources = expand(client.get("sources", ["127.0.0.1"]))
        counter = index
        stop = min(end, start + client.get("stop", arguments.seconds))
        await asyncio.sleep(client.get("start", 0))
        while time.monotonic() < stop:
            source = sources[counter % len(sources)]
            request = make_request(arguments.host, client, counter)
            counter += client["concurrency"]
            await record(client["name"], source, request, time.monotonic() - start)

    async def pinger():
        at = start
        while arguments.ping_interval > 0:
            at += arguments.ping_interval
            if at >= end:
                return
            delay = at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            request = f"GET /api/ping HTTP/1.1\r\nHost: {arguments.host}\r\nConnection: close\r\n\r\n".encode()

            async def one(request=request):
                status, _, seconds, _ = await one_request(arguments.host, arguments.port, "127.0.0.1", request, 10)
                ping_results.append((status, seconds))
            tasks.append(asyncio.ensure_future(one()))

    senders = [pinger()]
    for client in clients:
        if client.get("concurrency"):
            senders.extend(closed_loop(client, index) for index in range(client["concurrency"]))
        else:
            senders.append(open_loop(client))
    await asyncio.gather(*senders)
    if tasks:
        await asyncio.gather(*tasks)

    report = {"seconds": arguments.seconds, "deadline": arguments.deadline, "clients": {}}
    for client in clients:
        rows = results[client["name"]]
        statuses, reasons, by_status, by_reason = {}, {}, {}, {}
        for _, status, reason, seconds, _ in rows:
            statuses[str(status)] = statuses.get(str(status), 0) + 1
            by_status.setdefault(str(status), []).append(seconds)
            if reason:
                reasons[reason] = reasons.get(reason, 0) + 1
                by_reason.setdefault(reason, []).append(seconds)
        within = sum(1 for _, status, _, seconds, _ in rows if status == 200 and seconds <= arguments.deadline)
        report["clients"][client["name"]] = {
            "sent": len(rows),
            "statuses": statuses,
            "reasons": reasons,
            "ok_within_deadline": within,
            "ok_fraction": within / len(rows) if rows else None,
            "goodput": statuses.get("200", 0) / arguments.seconds,
            "goodput_within_deadline": within / arguments.seconds,
            "work_within_deadline": within * client.get("weight", 1),
            "latency": {status: summary(values) for status, values in by_status.items()},
            "reason_latency": {reason: summary(values) for reason, values in by_reason.items()},
        }
        if arguments.events:
            report["clients"][client["name"]]["events"] = [
                {"sent": round(at, 4), "status": status, "reason": reason, "finished": round(finished, 4)}
                for at, status, reason, _, finished in rows
            ]
    ping_ok = [seconds for status, seconds in ping_results if status == 200]
    report["ping"] = {"sent": len(ping_results), "failed": len(ping_results) - len(ping_ok), "latency": summary(ping_ok)}
    usage = resource.getrusage(resource.RUSAGE_SELF)
    report["generator_cpu_seconds"] = usage.ru_utime + usage.ru_stime
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--clients", required=True, help="a JSON list of clients (see above)")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--deadline", type=float, required=True, help="N, for the answers-within-N count")
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--ping-interval", type=float, default=0.02, help="seconds between probe pings (0: none)")
    parser.add_argument("--events", action="store_true", help="list every request of every client")
    parser.add_argument("--seed", type=int, default=1)
    arguments = parser.parse_args()
    print(json.dumps(asyncio.run(run(arguments))))


if __name__ == "__main__":
    main()
