"""The report of rounds.sh: medians over runs, a markdown table per system with its reading, and
three plots drawn by gnuplot (SVG, into OUT_DIR) — throughput, latency and cheap-request latency
against concurrency. The medians and the plots' data go beside RAW_CSV.
Usage: rounds_report.py RAW_CSV OUT_DIR COST DEADLINE SECONDS RUNS CORES"""
import csv
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plots import draw  # noqa: E402

raw, out, cost, deadline, seconds, runs, cores = sys.argv[1:]
rows = list(csv.DictReader(open(raw)))
systems = list(dict.fromkeys(r["system"] for r in rows))
levels = sorted({int(r["concurrency"]) for r in rows})
metrics = ["throughput", "limit", "ok_p50", "ok_p99", "ok_max", "ping_p50", "ping_p99", "ping_max"]
counts = ["ok", "refused", "other", "ping_errors", "seconds"]


def median(values):
    values = [float(v) for v in values if v not in ("", "None")]
    return statistics.median(values) if values else None


medians = []
for system in systems:
    for c in levels:
        group = [r for r in rows if r["system"] == system and int(r["concurrency"]) == c]
        if not group:
            continue
        row = {"system": system, "concurrency": c, "runs": len(group)}
        for name in metrics + counts:
            row[name] = median(r[name] for r in group)
        medians.append(row)

beside = os.path.dirname(os.path.abspath(raw))
with open(os.path.join(beside, "rounds-median.csv"), "w", newline="") as handle:
    writer = csv.DictWriter(handle, fieldnames=["system", "concurrency", "runs"] + metrics + counts)
    writer.writeheader()
    writer.writerows(medians)

limits = [r["limit"] for r in medians if r["limit"]]
print(f"{cores} cores; cost {cost}, N = {deadline} s, {seconds} s per run, median of {runs} run(s); limit (cores / single-hash "
      f"time, measured before each level) {min(limits):.2f} to {max(limits):.2f} hashes/s.\n")
ms = lambda v: "–" if v is None else f"{v * 1000:.0f}" if v >= 0.01 else f"{v * 1000:.1f}"
# The probe gives up on a ping after 10 s: then the ping's p99 and max are at least that, whatever
# the few pings that did come back say.
TIMEOUT = 10.0
for r in medians:
    if r["ping_errors"]:
        r["ping_p99"], r["ping_max"] = TIMEOUT, TIMEOUT
for system in systems:
    print(f"**{system}**\n")
    print("| c | hashes/s | of limit | refusals/s | other | 200 p50 / p99 / max (ms) | ping p50 / p99 / max (ms) | pings given up (> 10 s) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in (r for r in medians if r["system"] == system):
        share = r["throughput"] / r["limit"] if r["limit"] else 0
        refusals = (r["refused"] or 0) / r["seconds"] if r["seconds"] else 0
        print(f"| {r['concurrency']} | {r['throughput']:.2f} | {share:.2f} | {refusals:.1f} | {r['other']:.0f} | "
              f"{ms(r['ok_p50'])} / {ms(r['ok_p99'])} / {ms(r['ok_max'])} | "
              f"{ms(r['ping_p50'])} / {ms(r['ping_p99'])}{'+' if r['ping_errors'] else ''} / "
              f"{ms(r['ping_max'])}{'+' if r['ping_errors'] else ''} | {r['ping_errors']:.0f} |")
    print()

print("Plots: [throughput](rounds-throughput.svg), [200 p99](rounds-latency.svg), "
      "[ping p99 under load](rounds-cheap.svg).\n")

# The reading: what the figures say, computed from them.
print("Reading:")
for system in systems:
    mine = [r for r in medians if r["system"] == system]
    shares = [r["throughput"] / r["limit"] for r in mine if r["limit"] and r["throughput"] is not None]
    slowest = max((r["ok_max"] or 0) for r in mine)
    pings = max((r["ping_p99"] or 0) for r in mine)
    given_up = sum(r["ping_errors"] or 0 for r in mine)
    print(f"- **{system}**: {min(shares):.2f} to {max(shares):.2f} of the limit; slowest 200 "
          f"{slowest:.2f} s ({'within' if slowest <= float(deadline) else 'past'} N); ping p99 at most {ms(pings)} ms"
          + (f", {given_up:.0f} pings given up" if given_up else "") + ".")
print()

# One data file per system for gnuplot: c, throughput, ok p50, ok p99, ping p99 ("?" = missing).
data = {}
for system in systems:
    path = os.path.join(beside, f"rounds-{system}.dat")
    with open(path, "w") as handle:
        for r in (r for r in medians if r["system"] == system):
            cell = lambda v: "?" if v is None else f"{v:.6f}"
            handle.write(f"{r['concurrency']} {cell(r['throughput'])} {cell(r['ok_p50'])} {cell(r['ok_p99'])} "
                         f"{cell(r['ping_p99'])}\n")
    data[system] = path
limit = statistics.median(limits)
draw(out, "rounds", "concurrent clients (ab -c)", data, {
    "throughput": ("hashes per second (200s)", "unset logscale y\nset yrange [0:*]\n", 2,
                   f", {limit:.3f} title 'cores / single-hash time' dashtype 2 lc rgb 'gray'"),
    "latency": ("p99 latency of 200s, seconds (log)", "set logscale y\n", 4,
                f", {deadline} title 'N' dashtype 2 lc rgb 'gray'"),
    "cheap": ("p99 latency of /api/ping under load, seconds (log)", "set logscale y\n", 5, ""),
}, xrange=(levels[0] / 1.3, levels[-1] * 1.3))
