"""The report of openloop.sh: a markdown table per system, its reading, and three plots drawn by
gnuplot (SVG) — goodput, p99 of 200s and p99 of pings against the multiple of capacity offered.
The plots' data files go beside the run's CSV; the SVGs into OUT_DIR.
Usage: openloop_report.py CSV OUT_DIR COST DEADLINE SECONDS TIMEOUT CORES ARGON2_MEMORY_KIB"""
import csv
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plots import draw  # noqa: E402

path, out, cost, deadline, seconds, timeout, cores, argon2_memory = sys.argv[1:]
# The mixed level's argon2id memory per hash, KiB.
ARGON2_MEMORY_KIB = int(argon2_memory)
deadline = float(deadline)
rows = list(csv.DictReader(open(path)))
systems = list(dict.fromkeys(r["system"] for r in rows))
multiples = list(dict.fromkeys(r["multiple"] for r in rows))
number = lambda v: None if v in ("", None) else float(v)
ms = lambda v: "–" if v is None else f"{v * 1000:.0f}" if v >= 0.01 else f"{v * 1000:.1f}"
capacities = [float(r["capacity"]) for r in rows if not r.get("mix_fraction") or float(r["mix_fraction"]) == 0]
mixed = [r for r in rows if r.get("mix_fraction") and float(r["mix_fraction"]) > 0]
# How far the machine's speed moved during a level: after / before, the least and the most.
drifts = [float(r["capacity_after"]) / float(r["capacity_before"]) for r in rows if r.get("capacity_before")]
drift = "–" if not drifts else f"{min(drifts) - 1:+.0%} to {max(drifts) - 1:+.0%} from before to after"
# Every per-second figure has one denominator: the seconds during which requests arrived.
within = lambda r: float(r["goodput_steady"]) / float(r["capacity"])
everything = lambda r: float(r["goodput"]) / float(r["capacity"])
# CPU seconds the load generator used for the level, as a share of all cores while requests arrived.
generator = lambda r: "–" if not r.get("generator_cpu_seconds") else \
    f"{float(r['generator_cpu_seconds']) / (float(r['seconds']) * int(cores)):.0%}"
# How the cores spent the steady state: hashing (nice), idle, the kernel's interrupts. PHP hashes
# at nice 0, so its hashing is not told apart.
core_time = lambda r: "–" if not r.get("hashing_fraction") or r["system"] == "php-fpm" else \
    f"{float(r['hashing_fraction']):.0%} / {float(r['idle_fraction']):.0%} / {float(r['interrupts_fraction']):.0%}"
# The share of the cores the hypervisor gave to other guests while the requests arrived.
steal = lambda r: "–" if not r.get("steal_fraction") else f"{float(r['steal_fraction']):.0%}"
print(f"Cost {cost}, N = {deadline:g} s, {seconds} s of arrivals per level, unanswered after {timeout} s; "
      f"capacity = the libxcrypt limit, cores / single-hash time, the mean of its measures just before and "
      f"just after each level (they ranged {drift}): "
      + (f"{min(capacities):.2f} to {max(capacities):.2f} hashes/s" if capacities else "–")
      + (f" (for fullyloaded-mixed, cores / the mix's mean hash time, half argon2id at m = 19 MiB, "
         f"t = 2, timed as all cores hash at once, half bcrypt: {min(float(r['capacity']) for r in mixed):.2f} to "
         f"{max(float(r['capacity']) for r in mixed):.2f} jobs/s; its goodput in jobs passes 1 when admission lets "
         f"more of the shorter argon2id jobs through, so its reading gives the work done, in those single-hash "
         f"times; argon2id beside bcrypt shares less memory bandwidth and runs faster than so timed, so that "
         f"figure may pass the cores' share spent hashing)" if mixed else "") + ". Goodput is the rate of 200s that came back "
      f"within N in the steady state (from N after the first arrival to the last), as a multiple of that capacity; "
      f"\"all 200s\" counts every 200 however late, per second of arrivals (so it passes the capacity when a "
      f"queue drains long after the arrivals stop). Workers' RSS: its peak while a level ran over its least "
      f"(idle), after a warm-up that sent each kind of request the level sends, many at once, and a burst of "
      f"2,000 cheap ones, 200 at once, so that idle already holds what a first use maps once (code, the request threads' stacks).\n")
