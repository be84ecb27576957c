#!/usr/bin/env bash
# The Debian package on a real systemd: boots Debian 12 in a container (systemd-nspawn, its own
# network namespace, no Swift inside), installs the package and checks what an operator relies on:
# HTTPS with HTTP/2, 80 → 301, units active, socket activation, a worker killed and restarted, an
# upgrade under load that keeps the operator's files, a reboot, and a purge that leaves nothing.
#
#   Deploy/system-test.sh        (as root; Debian's debootstrap and systemd-container)
#
# The root file system is made once into .build/system-test/bookworm (about a minute) and copied
# for each run. Each check prints one line; the last line is the verdict and the time taken.
set -euo pipefail
cd "$(dirname "$0")/.."
. Deploy/bench/ab.sh
[ "$(id -u)" -eq 0 ] || { echo "the system test boots a container: run it as root" >&2; exit 2; }

started=$SECONDS
step() { printf '[%3ds] %s\n' "$((SECONDS - started))" "$*"; }
fail() {
  step "FAIL: $*"
  [ -n "${leader:-}" ] && in_container journalctl --no-pager -n 60 2>/dev/null | tail -60 || true
  exit 1
}

bash Deploy/dev.sh deps test
cache=.build/system-test
mkdir -p "$cache"

# The package, and an older build of the same to upgrade from.
new=$(bash Deploy/package.sh --out "$cache/new" | tail -1)
old=$(bash Deploy/package.sh --version 0.9.0 --out "$cache/old" | tail -1)
step "packages: $(basename "$old") and $(basename "$new")"

# Debian 12 minbase with systemd and the package's dependencies, made once. The container has no
# network of its own to fetch them later, and no Swift.
# nftables for the opt-in connection ceiling. The cache is named for its package list, so a new
# list makes a new root.
packages=systemd,systemd-sysv,dbus,ca-certificates,procps,nginx,libfcgi0ldbl,libssl3,libcrypt1,libargon2-1,adduser,openssl,libjs-chart.js,nftables
base="$cache/bookworm-$(printf '%s' "$packages" | sha256sum | cut -c1-12)"
if [ ! -e "$base/.complete" ]; then
  mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
  rm -rf "$base" "$cache"/bookworm "$cache"/bookworm-*
  debootstrap --variant=minbase --include="$packages" \
    bookworm "$base" "${mirror:-http://deb.debian.org/debian}" >"$cache/debootstrap.log" 2>&1 ||
    { tail -20 "$cache/debootstrap.log"; fail "debootstrap"; }
  touch "$base/.complete"
  step "root file system made in $base"
fi
root=$(mktemp -d /var/tmp/fullyloaded-system.XXXXXX)
cp -a "$base/." "$root/"
cp "$old" "$root/root/old.deb"
cp "$new" "$root/root/new.deb"
machine="fl-system-$$"
nspawn=""
leader=""

cleanup() {
  if [ -n "$nspawn" ] && kill -0 "$nspawn" 2>/dev/null; then
    [ -n "$leader" ] && nsenter -t "$leader" -a -- systemctl poweroff >/dev/null 2>&1 || true
    for _ in $(seq 50); do kill -0 "$nspawn" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$nspawn" 2>/dev/null || true
  fi
  rm -rf "$root"
}
trap cleanup EXIT

boot() {
  mkdir -p /run/systemd/nspawn
  systemd-nspawn -b -D "$root" --register=no --keep-unit --console=pipe --private-network \
    --machine="$machine" >>"$cache/console.log" 2>&1 &
  nspawn=$!
  leader=""
  for _ in $(seq 150); do
    leader=$(pgrep -P "$nspawn" | head -1 || true)
    if [ -n "$leader" ]; then
      state=$(nsenter -t "$leader" -a -- systemctl is-system-running 2>/dev/null || true)
      case "$state" in running | degraded) return 0 ;; esac
    fi
    sleep 0.2
  done
  fail "the container did not boot (state: ${state:-none})"
}
# Inside: the container's own programs. In its network: this host's curl and ab, on its loopback.
in_container() { nsenter -t "$leader" -a -- "$@"; }
in_network() { nsenter -t "$leader" -n -- "$@"; }
status_of() { in_network curl -sk -o /dev/null -w '%{http_code} %{http_version}' "$@" || true; }
wait_for_ping() {
  for _ in $(seq 100); do
    [ "$(status_of https://127.0.0.1/api/ping)" = "200 2" ] && return 0
    sleep 0.1
  done
  return 1
}

