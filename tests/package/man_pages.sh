#!/bin/sh
# man_pages.sh MAN_DIR MILTER_HARDEN HARDENCTL - the generated man pages
# (milter-harden --man 8|5, hardenctl --man) under `man --warnings`, as
# lintian reads them: no groff warning at all, and every config key, every
# hardenctl command and every policy attribute on its page.
set -eu
dir=$1 daemon=$2 ctl=$3
fail=0
for page in milter-harden.8 milter-harden.yaml.5 hardenctl.8; do
  [ -s "$dir/$page" ] || { echo "FAIL: $dir/$page missing or empty"; fail=1; continue; }
  warnings=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$dir/$page" 2>&1 >/dev/null)
  if [ -n "$warnings" ]; then
    echo "FAIL: man --warnings on $page:"; echo "$warnings"; fail=1
  fi
done
rendered() { LC_ALL=C.UTF-8 MANWIDTH=200 man -l "$dir/$1" 2>/dev/null; }
# Every key --print-config prints is in milter-harden.yaml(5).
for key in $("$daemon" --print-config | sed -n 's/^\([a-z0-9_]*\):.*/\1/p'); do
  rendered milter-harden.yaml.5 | grep -q "^ *$key " || { echo "FAIL: key $key not in milter-harden.yaml(5)"; fail=1; }
done
# Every command --help lists, and every attribute rule add --help lists, is in hardenctl(8).
for cmd in $("$ctl" --help | sed -n '/^Subcommands:/,/^$/s/^  \([a-z-]*\) .*/\1/p'); do
  rendered hardenctl.8 | grep -q "^ *hardenctl $cmd\$" || { echo "FAIL: command $cmd not in hardenctl(8)"; fail=1; }
done
for attr in $("$ctl" rule add --help | sed -n '/^Attributes/,/^Windows/s/^  \([a-z_]*\) .*/\1/p'); do
  rendered hardenctl.8 | grep -q "^ *$attr " || { echo "FAIL: attribute $attr not in hardenctl(8)"; fail=1; }
done
# Every option of milter-harden --help is in milter-harden(8).
for opt in $("$daemon" --help | sed -n 's/^  .*\(--[a-z-]*\).*/\1/p'); do
  rendered milter-harden.8 | grep -q -- "$opt" || { echo "FAIL: option $opt not in milter-harden(8)"; fail=1; }
done
[ $fail = 0 ] && echo "man pages: no warnings; every key, command, attribute and option present"
exit $fail
