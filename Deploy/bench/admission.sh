#!/usr/bin/env bash
# What admission costs as the queue grows and as clients multiply: a synthetic load through the
# real AdmissionController on a real shared segment (4 client processes, 64 compute slots, jobs
# that sleep 20 ms instead of hashing), fairness on, with KEYS clients of the fair share and
# QUEUED jobs waiting at all times. Per level: CPU per job beyond a baseline of threads that only
# sleep, the CPU the client threads spent inside admission per job (their own thread clocks: what
# levels are compared on, since a baseline taken seconds apart moves by a factor of two on a shared
# machine), and voluntary context switches per job beyond the job's own sleep.
# Usage: Deploy/bench/admission.sh [--levels "0:10 1:10 1:1000 1000:1000"] (KEYS:QUEUED; 0 keys: fairness off) [--seconds 5] [--slots 64] [--processes 4]
set -euo pipefail
cd "$(dirname "$0")/../.."

LEVELS="0:10 1:10 1:1000 1000:1000" SECONDS_PER_LEVEL=5 SLOTS=64 PROCESSES=4
while [ $# -gt 0 ]; do
  case "$1" in
    --levels) LEVELS=$2; shift 2 ;;
    --seconds) SECONDS_PER_LEVEL=$2; shift 2 ;;
    --slots) SLOTS=$2; shift 2 ;;
    --processes) PROCESSES=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

[ -n "${BIN:-}" ] || BIN=$(bash Deploy/dev.sh release-binary)

echo "| keys | queued | jobs/s (ideal) | process CPU per job, µs (baseline) | inside admission per job, µs | wake-ups per job |"
echo "| --- | --- | --- | --- | --- | --- |"
results=()
for level in $LEVELS; do
  keys=${level%%:*} queued=${level##*:}
  json=$("$BIN" admission-bench --slots "$SLOTS" --processes "$PROCESSES" --queued "$queued" --keys "$keys" \
    --seconds "$SECONDS_PER_LEVEL")
  results+=("$json")
  python3 -c '
import json, sys
r = json.loads(sys.argv[1])
print("| %d | %d | %.0f (%.0f) | %.1f (%.1f) | %.1f | %.2f |" % (r["keys"], r["queued"], r["jobs_per_second"],
      r["ideal_jobs_per_second"], r["cpu_microseconds_per_job"], r["baseline_cpu_microseconds_per_job"],
      r["admission_cpu_microseconds_per_job"], r["wakeups_per_job"]))' "$json"
done
python3 -c '
import json, sys
rows = [json.loads(text) for text in sys.argv[1:]]
# The first level with fairness on against the last.
low, high = next((r for r in rows if r["keys"] > 0), rows[0]), rows[-1]
print("per-job admission CPU: %.1f µs at %d keys, %d queued; %.1f µs at %d keys, %d queued (%.2f×); wake-ups per job: %.2f at most" % (
    low["admission_cpu_microseconds_per_job"], low["keys"], low["queued"], high["admission_cpu_microseconds_per_job"],
    high["keys"], high["queued"],
    high["admission_cpu_microseconds_per_job"] / max(low["admission_cpu_microseconds_per_job"], 1e-9),
    max(r["wakeups_per_job"] for r in rows)))' "${results[@]}"
