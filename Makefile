# crio-credential-provider
#   make                 release binary at build/crio-credential-provider
#   make REGISTRIES_CONF=/path   ... with another default registries.conf baked in
#   make test            formatting, lints, unit tests, the binary's integration and conformance tests
#   make test-packaging  MachineConfigs, kubelet generator, shell scripts, RPM spec (test/README.md)
#   make e2e             end to end with docker-registry, skopeo and a private journald
#   make bench           speed and footprint against their floors (build/bench.json)
#   make bench-instructions  instructions per run (callgrind) of both builds against test/data/bench/
#   make bench-budgets   rewrites those budgets: the counts measured plus 15 %
#   make bench-profile   a callgrind profile of each bench path, both builds with symbols (build/profiles)
#   make msrv            builds and unit-tests both TLS features with Cargo.toml's rust-version (1.92)
#   make fuzz            each fuzz target for FUZZ_SECONDS (nightly, cargo-fuzz); a crash fails
#   make mutants         cargo-mutants over the pure modules, in a clone of HEAD (about 40 min; not in CI)
#   make rpm             binary RPM in build/rpm/RPMS (offline build from tarballs, %check)
#   make spec-crates     rewrites the spec's License and bundled(crate()) Provides from Cargo.lock
#   make man             rewrites docs/man/ from the clap definition (`make test` fails until then)
#   make manifests       writes packaging/openshift's MachineConfigs (Butane + rendered) from contrib/
#   make demo            the whole main path locally, against the stand-in API server

CARGO ?= cargo
BUILD_DIR ?= build
BINARY := crio-credential-provider
REGISTRIES_CONF ?=

ifneq ($(REGISTRIES_CONF),)
export CRIO_CREDENTIAL_PROVIDER_REGISTRIES_CONF := $(REGISTRIES_CONF)
endif

VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
RPM_DIR := $(BUILD_DIR)/rpm
RPMBUILD_FLAGS ?=

FUZZ_TARGETS := registries_conf kubelet_request pull_secrets auth_file_merge api_answers
FUZZ_SECONDS ?= 60
# CI fuzzes reproducibly: a fixed seed and at most FUZZ_RUNS inputs from the seeds alone, so a
# commit that passed passes again (a slower machine runs a prefix of the same inputs). Explore with
# FUZZ_SEED=0 (random) FUZZ_RUNS=-1 (unbounded) and a longer FUZZ_SECONDS.
FUZZ_SEED ?= 1
FUZZ_RUNS ?= 40000

.PHONY: all build build-openssl test test-packaging lint msrv e2e bench fuzz demo rpm spec-crates manifests man mutants bench-instructions bench-budgets bench-profile clean

all: build

build:
	$(CARGO) build --release --locked
	mkdir -p $(BUILD_DIR)
	cp target/release/$(BINARY) $(BUILD_DIR)/$(BINARY)

# The same binary with the system OpenSSL as the kube client's TLS stack (FIPS clusters).
# Its own target dir: the two builds do not undo each other's.
build-openssl:
	$(CARGO) build --release --locked --no-default-features --features openssl --target-dir target/openssl
	mkdir -p $(BUILD_DIR)
	cp target/openssl/release/$(BINARY) $(BUILD_DIR)/$(BINARY)-openssl

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --all-targets -- -D warnings
	$(CARGO) clippy --locked --all-targets --no-default-features --features openssl -- -D warnings

# The suites of what ships beside the binary (packaging/, contrib/, the scripts): they need rpm,
# ignition-validate, shellcheck and systemd-analyze. Every other [[test]] of Cargo.toml is the binary's.
PACKAGING_TESTS := machineconfigs kubelet_generator shell_scripts rpm_spec image_layering token_audiences
TESTS := $(shell awk '/^\[/ { in_test = ($$0 == "[[test]]") } in_test && /^name = / { gsub(/"/, "", $$3); print $$3 }' Cargo.toml)
BINARY_TESTS := $(filter-out $(PACKAGING_TESTS),$(TESTS))

