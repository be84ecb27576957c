"""The report of promise.sh: one table of every system at every concurrency level, and its reading.
Usage: promise_report.py CSV COST DEADLINE SECONDS CORES"""
import csv
import sys

path, cost, deadline, seconds, cores = sys.argv[1:]
deadline = float(deadline)
rows = sorted(csv.DictReader(open(path)), key=lambda r: int(r["concurrency"]))
systems = list(dict.fromkeys(r["system"] for r in csv.DictReader(open(path))))
rows.sort(key=lambda r: systems.index(r["system"]))
value = lambda v: None if v in ("", "None") else float(v)
ms = lambda v: "–" if value(v) is None else f"{value(v) * 1000:.0f}"
limits = [float(r["limit"]) for r in rows]
ratio = lambda r: float(r["goodput"]) / float(r["limit"])
print(f"Cost {cost}, N = {deadline:g} s, {seconds} s per level and system, systems interleaved per level; "
      f"the limit is the libxcrypt limit, cores / single-hash time, measured before each level: "
      f"{min(limits):.2f} to {max(limits):.2f} hashes/s. Hashes/s is the rate of 200s in the steady state "
      f"(from 2 s into the level to its last 200); refusals/s is per second of the level.\n")
print("| system | c | hashes/s | of limit | refusals/s | other | 200 p50 / p99 / max (ms) | 503 p50 / p99 / max (ms) | late refusals | ping p50 / p99 / max (ms) |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for r in rows:
    t = float(r["seconds"])
    refusals = int(r["refused"])
    late = f"{int(r['late'])} ({int(r['late']) / refusals:.1%})" if refusals and r["system"] != "php-fpm" else "–"
    print(f"| {r['system']} | {r['concurrency']} | {float(r['goodput']):.2f} | {ratio(r):.2f} | "
          f"{refusals / t:.1f} | {r['other']} | {ms(r['ok_p50'])} / {ms(r['ok_p99'])} / {ms(r['ok_max'])} | "
          f"{ms(r['refused_p50'])} / {ms(r['refused_p99'])} / {ms(r['refused_max'])} | {late} | "
          f"{ms(r['ping_p50'])} / {ms(r['ping_p99'])} / {ms(r['ping_max'])}"
          + (f" ({r['ping_errors']} failed)" if r['ping_errors'] != "0" else "") + " |")

# The reading: what the figures say, computed from them.
print("\nReading (latencies are nginx's `request_time`; N counts from nginx's arrival):")
for system in systems:
    mine = [r for r in rows if r["system"] == system]
    slowest_ok = max((value(r["ok_max"]) or 0) for r in mine)
    slowest_refusal = max((value(r["refused_max"]) or 0) for r in mine)
    ping_p99 = max((value(r["ping_p99"]) or 0) for r in mine)
    late = sum(int(r["late"]) for r in mine)
    refused = sum(int(r["refused"]) for r in mine)
    other = sum(int(r["other"]) for r in mine)
    kept = slowest_ok <= deadline and slowest_refusal <= deadline
    overloaded = [r for r in mine if int(r["refused"]) > 0] or mine[-1:]
    goodput = ", ".join(f"{ratio(r):.2f} at c = {r['concurrency']}" for r in overloaded)
    print(f"- **{system}**: " + ("every answer within N" if kept else "answers past N")
          + f" (slowest 200 {slowest_ok:.2f} s, slowest 503 {slowest_refusal:.2f} s); "
          + (f"{late} late refusals of {refused}; " if system != "php-fpm" else "no refusals; ")
          + f"{other} other statuses; ping p99 at most {ping_p99 * 1000:.0f} ms; "
          + f"of the limit: {goodput}.")
