#!/usr/bin/env bash
# The N-second promise in a closed loop: `ab` through nginx at every concurrency level,
# for fullyloaded (default refusal budget), fullyloaded without the budget, and PHP-FPM
# (pm static, 4 children), all running at once and measured back to back at each level, with a
# paced probe on /api/ping.
# Latencies by status come from nginx's access log (request_time); goodput is the rate of 200s in
# the steady state (nginx's $msec), from 2 s after the level starts to its last 200.
# Systems: fullyloaded (`up`'s defaults), fullyloaded-lanes-4 (batches of up to four),
# fullyloaded-no-budget (`--refusal-rate 0`), php-fpm.
# Output: its section of OUT/benchmarks.md and the run's rows appended to OUT/data/promise.csv
# (Deploy/bench/publish.py).
# Usage: Deploy/bench/promise.sh [--cost 12] [--deadline 2] [--seconds 20] [--levels "1 2 4 …"] [--systems "…"]
#          [--binary PATH] [--out Docs]
set -euo pipefail
cd "$(dirname "$0")/../.."

ARGUMENTS=("$@")
COST= DEADLINE= SECONDS_PER_LEVEL=20 OUT=Docs
LEVELS="1 2 4 8 16 32 64 128 256"
SYSTEMS="fullyloaded fullyloaded-lanes-4 fullyloaded-no-budget php-fpm"
. Deploy/bench/lib.sh
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECONDS_PER_LEVEL=$2; shift 2 ;;
    --levels) LEVELS=$2; shift 2 ;;
    --systems) SYSTEMS=$2; shift 2 ;;
    *) common_option "$@" || { echo "unknown option $1" >&2; exit 2; }; shift 2 ;;
  esac
done

bench_start Deploy/bench/promise.sh "${ARGUMENTS[@]}"
CSV="$RUN/promise.csv"
echo "system,concurrency,seconds,ok,refused,other,goodput,limit,ok_p50,ok_p99,ok_max,refused_p50,refused_p99,refused_max,late,paced,ping_p50,ping_p99,ping_max,ping_errors" >"$CSV"

# Every system runs at once (an idle one costs nothing) and each level is measured for each system
# back to back, so that the machine's drift falls on all of them alike.
declare -A PORT LOG
for system in $SYSTEMS; do
  port=$(free_port)
  PORT[$system]=$port
  case "$system" in
    fullyloaded)
      start_fullyloaded "$system" "$port" --cost "$COST" --max-cost "$COST" --deadline "$DEADLINE"
      LOG[$system]="$RUN/$system/access.log" ;;
    fullyloaded-lanes-4)
      start_fullyloaded "$system" "$port" --cost "$COST" --max-cost "$COST" --deadline "$DEADLINE" --lanes 4
      LOG[$system]="$RUN/$system/access.log" ;;
    fullyloaded-no-budget)
      start_fullyloaded "$system" "$port" --cost "$COST" --max-cost "$COST" --deadline "$DEADLINE" --refusal-rate 0
      LOG[$system]="$RUN/$system/access.log" ;;
    php-fpm)
      start_php_fpm php 4
      start_reference_nginx php-nginx "    server {
        listen 127.0.0.1:$port;
$(php_locations "$RUN/php.sock")
    }"
      wait_http "http://127.0.0.1:$port/api/ping"
      LOG[$system]="$RUN/php-nginx-access.log" ;;
    *) echo "unknown system $system" >&2; exit 2 ;;
  esac
  ab -q -n 8 -c 2 "http://127.0.0.1:$port/api/load?cost=$COST" >/dev/null 2>&1  # warm up
done

for c in $LEVELS; do
  # The capacity limit of this level: cores / single-hash time, measured just before it.
  single=$(calibrate "$COST" 5)
  for system in $SYSTEMS; do
    port=${PORT[$system]} log=${LOG[$system]}
    sleep "$(python3 -c "print($DEADLINE + 1.5)")"  # the previous run drains; nginx flushes its log
    before=$(wc -l <"$log" 2>/dev/null || echo 0)
    stats_before=$(curl -fsS "http://127.0.0.1:$port/api/stats" 2>/dev/null || echo '{}')
    python3 Deploy/bench/probe.py "$port" "$SECONDS_PER_LEVEL" 0.05 >"$RUN/probe.json" &
    probe=$!
    ab -q -s 300 -t "$SECONDS_PER_LEVEL" -n 100000000 -c "$c" "http://127.0.0.1:$port/api/load?cost=$COST" >"$RUN/ab.txt" 2>&1 || true
    wait "$probe"
    sleep "$(python3 -c "print($DEADLINE + 1.5)")"
    stats_after=$(curl -fsS "http://127.0.0.1:$port/api/stats" 2>/dev/null || echo '{}')
    taken=$(ab_field "$RUN/ab.txt" "Time taken for tests")
    tail -n +"$((before + 1))" "$log" >"$RUN/level.log"
    python3 - "$system" "$c" "$taken" "$single" "$CORES" "$RUN/level.log" "$RUN/probe.json" "$stats_before" "$stats_after" >>"$CSV" <<'PY'
import json, sys
sys.path.insert(0, "Deploy/bench")
from accesslog import latencies, pick, requests, steady_rate
system, c, taken, single, cores, log, probe, before, after = sys.argv[1:]
taken, single, cores = float(taken), float(single), int(cores)
loads = requests(log)
ok, refused = latencies(loads, 200), latencies(loads, 503)
# 499: ab closed the connection when its time ran out; anything else is a failure to report.
other = sum(1 for r in loads if r["status"] not in (200, 503, 499))
steady = steady_rate(loads, warm=2.0)
q = lambda values, p: "" if pick(values, p) is None else pick(values, p)
counter = lambda stats, name: json.loads(stats).get("counters", {}).get(name, 0)
late = sum(counter(after, n) - counter(before, n) for n in ("refused_at_deadline", "overran"))
paced = counter(after, "paced_refusals") - counter(before, "paced_refusals")
ping = json.load(open(probe))
print(",".join(str(v) for v in [system, c, f"{taken:.1f}", len(ok), len(refused), other, f"{steady:.3f}",
    f"{cores / single:.3f}", q(ok, .5), q(ok, .99), q(ok, 1), q(refused, .5), q(refused, .99), q(refused, 1),
    late, paced, ping["p50"], ping["p99"], ping["max"], ping["errors"]]))
PY
    tail -n 1 "$CSV" >&2
  done
done

python3 Deploy/bench/promise_report.py "$CSV" "$COST" "$DEADLINE" "$SECONDS_PER_LEVEL" "$CORES" >"$RUN/report.md"
python3 Deploy/bench/publish.py --script promise.sh --page "$OUT/benchmarks.md" --data "$OUT/data" \
  --command "$COMMAND" --report "$RUN/report.md" --csv "$CSV"
