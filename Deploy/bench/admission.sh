#!/usr/bin/env bash
# What admission costs as the queue grows: a synthetic load through the real AdmissionController
# on a real shared segment (4 client processes, 64 compute slots, jobs that sleep 20 ms instead of
# hashing), with 10 … 1,000 jobs waiting at all times. Per level: CPU per job beyond a baseline of
# threads that only sleep, and voluntary context switches per job beyond the job's own sleep.
# Usage: Deploy/bench/admission.sh [--levels "10 100 1000"] [--seconds 5] [--slots 64] [--processes 4]
set -euo pipefail
cd "$(dirname "$0")/../.."

LEVELS="10 100 1000" SECONDS_PER_LEVEL=5 SLOTS=64 PROCESSES=4
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

echo "| queued | jobs/s (ideal) | CPU per job, µs | of which admission, µs | wake-ups per job |"
echo "| --- | --- | --- | --- | --- |"
results=()
for queued in $LEVELS; do
  json=$("$BIN" admission-bench --slots "$SLOTS" --processes "$PROCESSES" --queued "$queued" --seconds "$SECONDS_PER_LEVEL")
  results+=("$json")
  python3 -c '
import json, sys
r = json.loads(sys.argv[1])
print("| %d | %.0f (%.0f) | %.1f | %.1f | %.2f |" % (r["queued"], r["jobs_per_second"], r["ideal_jobs_per_second"],
      r["cpu_microseconds_per_job"], r["admission_cpu_microseconds_per_job"], r["wakeups_per_job"]))' "$json"
done
python3 -c '
import json, sys
rows = [json.loads(text) for text in sys.argv[1:]]
low, high = rows[0], rows[-1]
print("per-job admission CPU: %.1f µs at %d queued, %.1f µs at %d queued; wakeups per job: %.2f" % (
    low["admission_cpu_microseconds_per_job"], low["queued"], high["admission_cpu_microseconds_per_job"],
    high["queued"], max(r["wakeups_per_job"] for r in rows)))' "${results[@]}"
