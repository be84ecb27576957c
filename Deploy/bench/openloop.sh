#!/usr/bin/env bash
# The promise under open-loop load: users arrive at a rate (Poisson), each on a new connection,
# whether or not earlier ones were answered — how real users overload a service, unlike ab's
# closed loop, where every answer (a refusal too) is followed at once by the next request.
# Per multiple of capacity (cores / single-hash time, measured before and after each level) and system,
# fullyloaded and PHP-FPM (pm static, 4 children, the same nginx) interleaved: Deploy/bench/openloop.py
# offers the arrivals with a paced probe on /api/ping; requests unanswered after --timeout count so.
#
# Output: its section of OUT/benchmarks.md (Deploy/bench/publish.py: the run's command, date,
# machine and version, a table per system, the reading), the run's rows appended to
# OUT/data/openloop.csv, and three gnuplot SVGs in OUT (goodput, 200 p99, ping p99).
# Usage: Deploy/bench/openloop.sh [--quick] [--cost 12] [--deadline 2] [--seconds 30]
#          [--multiples "1 2 5 10 30"] [--systems "fullyloaded php-fpm"] [--timeout 60] [--binary PATH] [--out Docs]
#   --systems: any of fullyloaded (`up` defaults), fullyloaded-fairness-off (one queue in arrival
#              order), fullyloaded-lanes-1 and fullyloaded-lanes-4 (every job alone, or batches of
#              up to four), fullyloaded-mixed (half the arrivals verify an argon2id hash at OWASP's
#              parameters, half are bcrypt at --cost, under a --hash-memory that fits one argon2id
#              job per core; its capacity is the cores over the mix's mean hash time, argon2id's as
#              all cores hash at once) and php-fpm. The workers' resident memory is sampled for
#              every fullyloaded system.
#   --quick: cost 8, multiples "1 3", 3 s, 10 s timeout — about a minute end to end, for tests.
set -euo pipefail
cd "$(dirname "$0")/../.."

ARGUMENTS=("$@")
COST= DEADLINE= SECONDS_PER_LEVEL=30 TIMEOUT=60 OUT=Docs
MULTIPLES="1 2 5 10 30"
SYSTEMS="fullyloaded php-fpm"
. Deploy/bench/lib.sh
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) COST=8 SECONDS_PER_LEVEL=3 TIMEOUT=10 MULTIPLES="1 3"; shift ;;
    --seconds) SECONDS_PER_LEVEL=$2; shift 2 ;;
    --multiples) MULTIPLES=$2; shift 2 ;;
    --systems) SYSTEMS=$2; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    *) common_option "$@" || { echo "unknown option $1" >&2; exit 2; }; shift 2 ;;
  esac
done

bench_start Deploy/bench/openloop.sh "${ARGUMENTS[@]}"
CSV="$RUN/openloop.csv"
echo "system,multiple,capacity,offered,achieved,seconds,steady_seconds,ok,ok_within,ok_within_steady,refused,other,unanswered,goodput,goodput_steady,ok_p50,ok_p99,ok_max,refused_p50,refused_p99,refused_max,ping_sent,ping_failed,ping_p50,ping_p99,ping_max,generator_cpu_seconds,steal_fraction,mix_fraction,mix_sent,mix_ok_within_steady,rss_baseline_mib,rss_peak_mib,memory_budget_mib,work_within_steady,capacity_before,capacity_after,hashing_fraction,idle_fraction,interrupts_fraction,huge_peak_mib" >"$CSV"

# The mixed level: argon2id at OWASP's parameters, verified against a hash no password matches
# (one argon2id each, no rehash), beside bcrypt at --cost; memory for one argon2id job per core.
ARGON2_MEMORY_KIB=19456 ARGON2_PASSES=2 MIX_FRACTION=0.5
MIX_BUDGET_MIB=$(( (ARGON2_MEMORY_KIB * CORES + 1023) / 1024 ))
MIX_HASH='$argon2id$v=19$m=19456,t=2,p=1$b3Blbmxvb3AtbWl4ZWQtc2FsdA$bm90aGluZyBtYXRjaGVzIHRoaXMgZGlnZXN0LCBldmVy'
MIX_BODY="{\"password\":\"not the password\",\"hash\":\"$MIX_HASH\"}"

