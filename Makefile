# milter-harden: the two commands of the README quick start, over CMake presets.
#
#   make run    install missing Debian packages, build, and run milter-harden on its
#               embedded defaults (not root: store and control socket under var/)
#   make test   install missing Debian packages, build (warnings as errors) and run
#               every test: the dev build, then again under ASan+UBSan, then the
#               multi-threaded ones (unit and milter protocol tests) under TSan
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

# Only what the TSan run needs: the unit tests, the daemon and its protocol tests.
TSAN_TARGETS := policy_unit_tests db_unit_tests milter_unit_tests milter_probe_tests milter_fd_tests \
                milter_protocol_tests milter_driver_tests null_milter milter-harden hardenctl
tsan: deps
	cmake --preset tsan >/dev/null
	cmake --build --preset tsan -j $(JOBS) --target $(TSAN_TARGETS)

# As root: the daemon's embedded defaults (store /var/lib/milter-harden/policy.db,
# control socket /run/milter-harden/control.sock). Otherwise the store and the
# control socket live under var/ in the checkout. Either way the milter listens
# on inet:8894@127.0.0.1 and the store is created and seeded if missing.
run: release
	@if [ "$$(id -u)" = 0 ]; then \
	  echo "make run: milter-harden on its embedded defaults (Ctrl-C stops)"; \
	  exec build/release/milter/milter-harden; \
	else \
	  mkdir -p $(dir $(DB)); \
	  echo "make run: milter-harden with store $(DB) (Ctrl-C stops)"; \
	  exec build/release/milter/milter-harden --store $(DB) \
	    --set control_socket=$(dir $(DB))control.sock; \
	fi

test: build asan tsan
	ctest --preset dev --no-tests=error
	ctest --preset asan --no-tests=error
	ctest --preset tsan --no-tests=error -L 'unit|milter'

bench: release
	build/release/tests/bench/bench_rdns --benchmark_min_time=0.2
	build/release/tests/bench/bench_milter

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.cpp' '*.hpp')

clean:
	rm -rf build
