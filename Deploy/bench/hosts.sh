#!/usr/bin/env bash
# Several hosts: 1, 2 and 3 hosts rehearsed on this machine (`up --hosts K`, one worker per
# host, the machine's slots split between hosts), under the same `ab` load with a paced ping probe;
# then the front nginx's own ceiling (a static file, and /api/ping through to the workers).
# The hosts share this machine's cores: the figures show the mechanics (spill, promise, front
# nginx cost), not capacity growing with hosts — see Docs/scaling.md.
# Usage: Deploy/bench/hosts.sh [--cost 12] [--deadline 2] [--seconds 20] [--concurrency 16] [--binary PATH]
set -euo pipefail
cd "$(dirname "$0")/../.."

COST=12 DEADLINE=2 SECONDS_PER_RUN=20 CONCURRENCY=16
while [ $# -gt 0 ]; do
  case "$1" in
    --cost) COST=$2; shift 2 ;;
    --deadline) DEADLINE=$2; shift 2 ;;
    --seconds) SECONDS_PER_RUN=$2; shift 2 ;;
    --concurrency) CONCURRENCY=$2; shift 2 ;;
    --binary) BIN=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

. Deploy/bench/lib.sh
bench_setup
single=$(calibrate "$COST" 5)
echo "| hosts | slots per host | hashes/s | of limit | refusals/s | passed on to another host | 200 p99 / max (ms) | 503 max (ms) | ping p99 (ms) | front: static req/s | front: ping req/s |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
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
  static=$(ab -q -k -n 40000 -c 32 "http://127.0.0.1:$port/dashboard.css" 2>/dev/null | awk '/Requests per second/ { print $4 }')
  ping=$(ab -q -n 40000 -c 32 "http://127.0.0.1:$port/api/ping" 2>/dev/null | awk '/Requests per second/ { print $4 }')
  slots=$(curl -fsS "http://127.0.0.1:$port/api/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["slots"])')
  stop_last
  tail -n +"$((before + 1))" "$log" >"$RUN/level.log"
  python3 - "$hosts" "$slots" "$single" "$CORES" "$RUN/level.log" "$RUN/probe.json" "$static" "$ping" <<'PY'
import json, sys
sys.path.insert(0, "Deploy/bench")
from accesslog import latencies, pick, requests, steady_rate
hosts, slots, single, cores, log, probe, static, ping = sys.argv[1:]
loads = requests(log)
ok, refused = latencies(loads, 200), latencies(loads, 503)
passed = sum(1 for r in loads if "," in r["upstream"])
rate = steady_rate(loads, warm=2.0)
span = max(r["msec"] for r in loads) - min(r["msec"] for r in loads)
ms = lambda v: float("nan") if v is None else v * 1000
limit = int(cores) / float(single)
p = json.load(open(probe))
print(f"| {hosts} | {slots} | {rate:.2f} | {rate / limit:.2f} | {len(refused) / span:.1f} | {passed / span:.1f}/s | "
      f"{ms(pick(ok, .99)):.0f} / {ms(pick(ok, 1)):.0f} | {ms(pick(refused, 1)):.0f} | {p['p99'] * 1000:.1f} | "
      f"{float(static):,.0f} | {float(ping):,.0f} |")
PY
done
echo
echo "Limit (cores / single-hash time, cost $COST): $(python3 -c "print(f'{$CORES / $single:.2f}')") hashes/s; ab -c $CONCURRENCY, ${SECONDS_PER_RUN} s per setup; $(date -u '+%Y-%m-%d %H:%M') UTC, $(nproc) cores."
