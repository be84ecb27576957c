#!/usr/bin/env bash
# Several hosts: 1, 2 and 3 hosts rehearsed on this machine (`up --hosts K`, one worker per
# host, the machine's slots split between hosts), under the same `ab` load with a paced ping probe;
# then the front nginx's own ceiling (a static file, and /api/ping through to the workers).
# The hosts share this machine's cores: the figures show the mechanics (spill, promise, front
# nginx cost), not capacity growing with hosts — see Docs/scaling.md.
# Output: its section of OUT/scaling.md (the table and its reading) and the run's rows appended to
# OUT/data/hosts.csv (Deploy/bench/publish.py).
# Usage: Deploy/bench/hosts.sh [--cost 12] [--deadline 2] [--seconds 20] [--concurrency 16] [--binary PATH]
#          [--out Docs]
set -euo pipefail
cd "$(dirname "$0")/../.."

ARGUMENTS=("$@")
COST= DEADLINE= SECONDS_PER_RUN=20 CONCURRENCY=16 OUT=Docs
. Deploy/bench/lib.sh
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECONDS_PER_RUN=$2; shift 2 ;;
    --concurrency) CONCURRENCY=$2; shift 2 ;;
    *) common_option "$@" || { echo "unknown option $1" >&2; exit 2; }; shift 2 ;;
  esac
done

bench_start Deploy/bench/hosts.sh "${ARGUMENTS[@]}"
single=$(calibrate "$COST" 5)
CSV="$RUN/hosts.csv"
echo "hosts,slots,goodput,limit,refusals_per_second,passed_per_second,ok_p99,ok_max,refused_max,ping_p99,front_static,front_ping" >"$CSV"
for hosts in 1 2 3; do
  port=$(free_port)
  start_fullyloaded "hosts-$hosts" "$port" --hosts "$hosts" --workers 1 --cost "$COST" --max-cost "$COST" --deadline "$DEADLINE"
  log="$RUN/hosts-$hosts/access.log"
  ab -q -n 8 -c 2 "http://127.0.0.1:$port/api/load" >/dev/null 2>&1 || true
  sleep 1.2
  before=$(wc -l <"$log")
  python3 Deploy/bench/probe.py "$port" "$SECONDS_PER_RUN" 0.05 >"$RUN/probe.json" &
  probe=$!
  ab -q -s 60 -t "$SECONDS_PER_RUN" -n 100000000 -c "$CONCURRENCY" "http://127.0.0.1:$port/api/load" >"$RUN/ab.txt" 2>&1 || true
  wait "$probe"
  sleep 1.5
  # The front nginx alone, then through to the workers: what one front costs on this machine.
  ab -q -k -n 40000 -c 32 "http://127.0.0.1:$port/dashboard.css" >"$RUN/ab-static.txt" 2>/dev/null || true
  static=$(ab_field "$RUN/ab-static.txt" "Requests per second")
  ab -q -n 40000 -c 32 "http://127.0.0.1:$port/api/ping" >"$RUN/ab-ping.txt" 2>/dev/null || true
  ping=$(ab_field "$RUN/ab-ping.txt" "Requests per second")
  slots=$(curl -fsS "http://127.0.0.1:$port/api/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["slots"])')
  stop_last
  tail -n +"$((before + 1))" "$log" >"$RUN/level.log"
  python3 - "$hosts" "$slots" "$single" "$CORES" "$RUN/level.log" "$RUN/probe.json" "$static" "$ping" >>"$CSV" <<'PY'
import json, sys
sys.path.insert(0, "Deploy/bench")
from accesslog import latencies, pick, requests, steady_rate
hosts, slots, single, cores, log, probe, static, ping = sys.argv[1:]
loads = requests(log)
ok, refused = latencies(loads, 200), latencies(loads, 503)
passed = sum(1 for r in loads if "," in r["upstream"])
rate = steady_rate(loads, warm=2.0)
span = max(r["msec"] for r in loads) - min(r["msec"] for r in loads)
limit = int(cores) / float(single)
p = json.load(open(probe))
cell = lambda v: "" if v is None else f"{v:.4f}"
print(",".join([hosts, slots, f"{rate:.3f}", f"{limit:.3f}", f"{len(refused) / span:.2f}", f"{passed / span:.2f}",
                cell(pick(ok, .99)), cell(pick(ok, 1)), cell(pick(refused, 1)), f"{p['p99']:.4f}",
                f"{float(static):.0f}", f"{float(ping):.0f}"]))
PY
done
python3 - "$CSV" "$COST" "$CONCURRENCY" "$SECONDS_PER_RUN" "$DEADLINE" >"$RUN/report.md" <<'PY'
import csv, sys
path, cost, concurrency, seconds, deadline = sys.argv[1:]
rows = list(csv.DictReader(open(path)))
ms = lambda v: "–" if v in ("", None) else f"{float(v) * 1000:.0f}"
print(f"Cost {cost}, N = {deadline} s, `ab -c {concurrency}` on `/api/load` for {seconds} s per setup; the limit is "
      f"cores / single-hash time, measured once before the first setup: {float(rows[0]['limit']):.2f} hashes/s.\n")
print("| hosts | slots per host | hashes/s | of limit | refusals/s | passed on to another host | 200 p99 / max (ms) | 503 max (ms) | ping p99 (ms) | front: static req/s | front: ping req/s |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for r in rows:
    print(f"| {r['hosts']} | {r['slots']} | {float(r['goodput']):.2f} | {float(r['goodput']) / float(r['limit']):.2f} | "
          f"{float(r['refusals_per_second']):.1f} | {float(r['passed_per_second']):.1f}/s | {ms(r['ok_p99'])} / {ms(r['ok_max'])} | "
          f"{ms(r['refused_max'])} | {float(r['ping_p99']) * 1000:.1f} | {float(r['front_static']):,.0f} | {float(r['front_ping']):,.0f} |")
slowest = max(float(r[k]) for r in rows for k in ("ok_max", "refused_max") if r[k])
shares = [float(r["goodput"]) / float(r["limit"]) for r in rows]
print("\nReading:")
print(f"- Every answer, 200 or 503, within N: {'yes' if slowest <= float(deadline) else 'no'} (slowest {slowest:.2f} s).")
print(f"- Goodput {', '.join(f'{s:.2f}' for s in shares)} of the limit for {', '.join(r['hosts'] for r in rows)} hosts: "
      f"the hosts share this machine's cores, so this shows the cost of the front and the spill, not capacity growing.")
print(f"- Ping p99 at most {max(float(r['ping_p99']) for r in rows) * 1000:.1f} ms; a full host passed "
      f"{max(float(r['passed_per_second']) for r in rows):.0f} requests/s at most on to another.")
PY
python3 Deploy/bench/publish.py --script hosts.sh --page "$OUT/scaling.md" --data "$OUT/data" \
  --command "$COMMAND" --report "$RUN/report.md" --csv "$CSV"
