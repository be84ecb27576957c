#!/usr/bin/env python3
"""Open-loop load: requests arrive at a rate (Poisson), whether or not earlier ones were answered.

Each request is a new connection, as users arriving on their own make. A paced probe pings the
cheap route beside the load. Prints one JSON object: per-status counts and latency percentiles
of the load, what was never answered, and the probe's figures.

    openloop.py --port 8080 --rate 300 --seconds 20 [--path /api/load] [--ping-interval 0.02]
                [--mix-path /api/verify --mix-body '{…}' --mix-fraction 0.5]

With a mix, that fraction of the arrivals (drawn at random) POSTs the body to the mix path
instead; both count as load, and the mix's own 200s within N are reported apart.
"""
import argparse
import errno
import heapq
import itertools
import json
import random
import resource
import selectors
import socket
import time


def percentile(values, fraction):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def summary(latencies):
    return {
        "count": len(latencies),
        "p50": percentile(latencies, 0.50),
        "p90": percentile(latencies, 0.90),
        "p99": percentile(latencies, 0.99),
        "max": max(latencies) if latencies else None,
    }


class Exchange:
    """One request on a new non-blocking connection, read until the server closes it."""

    __slots__ = ("serial", "kind", "request", "at", "started", "head", "sent", "sock", "mixed")

    def __init__(self, serial, kind, request, at, family, mixed=False):
        self.serial, self.kind, self.request, self.at, self.mixed = serial, kind, request, at, mixed
        self.started = time.monotonic()
        self.head, self.sent = bytearray(), False
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setblocking(False)

    def status(self):
        head = bytes(self.head)
        parts = head.split()
        return int(parts[1]) if head.startswith(b"HTTP/") and len(parts) > 1 else "bad_response"



def cpu_times():
    """All cores' clock ticks from /proc/stat, by kind.

    Hashing runs on threads at nice 10, and nothing else on a bench host runs niced, so "nice"
    is the time the cores spent hashing."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest time is inside user already)
    user, nice, system, idle, iowait, irq, softirq, steal = fields[:8]
    return {"user": user, "nice": nice, "system": system, "idle": idle + iowait, "interrupts": irq + softirq,
            "steal": steal, "total": sum(fields[:8])}


def shares(before, after):
    """What share of the cores' time each kind took between two cpu_times()."""
    total = max(1, after["total"] - before["total"])
    return {kind: (after[kind] - before[kind]) / total for kind in before if kind != "total"}


