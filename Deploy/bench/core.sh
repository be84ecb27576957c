#!/usr/bin/env bash
# Issue 2's benchmark, everything side by side in one run on this machine:
#   cheap route: ab -n 20000 -c 50 on /api/ping through nginx — fullyloaded, the C libfcgi ceiling
#                (c-ping.c, same nginx settings and worker topology) and PHP-FPM (pm static, 4 children);
#                three interleaved rounds, the median of each.
#   bcrypt:      ab -t SECONDS -c 4 on /api/load at cost 12, against cores / single-hash time, the
#                single-hash time measured by `fullyloaded calibrate` in the same run.
# Usage: Deploy/bench/core.sh [--cost 12] [--seconds 20] [--rounds 3]
# Prints a Markdown table; paste it with its date into Docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)

COST=12 SECONDS_PER_RUN=20 ROUNDS=3 PING_REQUESTS=20000 PING_CONCURRENCY=50
while [ $# -gt 0 ]; do
  case "$1" in
    --cost) COST=$2; shift 2 ;;
    --seconds) SECONDS_PER_RUN=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --ping-requests) PING_REQUESTS=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

bash Deploy/dev.sh deps
for package in php-fpm; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$package" >&2
done
command -v swift >/dev/null || export PATH="/opt/swift/usr/bin:$PATH"
swift build -c release --product fullyloaded >&2
BIN="$(swift build -c release --show-bin-path)/fullyloaded"
PHP_FPM=$(ls /usr/sbin/php-fpm* | head -n 1)
CORES=$(nproc)

RUN=$(mktemp -d /tmp/fl-bench.XXXXXX)
chmod 755 "$RUN"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$RUN"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() {
  for _ in $(seq 200); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "no answer from $1" >&2; exit 1
}

# fullyloaded
OURS=$(free_port)
"$BIN" up --http-port "$OURS" --cost "$COST" --max-cost "$COST" --runtime-dir "$RUN/up" >"$RUN/up.log" 2>&1 &
PIDS+=($!)

# The C ceiling: the same topology as ours (one process per core, 256 threads each).
cc -O2 -o "$RUN/c-ping" Deploy/bench/c-ping.c -lfcgi -lpthread
C_SERVERS=""
for i in $(seq 0 $((CORES - 1))); do
  "$RUN/c-ping" "$RUN/c-$i.sock" 256 &
  PIDS+=($!)
  C_SERVERS+="        server unix:$RUN/c-$i.sock;"$'\n'
done

# PHP-FPM as most people would deploy it: pm static, 4 children, nginx without FastCGI keepalive.
USER_LINE=""; POOL_USER=""
if [ "$(id -u)" -eq 0 ]; then USER_LINE="user nobody nogroup;"; POOL_USER=$'user = nobody\ngroup = nogroup'; fi
cat >"$RUN/php-fpm.conf" <<CONF
[global]
pid = $RUN/php-fpm.pid
error_log = $RUN/php-fpm.log
daemonize = no
[bench]
$POOL_USER
listen = $RUN/php.sock
listen.mode = 0666
pm = static
pm.max_children = 4
CONF
"$PHP_FPM" --nodaemonize --fpm-config "$RUN/php-fpm.conf" ${USER_LINE:+--allow-to-run-as-root} >"$RUN/php-fpm.out" 2>&1 &
PIDS+=($!)

C_PORT=$(free_port); PHP_PORT=$(free_port)
mkdir -p "$RUN/nginx-tmp"; [ -n "$USER_LINE" ] && chown nobody:nogroup "$RUN/nginx-tmp"
cat >"$RUN/nginx.conf" <<CONF
daemon off;
worker_processes auto;
pid $RUN/nginx.pid;
error_log $RUN/nginx-error.log warn;
$USER_LINE
events { worker_connections 4096; }
http {
    client_body_temp_path $RUN/nginx-tmp/body; fastcgi_temp_path $RUN/nginx-tmp/fastcgi;
    proxy_temp_path $RUN/nginx-tmp/proxy; uwsgi_temp_path $RUN/nginx-tmp/uwsgi; scgi_temp_path $RUN/nginx-tmp/scgi;
    include $ROOT/nginx/snippets/fullyloaded-http.conf;
    access_log $RUN/access.log fullyloaded_json buffer=64k flush=1s;
    upstream c_ping {
        least_conn;
$C_SERVERS
        keepalive $((CORES * 256 / 4 / 2));
    }
    server {
        listen 127.0.0.1:$C_PORT;
        location /api/ { fastcgi_pass c_ping; fastcgi_keep_conn on; include /etc/nginx/fastcgi_params; }
    }
    server {
        listen 127.0.0.1:$PHP_PORT;
        location = /api/ping { fastcgi_pass unix:$RUN/php.sock; include /etc/nginx/fastcgi_params;
                               fastcgi_param SCRIPT_FILENAME $ROOT/Deploy/bench/ping.php; }
        location = /api/load { fastcgi_pass unix:$RUN/php.sock; include /etc/nginx/fastcgi_params;
                               fastcgi_param SCRIPT_FILENAME $ROOT/Deploy/bench/load.php; }
    }
}
CONF
nginx -p "$RUN" -c "$RUN/nginx.conf" -e "$RUN/nginx-error.log" &
PIDS+=($!)

