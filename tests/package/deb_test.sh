#!/usr/bin/env bash
# deb_test.sh SOURCE_DIR WORK_DIR [JOBS] - the Debian package end to end, as
# root on a Debian machine (CI), with or without systemd running:
#   1. scripts/build-deb.sh builds it in WORK_DIR (dpkg-buildpackage, lintian
#      with no error or warning);
#   2. dpkg -i: binaries in /usr/sbin, man pages, conffile, user and group,
#      state and run directories (owner, mode), the MTA's user in the group;
#   3. from the installed paths: milter-harden --print-config on the packaged
#      configuration, hardenctl init, and the daemon itself started as
#      milter-harden the way the unit starts it (hardenctl status answers);
#   4. dpkg -r keeps configuration and store; dpkg -P removes them, the user
#      and group, and leaves no file named *milter-harden* that was not there
#      before the install.
# Exit 77 (ctest: skipped) when not root or not on dpkg. DEB_TEST_REUSE=1
# skips step 1 when WORK_DIR holds a package already (while working on steps 2-4).
set -euo pipefail

src=$1 work=$2 jobs=${3:-2}
pkg=milter-harden
if [[ $(id -u) -ne 0 ]] || ! command -v dpkg >/dev/null; then
  echo "deb_test: needs root and dpkg (skipped)"; exit 77
fi
if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q installed; then
  echo "deb_test: $pkg is installed on this machine already; not touching it (skipped)"; exit 77
fi

fail=0
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@" >/dev/null 2>&1; then echo "ok:   $what"; else echo "FAIL: $what"; fail=1; fi
}
owner_mode() { [[ $(stat -c '%U:%G %a' "$1") == "$2" ]]; }
in_group() { id -nG "$1" 2>/dev/null | tr ' ' '\n' | grep -qx "$2"; }
# dpkg takes its lock; another apt/dpkg on the machine (another job) may hold it for a while.
dpkg_retry() {
  for _ in $(seq 60); do
    if dpkg "$@" 2>"$work/dpkg.err"; then return 0; fi
    grep -q "lock" "$work/dpkg.err" || { cat "$work/dpkg.err" >&2; return 1; }
    sleep 2
  done
  cat "$work/dpkg.err" >&2; return 1
}
ours() {  # every path named *milter-harden* or *milter_harden* outside the build trees
  find /etc /usr /var /run /lib -xdev \( -name '*milter-harden*' -o -name '*milter_harden*' \) \
    -not -path '/var/cache/*' -not -path "$src/*" -not -path "$work/*" 2>/dev/null | sort
}

mkdir -p "$work"
t0=$(date +%s)
if [[ ${DEB_TEST_REUSE:-0} == 1 ]] && ls "$work"/${pkg}_*.deb >/dev/null 2>&1; then
  echo "deb_test: DEB_TEST_REUSE=1: using $(ls "$work"/${pkg}_*.deb)"
else
  "$src/scripts/build-deb.sh" "$work" "$jobs"
fi
t1=$(date +%s)
deb=$(ls "$work"/${pkg}_*.deb)
ours >"$work/before.txt"

cleanup() { dpkg -P "$pkg" >/dev/null 2>&1 || true; }
trap cleanup EXIT

echo "== dpkg -i $deb"
dpkg_retry -i "$deb"
check "binaries in /usr/sbin" test -x /usr/sbin/milter-harden -a -x /usr/sbin/hardenctl
check "man pages" test -f /usr/share/man/man8/milter-harden.8.gz -a -f /usr/share/man/man8/hardenctl.8.gz \
  -a -f /usr/share/man/man5/milter-harden.yaml.5.gz
check "man milter-harden.yaml finds the installed page" man -w milter-harden.yaml
check "conffile /etc/milter-harden/milter-harden.yaml" \
  sh -c "dpkg-query -W -f='\${Conffiles}' $pkg | grep -q ' /etc/milter-harden/milter-harden.yaml '"
