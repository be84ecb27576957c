"""The report of openloop.sh: a markdown table per system and three plots drawn by gnuplot (SVG) —
goodput, p99 of 200s and p99 of pings against the multiple of capacity offered.
Usage: openloop_report.py CSV OUT_DIR COST DEADLINE SECONDS TIMEOUT CORES"""
import csv
import datetime
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plots import draw  # noqa: E402

path, out, cost, deadline, seconds, timeout, cores = sys.argv[1:]
rows = list(csv.DictReader(open(path)))
systems = list(dict.fromkeys(r["system"] for r in rows))
number = lambda v: None if v in ("", None) else float(v)
ms = lambda v: "–" if v is None else f"{v * 1000:.0f}" if v >= 0.01 else f"{v * 1000:.1f}"
capacities = [float(r["capacity"]) for r in rows]
# CPU seconds the load generator used for the level, per second of arrivals, as a share of all cores.
generator = lambda r: "–" if not r.get("generator_cpu_seconds") else \
    f"{float(r['generator_cpu_seconds']) / (float(r['seconds']) * int(cores)):.0%}"
# The share of the cores the hypervisor gave to other guests while the requests arrived.
steal = lambda r: "–" if not r.get("steal_fraction") else f"{float(r['steal_fraction']):.0%}"
print(f"Run {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {cores} cores; cost {cost}, "
      f"N = {deadline} s, {seconds} s of arrivals per level, unanswered after {timeout} s; capacity (cores / "
      f"single-hash time, measured before each level) {min(capacities):.2f} to {max(capacities):.2f} hashes/s.\n")
for system in systems:
    print(f"**{system}**\n")
    print("| arrivals (× capacity) | 200s per second of arrivals (of capacity) | 200 p50 / p99 / max (ms) | 503 p99 / max (ms) | unanswered | other | ping p99 / max (ms), failed | load generator's CPU (of the cores) | stolen by the hypervisor |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in (r for r in rows if r["system"] == system):
        goodput, capacity = float(r["goodput"]), float(r["capacity"])
        print(f"| {float(r['achieved']):.0f}/s ({r['multiple']}×) | {goodput:.1f} ({goodput / capacity:.2f}) | "
              f"{ms(number(r['ok_p50']))} / {ms(number(r['ok_p99']))} / {ms(number(r['ok_max']))} | "
              f"{ms(number(r['refused_p99']))} / {ms(number(r['refused_max']))} | {r['unanswered']} | {r['other']} | "
              f"{ms(number(r['ping_p99']))} / {ms(number(r['ping_max']))}, {r['ping_failed']} of {r['ping_sent']} | "
              f"{generator(r)} | {steal(r)} |")
    print()

data = {}
stem = os.path.splitext(os.path.basename(path))[0]
for system in systems:
    data_path = os.path.join(out, "data", f"{stem}-{system}.dat")
    with open(data_path, "w") as handle:
        for r in (r for r in rows if r["system"] == system):
            cell = lambda v: "?" if v in ("", None) else v
            ratio = float(r["goodput"]) / float(r["capacity"])
            # An unanswered request has no latency: its p99 is at least the timeout.
            p99 = r["ok_p99"] if int(r["unanswered"]) == 0 else timeout
            handle.write(f"{r['multiple']} {ratio:.4f} {cell(p99)} {cell(r['ping_p99'])}\n")
    data[system] = data_path
draw(out, "openloop", "arrivals, multiple of capacity (open loop, log)", data, {
    "goodput": ("200s per second, fraction of capacity", "unset logscale y\nset yrange [0:*]\n", 2, ""),
    "latency": ("p99 latency of 200s, seconds (log)", "set logscale y\n", 3,
                f", {deadline} title 'N' dashtype 2 lc rgb 'gray'"),
    "cheap": ("p99 latency of /api/ping, seconds (log)", "set logscale y\n", 4, ""),
})