boot
step "booted: systemd $(in_container systemctl --version | head -1 | cut -d' ' -f2) in its own network namespace"
in_container sh -c '! command -v swift' || fail "a Swift toolchain is inside"

in_container env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq /root/old.deb >"$cache/install.log" 2>&1 ||
  { tail -20 "$cache/install.log"; fail "apt install of the package"; }
# As Docs/deploy.md says: make ours the only site on port 80.
in_container rm -f /etc/nginx/sites-enabled/default
in_container systemctl reload nginx
wait_for_ping || fail "no HTTPS ping after install: $(status_of https://127.0.0.1/api/ping)"
step "installed $(basename "$old") with apt; no Swift inside"

# A host gets what the package's Depends bring, nothing the tests, benchmarks or builds use.
extra=$(in_container dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' 2>/dev/null |
  awk '$1 == "ii" { print $2 }' | grep -E '^(php|chromium|debootstrap|lintian|gnuplot|apache2-utils|libfcgi-dev|libssl-dev|libcrypt-dev|libargon2-dev)' || true)
[ -z "$extra" ] || fail "installed beside the package's Depends: $(echo $extra)"
for depend in $(dpkg-deb --field "$old" Depends | tr -d ' ' | tr ',' ' ' | sed 's/([^)]*)//g'); do
  in_container dpkg-query -W -f='${Status}' "$depend" 2>/dev/null | grep -q "install ok installed" ||
    fail "the package's Depends $depend is not installed"
done
step "the package brought its Depends and nothing of the tests', benchmarks' or build's packages"

[ "$(status_of https://127.0.0.1/api/ping)" = "200 2" ] || fail "HTTPS/HTTP2 ping"
hash=$(in_network curl -sk -H 'Content-Type: application/json' -d '{"password":"system test"}' https://127.0.0.1/api/hash)
case "$hash" in *'"hash":"$2b$12$'*) ;; *) fail "hash: $hash" ;; esac
[ "$(in_network curl -s -o /dev/null -w '%{http_code} %{redirect_url}' http://127.0.0.1/x)" = "301 https://127.0.0.1/x" ] ||
  fail "port 80 does not redirect"
