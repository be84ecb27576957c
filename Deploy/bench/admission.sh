#!/usr/bin/env bash
# What admission costs as the queue grows and as clients multiply: a synthetic load through the
# real AdmissionController on a real shared segment (4 client processes, 64 compute slots, jobs
# that sleep 20 ms instead of hashing), fairness on, with KEYS clients of the fair share and
# QUEUED jobs waiting at all times. Per level: CPU per job beyond a baseline of threads that only
# sleep, the CPU the client threads spent inside admission per job (their own thread clocks: what
# levels are compared on, since a baseline taken seconds apart moves by a factor of two on a shared
# machine), and voluntary context switches per job beyond the job's own sleep.
# Output: its section of OUT/benchmarks.md (the table, and the reading: the summary line) and the
# run's rows appended to OUT/data/admission.csv (Deploy/bench/publish.py).
# Usage: Deploy/bench/admission.sh [--levels "0:10 1:10 1:1000 1000:1000"] (KEYS:QUEUED; 0 keys: fairness off) [--seconds 5] [--slots 64] [--processes 4]
#          [--out Docs]
set -euo pipefail
cd "$(dirname "$0")/../.."

ARGUMENTS=("$@")
LEVELS="0:10 1:10 1:1000 1000:1000" SECONDS_PER_LEVEL=5 SLOTS=64 PROCESSES=4 OUT=Docs
while [ $# -gt 0 ]; do
  case "$1" in
    --levels) LEVELS=$2; shift 2 ;;
    --seconds) SECONDS_PER_LEVEL=$2; shift 2 ;;
    --slots) SLOTS=$2; shift 2 ;;
    --processes) PROCESSES=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

[ -n "${BIN:-}" ] || BIN=$(bash Deploy/dev.sh release-binary)
. Deploy/bench/lib.sh
COMMAND=$(shown_command Deploy/bench/admission.sh "${ARGUMENTS[@]}")
RUN=$(mktemp -d /tmp/fl-admission.XXXXXX)
trap 'rm -rf "$RUN"' EXIT

for level in $LEVELS; do
  keys=${level%%:*} queued=${level##*:}
  "$BIN" admission-bench --slots "$SLOTS" --processes "$PROCESSES" --queued "$queued" --keys "$keys" \
    --seconds "$SECONDS_PER_LEVEL" >>"$RUN/levels.jsonl"
  echo >>"$RUN/levels.jsonl"
done
python3 - "$RUN/levels.jsonl" "$RUN/admission.csv" "$SLOTS" "$PROCESSES" "$SECONDS_PER_LEVEL" >"$RUN/report.md" <<'PY'
import csv, json, sys
path, csv_path, slots, processes, seconds = sys.argv[1:]
rows = [json.loads(line) for line in open(path) if line.strip()]
columns = ["keys", "queued", "jobs_per_second", "ideal_jobs_per_second", "cpu_microseconds_per_job",
           "baseline_cpu_microseconds_per_job", "admission_cpu_microseconds_per_job", "wakeups_per_job"]
with open(csv_path, "w", newline="") as handle:
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([r[c] for c in columns] for r in rows)
print(f"{slots} compute slots, {processes} client processes, {seconds} s per level.\n")
print("| keys | queued | jobs/s (ideal) | process CPU per job, µs (baseline) | inside admission per job, µs | wake-ups per job |")
print("| --- | --- | --- | --- | --- | --- |")
for r in rows:
    print("| %d | %d | %.0f (%.0f) | %.1f (%.1f) | %.1f | %.2f |" % (r["keys"], r["queued"], r["jobs_per_second"],
          r["ideal_jobs_per_second"], r["cpu_microseconds_per_job"], r["baseline_cpu_microseconds_per_job"],
          r["admission_cpu_microseconds_per_job"], r["wakeups_per_job"]))
# The reading: the first level with fairness on against the last.
low, high = next((r for r in rows if r["keys"] > 0), rows[0]), rows[-1]
print()
print("per-job admission CPU: %.1f µs at %d keys, %d queued; %.1f µs at %d keys, %d queued (%.2f×); wake-ups per job: %.2f at most" % (
    low["admission_cpu_microseconds_per_job"], low["keys"], low["queued"], high["admission_cpu_microseconds_per_job"],
    high["keys"], high["queued"],
    high["admission_cpu_microseconds_per_job"] / max(low["admission_cpu_microseconds_per_job"], 1e-9),
    max(r["wakeups_per_job"] for r in rows)))
PY
python3 Deploy/bench/publish.py --script admission.sh --page "$OUT/benchmarks.md" --data "$OUT/data" \
  --command "$COMMAND" --report "$RUN/report.md" --csv "$RUN/admission.csv"
