#!/usr/bin/env bash
# Installs fullyloaded on this Debian 12 host from a checkout only root can change: builds the
# Debian package with Deploy/package.sh and installs it with apt, exactly as
# `apt install ./fullyloaded_….deb` would.
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
  # Before anything of the checkout runs as root: root runs only code no one else can change.
  # A checkout owned by another user is theirs to change, and so is the package built from it,
  # whose maintainer scripts run as root: building it as them and installing it would give them
  # root. Installing what they built is a decision to trust them, made with --package.
  owner=$(stat -c %U .)
  if [ "$owner" != root ]; then
    echo "$PWD is owned by $owner: a package built from it runs its scripts as root, so $owner could run anything as root." >&2
    echo "Build it as $owner (Deploy/package.sh) and, if you trust $owner, install it with $0 --package PATH." >&2
    exit 1
  fi
  unsafe=$( (find . -maxdepth 0 -perm /022 -print
    # (.build/system-test is a booted container's root file system: never built from.)
    find Package.swift Package.resolved Sources Deploy nginx .build -path .build/system-test -prune -o \
      \( -perm /022 -o \! -user root \) -not -type l -print 2>/dev/null) | head -1 || true)
  if [ -n "$unsafe" ]; then
    echo "$PWD/${unsafe#./} is writable by group or others, or not root's: refusing to run or build it as root; chmod -R go-w and chown -R root the checkout" >&2
    exit 1
  fi
  bash Deploy/dev.sh deps package
  export PATH="/opt/swift/usr/bin:$PATH"
  package=$(bash Deploy/package.sh | tail -1)
fi

DEBIAN_FRONTEND=noninteractive apt-get install -y "$(realpath "$package")"
echo "fullyloaded is up: https://$(hostname -f 2>/dev/null || hostname)/ (self-signed until you install a certificate)" >&2
