#!/usr/bin/env bash
# Takes Docs/dashboard.png: the dashboard in headless Chromium (WebDriver) while `ab` overloads the
# stack at the default cost. Usage: Deploy/bench/screenshot.sh [--width 1280] [--height 1150] [--out Docs/dashboard.png]
#   [--up "more fullyloaded up options", e.g. "--hosts 3 --workers 1"]
set -euo pipefail
cd "$(dirname "$0")/../.."
WIDTH=1280 HEIGHT=1150 OUT=Docs/dashboard.png UP_OPTIONS=""
while [ $# -gt 0 ]; do
  case "$1" in
    --width) WIDTH=$2; shift 2 ;;
    --height) HEIGHT=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --up) UP_OPTIONS=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
. Deploy/bench/lib.sh
bench_setup
port=$(free_port)
# shellcheck disable=SC2086 # the options are words on purpose
start_fullyloaded shot "$port" $UP_OPTIONS
driver_port=$(free_port)
/usr/bin/chromedriver --port="$driver_port" >/dev/null 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$driver_port/status"
webdriver() { curl -fsS -X "$1" "http://127.0.0.1:$driver_port$2" -H 'Content-Type: application/json' ${3:+-d "$3"}; }
session=$(webdriver POST /session "{\"capabilities\":{\"alwaysMatch\":{\"goog:chromeOptions\":{\"binary\":\"/usr/bin/chromium\",
  \"args\":[\"--headless=new\",\"--no-sandbox\",\"--disable-gpu\",\"--window-size=$WIDTH,$HEIGHT\"]}}}}" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["value"]["sessionId"])')
webdriver POST "/session/$session/url" "{\"url\":\"http://127.0.0.1:$port/\"}" >/dev/null
# A quiet start, then overload: 32 clients against a capacity of about 7 hashes/s.
sleep 8
ab -q -t 30 -n 100000000 -c 32 "http://127.0.0.1:$port/api/load" >/dev/null 2>&1 &
sleep 24
webdriver GET "/session/$session/screenshot" |
  python3 -c 'import base64, json, sys; open(sys.argv[1], "wb").write(base64.b64decode(json.load(sys.stdin)["value"]))' "$OUT"
webdriver DELETE "/session/$session" >/dev/null
wait %% 2>/dev/null || true
echo "wrote $OUT" >&2