def run(arguments):
    """Offers the arrivals from one thread on a bare selector.

    The generator runs on the cores it measures, so it is kept cheap: an asyncio stream per
    request under `wait_for` took about twice the CPU per request of this loop.
    """
    random.seed(arguments.seed)
    family = socket.AF_INET6 if ":" in arguments.host else socket.AF_INET
    address = (arguments.host, arguments.port)
    selector = selectors.DefaultSelector()
    requests = {
        kind: f"GET {path} HTTP/1.1\r\nHost: {arguments.host}\r\nConnection: close\r\n\r\n".encode()
        for kind, path in (("load", arguments.path), ("ping", arguments.ping_path))
    }
    if arguments.mix_path:
        body = arguments.mix_body.encode()
        requests["mix"] = (
            f"POST {arguments.mix_path} HTTP/1.1\r\nHost: {arguments.host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body
    results = {"load": [], "ping": []}
    in_flight, deadlines = {}, []  # serial → exchange; heap of (deadline, serial)
    serials = itertools.count()

    cpu_before = cpu_times()
    cpu_steady = None
    start = time.monotonic()
    end = start + arguments.seconds
    never = float("inf")
    next_at = {"load": start + random.expovariate(arguments.rate),
               "ping": start + arguments.ping_interval if arguments.ping_interval > 0 else never}
    gaps = {"load": lambda: random.expovariate(arguments.rate), "ping": lambda: arguments.ping_interval}
    sent_seconds = None

    def finish(exchange, status):
        if exchange.sent is not None:
            selector.unregister(exchange.sock)
        exchange.sock.close()
        del in_flight[exchange.serial]
        results[exchange.kind].append(
            (exchange.at - start, status, time.monotonic() - exchange.started, exchange.mixed))

    def launch(kind, at):
        mixed = kind == "load" and "mix" in requests and random.random() < arguments.mix_fraction
        exchange = Exchange(next(serials), kind, requests["mix" if mixed else kind], at, family, mixed)
        in_flight[exchange.serial] = exchange
        error = exchange.sock.connect_ex(address)
        if error not in (0, errno.EINPROGRESS):
            exchange.sent = None  # never registered
            finish(exchange, errno.errorcode.get(error, "OSError"))
            return
        selector.register(exchange.sock, selectors.EVENT_WRITE, exchange)
        heapq.heappush(deadlines, (exchange.started + arguments.timeout, exchange.serial))

    while True:
        now = time.monotonic()
        for kind in ("load", "ping"):
            while next_at[kind] <= now and next_at[kind] < end:
                launch(kind, next_at[kind])
                next_at[kind] += gaps[kind]()
        if cpu_steady is None and now - start >= min(arguments.within, arguments.seconds / 2):
            cpu_steady = cpu_times()
        if sent_seconds is None and min(next_at.values()) >= end:
            sent_seconds = now - start
            cpu_after = cpu_times()
        while deadlines and deadlines[0][0] <= now:
            _, key = heapq.heappop(deadlines)
            if key in in_flight:
                finish(in_flight[key], "unanswered")
        if sent_seconds is not None and not in_flight:
            break
        wake = min([at for at in next_at.values() if at < end] + [deadlines[0][0] if deadlines else never])
        for key, _ in selector.select(min(max(0.0, wake - time.monotonic()), 1.0)):
            exchange = key.data
            try:
                if not exchange.sent:
                    error = exchange.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if error:
                        finish(exchange, errno.errorcode.get(error, "OSError"))
                        continue
                    exchange.sock.send(exchange.request)
                    exchange.sent = True
                    selector.modify(exchange.sock, selectors.EVENT_READ, exchange)
                    continue
                data = exchange.sock.recv(65536)
            except OSError as error:
                finish(exchange, type(error).__name__)
                continue
            if data:
                if len(exchange.head) < 64:
                    exchange.head += data[: 64 - len(exchange.head)]
            else:
                finish(exchange, exchange.status())

    load_results, ping_results = results["load"], results["ping"]
    steady_from = min(arguments.within, arguments.seconds / 2)
    statuses, by_status = {}, {}
    for _, status, seconds, _ in load_results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        by_status.setdefault(str(status), []).append(seconds)
    ping_ok = [seconds for _, status, seconds, _ in ping_results if status == 200]
    ping_statuses = {}
    for _, status, _, _ in ping_results:
        ping_statuses[str(status)] = ping_statuses.get(str(status), 0) + 1
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "offered_rate": arguments.rate,
        "seconds": arguments.seconds,
        "sent": len(load_results),
        "achieved_rate": len(load_results) / sent_seconds if sent_seconds else 0,
        "statuses": statuses,
        "latency": {status: summary(values) for status, values in by_status.items()},
        "goodput": statuses.get("200", 0) / arguments.seconds,
        # 200s that came back within --within seconds (N): the answers that kept the promise.
        "ok_within": sum(1 for _, status, seconds, _ in load_results if status == 200 and seconds <= arguments.within),
        # Of those, the ones that came back in the steady state: from N after the first arrival
        # (the queue has filled) to the last arrival (no queue draining afterwards counted in).
        # Divided by steady_seconds, the rate at which a loaded service answers in time.
        "ok_within_steady": sum(1 for at, status, seconds, _ in load_results
                                if status == 200 and seconds <= arguments.within
                                and steady_from <= at + seconds <= arguments.seconds),
        # The same for the mix's requests alone (0 without a mix), and how many of them were sent.
        "mix_sent": sum(1 for result in load_results if result[3]),
        "mix_ok_within_steady": sum(1 for at, status, seconds, mixed in load_results
                                    if mixed and status == 200 and seconds <= arguments.within
                                    and steady_from <= at + seconds <= arguments.seconds),
        # Any 200 that came back after N, of either kind: the promise broken.
        "ok_late": sum(1 for _, status, seconds, _ in load_results if status == 200 and seconds > arguments.within),
        "steady_seconds": arguments.seconds - steady_from,
        "ping": {
            "sent": len(ping_results),
            "ok": len(ping_ok),
            "failed": len(ping_results) - len(ping_ok),
            "statuses": ping_statuses,
            "latency": summary(ping_ok),
        },
        # The generator runs on the cores it measures: what it took of them.
        "generator_cpu_seconds": usage.ru_utime + usage.ru_stime,
        # What the hypervisor gave to other guests while the requests arrived: a virtual
        # machine's cores are not all its own, and a noisy neighbour lowers every figure here.
        "steal_fraction": shares(cpu_before, cpu_after)["steal"],
        # How the cores spent the steady state: hashing (nice), idle, the kernel's interrupts
        # (loopback TCP among them), and the rest (nginx, the generator, the workers' request
        # threads at user and system).
        "cpu_steady": shares(cpu_steady or cpu_before, cpu_after),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/api/load")
    parser.add_argument("--rate", type=float, required=True, help="arrivals per second (Poisson)")
    parser.add_argument("--seconds", type=float, required=True, help="how long requests arrive")
    parser.add_argument("--timeout", type=float, default=60, help="a request unanswered this long counts as unanswered")
    parser.add_argument("--ping-path", default="/api/ping")
    parser.add_argument("--ping-interval", type=float, default=0.02, help="seconds between probe pings (0: none)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--mix-path", help="a second request: this path, POSTed with --mix-body")
    parser.add_argument("--mix-body", default="{}", help="the JSON body of the mix's requests")
    parser.add_argument("--mix-fraction", type=float, default=0.0, help="the share of arrivals that are the mix's")
    parser.add_argument("--within", type=float, default=float("inf"),
                        help="N: count the 200s answered within this many seconds (ok_within), and those of them "
                             "that came back from N after the start to the last arrival (ok_within_steady)")
    arguments = parser.parse_args()
    if arguments.rate <= 0 or arguments.seconds <= 0:
        parser.error("--rate and --seconds must be positive")
    if not 0 <= arguments.mix_fraction <= 1 or (arguments.mix_fraction > 0 and not arguments.mix_path):
        parser.error("--mix-fraction must be 0 to 1, and needs --mix-path")
    print(json.dumps(run(arguments)))


if __name__ == "__main__":
    main()
