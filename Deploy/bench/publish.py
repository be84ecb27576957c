#!/usr/bin/env python3
"""Publishes one benchmark run: its section of the results page and its rows in the CSV history.

Each benchmark script owns one section of the page, between two markers it alone writes:

    <!-- BEGIN openloop.sh: written by Deploy/bench/openloop.sh, edits here are overwritten -->
    ...
    <!-- END openloop.sh -->

The section is replaced whole by the current run: the line that says when, on what machine, with
which version and by which command, then the report (tables, plots, reading). Earlier runs are
kept as rows of the history CSV (`DATA/NAME.csv`), each row with the run's time, version and
machine in front, never as prose. A page without the markers gets the section at its end.

    publish.py --script openloop.sh --page Docs/benchmarks.md --command "Deploy/bench/openloop.sh ..."
               --report REPORT.md [--csv RUN.csv --data Docs/data]
"""
import argparse
import csv
import datetime
import os
import platform
import re
import subprocess


def machine():
    """'2-core AMD EPYC 7B13 (x86_64)': what the figures were measured on (no comma: it is a CSV field)."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            model = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), model)
    except OSError:
        pass
    return f"{os.cpu_count()}-core {model} ({platform.machine()})".replace(",", " ")


def version(root):
    """The release the CHANGELOG names last, and whether the checkout has changes since it was tagged
    or committed: '1.0.0', or '1.0.0 (development)' when commits or edits follow the release."""
    release = "unreleased"
    try:
        with open(os.path.join(root, "CHANGELOG.md")) as changelog:
            release = next((m.group(1) for m in (re.match(r"## (\d+\.\d+\.\d+)", l) for l in changelog) if m), release)
    except OSError:
        pass
    tagged = subprocess.run(["git", "-C", root, "describe", "--tags", "--exact-match", "--dirty"],
                            capture_output=True, text=True)
    return release if tagged.returncode == 0 and not tagged.stdout.strip().endswith("-dirty") else \
        f"{release} (development)"


def commit(root):
    """The commit the run was made on (for the CSV only), with '+changes' for uncommitted edits."""
    head = subprocess.run(["git", "-C", root, "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True)
    if head.returncode != 0:
        return "unknown"
    dirty = subprocess.run(["git", "-C", root, "diff", "--quiet", "HEAD", "--", "Sources", "Deploy", "nginx"],
                           capture_output=True).returncode != 0
    return head.stdout.strip() + ("+changes" if dirty else "")


def markers(script):
    return (f"<!-- BEGIN {script}: written by Deploy/bench/{script}, edits here are overwritten -->",
            f"<!-- END {script} -->")


def replace_section(page, script, body):
    """The page with the script's section replaced by body (or added at the end)."""
    begin, end = markers(script)
    section = f"{begin}\n{body.rstrip()}\n{end}"
    if os.path.exists(page):
        text = open(page).read()
    else:
        text = "# Benchmarks\n"
    start = text.find(begin)
    if start >= 0:
        stop = text.find(end, start)
        if stop < 0:
            raise SystemExit(f"{page}: {begin!r} has no {end!r} after it")
        return text[:start] + section + text[stop + len(end):]
    return text.rstrip("\n") + "\n\n" + section + "\n"


def append_history(run_csv, data, name, stamp, release, revision, where):
    """Appends the run's rows to DATA/NAME.csv, with when, which version and where in front. A
    history whose columns differ from the run's is kept under a name of its own and a new one begun."""
    with open(run_csv) as source:
        rows = list(csv.reader(source))
    if not rows:
        return None
    header = ["run_at", "version", "commit", "machine"] + rows[0]
    os.makedirs(data, exist_ok=True)
    history = os.path.join(data, f"{name}.csv")
    if os.path.exists(history):
        with open(history) as existing:
            old_header = next(csv.reader(existing), None)
        if old_header != header:
            os.replace(history, os.path.join(data, f"{name}-until-{stamp:%Y%m%d%H%M}.csv"))
    new = not os.path.exists(history)
    with open(history, "a", newline="") as target:
        writer = csv.writer(target, lineterminator="\n")
        if new:
            writer.writerow(header)
        for row in rows[1:]:
            writer.writerow([f"{stamp:%Y-%m-%dT%H:%MZ}", release, revision, where] + row)
    return history


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--script", required=True, help="the benchmark's file name, e.g. openloop.sh")
    parser.add_argument("--page", required=True, help="the results page, e.g. Docs/benchmarks.md")
    parser.add_argument("--command", required=True, help="the command line the run was made with")
    parser.add_argument("--report", required=True, help="the run's report (Markdown)")
    parser.add_argument("--csv", help="the run's raw rows (CSV with a header)")
    parser.add_argument("--data", help="the folder of the history CSVs")
    parser.add_argument("--root", default=".", help="the checkout (for the version)")
    arguments = parser.parse_args()

    stamp = datetime.datetime.now(datetime.timezone.utc)
    release, where = version(arguments.root), machine()
    name = os.path.splitext(arguments.script)[0]
    history = None
    if arguments.csv:
        history = append_history(arguments.csv, arguments.data or os.path.join(os.path.dirname(arguments.page), "data"),
                                 name, stamp, release, commit(arguments.root), where)
    lines = [f"Run {stamp:%Y-%m-%d %H:%M} UTC, {where}, fullyloaded {release}: `{arguments.command}`"]
    if history:
        lines[0] += f"; every run's rows: [`data/{os.path.basename(history)}`](data/{os.path.basename(history)})"
    body = lines[0] + ".\n\n" + open(arguments.report).read().strip() + "\n"
    text = replace_section(arguments.page, arguments.script, body)
    os.makedirs(os.path.dirname(os.path.abspath(arguments.page)), exist_ok=True)
    with open(arguments.page, "w") as page:
        page.write(text)
    print(body)


if __name__ == "__main__":
    main()
