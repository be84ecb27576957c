#!/usr/bin/env python3
"""The resident memory of a set of processes over time: the least of their sum (the baseline: idle,
before the load or once it has drained) and its peak, sampled every --interval seconds until
--seconds have passed. Prints one JSON object.

    rss.py --parent 1234 --match ' worker ' --seconds 40 [--interval 0.01]

Processes are the children of --parent whose command line matches --match (a regular
expression), found again at every sample, so a worker that restarts is counted too."""
import argparse
import json
import os
import re
import time

PAGE = os.sysconf("SC_PAGE_SIZE")


def resident(parent, pattern):
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                # The parent's pid is the second field after the command's closing parenthesis.
                if int(stat.read().rsplit(")", 1)[1].split()[1]) != parent:
                    continue
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                command = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
            if not pattern.search(command):
                continue
            with open(f"/proc/{pid}/statm") as statm:
                total += int(statm.read().split()[1]) * PAGE
        except (OSError, ValueError, IndexError):
            continue
    return total / 1048576


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parent", type=int, required=True)
    parser.add_argument("--match", required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--interval", type=float, default=0.01)
    arguments = parser.parse_args()
    pattern = re.compile(arguments.match)
    baseline = peak = resident(arguments.parent, pattern)
    samples = 1
    end = time.monotonic() + arguments.seconds
    while time.monotonic() < end:
        time.sleep(arguments.interval)
        value = resident(arguments.parent, pattern)
        baseline, peak = min(baseline, value), max(peak, value)
        samples += 1
    print(json.dumps({"baseline_mib": baseline, "peak_mib": peak, "samples": samples}))


if __name__ == "__main__":
    main()