# The workers' resident memory while the level ran: its peak over the least they held (idle).
resident = lambda r: "–" if not r.get("rss_peak_mib") else \
    f"+{float(r['rss_peak_mib']) - float(r['rss_baseline_mib']):.0f}" + \
    (f" (budget {r['memory_budget_mib']})" if r.get("memory_budget_mib") else "")
for system in systems:
    print(f"**{system}**\n")
    print("| arrivals (× capacity) | goodput: 200s within N per second, steady state (of capacity) | all 200s per second (of capacity) | 200 p50 / p99 / max (ms) | 503 p99 / max (ms) | unanswered | other | ping p99 / max (ms), failed | load generator's CPU (of the cores) | stolen by the hypervisor | cores, steady state: hashing / idle / interrupts | workers' RSS peak over idle (MiB) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in (r for r in rows if r["system"] == system):
        print(f"| {float(r['achieved']):.0f}/s ({r['multiple']}×) | {float(r['goodput_steady']):.1f} ({within(r):.2f}) | "
              f"{float(r['goodput']):.1f} ({everything(r):.2f}) | "
              f"{ms(number(r['ok_p50']))} / {ms(number(r['ok_p99']))} / {ms(number(r['ok_max']))} | "
              f"{ms(number(r['refused_p99']))} / {ms(number(r['refused_max']))} | {r['unanswered']} | {r['other']} | "
              f"{ms(number(r['ping_p99']))} / {ms(number(r['ping_max']))}, {r['ping_failed']} of {r['ping_sent']} | "
              f"{generator(r)} | {steal(r)} | {core_time(r)} | {resident(r)} |")
    print()

print("Plots: [goodput](openloop-goodput.svg), [200 p99](openloop-latency.svg), [ping p99](openloop-cheap.svg).\n")

# The reading: what the figures say, computed from them.
print("Reading:")
for system in systems:
    mine = [r for r in rows if r["system"] == system]
    late = sum(int(r["ok"]) - int(r["ok_within"]) for r in mine)
    unanswered = sum(int(r["unanswered"]) for r in mine)
    slowest = max((number(r["ok_max"]) or 0) for r in mine)
    pings = max((number(r["ping_p99"]) or 0) for r in mine)
    failed = sum(int(r["ping_failed"]) for r in mine)
    kept = late == 0 and unanswered == 0
    goodputs = ", ".join(f"{within(r):.2f} at {r['multiple']}×" for r in mine)
    print(f"- **{system}**: " + (f"every 200 within N (slowest {slowest:.2f} s) and nothing unanswered"
                                  if kept else f"{late} 200s later than N (slowest {slowest:.1f} s), "
                                  f"{unanswered} requests unanswered")
          + f"; ping p99 at most {ms(pings)} ms, {failed} pings failed; goodput {goodputs} of capacity.")
def hashing(r, work):
    """What the cores did in the steady state, and the work answered within N per second they hashed."""
    if not r.get("hashing_fraction") or float(r["hashing_fraction"]) == 0:
        return ""
    busy, idle = float(r["hashing_fraction"]), float(r["idle_fraction"])
    # The work is priced at the calibrated single-hash times; a ratio past 1 says the hashes ran
    # faster than calibrated (argon2id beside bcrypt), not that more came back than was hashed.
    return (f"; the cores hashed {busy:.0%} of the time and idled {idle:.0%} (the rest: nginx, the kernel's "
            f"TCP, the generator), and the work answered within N was {work / busy:.2f} of the cores' hashing "
            f"time, at the calibrated hash times")


over_idle = lambda r: float(r["rss_peak_mib"]) - float(r["rss_baseline_mib"]) if r.get("rss_peak_mib") else None
for r in mixed:
    peak = over_idle(r)
    budget = float(r["memory_budget_mib"]) if r.get("memory_budget_mib") else None
    # What the same arrivals of bcrypt alone add to the workers' memory (request threads, buffers).
    plain = next((over_idle(o) for o in rows if o["system"] in ("fullyloaded", "fullyloaded-lanes-1")
                  and o["multiple"] == r["multiple"]), None)
    memory = "–" if peak is None else f"{peak:.0f} MiB over idle"
    if peak is not None and plain is not None:
        memory += f" ({plain:.0f} MiB with bcrypt alone at {r['multiple']}×, so the hashes' own about {peak - plain:.0f} MiB)"
    if budget is not None:
        memory += f"; the budget, which bounds the hashes' memory alone, {budget:.0f} MiB"
    if r.get("huge_peak_mib"):
        # Only argon2id's hash memory is advised huge: of each hash of m KiB, the whole 2 MiB
        # pages inside it (the rest, under 2 MiB, on small pages).
        per_hash = (ARGON2_MEMORY_KIB // 2048) * 2
        most = float(r["huge_peak_mib"])
        fits = int(float(budget) * 1024 // ARGON2_MEMORY_KIB) if budget else None
        memory += (f"; hash memory on huge pages peaked at {most:.0f} MiB, {most / per_hash:.1f} hashes of "
                   f"{per_hash} MiB each resident at once" + (f", where the budget fits {fits}" if fits else ""))
    work = float(r["work_within_steady"])
    argon2_rate = int(r["mix_ok_within_steady"]) / float(r["steady_seconds"])
    bcrypt_rate = (int(r["ok_within_steady"]) - int(r["mix_ok_within_steady"])) / float(r["steady_seconds"])
    print(f"- **{r['system']}** at {r['multiple']}×: within N, {argon2_rate:.1f} argon2id/s (of "
          f"{int(r['mix_sent']) / float(r['seconds']):.0f}/s offered) and {bcrypt_rate:.1f} bcrypt/s (of "
          f"{(int(r['ok']) + int(r['refused']) + int(r['other']) + int(r['unanswered']) - int(r['mix_sent'])) / float(r['seconds']):.0f}/s); the slots did "
          f"{work:.2f} of the hashing they can (hash seconds answered within N per second per core; "
          f"{'at least' if work >= 0.95 else 'below'} 0.95)" + hashing(r, work)
          + f"; the workers' resident memory peaked {memory}.")
for multiple in multiples:
    level = [r for r in rows if r["multiple"] == multiple]
    best = max(level, key=within)
    print(f"- At {multiple}× the most goodput within N is {best['system']}'s ({within(best):.2f} of capacity).")

data = {}
for system in systems:
    data_path = os.path.join(os.path.dirname(os.path.abspath(path)), f"openloop-{system}.dat")
    with open(data_path, "w") as handle:
        for r in (r for r in rows if r["system"] == system):
            cell = lambda v: "?" if v in ("", None) else v
            # An unanswered request has no latency: its p99 is at least the timeout.
            p99 = r["ok_p99"] if int(r["unanswered"]) == 0 else timeout
            handle.write(f"{r['multiple']} {within(r):.4f} {cell(p99)} {cell(r['ping_p99'])}\n")
    data[system] = data_path
draw(out, "openloop", "arrivals, multiple of capacity (open loop, log)", data, {
    "goodput": ("200s within N per second, fraction of capacity", "unset logscale y\nset yrange [0:*]\n", 2, ""),
    "latency": ("p99 latency of 200s, seconds (log)", "set logscale y\n", 3,
                f", {deadline} title 'N' dashtype 2 lc rgb 'gray'"),
    "cheap": ("p99 latency of /api/ping, seconds (log)", "set logscale y\n", 4, ""),
})
