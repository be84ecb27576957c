"""The report of fairness.sh: a markdown table per scenario (one row per system), its reading, the
run's figures as CSV (CSV_PATH) and a plot (SVG, gnuplot, into OUT_DIR) of the light clients'
answers within N, scenario by scenario.
Usage: fairness_report.py RESULTS_JSONL OUT_DIR CSV_PATH COST DEADLINE SECONDS"""
import csv
import json
import math
import os
import subprocess
import sys

path, out, csv_path, cost, deadline, seconds = sys.argv[1:]
deadline, default_seconds = float(deadline), float(seconds)
runs = [json.loads(line) for line in open(path) if line.strip()]
systems = list(dict.fromkeys(r["system"] for r in runs))
scenarios = list(dict.fromkeys(r["scenario"] for r in runs))


def pick(values, q):
    return values[min(len(values) - 1, int(q * len(values)))] if values else None


def ms(value):
    return "–" if value is None else f"{value * 1000:.0f}" if value >= 0.01 else f"{value * 1000:.1f}"


def figures(run):
    clients = run["clients"]
    seconds = run.get("seconds", default_seconds)
    # A light client at 0.02× may send nothing in a short run: it is left out, not counted as 0.
    light = {name: c for name, c in clients.items() if name.startswith("light") and c["sent"] > 0}
    heavy = {name: c for name, c in clients.items() if not name.startswith("light")}
    single = (run["single_before"] + run["single_after"]) / 2
    capacity = run["cores"] / single
    # Goodput in hashes at --cost: a job at another cost counts as its work in those.
    work = sum(c["work_within_deadline"] for c in clients.values()) / seconds
    return {
        "light_min": min((c["ok_fraction"] or 0) for c in light.values()) if light else None,
        # The worst light client's answers within N, of what it sent.
        "light_worst": min(((round((c["ok_fraction"] or 0) * c["sent"]), c["sent"]) for c in light.values()),
                           key=lambda pair: pair[0] / pair[1]) if light else None,
        "light_mean": sum((c["ok_fraction"] or 0) * c["sent"] for c in light.values())
        / max(1, sum(c["sent"] for c in light.values())) if light else None,
        "heavy_goodput": {name: c["goodput_within_deadline"] for name, c in heavy.items()},
        "heavy_compute": {name: c["work_within_deadline"] * single for name, c in heavy.items()},
        "goodput_ratio": work / capacity,
        # The generator runs on the same cores: what the service could have had is the rest.
        "goodput_ratio_left": work / (capacity * max(0.01, 1 - run["generator_cpu_seconds"] / seconds / run["cores"])),
        "capacity_before": run["cores"] / run["single_before"],
        "capacity_after": run["cores"] / run["single_after"],
        "ping_p99": pick(run["ping_times_at_nginx"], 0.99),
        "ping_p99_client": run["ping"]["latency"]["p99"],
        "ping_failed": run["ping"]["failed"],
        "light_refusal_p99": pick(run["light_refusal_times"], 0.99),
        "light_refusals": len(run["light_refusal_times"]),
        "generator_cpu": run["generator_cpu_seconds"] / seconds,
    }


def spread(values):
    values = list(values)
    if not values:
        return None
    mean = sum(values) / len(values)
    return max(abs(v - mean) for v in values) / mean if mean > 0 else None


titles = {
    "flood": "one client at 20× capacity, one light client at 0.25×",
    "three": "three flooders at 10× each, twenty light clients at 0.02× each",
    "costs": f"a flooder at cost {int(cost) + 2} and one at cost {cost}, 10× each in work",
    "rotate": "an attacker at 20× rotating through the 256 addresses of one /24, a light client at 0.25×",
    "storm": "one client in a closed loop of 64 connections, a light client at 0.25× open loop",
    "ipv6": "an attacker at 20× rotating through 5,000 /64s of one IPv6 /48, a light client at 0.25× in another /48",
}
print(f"{runs[0]['cores']} cores; cost {cost}, "
      f"N = {deadline:g} s, {default_seconds:g} s of arrivals per run (three flooders: until each light client has sent about "
      f"forty requests); capacity = cores / single-hash time, measured just "
      f"before and after each run.\n")
