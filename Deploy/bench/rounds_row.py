"""One CSV row of rounds.sh: a system at one concurrency, one run, from nginx's access log (every
request's status and request_time) and the ping probe's JSON.
Usage: rounds_row.py SYSTEM CONCURRENCY RUN AB_SECONDS SINGLE_HASH_SECONDS CORES ACCESS_LOG PROBE_JSON"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from accesslog import latencies, pick, requests, steady_rate  # noqa: E402

system, c, run, taken, single, cores, log, probe = sys.argv[1:]
taken, single, cores = float(taken), float(single), int(cores)
loads = requests(log)
ok = latencies(loads, 200)
refused = latencies(loads, 503)
# 499: ab closed the connection when its time ran out; anything else is a failure to report.
other = sum(1 for r in loads if r["status"] not in (200, 503, 499))
throughput = steady_rate(loads, warm=min(2.0, taken / 4))
ping = json.load(open(probe))
blank = lambda v: "" if v is None else v
print(",".join(str(v) for v in [
    system, c, run, f"{taken:.1f}", len(ok), len(refused), other, f"{throughput:.3f}", f"{cores / single:.3f}",
    blank(pick(ok, .5)), blank(pick(ok, .99)), blank(pick(ok, 1)), blank(ping["p50"]), blank(ping["p99"]),
    blank(ping["max"]), ping["errors"]]))