wait_http "http://127.0.0.1:$OURS/api/ping"
wait_http "http://127.0.0.1:$C_PORT/api/ping"
wait_http "http://127.0.0.1:$PHP_PORT/api/ping"

ab_field() { awk -v f="$2" -F': *' '$1 == f { split($2, a, " "); print a[1] }' "$1"; }
# ab counts responses whose length differs from the first as "failed" (Length); only connection,
# receive and exception failures are failures.
ab_real_failures() {
  sed -n 's/.*(Connect: \([0-9]*\), Receive: \([0-9]*\), Length: [0-9]*, Exceptions: \([0-9]*\)).*/\1 \2 \3/p' "$1" |
    awk '{ print $1 + $2 + $3 } END { if (NR == 0) print 0 }' | head -n 1
}
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

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

single=$("$BIN" calibrate --cost "$COST" --samples 9 | python3 -c 'import json,sys; print(json.load(sys.stdin)["median_seconds"])')
# A fixed count sized to the run: `ab -t` would drop the hashes still in flight at the cut-off.
LOAD_REQUESTS=$(python3 -c "print(max(8, round($CORES / $single * $SECONDS_PER_RUN)))")
ab -q -n "$LOAD_REQUESTS" -c 4 "http://127.0.0.1:$OURS/api/load" >"$RUN/ab-load.txt" 2>&1
load_done=$(ab_field "$RUN/ab-load.txt" "Complete requests")
load_failed=$(ab_real_failures "$RUN/ab-load.txt")
load_time=$(ab_field "$RUN/ab-load.txt" "Time taken for tests")
load_non2xx=$(ab_field "$RUN/ab-load.txt" "Non-2xx responses"); load_non2xx=${load_non2xx:-0}
single_after=$("$BIN" calibrate --cost "$COST" --samples 9 | python3 -c 'import json,sys; print(json.load(sys.stdin)["median_seconds"])')

python3 - "$ours_ping" "$c_ping" "$php_ping" "$single" "$single_after" "$load_done" "$load_failed" "$load_non2xx" "$load_time" "$CORES" "$COST" "$SECONDS_PER_RUN" "$ROUNDS" <<'PY'
import sys, datetime, platform, subprocess
ours, c, php, single, single_after, done, failed, non2xx, taken, cores, cost, seconds, rounds = sys.argv[1:]
ours, c, php, single, single_after, taken = map(float, (ours, c, php, single, single_after, taken))
done, failed, non2xx, cores = int(done), int(failed), int(non2xx), int(cores)
# The machine is shared: the single-hash time drifts by several per cent, so take the mean of
# the calibrations just before and just after the load run.
limit = cores / ((single + single_after) / 2)
rate = (done - failed - non2xx) / taken
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
print(f"Run {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, commit {commit}, {cores} cores ({cpu}).")
print(f"Command: `Deploy/bench/core.sh --cost {cost} --seconds {seconds} --rounds {rounds}`\n")
print("| measure | figure | ratio |")
print("| --- | --- | --- |")
print(f"| ping, fullyloaded (median of {rounds}) | {ours:,.0f} req/s | {ours / c:.2f} of C, {ours / php:.2f}× PHP-FPM |")
print(f"| ping, C libfcgi ceiling | {c:,.0f} req/s | 1.00 |")
print(f"| ping, PHP-FPM | {php:,.0f} req/s | {php / c:.2f} of C |")
print(f"| single bcrypt, cost {cost}, one core (before / after the load run) | {single * 1000:.0f} ms / {single_after * 1000:.0f} ms | |")
print(f"| capacity limit, cores / mean single-hash time | {limit:.2f} hashes/s | 1.00 |")
print(f"| `/api/load` at `ab -c 4`, {done} requests in {taken:.1f} s | {rate:.2f} hashes/s ({failed} failed, {non2xx} non-2xx) | {rate / limit:.2f} of limit |")
PY
