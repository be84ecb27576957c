#!/usr/bin/env bash
# The fair share under a flood, open loop, through nginx, every client on loopback source
# addresses of its own (Deploy/bench/fairload.py): fullyloaded with fairness on, the same with
# --fairness off (one queue in arrival order), and PHP-FPM (pm static, 4 children, the same
# nginx), side by side, scenario by scenario. Capacity is cores / single-hash time at --cost,
# measured just before and just after each run.
#
# Scenarios (multiples of capacity at --cost):
# Flooders send from 127.0.0.0/16, light clients from 127.1.0.0/16, each /24 its own group.
#   flood   one client at 20×, one light client at 0.25× in another /24
#   three   three flooders at 10× each (own /24s), twenty light clients at 0.02× each; it runs
#           at least --seconds, and long enough for each light client to send about forty requests
#   costs   a flooder sending cost --cost + 2 at 10× (in cost-(--cost) work) and one sending --cost at 10×
#   rotate  an attacker at 20× rotating through all 256 addresses of one /24, a light client at 0.25×
#   storm   one client in a closed loop of 64 connections (as ab -c 64), a light client at 0.25× open loop
#   ipv6    an attacker at 20× rotating through 5,000 /64s of one IPv6 /48, a light client at 0.25×
#           in another /48 (2001:db8::/32 is routed to loopback for the run; as root)
#
# Output: its section of OUT/benchmarks.md (a table per scenario and the reading), the run's rows
# appended to OUT/data/fairness.csv (Deploy/bench/publish.py), and a plot (SVG) of the light
# clients' answers within N.
# Usage: Deploy/bench/fairness.sh [--quick] [--cost 12] [--deadline 2] [--seconds 20]
#          [--scenarios "flood three costs rotate storm ipv6"]
#          [--systems "fairness-on fairness-off php-fpm"; also fairness-on-lanes-4]
#          [--binary PATH] [--out Docs]
#   --quick: cost 8, N = 0.5 s, 4 s per run, scenarios "flood storm" — for tests.
set -euo pipefail
cd "$(dirname "$0")/../.."

ARGUMENTS=("$@")
COST= DEADLINE= SECONDS_PER_RUN=20 OUT=Docs
SCENARIOS="flood three costs rotate storm ipv6"
SYSTEMS="fairness-on fairness-off php-fpm"
. Deploy/bench/lib.sh
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) COST=8 DEADLINE=0.5 SECONDS_PER_RUN=4 SCENARIOS="flood storm"; shift ;;
    --seconds) SECONDS_PER_RUN=$2; shift 2 ;;
    --scenarios) SCENARIOS=$2; shift 2 ;;
    --systems) SYSTEMS=$2; shift 2 ;;
    *) common_option "$@" || { echo "unknown option $1" >&2; exit 2; }; shift 2 ;;
  esac
done

bench_start Deploy/bench/fairness.sh "${ARGUMENTS[@]}"
RESULTS="$RUN/results.jsonl"
: >"$RESULTS"
HIGH=$((COST + 2))

# The ipv6 scenario's addresses: a documentation prefix routed to loopback while the run lasts.
if [[ " $SCENARIOS " == *" ipv6 "* ]]; then
  ip -6 route add local 2001:db8::/32 dev lo
  trap 'ip -6 route del local 2001:db8::/32 dev lo 2>/dev/null || true; bench_cleanup' EXIT
fi

declare -A PORT
for system in $SYSTEMS; do
  port=$(free_port)
  PORT[$system]=$port
  case "$system" in
    fairness-on | fairness-off)
      start_fullyloaded "$system" "$port" --cost "$COST" --max-cost "$HIGH" --deadline "$DEADLINE" \
        --fairness "${system#fairness-}" --ipv6-loopback ;;
    # The fair share with batches of up to four: what --lanes 4 keeps of it.
    fairness-on-lanes-4)
      start_fullyloaded "$system" "$port" --cost "$COST" --max-cost "$HIGH" --deadline "$DEADLINE" \
        --fairness on --lanes 4 --ipv6-loopback ;;
    php-fpm) ;;
    *) echo "unknown system $system" >&2; exit 2 ;;
  esac
done

