# Shared by the benchmark scripts: the stack under test, the PHP-FPM reference, and helpers.
# Source it after `cd` to the repository root; it sets ROOT, BIN, CORES, RUN and cleans up on exit.
set -euo pipefail
ROOT=$(pwd)

bench_setup() {
  # The benchmarks' packages (ab, h2load, PHP-FPM, gnuplot, …) and what the stack runs and builds with.
  bash Deploy/dev.sh deps bench
  command -v swift >/dev/null || export PATH="/opt/swift/usr/bin:$PATH"
  [ -n "${BIN:-}" ] || BIN=$(bash Deploy/dev.sh release-binary)
  PHP_FPM=$(ls /usr/sbin/php-fpm* | head -n 1)
  CORES=$(nproc)
  RUN=$(mktemp -d /tmp/fl-bench.XXXXXX)
  chmod 755 "$RUN"
  PIDS=()
  trap bench_cleanup EXIT
  USER_LINE=""; POOL_USER=""
  if [ "$(id -u)" -eq 0 ]; then USER_LINE="user nobody nogroup;"; POOL_USER=$'user = nobody\ngroup = nogroup'; fi
}

# common_option NAME VALUE: the options every benchmark of the promise takes (--cost, --deadline,
# --binary, --out). Sets its variable and succeeds when NAME is one of them (the caller shifts
# 2); fails for any other.
common_option() {
  case "$1" in
    --cost | --deadline | --binary | --out) [ $# -ge 2 ] || { echo "$1 needs a value" >&2; exit 2; } ;;
    *) return 1 ;;
  esac
  case "$1" in
    --cost) COST=$2 ;;
    --deadline) DEADLINE=$2 ;;
    --binary) BIN=$2 ;;
    --out) OUT=$2 ;;
  esac
}

# bench_start SCRIPT ARGUMENTS…: after the options, the run's directory and binary (bench_setup),
# the product's defaults for the cost and N when not given (the binary says them: `fullyloaded
# defaults`), COMMAND as the results page shows it, and the results' data folder.
bench_start() {
  local script=$1
  shift
  bench_setup
  COST=${COST:-$(default_of cost)} DEADLINE=${DEADLINE:-$(default_of deadline)}
  COMMAND=$(shown_command "$script" "$@")
  mkdir -p "$OUT/data"
}

bench_cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$RUN"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_http() {
  local attempt
  for attempt in $(seq 400); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "no answer from $1" >&2
  exit 1
}

# start_fullyloaded NAME PORT [up options]: the stack under test, its runtime folder $RUN/NAME.
start_fullyloaded() {
  local name=$1 port=$2
  shift 2
  "$BIN" up --http-port "$port" --https-port 0 --share-dir "$ROOT" --runtime-dir "$RUN/$name" "$@" >"$RUN/$name.log" 2>&1 &
  PIDS+=($!)
  wait_http "http://127.0.0.1:$port/api/ping"
}

stop_last() {
  local last=${PIDS[-1]}
  kill -TERM "$last" 2>/dev/null || true
  wait "$last" 2>/dev/null || true
  unset 'PIDS[-1]'
}

# start_php_fpm NAME CHILDREN: PHP-FPM as most people deploy it (pm static), on $RUN/NAME.sock.
start_php_fpm() {
  local name=$1 children=$2
  cat >"$RUN/$name-fpm.conf" <<CONF
[global]
pid = $RUN/$name-fpm.pid
error_log = $RUN/$name-fpm.log
daemonize = no
[$name]
$POOL_USER
listen = $RUN/$name.sock
listen.mode = 0666
listen.backlog = 4096
pm = static
pm.max_children = $children
CONF
  "$PHP_FPM" --nodaemonize --fpm-config "$RUN/$name-fpm.conf" ${USER_LINE:+--allow-to-run-as-root} >"$RUN/$name-fpm.out" 2>&1 &
  PIDS+=($!)
}

