#!/usr/bin/env bash
# The core's figures, everything side by side in one run on this machine:
#   cheap route: ab -n 20000 -c 50 on /api/ping through nginx — fullyloaded, the C libfcgi ceiling
#                (c-ping.c, same nginx settings and worker topology) and PHP-FPM (pm static, 4 children);
#                three interleaved rounds, the median of each.
#   bcrypt:      ab -c (8 per core) on /api/load at cost 12 for about SECONDS, against two ceilings:
#                the libxcrypt limit, cores / single-hash time (`fullyloaded calibrate`, before and
#                after), and the lane limit of our own bcrypt core, cores × K / batch time
#                (`calibrate --lanes K`, K = 1…4 hashes interleaved per call, one thread per core).
#                Eight clients per core keep every slot's batch full (--lanes 4 by default).
# Usage: Deploy/bench/core.sh [--cost 12] [--seconds 20] [--rounds 3] [--fairness on|off] [--lanes 4] [--out Docs]
# Output: its section of OUT/benchmarks.md and the run's row appended to OUT/data/core.csv
# (Deploy/bench/publish.py).
set -euo pipefail
cd "$(dirname "$0")/../.."

ARGUMENTS=("$@")
COST= SECONDS_PER_RUN=20 OUT=Docs ROUNDS=3 PING_REQUESTS=20000 PING_CONCURRENCY=50 FAIRNESS=on LANES=4
while [ $# -gt 0 ]; do
  case "$1" in
    --cost) COST=$2; shift 2 ;;
    --seconds) SECONDS_PER_RUN=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --ping-requests) PING_REQUESTS=$2; shift 2 ;;
    --fairness) FAIRNESS=$2; shift 2 ;;
    --lanes) LANES=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

. Deploy/bench/lib.sh
bench_setup
# The product's defaults unless given: the binary says them (`fullyloaded defaults`).
COST=${COST:-$(default_of cost)}
COMMAND=$(shown_command Deploy/bench/core.sh "${ARGUMENTS[@]}")

# fullyloaded as `up` runs it; at eight clients per core every job fits within N, so nothing is refused.
OURS=$(free_port)
start_fullyloaded ours "$OURS" --cost "$COST" --max-cost "$COST" --fairness "$FAIRNESS" --lanes "$LANES"
LOAD_CONCURRENCY=$((CORES * 8))
# The same with every job alone on libxcrypt, for the lone request's latency on an idle host.
ALONE=$(free_port)
start_fullyloaded alone "$ALONE" --cost "$COST" --max-cost "$COST" --fairness "$FAIRNESS" --lanes 1

# The C ceiling: the same topology as ours (one process per core, 256 threads each).
cc -O2 -o "$RUN/c-ping" Deploy/bench/c-ping.c -lfcgi -lpthread
C_SERVERS=""
for i in $(seq 0 $((CORES - 1))); do
  "$RUN/c-ping" "$RUN/c-$i.sock" 256 &
  PIDS+=($!)
  C_SERVERS+="        server unix:$RUN/c-$i.sock;"$'\n'
done

# PHP-FPM as most people would deploy it: pm static, 4 children, nginx without FastCGI keepalive.
start_php_fpm php 4
C_PORT=$(free_port); PHP_PORT=$(free_port)
start_reference_nginx reference "
    server {
        listen 127.0.0.1:$C_PORT;
        location /api/ { fastcgi_pass c_ping; fastcgi_keep_conn on; include /etc/nginx/fastcgi_params; }
    }
    server {
        listen 127.0.0.1:$PHP_PORT;
$(php_locations "$RUN/php.sock")
    }" "
    upstream c_ping {
        least_conn;
$C_SERVERS
        keepalive $((256 / 8));
    }"
wait_http "http://127.0.0.1:$C_PORT/api/ping"
wait_http "http://127.0.0.1:$PHP_PORT/api/ping"

declare -A PING
for round in $(seq "$ROUNDS"); do
  for target in ours:$OURS c:$C_PORT php:$PHP_PORT; do
    name=${target%%:*} port=${target##*:}
    ab -q -n "$PING_REQUESTS" -c "$PING_CONCURRENCY" "http://127.0.0.1:$port/api/ping" >"$RUN/ab.txt" 2>&1
    failed=$(ab_real_failures "$RUN/ab.txt")
    rps=$(ab_field "$RUN/ab.txt" "Requests per second")
    [ "$failed" = "0" ] || echo "warning: $name round $round had $failed failed requests" >&2
    PING[$name]+="$rps "
    echo "ping round $round $name: $rps req/s" >&2
  done
done
ours_ping=$(echo "${PING[ours]}" | tr ' ' '\n' | grep . | median)
c_ping=$(echo "${PING[c]}" | tr ' ' '\n' | grep . | median)
php_ping=$(echo "${PING[php]}" | tr ' ' '\n' | grep . | median)

# A lone request on an idle host, one at a time: batches must not slow it (interleaved rounds).
declare -A LONE
for round in $(seq "$ROUNDS"); do
  for target in batched:$OURS alone:$ALONE; do
    name=${target%%:*} port=${target##*:}
    ab -q -n 10 -c 1 "http://127.0.0.1:$port/api/load" >"$RUN/ab-lone.txt" 2>&1
    LONE[$name]+="$(ab_field "$RUN/ab-lone.txt" "Time per request") "
  done
done
lone_batched=$(echo "${LONE[batched]}" | tr ' ' '\n' | grep . | median)
lone_alone=$(echo "${LONE[alone]}" | tr ' ' '\n' | grep . | median)

single=$(calibrate "$COST")
parallel=$("$BIN" calibrate --cost "$COST" --samples 5 --threads "$CORES" | python3 -c 'import json,sys; print(json.load(sys.stdin)["hashes_per_second"])')
# Our own bcrypt core with 1…4 hashes interleaved per call, one thread per core: the lane limits.
LANE_LIMITS=""
for lanes in 1 2 3 4; do
  LANE_LIMITS+="$("$BIN" calibrate --cost "$COST" --samples 3 --threads "$CORES" --lanes "$lanes" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["hashes_per_second"])') "
done
# A fixed count sized to the run: `ab -t` would drop the hashes still in flight at the cut-off.
LOAD_REQUESTS=$(python3 -c "print(max(8, round($CORES / $single * $SECONDS_PER_RUN * (2.4 if $LANES > 1 else 1))))")
ab -q -n "$LOAD_REQUESTS" -c "$LOAD_CONCURRENCY" "http://127.0.0.1:$OURS/api/load" >"$RUN/ab-load.txt" 2>&1
load_done=$(ab_field "$RUN/ab-load.txt" "Complete requests")
load_failed=$(ab_real_failures "$RUN/ab-load.txt")
load_time=$(ab_field "$RUN/ab-load.txt" "Time taken for tests")
load_non2xx=$(ab_field "$RUN/ab-load.txt" "Non-2xx responses"); load_non2xx=${load_non2xx:-0}
single_after=$(calibrate "$COST")

python3 Deploy/bench/core_report.py "$RUN/core.csv" "$ours_ping" "$c_ping" "$php_ping" "$single" "$single_after" \
  "$load_done" "$load_failed" "$load_non2xx" "$load_time" "$CORES" "$COST" "$ROUNDS" "$parallel" "$LANE_LIMITS" \
  "$LANES" "$LOAD_CONCURRENCY" "$lone_batched" "$lone_alone" >"$RUN/report.md"
python3 Deploy/bench/publish.py --script core.sh --page "$OUT/benchmarks.md" --data "$OUT/data" \
  --command "$COMMAND" --report "$RUN/report.md" --csv "$RUN/core.csv"
