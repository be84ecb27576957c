#!/usr/bin/env python3
"""Open-loop load: requests arrive at a rate (Poisson), whether or not earlier ones were answered.

Each request is a new connection, as users arriving on their own make. A paced probe pings the
cheap route beside the load. Prints one JSON object: per-status counts and latency percentiles
of the load, what was never answered, and the probe's figures.

    openloop.py --port 8080 --rate 300 --seconds 20 [--path /api/load] [--ping-interval 0.02]
"""
import argparse
import asyncio
import json
import resource
import random
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


async def one_request(host, port, path, timeout):
    """Returns (status or an error name, seconds)."""
    started = time.monotonic()
    writer = None
    try:
        async def exchange():
            nonlocal writer
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            await writer.drain()
            head = await reader.readline()
            await reader.read()  # the rest, until the server closes
            return int(head.split()[1]) if head.startswith(b"HTTP/") else "bad_response"

        status = await asyncio.wait_for(exchange(), timeout)
    except asyncio.TimeoutError:
        status = "unanswered"
    except (ConnectionError, OSError) as error:
        status = type(error).__name__
    finally:
        if writer is not None:
            writer.close()
    return status, time.monotonic() - started


async def run(arguments):
    random.seed(arguments.seed)
    load_results, ping_results, tasks = [], [], []

    async def record(target, path, at):
        status, seconds = await one_request(arguments.host, arguments.port, path, arguments.timeout)
        target.append((at, status, seconds))

    start = time.monotonic()
    end = start + arguments.seconds

    async def send(target, path, next_gap):
        """Sends `path` at start + the gaps `next_gap` gives, until the end, not waiting for answers."""
        at = start
        while True:
            at += next_gap()
            if at >= end:
                return
            delay = at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(record(target, path, at - start)))

    senders = [send(load_results, arguments.path, lambda: random.expovariate(arguments.rate))]
    if arguments.ping_interval > 0:
        senders.append(send(ping_results, arguments.ping_path, lambda: arguments.ping_interval))
    await asyncio.gather(*senders)
    sent_seconds = time.monotonic() - start
    if tasks:
        await asyncio.gather(*tasks)

    statuses, by_status = {}, {}
    for _, status, seconds in load_results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        by_status.setdefault(str(status), []).append(seconds)
    ping_ok = [seconds for _, status, seconds in ping_results if status == 200]
    ping_statuses = {}
    for _, status, _ in ping_results:
        ping_statuses[str(status)] = ping_statuses.get(str(status), 0) + 1
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "offered_rate": arguments.rate,
        "seconds": arguments.seconds,
        "sent": len(load_results),
        "achieved_rate": len(load_results) / sent_seconds if sent_seconds > 0 else 0,
        "statuses": statuses,
        "latency": {status: summary(values) for status, values in by_status.items()},
        "goodput": statuses.get("200", 0) / arguments.seconds,
        "ping": {
            "sent": len(ping_results),
            "ok": len(ping_ok),
            "failed": len(ping_results) - len(ping_ok),
            "statuses": ping_statuses,
            "latency": summary(ping_ok),
        },
        # The generator runs on the cores it measures: what it took of them.
        "generator_cpu_seconds": usage.ru_utime + usage.ru_stime,
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
    arguments = parser.parse_args()
    if arguments.rate <= 0 or arguments.seconds <= 0:
        parser.error("--rate and --seconds must be positive")
    print(json.dumps(asyncio.run(run(arguments))))


if __name__ == "__main__":
    main()
