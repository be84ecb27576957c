#!/usr/bin/env bash
# The four rounds of the design (sync, async, coarse, fine) and PHP-FPM,
# side by side. For every concurrency level, run and system: a fresh stack, a warm-up, then `ab`
# on /api/load through nginx with a paced probe on /api/ping; the median of the runs is reported.
# Systems alternate within each run, so the machine's drift falls on all of them alike.
#
# Output: its section of OUT/benchmarks.md (a table per system of the medians, the reading), every
# run's rows appended to OUT/data/rounds.csv (Deploy/bench/publish.py), and three plots drawn by
# gnuplot: throughput, latency and cheap-request latency against concurrency.
#
# Usage: Deploy/bench/rounds.sh [--quick] [--cost 12] [--deadline 2] [--seconds 20] [--runs 3]
#          [--levels "1 2 4 … 256"] [--systems "sync async coarse fine php-fpm"] [--binary PATH] [--out Docs]
#   --quick: cost 5, levels "1 8", 2 s, one run — a few minutes end to end, for tests.
set -euo pipefail
cd "$(dirname "$0")/../.."

ARGUMENTS=("$@")
COST= DEADLINE= SECONDS_PER_RUN=20 RUNS=3 OUT=Docs
LEVELS="1 2 4 8 16 32 64 128 256"
SYSTEMS="sync async coarse fine php-fpm"
. Deploy/bench/lib.sh
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) COST=5 SECONDS_PER_RUN=2 RUNS=1 LEVELS="1 8"; shift ;;
    --seconds) SECONDS_PER_RUN=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --levels) LEVELS=$2; shift 2 ;;
    --systems) SYSTEMS=$2; shift 2 ;;
    *) common_option "$@" || { echo "unknown option $1" >&2; exit 2; }; shift 2 ;;
  esac
done

bench_start Deploy/bench/rounds.sh "${ARGUMENTS[@]}"
RAW="$RUN/rounds.csv"
echo "system,concurrency,run,seconds,ok,refused,other,throughput,limit,ok_p50,ok_p99,ok_max,ping_p50,ping_p99,ping_max,ping_errors" >"$RAW"

# start_system SYSTEM PORT: the system on PORT; sets LOG to its access log.
start_system() {
  local system=$1 port=$2
  case "$system" in
    sync | async | coarse | fine)
      start_fullyloaded "$system" "$port" --architecture "$system" --cost "$COST" --max-cost "$COST" --deadline "$DEADLINE"
      LOG="$RUN/$system/access.log" ;;
    php-fpm)
      # As most people deploy it: pm static, one child per core.
      start_php_fpm php "$CORES"
      start_reference_nginx php-nginx "    server {
        listen 127.0.0.1:$port;
$(php_locations "$RUN/php.sock")
    }"
      wait_http "http://127.0.0.1:$port/api/ping"
      LOG="$RUN/php-nginx-access.log" ;;
    *) echo "unknown system $system" >&2; exit 2 ;;
  esac
}

# stop_system SYSTEM: stops it; nginx writes out its buffered log as it goes.
stop_system() {
  stop_last
  if [ "$1" = php-fpm ]; then stop_last; fi
}

for c in $LEVELS; do
  single=$(calibrate "$COST" 5)  # the limit of this level: cores / single-hash time
  for run in $(seq "$RUNS"); do
    for system in $SYSTEMS; do
      port=$(free_port)
      start_system "$system" "$port"
      ab -q -n "$((2 * CORES))" -c "$CORES" "http://127.0.0.1:$port/api/load?cost=$COST" >/dev/null 2>&1 || true  # warm up
      sleep 1.2  # nginx flushes the warm-up's log lines
      before=$(wc -l <"$LOG" 2>/dev/null || echo 0)
      python3 Deploy/bench/probe.py "$port" "$SECONDS_PER_RUN" 0.05 >"$RUN/probe.json" &
      probe=$!
      ab -q -s 300 -t "$SECONDS_PER_RUN" -n 100000000 -c "$c" "http://127.0.0.1:$port/api/load?cost=$COST" >"$RUN/ab.txt" 2>&1 || true
      wait "$probe"
      stop_system "$system"
      taken=$(ab_field "$RUN/ab.txt" "Time taken for tests")
      tail -n +"$((before + 1))" "$LOG" >"$RUN/level.log" 2>/dev/null || true
      rm -rf "${RUN:?}/$system" "$RUN/php-nginx-access.log"
      python3 Deploy/bench/rounds_row.py "$system" "$c" "$run" "${taken:-0}" "$single" "$CORES" "$RUN/level.log" "$RUN/probe.json" >>"$RAW"
      tail -n 1 "$RAW" >&2
    done
  done
done

python3 Deploy/bench/rounds_report.py "$RAW" "$OUT" "$COST" "$DEADLINE" "$SECONDS_PER_RUN" "$RUNS" "$CORES" \
  >"$RUN/report.md"
python3 Deploy/bench/publish.py --script rounds.sh --page "$OUT/benchmarks.md" --data "$OUT/data" \
  --command "$COMMAND" --report "$RUN/report.md" --csv "$RAW"
