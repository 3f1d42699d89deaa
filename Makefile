# vpcctl — every target installs what it needs first, so a fresh machine only
# needs `sudo make demo` or `sudo make test`.
SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:/root/.cargo/bin:$(PATH)
.DEFAULT_GOAL := build

DEBS := libnftables1 netbase nftables iproute2 util-linux strace procps time etcd-server python3 bsdutils
RUST_SRC := $(shell find crates -name '*.rs' -o -name Cargo.toml) Cargo.toml $(wildcard Cargo.lock)
TS_SRC := $(shell find src -name '*.ts') tsconfig.json

.PHONY: install deps test-deps build test test-unit demo demo-cluster bench clean

install: deps node_modules/.stamp build

# Debian packages $(1), only those missing (apt-get update once, then install).
define apt_install
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
endef

deps:
	$(call apt_install,$(DEBS))
	@command -v cargo >/dev/null || { echo "cargo not found: install Rust (https://rustup.rs) to build the native module" >&2; exit 1; }

# Only the tests need a browser: the dashboard's (vpcctl ui) are driven in Debian's chromium by playwright-core.
TEST_DEBS := chromium
test-deps:
	$(call apt_install,$(TEST_DEBS))
	@# The packed package is installed offline in a test: the registry metadata of its dependencies (scripts/runtime-deps.mjs).
	npm cache add --prefer-offline --no-audit --no-fund $$(node scripts/runtime-deps.mjs)

node_modules/.stamp: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

build: node_modules/.stamp .stamp-native dist/.stamp topology.schema.json

# napi names the .node file after this machine's platform triple (vpcctl.linux-x64-gnu.node, ...).
.stamp-native: $(RUST_SRC) | node_modules/.stamp
	npx napi build --platform --release --esm --manifest-path crates/vpcctl-node/Cargo.toml --output-dir .
	@touch $@

dist/.stamp: $(TS_SRC) scripts/bundle-cli.mjs scripts/bundle-ui.mjs scripts/gen-man.mjs bin/compile-cache.cjs .stamp-native | node_modules/.stamp
	npx tsc -p tsconfig.json
	node scripts/bundle-cli.mjs
	node scripts/bundle-ui.mjs
	node scripts/gen-man.mjs
	@touch $@

topology.schema.json: src/model/schema.ts | node_modules/.stamp
	npx tsx scripts/gen-schema.ts

test: install test-deps
	@bash scripts/test.sh

# Pure logic only: no root, no kernel.
test-unit: node_modules/.stamp
	npx ava test/unit

demo: install
	./vpcctl demo

# One VPC over three simulated hosts (etcd, agents, VXLAN), inside a sandbox.
demo-cluster: install
	scripts/sandbox.sh npx tsx scripts/demo-cluster.ts

bench: install
	bash bench/run.sh

clean:
	rm -rf dist target node_modules vpcctl.*.node .stamp-native
