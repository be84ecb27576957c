"""The report of core.sh: its table and reading, and the run's figures as one CSV row.
Usage: core_report.py CSV OURS_PING C_PING PHP_PING SINGLE SINGLE_AFTER DONE FAILED NON2XX TAKEN CORES COST
       ROUNDS PARALLEL "LANE_LIMITS" LANES CONCURRENCY LONE_BATCHED LONE_ALONE"""
import csv
import sys

(path, ours, c, php, single, single_after, done, failed, non2xx, taken, cores, cost, rounds, parallel, lane_limits,
 lanes, concurrency, lone_batched, lone_alone) = sys.argv[1:]
lanes, concurrency, rounds = int(lanes), int(concurrency), int(rounds)
lone_batched, lone_alone = float(lone_batched), float(lone_alone)
lane_limits = [float(v) for v in lane_limits.split()]
ours, c, php, single, single_after, taken, parallel = map(float, (ours, c, php, single, single_after, taken, parallel))
done, failed, non2xx, cores = int(done), int(failed), int(non2xx), int(cores)
# The machine is shared: the single-hash time drifts by several per cent, so take the mean of
# the calibrations just before and just after the load run.
limit = cores / ((single + single_after) / 2)
rate = (done - failed - non2xx) / taken
lane_limit = lane_limits[lanes - 1] if lanes > 1 else parallel

with open(path, "w", newline="") as handle:
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(["cost", "cores", "ping_fullyloaded", "ping_c", "ping_php_fpm", "single_before", "single_after",
                     "libxcrypt_limit", "parallel"] + [f"lane_limit_{k}" for k in range(1, len(lane_limits) + 1)]
                    + ["lanes", "concurrency", "load_done", "load_failed", "load_non2xx", "load_seconds",
                       "load_rate", "lone_batched_ms", "lone_alone_ms"])
    writer.writerow([cost, cores, f"{ours:.0f}", f"{c:.0f}", f"{php:.0f}", f"{single:.4f}", f"{single_after:.4f}",
                     f"{limit:.3f}", f"{parallel:.3f}"] + [f"{v:.3f}" for v in lane_limits]
                    + [lanes, concurrency, done, failed, non2xx, f"{taken:.2f}", f"{rate:.3f}", f"{lone_batched:.1f}",
                       f"{lone_alone:.1f}"])

print("| measure | figure | ratio |")
print("| --- | --- | --- |")
print(f"| ping, fullyloaded (median of {rounds}) | {ours:,.0f} req/s | {ours / c:.2f} of C, {ours / php:.2f}× PHP-FPM |")
print(f"| ping, C libfcgi ceiling | {c:,.0f} req/s | 1.00 |")
print(f"| ping, PHP-FPM | {php:,.0f} req/s | {php / c:.2f} of C |")
print(f"| single bcrypt, cost {cost}, one core (before / after the load run) | {single * 1000:.0f} ms / {single_after * 1000:.0f} ms | |")
print(f"| libxcrypt limit, cores / mean single-hash time | {limit:.2f} hashes/s | 1.00 |")
print(f"| what the cores do together: {cores} threads hashing at once (`calibrate --threads {cores}`) | {parallel:.2f} hashes/s | {parallel / limit:.2f} |")
for k, lane_rate in enumerate(lane_limits, start=1):
    print(f"| lane limit: our bcrypt core, {k} hash{'es' if k > 1 else ''} interleaved per call, {cores} threads (`calibrate --lanes {k} --threads {cores}`) | {lane_rate:.2f} hashes/s | {lane_rate / limit:.2f} |")
print(f"| lone `/api/load` on an idle host, `ab -n 10 -c 1`, median of {rounds}: `--lanes {lanes}` / `--lanes 1` | {lone_batched:.0f} ms / {lone_alone:.0f} ms | {lone_batched / lone_alone:.2f} |")
print(f"| `/api/load`, `--lanes {lanes}`, at `ab -c {concurrency}`, {done} requests in {taken:.1f} s | {rate:.2f} hashes/s ({failed} failed, {non2xx} non-2xx) | {rate / limit:.2f} of the libxcrypt limit, {rate / lane_limit:.2f} of the lane limit |")

# The reading: what the figures say, computed from them.
best = max(range(len(lane_limits)), key=lambda k: lane_limits[k])
print("\nReading:")
print(f"- **The cheap route** answers {ours / c:.2f} of what the C ceiling answers behind the same nginx, "
      f"{ours / php:.2f}× PHP-FPM's.")
print(f"- **Hashing under load** (`--lanes {lanes}`): {rate:.2f} hashes/s, {rate / limit:.2f}× the libxcrypt limit and "
      f"{rate / lane_limit:.2f} of the lane limit of {lanes} lane{'s' if lanes > 1 else ''}"
      + ("" if failed + non2xx == 0 else f", with {failed} failed and {non2xx} non-2xx answers") + ".")
print(f"- **Lanes**: our core does most per core at {best + 1} interleaved per call ({lane_limits[best] / limit:.2f}× the "
      f"libxcrypt limit); alone it does {lane_limits[0] / parallel:.2f} of what libxcrypt does on the same threads, "
      f"which is why a lone job runs on libxcrypt.")
print(f"- **A lone request** on an idle host takes {lone_batched / lone_alone:.2f}× as long with `--lanes {lanes}` as "
      f"with `--lanes 1` ({lone_batched:.0f} ms against {lone_alone:.0f} ms).")
