#!/usr/bin/env bash
# Installs fullyloaded on this Debian 12 host from a checkout: builds the Debian package with
# Deploy/package.sh and installs it with apt, exactly as `apt install ./fullyloaded_….deb` would.
# Run it again to upgrade. Options and the certificate live in /etc/default/fullyloaded and
# /etc/nginx/fullyloaded/certificate.conf (Docs/deploy.md).
#
#   Deploy/install.sh [--package PATH]     (as root; --package: install a .deb built elsewhere)
set -euo pipefail
cd "$(dirname "$0")/.."

package=""
while [ $# -gt 0 ]; do
  case "$1" in
    --package) package=$2; shift 2 ;;
    *) echo "usage: $0 [--package PATH]" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "run it as root: it installs a package" >&2; exit 2; }

if [ -z "$package" ]; then
  bash Deploy/dev.sh system-deps
  export PATH="/opt/swift/usr/bin:$PATH"
  # A package manifest is code: root never builds a checkout someone else can change. The
  # checkout's owner builds the package (runuser); root only installs what comes out.
  unsafe=$(find . -maxdepth 0 -perm /022 -print; find Package.swift Package.resolved Sources Deploy nginx \
    -perm /022 -not -type l -print 2>/dev/null | head -1 || true)
  if [ -n "$unsafe" ]; then
    echo "$PWD/${unsafe#./} is writable by group or others: refusing to build as root; chmod -R go-w the checkout" >&2
    exit 1
  fi
  owner=$(stat -c %U .)
  if [ "$owner" != root ]; then
    package=$(runuser -u "$owner" -- env PATH="$PATH" HOME="$(getent passwd "$owner" | cut -d: -f6)" \
      bash Deploy/package.sh | tail -1)
  else
    package=$(bash Deploy/package.sh | tail -1)
  fi
fi

DEBIAN_FRONTEND=noninteractive apt-get install -y "$(realpath "$package")"
echo "fullyloaded is up: https://$(hostname -f 2>/dev/null || hostname)/ (self-signed until you install a certificate)" >&2
