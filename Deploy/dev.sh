#!/usr/bin/env bash
# The README's two commands on a fresh Debian 12 machine (root, or sudo), and the others:
#   Deploy/dev.sh up [fullyloaded up options]   install the run and build packages, build release, start
#                                               the stack
#   Deploy/dev.sh test [--repeat K] [--hog] [swift test options]
#                                               install every group's packages and the test tools, build,
#                                               run every test (K times; --hog: beside a nice-19 CPU hog,
#                                               as on a busier machine), then fuzz the request parsing
#                                               and our bcrypt core for 20 s each
#   Deploy/dev.sh fuzz [--seconds S]            fuzz the request parsing, then our bcrypt core against
#                                               libxcrypt, for S seconds each (default 300)
#   Deploy/dev.sh flags                         rewrite Docs/operations.md's valid ranges and flag reference
#                                               from the binary (flag-ranges, --help)
#   Deploy/dev.sh release-binary                install the build packages, build the release binary,
#                                               print its path
#   Deploy/dev.sh deps [GROUP ...]              install the Debian packages of the groups (run, build,
#                                               package, bench, test; none named: all of them, with the
#                                               test tools); --list prints them instead
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages by what needs them. A production host needs none of these: the .deb's Depends
# bring what it runs (Deploy/debian/control.in).
declare -A GROUP_PACKAGES=(
  # What `up` runs: nginx, its self-signed certificate, the dashboard's charts.
  [run]="nginx openssl libjs-chart.js"
  # What the build links: libfcgi, OpenSSL, libxcrypt, libargon2 (and Swift, from /opt/swift or PATH).
  [build]="libfcgi-dev libssl-dev libcrypt-dev libargon2-dev"
  # What Deploy/package.sh checks the package with, and strips it with.
  [package]="lintian binutils"
  # What the benchmarks load and compare with: ab and h2load, the load generators' Python, PHP-FPM
  # as the reference, gnuplot for the plots, curl for readiness.
  [bench]="apache2-utils nghttp2-client python3 php-fpm gnuplot-nox curl"
  # What the tests need beyond the benchmarks (which they run too): cgi-fcgi; schemathesis's venv;
  # independent bcrypts (PHP, pyca); a real browser for the dashboard; systemd's tools; network
  # namespaces for the multi-host tests; Debian 12 booted under systemd-nspawn for the system test.
  [test]="libfcgi-bin python3-venv php-cli python3-bcrypt chromium chromium-driver systemd iproute2 debootstrap systemd-container"
)
GROUPS_IN_ORDER=(run build package bench test)
# What each group needs beside its own: the benchmarks start the stack from a release build.
declare -A GROUP_NEEDS=([run]="" [build]="" [package]="build" [bench]="run build" [test]="run build package bench")

# check_groups GROUP ...: exits naming the groups when one of them is not a group.
check_groups() {
  local group
  for group in "$@"; do
    [ -n "${GROUP_PACKAGES[$group]+x}" ] || { echo "no dependency group $group (${GROUPS_IN_ORDER[*]})" >&2; exit 2; }
  done
}

