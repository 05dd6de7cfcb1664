#!/usr/bin/env bash
# Installs the Debian packages milter-harden needs to build and test, when
# they are missing. The package list lives here and nowhere else.
#
#   scripts/install-deps.sh           build + test dependencies
#   scripts/install-deps.sh --check   only report what is missing (exit 1 if any)
set -euo pipefail

# Build: toolchain and libraries (one line per job, see README "Dependencies").
BUILD_PKGS=(
  g++ cmake ninja-build pkg-config make
  libsqlite3-dev            # db/: policy store
  libre2-dev                # policy/: RE2::Set multi-pattern matcher (fallback engine)
  libhyperscan-dev          # policy/: Hyperscan multi-pattern matcher (amd64)
  libpcre2-dev              # policy/: PCRE2 for patterns the fast engines cannot take
  libcli11-dev              # cli/: hardenctl argument parsing
  nlohmann-json3-dev        # cli/, milter/: --json output, control protocol
  libyaml-cpp-dev           # db/, milter/: policy export/import, daemon config
  libspdlog-dev libfmt-dev  # logging and formatting
  libboost-dev              # milter/: Boost.Asio control plane
  libmilter-dev             # milter/: libmilter
  libhiredis-dev            # db/: the Redis counter backend (RedisCounters)
)
# Tests and benchmarks.
TEST_PKGS=(
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev  # make fuzz / fuzz-short: libFuzzer on the milter protocol session
  sqlite3                   # tests poke at stores with the sqlite3 shell
  m4                        # mtaconf tests: sendmail's cf/ files over generated .mc lines
  postfix                   # tests/integration/mta: a private Postfix instance (postfix -c DIR)
  postfix-pcre              # mtaconf tests: postmap -q over the generated pcre table
  fail2ban                  # tests/integration: fail2ban-regex over contrib/fail2ban/filter.d
  redis-server              # db/ and milter tests, bench: a private redis-server on a unix socket
  libfaketime               # mtaconf tests: exim -bh sessions at chosen times (ratelimit sequences)
  tmux                      # milter tests: hardenctl top in a real terminal pane (capture-pane)
  # Runtime libraries of the MTAs that tests unpack with scripts/fetch-mta.sh
  # (sendmail-bin, exim4-daemon-light conflict as installed packages, so they
  # are not installed, only their libraries).
  libwrap0 liblockfile1 libdb5.3 libldap-2.5-0 libsasl2-2 libssl3 libnsl2   # sendmail-bin
  libidn12 libidn2-0 libgnutls30 libgnutls-dane0 libpcre2-8-0 libcrypt1    # exim4-daemon-light
)

# The Debian package (make deb) and its test: debhelper builds it, lintian
# checks it, man-db's `man --warnings` checks the generated man pages.
PACKAGE_PKGS=(
  debhelper dpkg-dev fakeroot lintian             # make deb: dpkg-buildpackage -> dh (cmake), lintian
  man-db groff-base                               # man --warnings -l over the generated man pages
  adduser                                         # the package's postinst: adduser --system
)

want=("${BUILD_PKGS[@]}" "${TEST_PKGS[@]}" "${PACKAGE_PKGS[@]}")
missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [[ "${1:-}" == "--check" ]]; then
  if ((${#missing[@]})); then echo "missing: ${missing[*]}"; exit 1; fi
  echo "all dependencies installed"; exit 0
fi

if ((${#missing[@]} == 0)); then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root (or: sudo apt-get install ${missing[*]})" >&2
  exit 2
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# postfix: install without a system configuration; the tests run private instances.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