rows = []
for scenario in scenarios:
    print(f"**{titles.get(scenario, scenario)}**\n")
    print("| system | light clients: 200 within N (worst / all) | heavy clients' 200s within N per second | "
          "goodput within N: of capacity / of what the generator left | light 503 p99 at nginx (count) | ping p99 at nginx / at the client (failed) | "
          "capacity before → after | generator CPU |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for run in (r for r in runs if r["scenario"] == scenario):
        f = figures(run)
        heavy = f["heavy_goodput"]
        heavy_text = ", ".join(f"{v:.1f}" for v in heavy.values()) if len(heavy) <= 3 else f"{len(heavy)} clients"
        if scenario == "three" and heavy:
            heavy_text += f" (±{100 * (spread(heavy.values()) or 0):.0f}%)"
        if scenario == "costs":
            compute = f["heavy_compute"]
            heavy_text = ", ".join(f"{name}: {v:.1f} s of bcrypt" for name, v in compute.items())
            heavy_text += f" in {run.get('seconds', default_seconds):g} s"
            heavy_text += f" (±{100 * (spread(compute.values()) or 0):.0f}%)"
        # Rounded down: a client at 0.947 is not shown as meeting 0.95.
        light = "–" if f["light_min"] is None else (
            f"{math.floor(f['light_min'] * 100) / 100:.2f} ({f['light_worst'][0]} of {f['light_worst'][1]}) / "
            f"{math.floor(f['light_mean'] * 100) / 100:.2f}")
        print(f"| {run['system']} | {light} | {heavy_text} | {f['goodput_ratio']:.2f} / {f['goodput_ratio_left']:.2f} | "
              f"{ms(f['light_refusal_p99'])} ({f['light_refusals']}) | {ms(f['ping_p99'])} / {ms(f['ping_p99_client'])} ({f['ping_failed']}) | "
              f"{f['capacity_before']:.2f} → {f['capacity_after']:.2f}/s | {100 * f['generator_cpu']:.0f}% of a core |")
        rows.append({"scenario": scenario, "system": run["system"],
                     **{k: v for k, v in f.items() if not isinstance(v, dict) and k != "light_worst"}})
    print()

with open(csv_path, "w", newline="") as handle:
    writer = csv.DictWriter(handle, fieldnames=list(rows[0].keys()), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
print("Plot: [the light clients' answers within N](fairness-light.svg), worst light client per scenario.\n")

# The reading: what the figures say, computed from them.
print("Reading:")
for system in systems:
    mine = [r for r in rows if r["system"] == system and r["light_min"] is not None]
    if not mine:
        continue
    worst = min(mine, key=lambda r: r["light_min"])
    pings = max((r["ping_p99"] or 0) for r in mine)
    print(f"- **{system}**: the worst light client got {math.floor(worst['light_min'] * 100) / 100:.2f} of its "
          f"requests answered within N ({worst['scenario']}); goodput within N "
          f"{min(r['goodput_ratio'] for r in mine):.2f} to {max(r['goodput_ratio'] for r in mine):.2f} of capacity; "
          f"ping p99 at nginx at most {ms(pings)} ms.")

# The light clients' worst fraction of 200s within N, per scenario and system, as grouped bars.
data_path = os.path.join(os.path.dirname(os.path.abspath(csv_path)), "fairness.dat")
with open(data_path, "w") as handle:
    handle.write("scenario " + " ".join(systems) + "\n")
    for scenario in scenarios:
        values = []
        for system in systems:
            match = [r for r in rows if r["scenario"] == scenario and r["system"] == system]
            value = match[0]["light_min"] if match and match[0]["light_min"] is not None else "?"
            values.append(str(value))
        handle.write(scenario + " " + " ".join(values) + "\n")
svg = os.path.join(out, "fairness-light.svg")
columns = ", ".join(f"'{data_path}' using {i + 2}:xtic(1) title '{system}'" for i, system in enumerate(systems))
subprocess.run(["gnuplot"], check=True, text=True, input=f"""set terminal svg size 760,440 dynamic font "sans,12" background rgb "white"
set output '{svg}'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set datafile missing "?"
set key outside right top
set grid ytics
set yrange [0:1.05]
set ylabel "light clients' requests answered 200 within N (worst client)"
set xlabel "scenario (cost {cost}, N = {deadline:g} s, open loop through nginx)"
plot {columns}
""")
print(f"plot: {svg}", file=sys.stderr)