declare -A PORT UP_PID
for system in $SYSTEMS; do
  port=$(free_port)
  PORT[$system]=$port
  case "$system" in
    fullyloaded)
      start_fullyloaded "$system" "$port" --cost "$COST" --max-cost "$COST" --deadline "$DEADLINE" ;;
    # The same with one queue in arrival order: what the fair share costs when no one floods.
    fullyloaded-fairness-off)
      start_fullyloaded "$system" "$port" --cost "$COST" --max-cost "$COST" --deadline "$DEADLINE" --fairness off ;;
    # Every job alone on libxcrypt, or batches of up to four: what batches add.
    fullyloaded-lanes-1 | fullyloaded-lanes-4)
      start_fullyloaded "$system" "$port" --cost "$COST" --max-cost "$COST" --deadline "$DEADLINE" --lanes "${system##*-}" ;;
    fullyloaded-mixed)
      start_fullyloaded "$system" "$port" --cost "$COST" --max-cost "$COST" --deadline "$DEADLINE" \
        --hash-memory "$MIX_BUDGET_MIB" ;;
    php-fpm) ;;
    *) echo "unknown system $system" >&2; exit 2 ;;
  esac
  if [ "$system" != php-fpm ]; then UP_PID[$system]=${PIDS[-1]}; fi
done

# mix_capacity BCRYPT_SECONDS ARGON2_SECONDS: the mix's jobs per second on all cores.
mix_capacity() { python3 -c "print($CORES / ($MIX_FRACTION * $2 + (1 - $MIX_FRACTION) * $1))"; }
# argon2id as the cores do it together (each hash shares the memory bandwidth with the others');
# bcrypt's time barely moves so.
calibrate_argon2() {
  "$BIN" calibrate --algorithm argon2id --argon2-memory "$ARGON2_MEMORY_KIB" \
    --argon2-passes "$ARGON2_PASSES" --samples 9 --threads "$CORES" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["median_seconds"])'
}

