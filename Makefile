# crio-credential-provider
#   make                 release binary at build/crio-credential-provider
#   make REGISTRIES_CONF=/path   ... with another default registries.conf baked in
#   make test            formatting, lints, unit, integration and conformance tests
#   make e2e             end to end with docker-registry, skopeo and a private journald
#   make bench           speed and footprint against their floors (build/bench.json)
#   make demo            the whole main path locally, against the stand-in API server

CARGO ?= cargo
BUILD_DIR ?= build
BINARY := crio-credential-provider
REGISTRIES_CONF ?=

ifneq ($(REGISTRIES_CONF),)
export CRIO_CREDENTIAL_PROVIDER_REGISTRIES_CONF := $(REGISTRIES_CONF)
endif

.PHONY: all build test lint e2e bench demo clean

all: build

build:
	$(CARGO) build --release --locked
	mkdir -p $(BUILD_DIR)
	cp target/release/$(BINARY) $(BUILD_DIR)/$(BINARY)

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

test: lint
	$(CARGO) build --locked --examples
	$(CARGO) test --locked --bins --tests

# Real registry, skopeo and journald (root; .ci/run installs the packages).
e2e:
	$(CARGO) test --locked --test e2e -- --ignored

# Medians of whole-process runs against their floor; table on stdout, JSON in build/bench.json.
bench: build
	BENCH_BINARY=$(BUILD_DIR)/$(BINARY) BENCH_JSON=$(BUILD_DIR)/bench.json $(CARGO) bench --locked --bench provider

demo:
	$(CARGO) build --locked --bins --examples
	test/demo

clean:
	$(CARGO) clean
	rm -rf $(BUILD_DIR)