hsts=$(in_network curl -sk -D - -o /dev/null https://127.0.0.1/ | tr -d '\r' | grep -i '^strict-transport-security:' || true)
[ "$hsts" = "strict-transport-security: max-age=63072000" ] || fail "HSTS on HTTPS: ${hsts:-none}"
step "HTTPS with HTTP/2 answers ping and hash, with HSTS; port 80 answers 301 to HTTPS"

# Loopback is exempt from the per-address limits (health checks, the monitor's probe), so the
# clients below are documentation addresses on the container's loopback.
in_network ip addr add 192.0.2.10/32 dev lo
in_network ip addr add 192.0.2.11/32 dev lo
ping_from() { in_network curl -sk --interface "$1" -m 3 -o /dev/null -w '%{http_code}' https://192.0.2.10/api/ping || true; }
[ "$(ping_from 192.0.2.11)" = 200 ] || fail "a ping from 192.0.2.11: $(ping_from 192.0.2.11)"
load=$(in_network curl -sk --interface 192.0.2.11 -o /dev/null -w '%{http_code}' https://192.0.2.10/api/load || true)
[ "$load" = 404 ] || fail "/api/load on the public server answered $load"
# 101 requests in progress from one address: bodies that never come, so nginx holds each one (on
# a cheap route: the expensive ones' rate limit would refuse them first).
in_progress=$(in_network python3 - <<'PY'
import socket, ssl, sys, time
context = ssl.create_default_context()
context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
head = b"POST /api/ping HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
held = []
for _ in range(101):
    raw = socket.create_connection(("192.0.2.10", 443), timeout=5, source_address=("192.0.2.10", 0))
    tls = context.wrap_socket(raw)
    tls.sendall(head)
    held.append(tls)
    time.sleep(0.005)
answers = []
for index, tls in enumerate(held):
    tls.settimeout(3 if index == 100 else 0.02)
    try:
        answers.append(tls.recv(64).split(b" ")[1].decode())
    except (socket.timeout, IndexError):
        answers.append("held")
print(answers.count("held"), answers[-1])
print("answers:", {a: answers.count(a) for a in set(answers)}, file=sys.stderr)
PY
)
[ "$in_progress" = "100 429" ] || fail "101 requests in progress from one address: $in_progress (held, last status)"
[ "$(ping_from 192.0.2.11)" = 200 ] || fail "a ping from another address beside them: $(ping_from 192.0.2.11)"
step "the public server has no /api/load (404); one address holds 100 requests in progress, the 101st gets 429"

workers=$(in_container nproc)
units="nginx.service fullyloaded.target fullyloaded-monitor.service"
for ((i = 0; i < workers; i++)); do units="$units fullyloaded-worker@$i.socket fullyloaded-worker@$i.service"; done
for unit in $units; do
  [ "$(in_container systemctl is-active "$unit")" = active ] || fail "$unit is $(in_container systemctl is-active "$unit")"
done
step "active: $units"
# The monitor's socket is nginx's to reach (0660 in www-data): /metrics comes through it.
[ "$(status_of http://127.0.0.1:8080/metrics)" = "200 1.1" ] || fail "/metrics through the monitor: $(status_of http://127.0.0.1:8080/metrics)"
# …through a directory only nginx's group may pass (tmpfiles.d), not by running in nginx's group.
monitor=$(in_container systemctl show -p MainPID --value fullyloaded-monitor.service)
groups=$(in_container sh -c "grep -E '^(Gid|Groups):' /proc/$monitor/status | tr -s '\t ' ' '")
www=$(in_container getent group www-data | cut -d: -f3)
case " $(printf '%s' "$groups" | tr '\n' ' ') " in *" $www "*) fail "the monitor runs in www-data ($groups)" ;; esac
[ "$(in_container stat -c '%U %G %a' /run/fullyloaded-monitor)" = "fullyloaded www-data 750" ] ||
  fail "the monitor's socket directory is $(in_container stat -c '%U %G %a' /run/fullyloaded-monitor)"
step "the monitor answers through nginx (/metrics), in a group of its own (not www-data); its socket's directory fullyloaded:www-data 0750"

# Socket activation: a stopped worker is started again by a request reaching its socket.
stopped=$(in_container systemctl show -p MainPID --value fullyloaded-worker@0.service)
in_container systemctl stop fullyloaded-worker@0.service
# The monitor pings through nginx four times a second, so a ping may start the worker again at
# once: stopped means inactive now, or running as another process.
state=$(in_container systemctl is-active fullyloaded-worker@0.service || true)
now=$(in_container systemctl show -p MainPID --value fullyloaded-worker@0.service)
[ "$state" = inactive ] || { [ "$now" != "$stopped" ] && [ "$now" != 0 ]; } ||
  fail "worker 0 did not stop ($state, pid $stopped then $now)"
for _ in $(seq 20); do status_of https://127.0.0.1/api/ping >/dev/null; done
for _ in $(seq 50); do
  [ "$(in_container systemctl is-active fullyloaded-worker@0.service)" = active ] && break
  sleep 0.1
done
[ "$(in_container systemctl is-active fullyloaded-worker@0.service)" = active ] || fail "a request did not start worker 0"
step "socket activation: worker 0 stopped, started again by requests to its socket"

# kill -9 of a worker: systemd restarts it; the socket it leaves holds the connections meanwhile.
victim=$(in_container systemctl show -p MainPID --value fullyloaded-worker@0.service)
in_container kill -9 "$victim"
lost=0
for _ in $(seq 30); do
  [ "$(status_of https://127.0.0.1/api/ping)" = "200 2" ] || lost=$((lost + 1))
  sleep 0.05
done
for _ in $(seq 50); do
  now=$(in_container systemctl show -p MainPID --value fullyloaded-worker@0.service)
  [ "$now" != 0 ] && [ "$now" != "$victim" ] && break
  sleep 0.1
done
[ "$now" != 0 ] && [ "$now" != "$victim" ] || fail "worker 0 was not restarted"
[ "$lost" -eq 0 ] || fail "$lost of 30 pings failed after the kill"
step "kill -9 of worker 0 (pid $victim): restarted as pid $now; 30 pings meanwhile, all 200"

# One address holds connections in a TLS handshake it never finishes: nginx's own limits count
# requests, so these take its worker_connections from everyone. The opt-in kernel ceiling
# (nftables, per source address) stops them at 256; another address is still served.
hold_connections() {
  in_network python3 - <<'PY'
import resource, socket
resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
held, reset = [], 0
for _ in range(1000):
    s = socket.socket()
    s.bind(("192.0.2.10", 0))
    s.settimeout(2)
    try:
        s.connect(("192.0.2.10", 443))
        s.send(b"\x16\x03\x01\x02\x00")  # a handshake record header, and no more
        held.append(s)
    except OSError:
        reset += 1
        s.close()
print(len(held), reset, flush=True)
PY
}
read -r held_open _ <<<"$(hold_connections)"
[ "$held_open" -eq 1000 ] || fail "without the ceiling one address held $held_open of 1000 connections"
in_container systemctl start fullyloaded-connection-limit.service || fail "the connection ceiling did not start"
read -r held reset <<<"$(hold_connections)"
rule=$(in_container nft list chain inet fullyloaded_connection_limit ceiling | grep -o 'counter packets [0-9]*' | head -1)
[ "$held" -le 256 ] || fail "with the ceiling one address held $held of 1000 connections ($rule)"
[ "$(ping_from 192.0.2.11)" = 200 ] || fail "a ping from another address with the ceiling on: $(ping_from 192.0.2.11)"
in_container systemctl stop fullyloaded-connection-limit.service
! in_container nft list table inet fullyloaded_connection_limit >/dev/null 2>&1 || fail "the connection ceiling's table stayed"
step "connection ceiling: one address held $held of 1000 half-open TLS connections ($reset reset; without it $held_open); another address's ping 200; stopped, its table is gone"

# Upgrade under load: the operator's edits survive, no request fails.
in_container sh -c 'echo "# edited by the operator" >>/etc/default/fullyloaded'
in_container sh -c 'echo "# my certificate" >>/etc/nginx/fullyloaded/certificate.conf'
certificate=$(in_container sha256sum /etc/nginx/fullyloaded/certificate.conf)
# Hashes from two closed-loop clients, and a ping every 50 ms, for 15 s; the upgrade 2 s in.
# (ab counts answers of another length than the first as "failed": the hashes' `seconds` differ.)
in_network ab -q -t 15 -n 100000 -c 2 http://127.0.0.1:8080/api/load >"$cache/ab-load.txt" 2>&1 &
load=$!
(
  end=$((SECONDS + 15))
  while [ "$SECONDS" -lt "$end" ]; do
    in_network curl -s -o /dev/null -w '%{http_code}\n' http://127.0.0.1:8080/api/ping || echo 000
    sleep 0.05
  done
) >"$cache/pings.txt" &
pings=$!
sleep 2
in_container env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Dpkg::Options::=--force-confold \
  /root/new.deb >"$cache/upgrade.log" 2>&1 || { tail -20 "$cache/upgrade.log"; fail "apt upgrade"; }
wait "$load" "$pings"
grep -q "(Connect: 0, Receive: 0, Length: [0-9]*, Exceptions: 0)" "$cache/ab-load.txt" ||
  [ "$(ab_field "$cache/ab-load.txt" "Failed requests")" = 0 ] || fail "hashes failed during the upgrade: $(grep -A1 Failed "$cache/ab-load.txt")"
statuses=$(in_container sh -c "grep -o '\"status\":[0-9]*' /var/log/nginx/fullyloaded.access.log | sort | uniq -c | tr -s ' ' | tr '\n' ';'")
[ -z "$(ab_field "$cache/ab-load.txt" "Non-2xx responses")" ] || fail "hashes not answered 200 during the upgrade ($statuses)"
[ "$(sort -u "$cache/pings.txt")" = 200 ] || fail "pings not answered 200 during the upgrade: $(sort "$cache/pings.txt" | uniq -c | tr '\n' ' ')"
[ "$(in_container dpkg-query -W -f='${Version}' fullyloaded)" = "$(dpkg-deb --field "$new" Version)" ] || fail "not upgraded"
in_container grep -q "edited by the operator" /etc/default/fullyloaded || fail "the upgrade dropped the edit of a conffile"
[ "$(in_container sha256sum /etc/nginx/fullyloaded/certificate.conf)" = "$certificate" ] ||
  fail "the upgrade changed certificate.conf"
step "upgrade $(basename "$old") → $(basename "$new") under load: $(ab_field "$cache/ab-load.txt" "Complete requests") hashes and $(wc -l <"$cache/pings.txt") pings, all 200; conffile edit and certificate.conf kept"

# Reboot: the container's systemd reboots (nspawn exits 133); booted again, it serves.
in_container systemctl reboot || true
code=0
wait "$nspawn" || code=$?
[ "$code" -eq 133 ] || fail "nspawn ended with $code, not the reboot status 133"
boot
wait_for_ping || fail "no HTTPS ping after the reboot"
for _ in $(seq 50); do [ "$(status_of http://127.0.0.1:8080/metrics)" = "200 1.1" ] && break; sleep 0.2; done
[ "$(status_of http://127.0.0.1:8080/metrics)" = "200 1.1" ] || fail "/metrics after the reboot: $(status_of http://127.0.0.1:8080/metrics)"
step "systemctl reboot: booted again and serving HTTPS, the monitor too"

# Another local user takes the segment's old name in world-writable /dev/shm (and its lock)
# before the service starts: it has no effect, the segment is in a directory only the service's
# user may write.
in_container systemctl stop fullyloaded.target 'fullyloaded-worker@*.socket' 'fullyloaded-worker@*.service' \
  fullyloaded-monitor.service
in_container setpriv --reuid=nobody --regid=nogroup --clear-groups sh -c \
  'umask 077; : >/dev/shm/fullyloaded; : >/dev/shm/fullyloaded.lock; : >/run/fullyloaded/segment/admission' 2>/dev/null || true
[ "$(in_container stat -c %U /dev/shm/fullyloaded)" = nobody ] || fail "nobody could not make /dev/shm/fullyloaded"
in_container sh -c '[ "$(stat -c %U /run/fullyloaded/segment/admission)" = fullyloaded ]' ||
  fail "the segment is not the service's after nobody tried its directory"
in_container systemctl start fullyloaded.target
wait_for_ping || fail "no HTTPS ping with /dev/shm/fullyloaded taken by nobody"
hash=$(in_network curl -sk -H 'Content-Type: application/json' -d '{"password":"squatted"}' https://127.0.0.1/api/hash)
case "$hash" in *'"hash":"$2b$12$'*) ;; *) fail "hash with /dev/shm/fullyloaded taken by nobody: $hash" ;; esac
[ "$(in_container stat -c '%U %a' /run/fullyloaded/segment)" = "fullyloaded 700" ] ||
  fail "segment directory is $(in_container stat -c '%U %a' /run/fullyloaded/segment)"
in_container rm -f /dev/shm/fullyloaded /dev/shm/fullyloaded.lock
step "/dev/shm/fullyloaded taken by nobody first: the service serves from /run/fullyloaded/segment (fullyloaded, 0700)"

# Purge: nothing of the package is left.
in_container env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq fullyloaded >"$cache/purge.log" 2>&1 ||
  { tail -20 "$cache/purge.log"; fail "apt purge"; }
left=$(in_container sh -c 'ls -d /usr/bin/fullyloaded /usr/share/fullyloaded /etc/nginx/fullyloaded /etc/default/fullyloaded \
  /etc/nginx/sites-available/fullyloaded /etc/nginx/sites-enabled/fullyloaded /etc/nginx/snippets/fullyloaded-* \
  /etc/fullyloaded /lib/systemd/system/fullyloaded* /etc/systemd/system/*.wants/fullyloaded* /dev/shm/fullyloaded* /run/fullyloaded/segment /run/fullyloaded-monitor /usr/lib/tmpfiles.d/fullyloaded.conf 2>/dev/null; \
  getent passwd fullyloaded; getent group fullyloaded; true')
[ -z "$left" ] || fail "purge left: $left"
in_container nginx -t >/dev/null 2>&1 || fail "nginx's configuration is broken after the purge"
step "apt purge: no file, unit link, user or segment left; nginx -t passes"

step "PASS: the system test took $((SECONDS - started)) s"
