#!/usr/bin/env bash
# Builds the Debian package of fullyloaded and prints its path last.
#
#   Deploy/package.sh [--binary PATH] [--out DIR] [--version V]
#
# --version V stamps another version than Deploy/debian/changelog's (the system test builds an
# older one to upgrade from).
# The binary is built with the Swift standard library linked in (--static-swift-stdlib): the host
# needs Debian's libraries only, no Swift. Files an operator edits are conffiles, so dpkg keeps
# their changes on upgrade; the certificate is chosen in /etc/nginx/fullyloaded/certificate.conf,
# which postinst writes once and no upgrade touches.
set -euo pipefail
cd "$(dirname "$0")/.."

binary=""
out=.build/package
version=""
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --version) version=$2; shift 2 ;;
    *) echo "usage: $0 [--binary PATH] [--out DIR] [--version V]" >&2; exit 2 ;;
  esac
done

if [ -z "$binary" ]; then
  bash Deploy/dev.sh deps package
  command -v swift >/dev/null || export PATH="/opt/swift/usr/bin:$PATH"
  swift build -c release --product fullyloaded --static-swift-stdlib --scratch-path .build/package >&2
  binary="$(swift build -c release --scratch-path .build/package --show-bin-path)/fullyloaded"
fi

[ -n "$version" ] || version=$(sed -n '1s/^fullyloaded (\([^)]*\)).*/\1/p' Deploy/debian/changelog)
[[ "$version" =~ ^[0-9][0-9A-Za-z.+~]*$ ]] || { echo "--version $version is not a Debian version" >&2; exit 2; }
arch=$(dpkg --print-architecture)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
umask 022

install -D -m 0755 "$binary" "$stage/usr/bin/fullyloaded"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$stage/usr/bin/fullyloaded"
mkdir -p "$stage/usr/share/fullyloaded"
cp -R nginx "$stage/usr/share/fullyloaded/nginx"

install -d "$stage/lib/systemd/system"
install -m 0644 Deploy/systemd/* "$stage/lib/systemd/system/"
install -D -m 0644 Deploy/debian/tmpfiles.conf "$stage/usr/lib/tmpfiles.d/fullyloaded.conf"

install -d "$stage/etc/nginx/sites-available" "$stage/etc/nginx/snippets" "$stage/etc/default"
install -m 0644 nginx/sites/fullyloaded.conf "$stage/etc/nginx/sites-available/fullyloaded"
install -m 0644 nginx/snippets/fullyloaded-*.conf "$stage/etc/nginx/snippets/"
install -m 0644 Deploy/debian/default "$stage/etc/default/fullyloaded"
# The opt-in per-source connection ceiling (fullyloaded-connection-limit.service) and its rules.
install -D -m 0644 Deploy/nftables/connection-limit.nft "$stage/etc/fullyloaded/connection-limit.nft"

docs="$stage/usr/share/doc/fullyloaded"
install -D -m 0644 Deploy/debian/copyright "$docs/copyright"
gzip -9n <Deploy/debian/changelog >"$docs/changelog.gz"
chmod 0644 "$docs/changelog.gz"
# The README and Docs/ as in the repository, uncompressed so that their links between each other hold.
install -m 0644 README.md CHANGELOG.md "$docs/"
install -d "$docs/Docs"
install -m 0644 Docs/*.md Docs/*.yaml Docs/*.svg Docs/*.png "$docs/Docs/"

# The Prometheus rules (with their promtool tests) and the Grafana dashboard over /metrics.
install -d "$stage/usr/share/fullyloaded/monitoring"
install -m 0644 Deploy/monitoring/* "$stage/usr/share/fullyloaded/monitoring/"

# The man page and the shell completions, from the argument parser itself: swift-argument-parser's
# generate-manual reads the binary's --experimental-dump-help (hidden flags stay hidden).
command -v swift >/dev/null || export PATH="/opt/swift/usr/bin:$PATH"
swift package --scratch-path .build/package resolve >&2
swift build -c release --package-path .build/package/checkouts/swift-argument-parser \
  --scratch-path .build/tools/argument-parser --product generate-manual >&2
manuals=$(mktemp -d)
trap 'rm -rf "$stage" "$manuals"' EXIT
changelog_date=$(sed -n 's/^ -- .*>  //p' Deploy/debian/changelog | head -1)
"$(swift build -c release --scratch-path .build/tools/argument-parser --show-bin-path)/generate-manual" \
  "$binary" --output-directory "$manuals" --section 1 --date "$(date -u -d "$changelog_date" +%F)" \
  --authors "fullyloaded maintainers" >&2
install -d "$stage/usr/share/man/man1"
gzip -9n <"$manuals/fullyloaded.1" >"$stage/usr/share/man/man1/fullyloaded.1.gz"
chmod 0644 "$stage/usr/share/man/man1/fullyloaded.1.gz"
install -d "$stage/usr/share/bash-completion/completions" "$stage/usr/share/zsh/vendor-completions" \
  "$stage/usr/share/fish/vendor_completions.d"
# bash-completion sources the file: no #! line (lintian's bash-completion-with-hashbang).
"$binary" --generate-completion-script bash | sed '1{/^#!/d}' >"$stage/usr/share/bash-completion/completions/fullyloaded"
"$binary" --generate-completion-script zsh >"$stage/usr/share/zsh/vendor-completions/_fullyloaded"
"$binary" --generate-completion-script fish >"$stage/usr/share/fish/vendor_completions.d/fullyloaded.fish"

install -d "$stage/DEBIAN"
for script in postinst prerm postrm; do install -m 0755 "Deploy/debian/$script" "$stage/DEBIAN/$script"; done
(cd "$stage" && find etc -type f | sort | sed 's|^|/|') >"$stage/DEBIAN/conffiles"
(cd "$stage" && find usr lib -type f -print0 | sort -z | xargs -0 md5sum) >"$stage/DEBIAN/md5sums"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" Deploy/debian/control.in \
  >"$stage/DEBIAN/control"

mkdir -p "$out"
package="$out/fullyloaded_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$package" >&2
echo "$package"
