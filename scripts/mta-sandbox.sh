#!/usr/bin/env bash
# mta-sandbox.sh - run a command the way an unpacked MTA (scripts/fetch-mta.sh)
# needs it, without touching the machine: in a private mount namespace whose
# /etc/hosts, /etc/passwd and /etc/group are copies with additions.
#
# SYNOPSIS
#   scripts/mta-sandbox.sh [--hostname FQDN] [--host "ADDR NAME..."]... -- COMMAND [ARG]...
#
# WHAT IT ADDS
#   /etc/hosts   "127.0.0.1 FQDN SHORT" first, so the host has a qualified
#                name (sendmail otherwise sleeps forever: "My unqualified host
#                name (vm) unknown"); FQDN defaults to $(hostname -s).test.example.
#                Each --host line too, e.g. --host "203.0.113.5 dsl-5.example.net".
#   /etc/passwd  the system users the Debian packages create in postinst and
#   /etc/group   their binaries look up at start, when missing: Debian-exim
#                (exim4 refuses to start without it), smmta and smmsp
#                (sendmail's TrustedUser, makemap), postfix and postdrop.
#                They get free ids from 64990 up.
#
# Everything else (files, network, processes) is the machine's own; the
# copies live in a temporary directory removed afterwards. stdin, stdout,
# stderr and the exit status are the command's.
#
# NEEDS root (unshare -m, mount --bind). Without it, or where mount
# namespaces are unavailable, exits 77 (ctest SKIP_RETURN_CODE, GoogleTest
# callers skip) with one line on stderr.
set -euo pipefail

fqdn="$(hostname -s 2>/dev/null || echo localhost).test.example"
extra_hosts=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --hostname) fqdn="$2"; shift 2 ;;
    --host) extra_hosts+=("$2"); shift 2 ;;
    --) shift; break ;;
    *) echo "mta-sandbox: unknown option '$1' (see the header of $0)" >&2; exit 2 ;;
  esac
done
[[ $# -gt 0 ]] || { echo "mta-sandbox: no command given" >&2; exit 2; }

if [[ $(id -u) -ne 0 ]]; then
  echo "mta-sandbox: needs root (private mount namespace)" >&2
  exit 77
fi
if ! unshare -m --propagation private true 2>/dev/null; then
  echo "mta-sandbox: mount namespaces unavailable (unshare -m failed)" >&2
  exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 0755 "$tmp"

{
  echo "127.0.0.1 $fqdn ${fqdn%%.*}"
  for h in "${extra_hosts[@]}"; do echo "$h"; done
  cat /etc/hosts
} >"$tmp/hosts"
cp /etc/passwd "$tmp/passwd"
cp /etc/group "$tmp/group"

next_id=64990
free_id() {
  while cut -d: -f3 "$tmp/passwd" "$tmp/group" | grep -qx "$next_id"; do next_id=$((next_id + 1)); done
  echo "$next_id"
}
for user in Debian-exim smmta smmsp postfix postdrop; do
  if ! grep -q "^$user:" "$tmp/group"; then
    echo "$user:x:$(free_id):" >>"$tmp/group"
  fi
  gid=$(grep "^$user:" "$tmp/group" | cut -d: -f3)
  if [[ "$user" != postdrop ]] && ! grep -q "^$user:" "$tmp/passwd"; then
    id=$(free_id)
    echo "$user:x:$id:$gid:$user (mta-sandbox):/nonexistent:/usr/sbin/nologin" >>"$tmp/passwd"
  fi
  next_id=$((next_id + 1))
done
chmod 0644 "$tmp/hosts" "$tmp/passwd" "$tmp/group"

set +e
# shellcheck disable=SC2016 # $1.. expand in the inner shell
unshare -m --propagation private -- sh -c '
  mount --bind "$1" /etc/hosts && mount --bind "$2" /etc/passwd && mount --bind "$3" /etc/group || exit 125
  shift 3
  exec "$@"' mta-sandbox "$tmp/hosts" "$tmp/passwd" "$tmp/group" "$@"
rc=$?
set -e
exit $rc