# Both TLS backends: the default (rustls) and the system OpenSSL. Needs Rust, libssl.so.3 (loaded
# at run time, no headers) and /usr/bin/time (test/README.md).
test: lint
	$(CARGO) build --locked --examples
	$(CARGO) test --locked --lib --bins $(addprefix --test ,$(BINARY_TESTS))
	$(CARGO) test --locked --lib --bins $(addprefix --test ,$(BINARY_TESTS)) --no-default-features --features openssl

# Once, with the default features: they test files, not the binary's TLS.
test-packaging:
	$(CARGO) test --locked $(addprefix --test ,$(PACKAGING_TESTS))

# The oldest Rust the lockfile must build with: Cargo.toml's rust-version, the newest Rust Toolset
# of RHEL 9.8 (OCP 4.22). Its own target dir, so it does not invalidate the stable build.
MSRV := $(shell sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
MSRV_TARGETS ?= --lib --bins
msrv:
	CARGO_TARGET_DIR=target/msrv $(CARGO) +$(MSRV) test --locked $(MSRV_TARGETS)
	CARGO_TARGET_DIR=target/msrv $(CARGO) +$(MSRV) test --locked $(MSRV_TARGETS) --no-default-features --features openssl

# Real registry, skopeo and journald (root; .ci/run installs the packages).
e2e:
	$(CARGO) test --locked --test e2e -- --ignored

# Medians of whole-process runs against their floor; table on stdout, JSON in build/bench.json.
bench: build build-openssl
	BENCH_BINARIES="rustls=$(BUILD_DIR)/$(BINARY) openssl=$(BUILD_DIR)/$(BINARY)-openssl" \
		BENCH_JSON=$(BUILD_DIR)/bench.json $(CARGO) bench --locked --bench provider

# Instruction counts do not depend on the machine's load: a budget, not a clock. The bench binary
# runs in the test profile (it only drives the release binaries under valgrind).
INSTRUCTION_BUDGETS := test/data/bench/instruction-budgets.json
bench-instructions: build build-openssl
	BENCH_BINARIES="rustls=$(BUILD_DIR)/$(BINARY) openssl=$(BUILD_DIR)/$(BINARY)-openssl" \
		BENCH_INSTRUCTIONS=$(INSTRUCTION_BUDGETS) $(CARGO) test --locked --bench provider

bench-budgets: build build-openssl
	BENCH_BINARIES="rustls=$(BUILD_DIR)/$(BINARY) openssl=$(BUILD_DIR)/$(BINARY)-openssl" \
		BENCH_INSTRUCTIONS=$(INSTRUCTION_BUDGETS) BENCH_UPDATE_BUDGETS=1 $(CARGO) test --locked --bench provider

# Where the instructions go: read one with `callgrind_annotate --inclusive=yes <file>`. The
# profiling profile is the release one with symbols and without LTO, so its counts run higher.
bench-profile:
	$(CARGO) build --locked --profile profiling
	$(CARGO) build --locked --profile profiling --no-default-features --features openssl --target-dir target/openssl
	BENCH_BINARIES="rustls=target/profiling/$(BINARY) openssl=target/openssl/profiling/$(BINARY)" \
		BENCH_INSTRUCTIONS=$(INSTRUCTION_BUDGETS) BENCH_PROFILES=$(BUILD_DIR)/profiles $(CARGO) test --locked --bench provider

# Seeds from test/data/fuzz/<target>; the grown corpus goes to build/fuzz/<target>, a crash to
# fuzz/artifacts/<target> (and fails the run). Run one input again: cargo +nightly fuzz run <target> <file>
fuzz:
	cargo +nightly fuzz build
	for target in $(FUZZ_TARGETS); do \
		rm -rf $(BUILD_DIR)/fuzz/$$target && mkdir -p $(BUILD_DIR)/fuzz/$$target && \
		cargo +nightly fuzz run $$target $(BUILD_DIR)/fuzz/$$target test/data/fuzz/$$target \
			-- -max_total_time=$(FUZZ_SECONDS) -seed=$(FUZZ_SEED) -runs=$(FUZZ_RUNS) \
			-print_final_stats=1 || exit 1; \
	done

# Binary RPM from a source tarball and a vendored-crates tarball, built offline (%check included).
rpm:
	rm -rf $(RPM_DIR) && mkdir -p $(RPM_DIR)/SOURCES $(RPM_DIR)/vendor-tree
	git archive --format=tar.gz --prefix=$(BINARY)-$(VERSION)/ -o $(RPM_DIR)/SOURCES/$(BINARY)-$(VERSION).tar.gz HEAD
	$(CARGO) vendor --locked --versioned-dirs $(RPM_DIR)/vendor-tree/vendor >/dev/null
	tar -C $(RPM_DIR)/vendor-tree -czf $(RPM_DIR)/SOURCES/$(BINARY)-$(VERSION)-vendor.tar.gz vendor
	rpmbuild -bb --define "_topdir $(abspath $(RPM_DIR))" --define "git_commit $(shell git rev-parse HEAD)" \
		--nodeps $(RPMBUILD_FLAGS) packaging/$(BINARY).spec
	rpmspec -q --provides $(RPMBUILD_FLAGS) packaging/$(BINARY).spec | grep '^bundled(crate(' | sort >$(RPM_DIR)/spec-provides
	rpm -qp --provides $(RPM_DIR)/RPMS/*/$(BINARY)-$(VERSION)-*.rpm | grep '^bundled(crate(' | sort >$(RPM_DIR)/rpm-provides
	test -s $(RPM_DIR)/rpm-provides && diff -u $(RPM_DIR)/spec-provides $(RPM_DIR)/rpm-provides
	find $(RPM_DIR)/RPMS -name '*.rpm'

# After a change in contrib/: the MachineConfigs that install it (`make test-packaging` fails until then).
manifests:
	UPDATE_MANIFESTS=1 $(CARGO) test --locked --test machineconfigs -- machineconfigs_are_generated_from_contrib

# Mutation testing of the pure code, in a clone of HEAD (commit first): each mutant must fail the
# unit tests or the integration tests that run the binary on these modules' behaviour. Missed
# mutants are listed in $(BUILD_DIR)/mutants/tree/mutants.out/missed.txt.
MUTANTS_FILES ?= src/secrets/mod.rs src/secrets/keyring.rs src/kube/secret_sources.rs src/kube/token.rs src/kube/protobuf.rs \
	src/files.rs src/kubelet.rs src/duration.rs src/registries/reference.rs src/config.rs
MUTANTS_TESTS ?= --lib --test secret_sources --test credentials --test provider --test hardening \
	--test configuration
mutants:
	rm -rf $(BUILD_DIR)/mutants && mkdir -p $(BUILD_DIR)/mutants
	git clone --quiet --no-hardlinks . $(BUILD_DIR)/mutants/tree
	cd $(BUILD_DIR)/mutants/tree && $(CARGO) mutants --in-place --no-shuffle \
		$(addprefix -f ,$(MUTANTS_FILES)) -- $(MUTANTS_TESTS)

# After a change of the flags or their help text: the manual pages.
man:
	UPDATE_MAN=1 $(CARGO) test --locked --lib -- cli::man::

# After a change of Cargo.lock or the features: the spec's generated block, from `cargo tree`.
spec-crates:
	UPDATE_SPEC_CRATES=1 $(CARGO) test --locked --test rpm_spec -- spec_license_and_bundled_provides

demo:
	$(CARGO) build --locked --bins --examples
	test/demo

clean:
	$(CARGO) clean
	rm -rf $(BUILD_DIR)
