"""One CSV row of rounds.sh: a system at one concurrency, one run, from nginx's access log (every
request's status and request_time) and the ping probe's JSON.
Usage: rounds_row.py SYSTEM CONCURRENCY RUN AB_SECONDS SINGLE_HASH_SECONDS CORES ACCESS_LOG PROBE_JSON"""
import json
import sys

system, c, run, taken, single, cores, log, probe = sys.argv[1:]
taken, single, cores = float(taken), float(single), int(cores)
rows = []
for line in open(log):
    try:
        rows.append(json.loads(line))
    except ValueError:
        pass
loads = [r for r in rows if r["uri"].startswith("/api/load")]
ok = sorted(r["request_time"] for r in loads if r["status"] == 200)
refused = [r for r in loads if r["status"] == 503]
# 499: ab closed the connection when its time ran out; anything else is a failure to report.
other = sum(1 for r in loads if r["status"] not in (200, 503, 499))
# Throughput over the steady state: from a warm-up after the first answer (the queue has filled)
# to the last 200. ab -t drops the requests still in flight when time runs out.
done = sorted(r["msec"] for r in loads if r["status"] == 200)
warm = min(2.0, taken / 4)
start = (min(r["msec"] for r in loads) + warm) if loads else 0
window = [t for t in done if t > start]
throughput = (len(window) - 1) / (window[-1] - window[0]) if len(window) > 2 else 0.0
pick = lambda values, q: values[min(len(values) - 1, int(q * len(values)))] if values else ""
ping = json.load(open(probe))
blank = lambda v: "" if v is None else v
print(",".join(str(v) for v in [
    system, c, run, f"{taken:.1f}", len(ok), len(refused), other, f"{throughput:.3f}", f"{cores / single:.3f}",
    pick(ok, .5), pick(ok, .99), pick(ok, 1), blank(ping["p50"]), blank(ping["p99"]), blank(ping["max"]),
    ping["errors"]]))
