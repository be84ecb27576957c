#!/usr/bin/env bash
# Puts fullyloaded in place on a Debian 12 host: the binary, the page, systemd units (one
# socket-activated worker per core, the monitor, a target) and the nginx site, then starts it.
#
#   Deploy/install.sh [--workers N] [--deadline SECONDS] [--binary PATH] [--root DIR] [--no-start]
#
# --root DIR installs under DIR instead of / (no user, no systemctl): for packaging and tests.
# Run it again to upgrade: files are replaced, /etc/default/fullyloaded and the TLS pair are kept.
set -euo pipefail
cd "$(dirname "$0")/.."

workers=$(nproc)
deadline=2
binary=""
root=""
start=1
while [ $# -gt 0 ]; do
  case "$1" in
    --workers) workers=$2; shift 2 ;;
    --deadline) deadline=$2; shift 2 ;;
    --binary) binary=$2; shift 2 ;;
    --root) root=${2%/}; start=0; shift 2 ;;
    --no-start) start=0; shift ;;
    *) echo "usage: $0 [--workers N] [--deadline S] [--binary PATH] [--root DIR] [--no-start]" >&2; exit 2 ;;
  esac
done
[[ "$workers" =~ ^[1-9][0-9]*$ ]] || { echo "--workers must be a positive number" >&2; exit 2; }
[[ "$deadline" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "--deadline must be seconds, e.g. 2 or 1.5" >&2; exit 2; }

if [ -z "$binary" ]; then
  bash Deploy/dev.sh system-deps
  export PATH="/opt/swift/usr/bin:$PATH"
  # A package manifest is code: root never builds a checkout someone else can change. The
  # checkout's owner builds it (runuser); root only copies the binary that comes out.
  owner=$(stat -c %U .)
  unsafe=$(find . -maxdepth 0 -perm /022 -print; find Package.swift Package.resolved Sources Deploy nginx \
    -perm /022 -not -type l -print 2>/dev/null | head -1 || true)
  if [ -n "$unsafe" ]; then
    echo "$PWD/${unsafe#./} is writable by group or others: refusing to build as root; chmod -R go-w the checkout" >&2
    exit 1
  fi
  if [ "$(id -u)" -eq 0 ] && [ "$owner" != root ]; then
    binary=$(runuser -u "$owner" -- env PATH="$PATH" HOME="$(getent passwd "$owner" | cut -d: -f6)" \
      bash Deploy/dev.sh release-binary)
  else
    binary=$(bash Deploy/dev.sh release-binary)
  fi
fi

echo "installing into ${root:-/}: $workers workers, N = $deadline s" >&2

# The binary and what `fullyloaded up` and nginx read from the share folder.
install -D -m 0755 "$binary" "$root/usr/local/bin/fullyloaded"
share="$root/usr/local/share/fullyloaded"
rm -rf "$share/nginx"
mkdir -p "$share"
cp -R nginx "$share/nginx"

# nginx: the shared snippets, the site, and the two files made from this host's figures.
install -d "$root/etc/nginx/snippets" "$root/etc/nginx/sites-available" "$root/etc/nginx/sites-enabled" \
  "$root/etc/nginx/fullyloaded/tls"
install -m 0644 nginx/snippets/fullyloaded-*.conf "$root/etc/nginx/snippets/"
install -m 0644 nginx/sites/fullyloaded.conf "$root/etc/nginx/sites-available/fullyloaded"
ln -sfn ../sites-available/fullyloaded "$root/etc/nginx/sites-enabled/fullyloaded"
# Debian's default site would take port 80 as default_server and answer for unknown hosts.
rm -f "$root/etc/nginx/sites-enabled/default"

# The upstreams, FastCGI timeouts and retry rules, from the same code `fullyloaded up` uses.
"$binary" nginx-upstreams --workers "$workers" --deadline "$deadline" --socket-dir /run/fullyloaded \
  > "$root/etc/nginx/fullyloaded/upstreams.conf"
rm -f "$root/etc/nginx/fullyloaded/workers.conf" "$root/etc/nginx/fullyloaded/timeouts.conf"

tls="$root/etc/nginx/fullyloaded/tls"
if [ ! -s "$tls/fullyloaded.crt" ] || [ ! -s "$tls/fullyloaded.key" ]; then
  # A stand-in until the operator installs a real certificate (see Docs/deploy.md).
  name=$(hostname -f 2>/dev/null || hostname)
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 \
    -keyout "$tls/fullyloaded.key" -out "$tls/fullyloaded.crt" -subj "/CN=$name" \
    -addext "subjectAltName=DNS:$name,DNS:localhost" 2>/dev/null
  chmod 0600 "$tls/fullyloaded.key"
fi
# The site reads its certificate from here: the operator's file from now on, kept by upgrades.
if [ ! -e "$root/etc/nginx/fullyloaded/certificate.conf" ]; then
  cat > "$root/etc/nginx/fullyloaded/certificate.conf" <<'CONF'
# The site's certificate. Replace the self-signed pair with the host's real one, e.g. certbot's:
#   ssl_certificate     /etc/letsencrypt/live/passwords.example.org/fullchain.pem;
#   ssl_certificate_key /etc/letsencrypt/live/passwords.example.org/privkey.pem;
# then `nginx -t && systemctl reload nginx`. Upgrades never change this file.
ssl_certificate fullyloaded/tls/fullyloaded.crt;
ssl_certificate_key fullyloaded/tls/fullyloaded.key;
CONF
fi

# systemd units, and the options they read.
install -d "$root/etc/systemd/system" "$root/etc/default"
install -m 0644 Deploy/systemd/fullyloaded-worker@.socket Deploy/systemd/fullyloaded-worker@.service \
  Deploy/systemd/fullyloaded-monitor.service Deploy/systemd/fullyloaded.target "$root/etc/systemd/system/"
if [ ! -e "$root/etc/default/fullyloaded" ]; then
  cat > "$root/etc/default/fullyloaded" <<CONF
# Options of the fullyloaded units (see Docs/operations.md). Workers of one host share a
# segment: give them all the same --deadline and --compute-slots.
FULLYLOADED_WORKER_OPTIONS="--deadline $deadline --compute-slots $(nproc) --cost 12"
FULLYLOADED_MONITOR_OPTIONS="--cost 12"
CONF
fi

if [ -n "$root" ]; then
  echo "installed under $root; not creating the user or starting anything" >&2
  exit 0
fi

getent passwd fullyloaded >/dev/null ||
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin fullyloaded
nginx -t
systemctl daemon-reload
sockets=()
for ((i = 0; i < workers; i++)); do sockets+=("fullyloaded-worker@$i.socket"); done
systemctl enable "${sockets[@]}" fullyloaded-monitor.service fullyloaded.target
if [ "$start" -eq 1 ]; then
  # Workers restart one at a time: systemd keeps each socket, so nginx's connects wait in it.
  for ((i = 0; i < workers; i++)); do
    systemctl start "fullyloaded-worker@$i.socket"
    systemctl try-restart "fullyloaded-worker@$i.service"
  done
  systemctl restart fullyloaded-monitor.service
  systemctl start fullyloaded.target
  systemctl reload-or-restart nginx
  echo "fullyloaded is up: https://$(hostname -f 2>/dev/null || hostname)/ (self-signed until you install a certificate)" >&2
fi