# clients SCENARIO SYSTEM CAPACITY: the scenario's clients as fairload.py takes them. fullyloaded
# takes a cost in a POST to /api/hash; PHP-FPM's /api/load takes it as ?cost=.
clients() {
  python3 - "$1" "$2" "$3" "$COST" "$HIGH" <<'PY'
import json, sys
scenario, system, capacity, cost, high = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
def at(name, multiple, sources, c=cost, **more):
    client = {"name": name, "rate": multiple * capacity * 2 ** (cost - c), "sources": sources,
              "weight": 2 ** (c - cost), **more}
    if system == "php-fpm":
        client["path"] = f"/api/load?cost={c}"
    elif c != cost:
        client["cost"] = c
    return client
# Light clients live in 127.1.0.0/16, flooders in 127.0.0.0/16: every /24 its own group.
light = at("light", 0.25, ["127.1.0.2"])
if scenario == "flood":
    clients = [at("flooder", 20, ["127.0.0.2"]), light]
elif scenario == "three":
    clients = [at(f"flooder-{i}", 10, [f"127.0.{2 + i}.1"]) for i in range(3)]
    clients += [at(f"light-{i}", 0.02, [f"127.1.{1 + i}.1"]) for i in range(20)]
elif scenario == "costs":
    clients = [at(f"cost-{high}", 10, ["127.0.2.1"], c=high), at(f"cost-{cost}", 10, ["127.0.3.1"])]
elif scenario == "rotate":
    clients = [at("attacker", 20, ["127.0.0.0/24"]), light]
elif scenario == "ipv6":
    clients = [at("attacker", 20, [f"2001:db8:1:{i:x}::1" for i in range(5000)]),
               at("light", 0.25, ["2001:db8:2::1"])]
elif scenario == "storm":
    storm = {"name": "storm", "concurrency": 64, "sources": ["127.0.0.2"]}
    if system == "php-fpm":
        storm["path"] = f"/api/load?cost={cost}"
    clients = [storm, light]
print(json.dumps(clients))
PY
}

for scenario in $SCENARIOS; do
  for system in $SYSTEMS; do
    # PHP-FPM runs fresh for each run and is stopped after it: left running, it would go on
    # hashing the requests still in its queue long after their clients gave up.
    if [ "$system" = php-fpm ]; then start_php_behind_nginx "${PORT[$system]}" "[::1]:${PORT[$system]}"; fi
    port=${PORT[$system]}
    sleep "$(python3 -c "print($DEADLINE + 1.5)")"  # the previous run drains
    before=$(calibrate "$COST" 5)
    capacity=$(python3 -c "print($CORES / $before)")
    log=$([ "$system" = php-fpm ] && echo "$RUN/php-nginx-access.log" || echo "$RUN/$system/access.log")
    lines_before=$(wc -l <"$log" 2>/dev/null || echo 0)
    # Twenty light clients at 0.02× each send a request every few seconds: their run lasts until
    # each has sent about forty. Poisson arrivals from twenty clients now and then bunch into more
    # than the queue holds, and then one light job gives way to another: with twenty requests a
    # client that one would be 5%, with forty it is 2.5%.
    run_seconds=$SECONDS_PER_RUN
    if [ "$scenario" = three ]; then
      run_seconds=$(python3 -c "import math; print(max($SECONDS_PER_RUN, math.ceil(40 / (0.02 * $capacity))))")
    fi
    python3 Deploy/bench/fairload.py --port "$port" --seconds "$run_seconds" --deadline "$DEADLINE" \
      --timeout "$(python3 -c "print(max(10, 5 * $DEADLINE))")" --ping-interval 0.05 \
      --clients "$(clients "$scenario" "$system" "$capacity")" >"$RUN/run.json"
    after=$(calibrate "$COST" 5)
    sleep 1.2  # nginx flushes its access log every second
    python3 - "$scenario" "$system" "$before" "$after" "$CORES" "$DEADLINE" "$RUN/run.json" "$log" "$lines_before" \
      "$run_seconds" >>"$RESULTS" <<'PY'
import json, sys
scenario, system, before, after, cores, deadline, path, log, skip, seconds = sys.argv[1:]
report = json.load(open(path))
# The light clients' refusals at nginx: how long their 503s took, by nginx's own clock; and the
# probe's pings, by the same clock (the load generator's own clock adds its event loop's delays).
light_refusals, pings = [], []
for number, line in enumerate(open(log)):
    if number < int(skip):
        continue
    try:
        row = json.loads(line)
    except ValueError:
        continue
    if row.get("remote", "").startswith(("127.1.", "2001:db8:2:")) and row.get("status") == 503 and row.get("refusal") in ("at_capacity", "over_share"):
        light_refusals.append(row["request_time"])
    if row.get("uri") == "/api/ping":
        pings.append(row["request_time"])
report.update(scenario=scenario, system=system, seconds=float(seconds), single_before=float(before), single_after=float(after),
              cores=int(cores), deadline=float(deadline), light_refusal_times=sorted(light_refusals),
              ping_times_at_nginx=sorted(pings))
print(json.dumps(report))
PY
    python3 -c '
import json, sys
r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
light = [c for n, c in r["clients"].items() if n.startswith("light")]
print("%s %s: light ok %s, ping p99 %s" % (r["scenario"], r["system"],
      min((c["ok_fraction"] or 0) for c in light) if light else "-", r["ping"]["latency"]["p99"]), file=sys.stderr)' "$RESULTS"
    if [ "$system" = php-fpm ]; then
      stop_last
      stop_last
    fi
  done
done

python3 Deploy/bench/fairness_report.py "$RESULTS" "$OUT" "$RUN/fairness.csv" "$COST" "$DEADLINE" "$SECONDS_PER_RUN" \
  >"$RUN/report.md"
python3 Deploy/bench/publish.py --script fairness.sh --page "$OUT/benchmarks.md" --data "$OUT/data" \
  --command "$COMMAND" --report "$RUN/report.md" --csv "$RUN/fairness.csv"
