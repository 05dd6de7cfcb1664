# milter-harden: the two commands of the README quick start, over CMake presets.
#
#   make run    install missing Debian packages, build, and run on embedded defaults
#   make test   install missing Debian packages, build (warnings as errors) and run
#               every test: the dev build, then again under ASan+UBSan
#
# Other targets: make build, make asan, make bench, make format, make deps, make clean.

SHELL := /bin/bash
JOBS  ?= $(shell nproc)
DB    ?= $(CURDIR)/var/policy.db

.PHONY: run test deps build release asan tsan bench format format-check clean

deps:
	@scripts/install-deps.sh

build: deps
	cmake --preset dev >/dev/null
	cmake --build --preset dev -j $(JOBS)

release: deps
	cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS)

asan: deps
	cmake --preset asan >/dev/null
	cmake --build --preset asan -j $(JOBS)

tsan: deps
	cmake --preset tsan >/dev/null
	cmake --build --preset tsan -j $(JOBS)

run: release
	@mkdir -p $(dir $(DB))
	@test -f $(DB) || build/release/cli/hardenctl --db $(DB) init
	build/release/cli/hardenctl --db $(DB) rule list

test: build asan
	ctest --preset dev
	ctest --preset asan

bench: release
	build/release/tests/bench/bench_rdns --benchmark_min_time=0.2

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.cpp' '*.hpp')

clean:
	rm -rf build