check "fail2ban filter and jail" test -f /etc/fail2ban/filter.d/$pkg.conf -a -f /etc/fail2ban/jail.d/$pkg.conf
check "sendmail FEATURE" test -f /usr/share/sendmail/cf/feature/milter_harden.m4
check "Grafana dashboard" test -f /usr/share/$pkg/grafana/$pkg.json
check "systemd unit runs /usr/sbin/milter-harden on the packaged config" \
  grep -q '^ExecStart=/usr/sbin/milter-harden --config /etc/milter-harden/milter-harden.yaml$' \
  /lib/systemd/system/$pkg.service
if command -v systemd-analyze >/dev/null; then  # offline: no systemd needs to run
  check "systemd-analyze verify of the installed unit is silent" sh -c \
    "[ -z \"\$(systemd-analyze verify --man=no /lib/systemd/system/$pkg.service 2>&1)\" ]"
fi
check "system user $pkg" sh -c "getent passwd $pkg | awk -F: '\$3 < 1000' | grep -q ."
check "system group $pkg" getent group $pkg
check "/var/lib/$pkg $pkg:$pkg 750" owner_mode /var/lib/$pkg "$pkg:$pkg 750"
check "/run/$pkg $pkg:$pkg 750" owner_mode /run/$pkg "$pkg:$pkg 750"
for mta_user in postfix smmta; do
  if getent passwd $mta_user >/dev/null; then
    check "$mta_user in group $pkg" in_group $mta_user $pkg
  fi
done

echo "== the installed programs"
config=/etc/milter-harden/milter-harden.yaml
check "milter-harden --print-config" sh -c \
  "/usr/sbin/milter-harden --config $config --print-config | grep -q '^store: /var/lib/milter-harden/policy.db'"
check "hardenctl init" /usr/sbin/hardenctl --db /var/lib/$pkg/policy.db init
check "hardenctl rule list" sh -c "/usr/sbin/hardenctl --db /var/lib/$pkg/policy.db rule list | grep -q default"
# As the unit runs it: user milter-harden from the start (systemd chowns the
# state directory to it: StateDirectory=). Metrics off: the CI port may be taken.
chown -R $pkg:$pkg /var/lib/$pkg
setpriv --reuid=$pkg --regid=$pkg --init-groups \
  /usr/sbin/milter-harden --config $config --set metrics_listen= >"$work/daemon.log" 2>&1 &
daemon=$!
for _ in $(seq 100); do [[ -S /run/$pkg/control.sock ]] && break; sleep 0.1; done
check "the daemon, as $pkg, answers hardenctl status" /usr/sbin/hardenctl status
check "milter socket $pkg:$pkg 660" owner_mode /run/$pkg/milter.sock "$pkg:$pkg 660"
kill -TERM $daemon; wait $daemon || true
grep -q "stopped" "$work/daemon.log" || { echo "FAIL: the daemon did not stop cleanly:"; cat "$work/daemon.log"; fail=1; }

echo "== dpkg -r"
dpkg_retry -r $pkg
check "binaries gone" test ! -e /usr/sbin/milter-harden -a ! -e /usr/sbin/hardenctl
check "conffile kept" test -f $config
check "store kept" test -f /var/lib/$pkg/policy.db
check "user kept" getent passwd $pkg

echo "== dpkg -P"
dpkg_retry -P $pkg
trap - EXIT
check "configuration gone" test ! -e /etc/milter-harden
check "fail2ban files gone" test ! -e /etc/fail2ban/filter.d/$pkg.conf -a ! -e /etc/fail2ban/jail.d/$pkg.conf
check "store and state gone" test ! -e /var/lib/$pkg
check "run directory gone" test ! -e /run/$pkg
check "user gone" sh -c "! getent passwd $pkg"
check "group gone" sh -c "! getent group $pkg"
check "dpkg knows nothing of it" sh -c "! dpkg-query -W $pkg 2>/dev/null | grep -q ."
ours >"$work/after.txt"
if ! diff -u "$work/before.txt" "$work/after.txt"; then
  echo "FAIL: files left behind after purge (above)"; fail=1
else
  echo "ok:   nothing named *milter-harden* left that was not there before"
fi
t2=$(date +%s)
echo "deb_test: package build $((t1 - t0)) s (-j$jobs), install/use/purge $((t2 - t1)) s"
exit $fail
