# milter-harden: the two commands of the README quick start, over CMake presets.
#
#   make run    install missing Debian packages, build, and run milter-harden on its
#               embedded defaults (not root: store and control socket under var/)
#   make test   install missing Debian packages, build (warnings as errors) and run
#               every test: the dev build, then again under ASan+UBSan, then the
#               multi-threaded ones (unit and milter protocol tests) under TSan; the
#               dev run includes the Debian package's (ctest deb_package, as root:
#               build with -j2, dpkg -i, use, purge; about 5.5 CPU-minutes)
#
#   make deb    build the Debian package (debhelper, debian/) in build/deb/ and run
#               lintian on it: build/deb/milter-harden_VERSION_ARCH.deb
#
# Other targets: make build, make asan, make bench, make fuzz, make format, make deps,
# make clean.

SHELL := /bin/bash
JOBS  ?= $(shell nproc)
DB    ?= $(CURDIR)/var/policy.db

.PHONY: run test deps build release asan tsan deb bench fuzz-build fuzz-short fuzz format format-check clean

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
TSAN_TARGETS := policy_unit_tests db_unit_tests db_redis_tests milter_unit_tests milter_probe_tests milter_codec_tests milter_fd_tests \
                milter_protocol_tests milter_driver_tests milter_redis_tests grafana_dashboard_tests null_milter \
                milter-harden hardenctl
tsan: deps
	cmake --preset tsan >/dev/null
	cmake --build --preset tsan -j $(JOBS) --target $(TSAN_TARGETS)

# As root: the daemon's embedded defaults (store /var/lib/milter-harden/policy.db,
# control socket /run/milter-harden/control.sock). Otherwise the store and the
# control socket live under var/ in the checkout. Either way the milter listens
# on unix:/run/milter-harden/milter.sock (non-root: var/milter.sock) and the store is created
# and seeded if missing.
run: release
	@if [ "$$(id -u)" = 0 ]; then \
	  echo "make run: milter-harden on its embedded defaults (Ctrl-C stops)"; \
	  exec build/release/milter/milter-harden; \
	else \
	  mkdir -p $(dir $(DB)); \
	  echo "make run: milter-harden with store $(DB) (Ctrl-C stops)"; \
	  exec build/release/milter/milter-harden --store $(DB) \
	    --set control_socket=$(dir $(DB))control.sock --set socket=unix:$(dir $(DB))milter.sock --set state_file=$(dir $(DB))state.db; \
	fi

test: build asan tsan fuzz-build
	ctest --preset dev --no-tests=error
	ctest --preset asan --no-tests=error
	ctest --preset tsan --no-tests=error -L 'unit|milter'
	$(MAKE) --no-print-directory fuzz-short

# libFuzzer (Debian clang) on the milter protocol session: the packet parser
# and the state machine, with ASan+UBSan. fuzz-short (part of make test) runs
# 300,000 inputs from the seed corpus; fuzz is the long run (FUZZ_RUNS, 10M by
# default) over a corpus kept in build/fuzz/corpus between runs.
FUZZ_DIR   := build/fuzz
FUZZ_RUNS  ?= 10000000
FUZZ_FLAGS := -max_len=4096 -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/
fuzz-build: deps
	@mkdir -p $(FUZZ_DIR)/corpus
	clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	  -Imilter/include -Ipolicy/include milter/src/protocol.cpp tests/fuzz/fuzz_protocol.cpp \
	  -o $(FUZZ_DIR)/fuzz_protocol
	clang++ -std=c++20 -O1 tests/fuzz/make_seeds.cpp -o $(FUZZ_DIR)/make_seeds
	$(FUZZ_DIR)/make_seeds $(FUZZ_DIR)/corpus tests/fuzz/corpus-real

fuzz-short: fuzz-build
	@rm -rf $(FUZZ_DIR)/short && mkdir -p $(FUZZ_DIR)/short && cp $(FUZZ_DIR)/corpus/* $(FUZZ_DIR)/short/
	$(FUZZ_DIR)/fuzz_protocol -runs=300000 -seed=1 $(FUZZ_FLAGS) $(FUZZ_DIR)/short

fuzz: fuzz-build
	$(FUZZ_DIR)/fuzz_protocol -runs=$(FUZZ_RUNS) $(FUZZ_FLAGS) $(FUZZ_DIR)/corpus

# The package, built from a copy of the working tree (scripts/build-deb.sh);
# tests/package/deb_test.sh (part of make test) also installs and purges it.
deb: deps
	scripts/build-deb.sh build/deb $(JOBS)

bench: release
	build/release/tests/bench/bench_rdns --benchmark_min_time=0.2
	build/release/tests/bench/bench_milter
	build/release/tests/bench/bench_greet_flood --sessions 10000
	build/release/tests/bench/bench_greet_flood --sessions 2000 --engine libmilter
	tests/bench/bench_check_batch.sh build/release/cli/hardenctl
	build/release/tests/bench/bench_redis
	build/release/tests/bench/bench_client_memory
	tests/bench/bench_exim_acl.sh build/release/cli/hardenctl

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.cpp' '*.hpp')

clean:
	rm -rf build
