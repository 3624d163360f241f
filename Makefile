# hcp-etcd-backup: `make demo` and `make test` work on a fresh Debian 12 / Ubuntu machine with Node 20+.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The demo needs etcd and openssl only; the tests add Ceph (RGW is their S3 server), a real kubectl (the
# Kubernetes simulator's tests drive it), promtool (package prometheus: checks the alert rules and the metrics
# textfile) and a real Pushgateway; the benchmarks add awscli. kubernetes-client ships /usr/bin/kubectl, so
# a machine whose kubectl comes from another package (Google's Cloud SDK) keeps its own: dpkg refuses the clash.
DEMO_APT_PACKAGES := etcd-server etcd-client openssl
KUBECTL_APT := $(if $(shell command -v kubectl 2>/dev/null),,kubernetes-client)
APT_PACKAGES := $(DEMO_APT_PACKAGES) ceph-mon ceph-osd radosgw ceph-common $(KUBECTL_APT) prometheus prometheus-pushgateway zsh
BENCH_APT_PACKAGES := awscli time
# Every test file, with the leftover check last: it asserts the others cleaned up after themselves.
LAST_TEST := test/zz-no-leftovers.test.ts
TEST_FILES := $(filter-out $(LAST_TEST),$(shell find test -name '*.test.ts' | sort)) $(LAST_TEST)
# strict-process fails a test file's process on any unhandled rejection and gives each file a temp directory
# of its own (test/support/file-tmpdir.ts); node --test passes --import on to the per-file processes it starts.
# Two files run at once, one per core: most of a file's time is spent waiting on etcd, Ceph and the
# simulator's controllers. Every port comes from freePorts and every file has its own temp directory, so
# they never meet; the last file waits for the other before it checks for leftovers.
NODE_TEST := node --import tsx --import ./test/support/strict-process.ts --test --test-concurrency=2 --test-timeout=600000
# Pure tests: no etcd, no Ceph, no network; the whole tier runs in seconds.
# Run with a scrubbed environment: no AWS_*, KUBECONFIG, in-cluster or proxy variables, TZ=UTC (the
# preload test/support/hermetic-env.ts does the same for a bare `node --test`).
UNIT_ENV = env $$(compgen -e | grep -E '^(AWS_|KUBERNETES_SERVICE_|KUBECONFIG$$|([Hh][Tt][Tt][Pp][Ss]?|[Aa][Ll][Ll]|[Nn][Oo])_[Pp][Rr][Oo][Xx][Yy]$$)' | sed 's/^/-u /') TZ=UTC
UNIT_TEST_FILES := $(shell find test/unit -name '*.test.ts' 2>/dev/null | sort)

.PHONY: help setup apt apt-demo npm build lint typecheck test test-unit demo bench clean

help:
	@echo "make demo   - install what is missing, build, run the sandbox walk-through"
	@echo "make test   - install what is missing, build, lint, typecheck, run every test"
	@echo "make test-unit - the pure tests under test/unit (no etcd, no Ceph; seconds)"
	@echo "make bench  - run the benchmarks (results: docs/benchmarks.md)"

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

npm: node_modules/.package-lock.json

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
test-unit: npm
	@test -n "$(UNIT_TEST_FILES)" || { echo "no test files under test/unit"; exit 1; }
	$(UNIT_ENV) $(NODE_TEST) --test-timeout=30000 $(UNIT_TEST_FILES)

demo: apt-demo npm build
	./dist/src/cli/main.js demo

bench: EXTRA_APT := $(BENCH_APT_PACKAGES)
bench: setup build
	node --import tsx bench/run.ts

clean:
	rm -rf dist
