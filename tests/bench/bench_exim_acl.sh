#!/usr/bin/env bash
# bench_exim_acl.sh - `exim -bh` sessions on the generated Exim ACLs of the
# fqrdns policy beside those of a small policy, in the same run.
#
# SYNOPSIS
#   tests/bench/bench_exim_acl.sh [HARDENCTL [ROUNDS [SESSIONS]]]
#       HARDENCTL  default build/release/cli/hardenctl (any build will do:
#                  only Exim is timed)
#       ROUNDS     default 5; the policies take turns, round after round
#       SESSIONS   default 40 -bh sessions per policy, name and round
#
# Two stores get the same default rule (conn_rate, conn_limit, greet_pause,
# max_rcpts) and a few address/suffix/pattern rules; one also gets every
# rule of tests/data/fqrdns.pcre (1,500+ regexes, three if blocks).
# `hardenctl gen exim-acl` writes each as Exim main options and ACLs into a
# minimal Exim configuration of its own (no routers: the sessions only QUIT),
# and Exim 4.96 (Debian's exim4-daemon-light, unpacked by scripts/fetch-mta.sh)
# runs `-bh` sessions in scripts/mta-sandbox.sh (needs root) from clients named
#   mail.example.org       matches no if guard of fqrdns
#   mx-1234.example.com    matches two guards, then no rule inside them
#   dsl-1-2.example.com    matches neither policy's rules (passes)
# Each line: policy, name, round, ms of wall time and of CPU (user + sys of
# exim) per session. Target (issue 14): fqrdns within 2x of the small policy.
# Not a test: it prints figures and fails only if a tool does.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
hardenctl=${1:-$root/build/release/cli/hardenctl}
rounds=${2:-5}
sessions=${3:-40}

[[ $(id -u) -eq 0 ]] || { echo "bench_exim_acl: needs root (scripts/mta-sandbox.sh)" >&2; exit 2; }
# /run, not /tmp: Exim's spool must be reachable by Debian-exim.
tmp=$(mktemp -d /run/bench-exim-acl.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
chmod 0755 "$tmp"

exim_tree=$root/build/release/mta/exim
[[ -x $exim_tree/usr/sbin/exim4 ]] || exim_tree=$root/build/dev/mta/exim
if [[ ! -x $exim_tree/usr/sbin/exim4 ]]; then
  exim_tree=$tmp/exim
  "$root/scripts/fetch-mta.sh" exim "$exim_tree" >/dev/null
fi
exim=$exim_tree/usr/sbin/exim4

make_store() {  # DB [PCRE]
  "$hardenctl" --db "$1" init >/dev/null
  "$hardenctl" --db "$1" rule set default conn_rate=30/1m conn_limit=10 greet_pause=0 \
    max_rcpts=50 >/dev/null
  "$hardenctl" --db "$1" rule add 198.51.100.0/24 action=block >/dev/null
  "$hardenctl" --db "$1" rule add .dialup.example.net action=block >/dev/null
  "$hardenctl" --db "$1" rule add '/^ppp-[0-9]+\./' action=block >/dev/null
  if [[ $# -gt 1 ]]; then "$hardenctl" --db "$1" import pcre "$2" >/dev/null; fi
}

make_conf() {  # DB NAME: $tmp/NAME.conf
  local spool=$tmp/spool-$2
  mkdir -p "$spool"
  {
    echo "primary_hostname = mx.test.example"
    echo "spool_directory = $spool"
    echo "host_lookup = !*"
    echo "log_file_path = $spool/%slog"
    "$hardenctl" --db "$1" gen exim-acl --part main
    echo "begin acl"
    "$hardenctl" --db "$1" gen exim-acl --part acl
  } >"$tmp/$2.conf"
}

make_store "$tmp/small.db"
make_store "$tmp/fqrdns.db" "$root/tests/data/fqrdns.pcre"
make_conf "$tmp/small.db" small
make_conf "$tmp/fqrdns.db" fqrdns
echo "bench_exim_acl: $(grep -c '^ *accept\|^ *deny\|^ *defer\|^ *warn' "$tmp/small.conf") ACL statements (small)," \
  "$(grep -c '^ *accept\|^ *deny\|^ *defer\|^ *warn' "$tmp/fqrdns.conf") (fqrdns);" \
  "$(grep -c '\\N^(?i)' "$tmp/fqrdns.conf") regex items (fqrdns); $sessions sessions each"

# The timed loop, inside the sandbox: bash's `time` over SESSIONS sessions.
cat >"$tmp/run.sh" <<EOF
set -e
chown -R Debian-exim: $tmp/spool-small $tmp/spool-fqrdns
TIMEFORMAT='%R %U %S'
for round in \$(seq 1 $rounds); do
  for name in mail.example.org mx-1234.example.com dsl-1-2.example.com; do
    for policy in small fqrdns; do
      # Each session is a new client address: no rate limit trips.
      t=\$( { time (for i in \$(seq 1 $sessions); do
              echo QUIT | $exim -C $tmp/\$policy.conf -oMs \$name -bh 203.0.113.\$((i % 250 + 1)) \
                >/dev/null 2>&1
            done) ; } 2>&1 )
      echo "\$policy \$name \$round \$t"
    done
  done
done
EOF
# The verdicts first (one session each), then the timing.
for policy in small fqrdns; do
  for name in mail.example.org mx-1234.example.com dsl-1-2.example.com; do
    reply=$("$root/scripts/mta-sandbox.sh" -- sh -c "chown -R Debian-exim: $tmp/spool-$policy &&
      echo QUIT | $exim -C $tmp/$policy.conf -oMs $name -bh 192.0.2.1 2>/dev/null" |
      grep -m1 '^[0-9][0-9][0-9] ' | cut -c1-60)
    echo "bench_exim_acl: $policy $name -> $reply"
  done
done
"$root/scripts/mta-sandbox.sh" -- bash "$tmp/run.sh" |
  awk -v n="$sessions" '
    { wall = $4 * 1000 / n; cpu = ($5 + $6) * 1000 / n
      printf "%-7s %-20s round %s: %6.2f ms wall, %6.2f ms CPU per session\n", $1, $2, $3, wall, cpu
      key = $2; if ($1 == "small") { sw[key] += wall; sc[key] += cpu } else { fw[key] += wall; fc[key] += cpu }
      names[key] = 1 }
    END {
      for (k in names)
        printf "ratio fqrdns/small %-20s wall %.2fx, CPU %.2fx (sums over the rounds)\n", k, fw[k] / sw[k], fc[k] / sc[k]
    }'