# packages_of GROUP ...: the groups' packages and those of the groups they need, each once.
packages_of() {
  local group needed=() seen=" "
  check_groups "$@"
  for group in "$@"; do
    needed+=($group ${GROUP_NEEDS[$group]})
  done
  for group in "${GROUPS_IN_ORDER[@]}"; do
    [[ " ${needed[*]} " == *" $group "* ]] || continue
    for package in ${GROUP_PACKAGES[$group]}; do
      [[ "$seen" == *" $package "* ]] && continue
      seen+="$package "
      echo "$package"
    done
  done
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# install_missing GROUP ...: installs the groups' packages that are missing, and finds Swift.
install_missing() {
  local missing=() package
  check_groups "$@"
  for package in $(packages_of "$@"); do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing: ${missing[*]}" >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  fi
  if ! command -v swift >/dev/null; then
    [ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
  fi
  command -v swift >/dev/null || {
    echo "Swift 6 is not installed: get the toolchain for Debian 12 from swift.org, or put it at /opt/swift" >&2
    exit 1
  }
}

# schemathesis (the OpenAPI conformance test), pinned in Deploy/test-tools.txt, from PyPI into a
# venv of the checkout's own: nothing is installed system-wide.
install_python_tools() {
  local venv=.build/tools/venv
  if ! cmp -s Deploy/test-tools.txt "$venv/installed.txt" 2>/dev/null; then
    echo "installing the test tools of Deploy/test-tools.txt into $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r Deploy/test-tools.txt >&2
    cp Deploy/test-tools.txt "$venv/installed.txt"
  fi
}

# promtool (the Prometheus rules' checks and unit tests), from Debian's prometheus package: only
# the one binary, unpacked into the checkout's .build/tools. Installing the package would start a
# Prometheus server on the machine.
install_promtool() {
  local tools=.build/tools/prometheus
  [ -x "$tools/usr/bin/promtool" ] && return
  echo "unpacking promtool from Debian's prometheus package into $tools" >&2
  local scratch
  scratch=$(mktemp -d)
  (cd "$scratch" && apt-get download -qq prometheus >&2 2>/dev/null) ||
    { as_root apt-get update -qq && (cd "$scratch" && apt-get download -qq prometheus >&2); }
  mkdir -p "$tools"
  dpkg-deb --fsys-tarfile "$scratch"/prometheus_*.deb | tar -x -C "$tools" ./usr/bin/promtool
  rm -rf "$scratch"
}

# The coverage-guided fuzz target of the request parsing and validation (libFuzzer), built in a
# scratch folder of its own with lld (gold cannot link libFuzzer's main beside SwiftPM's).
fuzz() {
  local seconds=$1
  local scratch=.build/fuzz
  mkdir -p "$scratch"
  printf '{"schemaVersion": "1.0", "linker": {"path": "%s"}}\n' "$(dirname "$(command -v swift)")/ld.lld" \
    >"$scratch/toolset.json"
  local product
  for product in RequestFuzzer BcryptFuzzer; do
    swift build --scratch-path "$scratch" --toolset "$PWD/$scratch/toolset.json" --product "$product" \
      -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING >&2
  done
  local corpus="$scratch/corpus"
  mkdir -p "$corpus"
  cp Tests/RequestFuzzer/Seeds/* "$corpus/"
  echo "=== fuzzing the request parsing for $seconds s (corpus: $corpus) ===" >&2
  "$(swift build --scratch-path "$scratch" --show-bin-path)/RequestFuzzer" -max_total_time="$seconds" \
    -max_len=6000 -timeout=10 -print_final_stats=1 "$corpus"
  mkdir -p "$scratch/bcrypt-corpus"
  echo "=== fuzzing our bcrypt core against libxcrypt for $seconds s (corpus: $scratch/bcrypt-corpus) ===" >&2
  "$(swift build --scratch-path "$scratch" --show-bin-path)/BcryptFuzzer" -max_total_time="$seconds" \
    -max_len=400 -timeout=10 -print_final_stats=1 "$scratch/bcrypt-corpus"
}

# As root, nothing of a checkout runs or is built unless no one but root can change it — or the
# user who ran sudo, who has root already; their checkout is then built as them.
build_user=""
if [ "$(id -u)" -eq 0 ]; then
  owner=$(stat -c %U .)
  if [ "$owner" != root ] && [ "$owner" != "${SUDO_USER:-}" ]; then
    echo "$PWD is $owner's: as root, dev.sh would build and run $owner's code as root." >&2
    echo "Run it as $owner (Deploy/dev.sh up needs no root), or from a checkout of root's." >&2
    exit 1
  fi
  unsafe=$( (find . -maxdepth 0 -perm /022 -print
    find Package.swift Package.resolved Sources Tests Deploy nginx -perm /022 -not -type l -print 2>/dev/null) |
    head -1 || true)
  if [ -n "$unsafe" ]; then
    echo "$PWD/${unsafe#./} is writable by group or others: refusing to build or run it as root; chmod -R go-w the checkout" >&2
    exit 1
  fi
  # (A .build root made earlier stays root's to build in.)
  if [ "$owner" != root ] && { [ ! -e .build ] || [ "$(stat -c %U .build)" = "$owner" ]; }; then build_user=$owner; fi
fi

# `swift build` as the checkout's owner when that is the sudo user, so that .build stays theirs.
swift_build() {
  if [ -n "$build_user" ]; then
    runuser -u "$build_user" -- env PATH="$PATH" HOME="$(getent passwd "$build_user" | cut -d: -f6)" swift build "$@"
  else
    swift build "$@"
  fi
}

command=${1:-}
shift || true
case "$command" in
  up)
    install_missing run build
    swift_build -c release --product fullyloaded >&2
    exec "$(swift_build -c release --show-bin-path)/fullyloaded" up "$@"
    ;;
  release-binary)
    # Builds the release binary and prints its path: what the benchmarks and package.sh run.
    install_missing build
    swift_build -c release --product fullyloaded >&2
    echo "$(swift_build -c release --show-bin-path)/fullyloaded"
    ;;
  test)
    install_missing "${GROUPS_IN_ORDER[@]}"
    install_python_tools
    install_promtool
    repeat=1
    hog=0
    options=()
    while [ $# -gt 0 ]; do
      case "$1" in
        --repeat) repeat=$2; shift 2 ;;
        --hog) hog=1; shift ;;
        *) options+=("$1"); shift ;;
      esac
    done
    [[ "$repeat" =~ ^[1-9][0-9]*$ ]] || { echo "--repeat takes a positive number" >&2; exit 2; }
    swift build --build-tests
    if [ "$hog" -eq 1 ]; then
      # A slower, busier machine: a CPU hog on every core at the lowest priority takes the cycles
      # bcrypt (nice 10) would have had, as noisy neighbours do.
      dpkg-query -W -f='${Status}' stress-ng 2>/dev/null | grep -q "install ok installed" ||
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends stress-ng >&2
      nice -n 19 stress-ng --cpu "$(nproc)" --quiet &
      hog_pid=$!
      trap 'kill "$hog_pid" 2>/dev/null || true' EXIT
      echo "=== with a nice-19 CPU hog on every core (stress-ng, pid $hog_pid) ===" >&2
    fi
    # One suite at a time: the integration suites start whole stacks and time real hashes on 2 cores.
    # --repeat K runs the whole suite K times from this one build and stops at the first failure.
    for ((round = 1; round <= repeat; round++)); do
      [ "$repeat" -gt 1 ] && echo "=== test round $round of $repeat ===" >&2
      swift test --skip-build --no-parallel "${options[@]}" || {
        [ "$repeat" -gt 1 ] && echo "=== round $round of $repeat failed ===" >&2
        exit 1
      }
    done
    [ "$repeat" -gt 1 ] && echo "=== $repeat of $repeat rounds passed ===" >&2
    fuzz 20
    ;;
  fuzz)
    install_missing build
    seconds=300
    [ "${1:-}" = "--seconds" ] && seconds=$2
    [[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "--seconds takes a positive number" >&2; exit 2; }
    fuzz "$seconds"
    ;;
  deps)
    case "${1:-}" in
      --list)
        shift
        [ $# -gt 0 ] || set -- "${GROUPS_IN_ORDER[@]}"
        packages_of "$@"
        exit 0
        ;;
    esac
    if [ $# -eq 0 ]; then
      install_missing "${GROUPS_IN_ORDER[@]}"
      install_python_tools
      install_promtool
    else
      install_missing "$@"
    fi
    ;;
  flags)
    # Rewrites the valid ranges and the flag reference of Docs/operations.md from the binary.
    install_missing build
    swift build --product fullyloaded >&2
    binary="$(swift build --show-bin-path)/fullyloaded"
    reference=$(
      echo "## Flag reference"
      echo
      echo "Every command's \`--help\`, as the binary prints it."
      for command in up worker monitor calibrate nginx-upstreams defaults; do
        printf '\n### `fullyloaded %s`\n\n```text\n%s\n```\n' "$command" "$(env -u COLUMNS "$binary" "$command" --help)"
      done
    )
    python3 - "$reference" "$("$binary" flag-ranges)" <<'PY'
import sys
path = "Docs/operations.md"
text = open(path).read()
# The valid ranges' table, from the same definitions the commands check their flags against.
ranges_head, ranges_rest = text.split("## Valid ranges", 1)
table_start = ranges_rest.index("| flag | commands | range |")
table_end = ranges_rest.index("\n\n", table_start)
text = ranges_head + "## Valid ranges" + ranges_rest[:table_start] + sys.argv[2].strip("\n") + ranges_rest[table_end:]
head = text.split("## Flag reference")[0].rstrip("\n")
open(path, "w").write(head + "\n\n" + sys.argv[1].rstrip("\n") + "\n")
PY
    ;;
  *)
    # The usage is the header of this file: one list of the commands.
    sed -n '3,/^set -euo pipefail/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
