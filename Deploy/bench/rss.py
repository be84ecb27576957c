#!/usr/bin/env python3
"""The resident memory of a set of processes over time: the least of their sum (the baseline: idle,
before the load or once it has drained) and its peak, sampled every --interval seconds until
--seconds have passed. Prints one JSON object.

    rss.py --parent 1234 --match ' worker ' --seconds 40 [--interval 0.02]

Processes are the children of --parent whose command line matches --match (a regular
expression), found again twice a second, so a worker that restarts is counted too. A sample reads
one small file per process; the sampler's own CPU is printed, for the caller to account for.

With --huge-interval, it also reads the processes' anonymous memory on transparent huge pages
(AnonHugePages of /proc/PID/smaps_rollup) that often, and prints its peak: in fullyloaded's
workers only argon2id's hash memory is advised huge, so that peak counts the hashes resident at
once, whatever the request threads hold. smaps_rollup walks every mapping (about a millisecond
for a worker of 512 threads), hence its own, slower interval."""
import argparse
import json
import os
import re
import resource
import time

PAGE = os.sysconf("SC_PAGE_SIZE")


def children(parent, pattern):
    """The pids of `parent`'s children whose command line matches `pattern`."""
    found = []
    try:
        tasks = os.listdir(f"/proc/{parent}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{parent}/task/{task}/children") as listed:
                pids = listed.read().split()
        except OSError:
            continue
        for pid in pids:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                    if pattern.search(cmdline.read().replace(b"\0", b" ").decode(errors="replace")):
                        found.append(pid)
            except OSError:
                continue
    return found


def resident(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm") as statm:
                total += int(statm.read().split()[1]) * PAGE
        except (OSError, ValueError, IndexError):
            continue
    return total / 1048576


def huge(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as rollup:
                for line in rollup:
                    if line.startswith("AnonHugePages:"):
                        total += int(line.split()[1]) * 1024
                        break
        except (OSError, ValueError, IndexError):
            continue
    return total / 1048576


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parent", type=int, required=True)
    parser.add_argument("--match", required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--interval", type=float, default=0.02)
    parser.add_argument("--huge-interval", type=float, default=0)
    arguments = parser.parse_args()
    pattern = re.compile(arguments.match)
    pids = children(arguments.parent, pattern)
    baseline = peak = resident(pids)
    huge_peak, huge_at = (huge(pids), time.monotonic()) if arguments.huge_interval > 0 else (None, None)
    samples, found_at = 1, time.monotonic()
    end = time.monotonic() + arguments.seconds
    while time.monotonic() < end:
        time.sleep(arguments.interval)
        # The processes again twice a second (a worker may have been replaced); their memory each time.
        if time.monotonic() - found_at >= 0.5:
            pids, found_at = children(arguments.parent, pattern), time.monotonic()
        value = resident(pids)
        baseline, peak = min(baseline, value), max(peak, value)
        if huge_at is not None and time.monotonic() - huge_at >= arguments.huge_interval:
            huge_peak, huge_at = max(huge_peak, huge(pids)), time.monotonic()
        samples += 1
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result = {"baseline_mib": baseline, "peak_mib": peak, "samples": samples,
              "cpu_seconds": usage.ru_utime + usage.ru_stime}
    if huge_peak is not None:
        result["huge_peak_mib"] = huge_peak
    print(json.dumps(result))


if __name__ == "__main__":
    main()
