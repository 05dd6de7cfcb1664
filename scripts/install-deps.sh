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
  libhiredis-dev            # db/: Redis counter backend
)
# Tests and benchmarks.
TEST_PKGS=(
  libgtest-dev libgmock-dev libbenchmark-dev
  sqlite3                   # tests poke at stores with the sqlite3 shell
)

want=("${BUILD_PKGS[@]}" "${TEST_PKGS[@]}")
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
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