for multiple in $MULTIPLES; do
  for system in $SYSTEMS; do
    # The limit just before the level sets its rate; it is timed again just after, and the
    # figures are read against the mean of the two (the machine's speed drifts within minutes).
    single=$(calibrate "$COST" 5)
    capacity=$(python3 -c "print($CORES / $single)") mix=() fraction=0 budget="" argon2=0
    if [ "$system" = fullyloaded-mixed ]; then
      argon2=$(calibrate_argon2)
      capacity=$(mix_capacity "$single" "$argon2")
      mix=(--mix-path /api/verify --mix-body "$MIX_BODY" --mix-fraction "$MIX_FRACTION")
      fraction=$MIX_FRACTION budget=$MIX_BUDGET_MIB
    fi
    rate=$(python3 -c "print($multiple * $capacity)")
    # PHP-FPM runs fresh for each level and is stopped after it: left running, it would go on
    # hashing the requests still in its queue long after their clients gave up, and take the
    # cores from whatever is measured next.
    # (Last in the list of processes, so that it can be stopped alone.)
    if [ "$system" = php-fpm ]; then start_php_behind_nginx "${PORT[$system]}"; fi
    # Warm up: every kind of request the level sends, many at once, and a burst of cheap ones, so
    # that idle memory already holds what a first use maps once (code pages, the request threads'
    # stacks), and the peak over it is what the load itself holds.
    ab -q -n 8 -c 2 "http://127.0.0.1:${PORT[$system]}/api/load?cost=$COST" >/dev/null 2>&1 || true
    if [ ${#mix[@]} -gt 0 ]; then
      printf '%s' "$MIX_BODY" >"$RUN/mix-body.json"
      ab -q -n 64 -c 32 -p "$RUN/mix-body.json" -T application/json \
        "http://127.0.0.1:${PORT[$system]}/api/verify" >/dev/null 2>&1 || true
    fi
    if [ "$system" != php-fpm ]; then
      printf '{"hash":"%s"}' "$MIX_HASH" >"$RUN/cheap-body.json"
      ab -q -n 2000 -c 200 -p "$RUN/cheap-body.json" -T application/json \
        "http://127.0.0.1:${PORT[$system]}/api/needs-rehash" >/dev/null 2>&1 || true
    fi
    sleep "$(python3 -c "print($DEADLINE + 1.5)")"  # the previous level drains
    echo '{}' >"$RUN/rss.json"
    if [ "$system" != php-fpm ]; then
      # The workers' resident memory while the requests arrive and drain: its least (idle) and its peak.
      python3 Deploy/bench/rss.py --parent "${UP_PID[$system]}" --match " worker " --interval 0.02 --huge-interval 0.1 \
        --seconds "$(python3 -c "print($SECONDS_PER_LEVEL + $DEADLINE + 1)")" >"$RUN/rss.json" &
      RSS_PID=$!
    fi
    python3 Deploy/bench/openloop.py --port "${PORT[$system]}" --path "/api/load?cost=$COST" --rate "$rate" \
      --seconds "$SECONDS_PER_LEVEL" "${mix[@]}" \
      --timeout "$TIMEOUT" --ping-interval 0.05 --seed "$multiple" --within "$DEADLINE" >"$RUN/level.json"
    if [ "$system" != php-fpm ]; then wait "$RSS_PID"; fi
    if [ "$system" = php-fpm ]; then
      stop_last
      stop_last
    fi
    # Every answer is in (or given up on): the cores are free to be timed again.
    single_after=$(calibrate "$COST" 5)
    capacity_before=$capacity
    capacity_after=$(python3 -c "print($CORES / $single_after)")
    if [ "$system" = fullyloaded-mixed ]; then
      argon2_after=$(calibrate_argon2)
      capacity_after=$(mix_capacity "$single_after" "$argon2_after")
      argon2=$(python3 -c "print(($argon2 + $argon2_after) / 2)")
    fi
    single=$(python3 -c "print(($single + $single_after) / 2)")
    capacity=$(python3 -c "print(($capacity_before + $capacity_after) / 2)")
    python3 - "$system" "$multiple" "$capacity" "$RUN/level.json" "$fraction" "$RUN/rss.json" "$budget" \
      "$single" "$argon2" "$CORES" "$capacity_before" "$capacity_after" >>"$CSV" <<'PY'
import json, sys
system, multiple, capacity, path, fraction, rss_path, budget, single, argon2, cores, before, after = sys.argv[1:]
r = json.load(open(path))
rss = json.load(open(rss_path))
mib = lambda name: f"{rss[name]:.1f}" if name in rss else ""
# The memory sampler ran on the same cores as the generator: its CPU counts as the generator's.
r["generator_cpu_seconds"] += rss.get("cpu_seconds", 0)
statuses, latency, ping = r["statuses"], r["latency"], r["ping"]
ok, refused = statuses.get("200", 0), statuses.get("503", 0)
unanswered = statuses.get("unanswered", 0)
other = sum(statuses.values()) - ok - refused - unanswered
cell = lambda group, name: "" if not latency.get(group) or latency[group][name] is None else f"{latency[group][name]:.6f}"
pcell = lambda name: "" if ping["latency"][name] is None else f"{ping['latency'][name]:.6f}"
print(",".join(str(v) for v in [
    system, multiple, f"{float(capacity):.4f}", f"{r['offered_rate']:.2f}", f"{r['achieved_rate']:.2f}", r["seconds"],
    f"{r['steady_seconds']:.2f}", ok, r["ok_within"], r["ok_within_steady"], refused, other, unanswered,
    f"{ok / r['seconds']:.3f}", f"{r['ok_within_steady'] / r['steady_seconds']:.3f}",
    cell("200", "p50"), cell("200", "p99"), cell("200", "max"), cell("503", "p50"), cell("503", "p99"), cell("503", "max"),
    ping["sent"], ping["failed"], pcell("p50"), pcell("p99"), pcell("max"), f"{r['generator_cpu_seconds']:.2f}",
    f"{r['steal_fraction']:.3f}", fraction, r.get("mix_sent", 0), r.get("mix_ok_within_steady", 0),
    mib("baseline_mib"), mib("peak_mib"), budget,
    # The work answered within N in the steady state, in single-hash seconds per second per core:
    # what the slots did of what they can, whatever the mix of the jobs admission let through.
    f"{(r.get('mix_ok_within_steady', 0) * float(argon2) + (r['ok_within_steady'] - r.get('mix_ok_within_steady', 0)) * float(single)) / r['steady_seconds'] / int(cores):.3f}",
    f"{float(before):.4f}", f"{float(after):.4f}",
    # How the cores spent the steady state: hashing (the compute threads run at nice 10), idle,
    # and the kernel's interrupts.
    f"{r['cpu_steady']['nice']:.3f}", f"{r['cpu_steady']['idle']:.3f}", f"{r['cpu_steady']['interrupts']:.3f}",
    mib("huge_peak_mib")]))
PY
    tail -n 1 "$CSV" >&2
  done
done

python3 Deploy/bench/openloop_report.py "$CSV" "$OUT" "$COST" "$DEADLINE" "$SECONDS_PER_LEVEL" "$TIMEOUT" "$CORES" \
  "$ARGON2_MEMORY_KIB" \
  >"$RUN/report.md"
python3 Deploy/bench/publish.py --script openloop.sh --page "$OUT/benchmarks.md" --data "$OUT/data" \
  --command "$COMMAND" --report "$RUN/report.md" --csv "$CSV"
