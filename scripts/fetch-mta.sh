#!/usr/bin/env bash
# fetch-mta.sh - make an MTA's Debian packages available to tests without
# installing them: `apt-get download` + `dpkg -x` into a directory.
#
# sendmail, Postfix and Exim conflict as installed packages (installing
# exim4-daemon-light removes postfix), so tests run them from an unpacked
# tree with their own configuration instead.
#
# SYNOPSIS
#   scripts/fetch-mta.sh sendmail DESTDIR    sendmail-bin sendmail-base sendmail-cf
#   scripts/fetch-mta.sh exim DESTDIR        exim4-daemon-light exim4-base exim4-config
#   scripts/fetch-mta.sh postfix DESTDIR     postfix
#   scripts/fetch-mta.sh --refresh MTA DESTDIR   unpack again if apt has newer versions
#   scripts/fetch-mta.sh --packages MTA      print the package names
#
# WHAT YOU GET (paths below DESTDIR)
#   sendmail  usr/libexec/sendmail/sendmail, usr/libexec/sendmail/makemap,
#             usr/share/sendmail/cf/ (m4/cf.m4, feature/, ostype/, debian/sendmail.mc
#             = Debian's default .mc, debian/autoconf.m4)
#   exim      usr/sbin/exim4 (setuid), usr/sbin/update-exim4.conf,
#             etc/exim4/conf.d/ and exim4.conf.template (Debian's configuration)
#   postfix   usr/sbin/postfix, usr/sbin/postconf, usr/lib/postfix/sbin/ (smtpd, master, ...),
#             etc/postfix/, usr/share/postfix/main.cf.dist
#
# Running them: see scripts/mta-sandbox.sh (host name, system users) and
# /work/shared/REAL-MTAS.md. The binaries need their shared libraries
# installed; scripts/install-deps.sh lists them (TEST_PKGS), and this script
# checks with ldd and names any that are missing.
#
# CACHING
#   DESTDIR/.fetched-MTA records the package versions unpacked; while it
#   exists a run only checks the libraries (fast, works offline). --refresh
#   compares with apt's candidate versions and unpacks again when they
#   differ. Runs for the same DESTDIR are serialised with flock, so parallel
#   ctest fixtures are safe.
#
# PACKAGE LISTS
#   apt-get download needs apt's package lists. If they are missing, the
#   script runs `apt-get update` once when it is root, otherwise it says so.
#
# EXIT STATUS
#   0 unpacked (or already there), 2 usage, 3 packages not available
#   (no package lists, offline), 4 runtime libraries missing.
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
  exit 2
}

packages() {
  case "$1" in
    sendmail) echo "sendmail-bin sendmail-base sendmail-cf" ;;
    exim) echo "exim4-daemon-light exim4-base exim4-config" ;;
    postfix) echo "postfix" ;;
    *) return 1 ;;
  esac
}

# Binaries whose libraries must resolve.
binaries() {
  case "$1" in
    sendmail) echo "usr/libexec/sendmail/sendmail usr/libexec/sendmail/makemap" ;;
    exim) echo "usr/sbin/exim4" ;;
    postfix) echo "usr/sbin/postconf usr/lib/postfix/sbin/smtpd usr/lib/postfix/sbin/master" ;;
  esac
}

if [[ "${1:-}" == "--packages" ]]; then
  [[ $# -eq 2 ]] || usage
  packages "$2" || usage
  exit 0
fi
refresh=0
if [[ "${1:-}" == "--refresh" ]]; then
  refresh=1
  shift
fi
[[ $# -eq 2 ]] || usage
mta="$1"
dest="$2"
pkgs=$(packages "$mta") || { echo "fetch-mta: unknown MTA '$mta' (sendmail, exim, postfix)" >&2; exit 2; }

mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
stamp="$dest/.fetched-$mta"

# Serialise runs on the same DESTDIR.
exec 9>"$dest/.fetch.lock"
flock 9

# "pkg=version ..." of apt's candidates, in the order of $pkgs; fails if any has none.
candidates() {
  # shellcheck disable=SC2086
  apt-cache policy $pkgs 2>/dev/null | awk -v want="$pkgs" '
    /^[^ ].*:$/ { pkg = substr($1, 1, length($1) - 1) }
    /^ *Candidate:/ { if ($2 != "(none)") v[pkg] = $2 }
    END {
      n = split(want, p, " "); out = ""
      for (i = 1; i <= n; i++) { if (!(p[i] in v)) exit 1; out = out (i > 1 ? " " : "") p[i] "=" v[p[i]] }
      print out
    }'
}

check_libraries() {
  local b missing=""
  for b in $(binaries "$mta"); do
    [[ -e "$dest/$b" ]] || { echo "fetch-mta: $dest/$b missing after unpacking" >&2; exit 4; }
    missing+=$(ldd "$dest/$b" 2>/dev/null | awk '/not found/ {print $1}' | tr '\n' ' ')
  done
  if [[ -n "${missing// /}" ]]; then
    echo "fetch-mta: $mta needs shared libraries that are not installed: $missing" >&2
    echo "fetch-mta: run scripts/install-deps.sh (as root); the list is TEST_PKGS there" >&2
    exit 4
  fi
}

if [[ -e "$stamp" && $refresh -eq 0 ]]; then
  check_libraries
  exit 0
fi

want=$(candidates || true)
if [[ -z "$want" && $(id -u) -eq 0 && ! -e "$stamp" ]]; then
  echo "fetch-mta: no package list entry for $pkgs; running apt-get update" >&2
  apt-get update -qq || true
  want=$(candidates || true)
fi
if [[ -z "$want" ]]; then
  if [[ -e "$stamp" ]]; then
    check_libraries  # offline: keep what was unpacked before
    exit 0
  fi
  echo "fetch-mta: apt knows no candidate for: $pkgs" >&2
  echo "fetch-mta: run 'apt-get update' as root (package lists missing?), then again" >&2
  exit 3
fi
if [[ -e "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  check_libraries
  exit 0
fi

debs="$dest/.debs"
rm -rf "$debs"
mkdir -p "$debs"
sandbox=()
# As root, apt would hand the download to user _apt, who cannot write here.
if [[ $(id -u) -eq 0 ]]; then sandbox=(-o APT::Sandbox::User=root); fi
# $want holds pkg=version pairs: exactly the versions recorded in the stamp.
# shellcheck disable=SC2086
if ! (cd "$debs" && apt-get -q "${sandbox[@]}" download $want >"$debs/download.log" 2>&1); then
  cat "$debs/download.log" >&2
  echo "fetch-mta: apt-get download failed for: $want" >&2
  exit 3
fi
for deb in "$debs"/*.deb; do
  dpkg -x "$deb" "$dest"
done
rm -rf "$debs"
echo "$want" >"$stamp"
check_libraries
echo "fetch-mta: $mta unpacked into $dest ($want)"
