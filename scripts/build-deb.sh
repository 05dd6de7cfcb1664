#!/usr/bin/env bash
# Builds the Debian package milter-harden_VERSION_ARCH.deb with debhelper
# (debian/) in a copy of the working tree, so the checkout stays clean, and
# runs lintian on it.
#
#   scripts/build-deb.sh [OUT_DIR] [JOBS]     default: build/deb, nproc
#
# OUT_DIR/src/milter-harden/ is the copy (tracked and untracked, not ignored,
# files of the working tree, uncommitted changes included); the .deb,
# .buildinfo and .changes land in OUT_DIR. lintian must report no error and
# no warning (debian/milter-harden.lintian-overrides explains each tag it may
# not report). `make deb` runs this; so does tests/package/deb_test.sh.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "${1:-$src/build/deb}" && cd "${1:-$src/build/deb}" && pwd)
jobs=${2:-$(nproc)}

rm -rf "$out/src" "$out"/milter-harden_* "$out"/milter-harden-dbgsym_*
mkdir -p "$out/src/milter-harden"
(cd "$src" && git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' f; do [[ -e $f || -L $f ]] && printf '%s\0' "$f"; done |
  tar --null -T - -cf -) | tar -xf - -C "$out/src/milter-harden"

cd "$out/src/milter-harden"
start=$(date +%s)
dpkg-buildpackage -b --no-sign -j"$jobs"
echo "build-deb: dpkg-buildpackage took $(($(date +%s) - start)) s with -j$jobs"

changes=$(ls "$out"/src/milter-harden_*.changes)
mv "$out"/src/milter-harden_* "$out"/src/milter-harden-dbgsym_* "$out"/
changes="$out/$(basename "$changes")"
echo "build-deb: lintian $changes"
lintian --info --display-level '>=info' --fail-on error,warning "$changes"
ls "$out"/milter-harden_*.deb