# start_reference_nginx NAME SERVER_BLOCKS [UPSTREAM_BLOCKS]: an nginx with the same http settings
# and JSON access log ($RUN/NAME-access.log) as `fullyloaded up`, for the reference back ends.
start_reference_nginx() {
  local name=$1 servers=$2 upstreams=${3:-}
  mkdir -p "$RUN/$name-tmp"
  [ -n "$USER_LINE" ] && chown nobody:nogroup "$RUN/$name-tmp"
  cat >"$RUN/$name.conf" <<CONF
daemon off;
worker_processes auto;
pid $RUN/$name.pid;
error_log $RUN/$name-error.log warn;
$USER_LINE
events { worker_connections 4096; }
http {
    client_body_temp_path $RUN/$name-tmp/body; fastcgi_temp_path $RUN/$name-tmp/fastcgi;
    proxy_temp_path $RUN/$name-tmp/proxy; uwsgi_temp_path $RUN/$name-tmp/uwsgi; scgi_temp_path $RUN/$name-tmp/scgi;
    include $ROOT/nginx/snippets/fullyloaded-http.conf;
    # The snippet's per-client limit, trusted proxies and HSTS, all off here, and who may call:
    # everyone (the snippet needs them defined).
    geo \$fullyloaded_rate_limited { default 0; }
    geo \$fullyloaded_api_network { default 1; }
    geo \$fullyloaded_page_network { default 1; }
    geo \$fullyloaded_trusted_proxy { default 0; }
    map \$scheme \$fullyloaded_hsts { default ""; }
    access_log $RUN/$name-access.log fullyloaded_json buffer=64k flush=1s;
    fastcgi_read_timeout 300s;
$upstreams
$servers
}
CONF
  nginx -p "$RUN" -c "$RUN/$name.conf" -e "$RUN/$name-error.log" &
  PIDS+=($!)
}

# start_php_behind_nginx PORT [ADDRESS:PORT …]: PHP-FPM (4 children) and its nginx, listening on
# 127.0.0.1:PORT and on each further address given (e.g. [::1]:PORT).
start_php_behind_nginx() {
  local port=$1 more="" address
  shift
  for address in "$@"; do more+="        listen $address backlog=4096;"$'\n'; done
  start_php_fpm php 4
  start_reference_nginx php-nginx "    server {
        listen 127.0.0.1:$port backlog=4096;
${more}$(php_locations "$RUN/php.sock")
    }"
  wait_http "http://127.0.0.1:$port/api/ping"
}

# php_locations SOCKET: /api/ping and /api/load served by the PHP scripts.
php_locations() {
  cat <<CONF
        location = /api/ping { fastcgi_pass unix:$1; include /etc/nginx/fastcgi_params;
                               fastcgi_param SCRIPT_FILENAME $ROOT/Deploy/bench/ping.php; }
        location = /api/load { fastcgi_pass unix:$1; include /etc/nginx/fastcgi_params;
                               fastcgi_param SCRIPT_FILENAME $ROOT/Deploy/bench/load.php; }
CONF
}

. "$(dirname "${BASH_SOURCE[0]}")/ab.sh"

# ab counts responses whose length differs from the first as "failed" (Length); only connection,
# receive and exception failures are failures.
ab_real_failures() {
  sed -n 's/.*(Connect: \([0-9]*\), Receive: \([0-9]*\), Length: [0-9]*, Exceptions: \([0-9]*\)).*/\1 \2 \3/p' "$1" |
    awk '{ print $1 + $2 + $3 } END { if (NR == 0) print 0 }' | head -n 1
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# default_of FLAG: the product's default for FLAG (cost, deadline, …), as the binary has it.
default_of() {
  "$BIN" defaults --get "$1"
}

calibrate() {
  "$BIN" calibrate --cost "$1" --samples "${2:-9}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["median_seconds"])'
}

# shown_command SCRIPT ARGUMENTS…: the command line as a reader would type it again, for the results page.
shown_command() {
  local shown=$1 argument
  shift
  for argument in "$@"; do
    if [[ "$argument" =~ ^[A-Za-z0-9_./:=,+-]+$ ]]; then shown+=" $argument"; else shown+=" \"$argument\""; fi
  done
  echo "$shown"
}
