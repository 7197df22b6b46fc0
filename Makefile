# apphub-infra — the two commands a platform engineer needs:
#   make up     bring the dev platform up (STACK=prod for production)
#   make test   run the tests CI runs
SHELL := /bin/bash
.DEFAULT_GOAL := help

STACK ?= dev
# Every version is pinned once, in a go.mod: the CLI's in tools/go.mod, the
# SDKs' (and so the provider plugins') in go.mod.
PULUMI_VERSION := $(shell $(CURDIR)/tools/pin.sh $(CURDIR)/tools/go.mod github.com/pulumi/pulumi/pkg/v3)
BIN := $(CURDIR)/bin
PULUMI := $(BIN)/pulumi

# Local file:// state inside the project unless the caller chose a backend.
export PULUMI_BACKEND_URL ?= file://$(CURDIR)/.pulumi-state
# Secrets: PULUMI_CONFIG_PASSPHRASE_FILE (or PULUMI_CONFIG_PASSPHRASE), as the
# Pulumi CLI reads them. Nothing is exported here: only the dev stack may
# use the empty passphrase, and gets it when neither is set
# (tools/passphrase-env.sh stops any other stack without one).
PASSPHRASE = pp=$$($(CURDIR)/tools/passphrase-env.sh $(STACK)) && eval "$$pp"
export PULUMI_SKIP_UPDATE_CHECK := true

.PHONY: help
help:
	@echo "make stack [STACK=...]     create (or select) the stack, to set config before the first up"
	@echo "make up [STACK=dev|prod]   create or update the platform stack"
	@echo "make preview [STACK=...]   show what 'up' would change"
	@echo "make down [STACK=...]      destroy the platform stack"
	@echo "make test                  vet and run the tests (what CI runs)"
	@echo "make pulumi                build the pinned Pulumi CLI into ./bin"
	@echo "make plugins               provider plugins + Go language host for the e2e tier"
	@echo "make apphubctl             build the catalog's CLI and HTTP API into ./bin"
	@echo "make bench                 the benchmark suite (docs/benchmarks.md)"

# The Pulumi CLI, built from the pinned module; the version ldflag lets the
# Automation API read the CLI's version.
$(PULUMI): tools/go.mod tools/go.sum
	@mkdir -p $(BIN)
	cd tools && go build -o $(PULUMI) \
	  -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$(PULUMI_VERSION)" \
	  github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
	@touch $(PULUMI)

.PHONY: pulumi
pulumi: $(PULUMI)

# up, preview and down run main.go through a CLI with the Go language host
# (tools/find-pulumi.sh picks an installed official CLI, else ./bin/pulumi
# with pulumi-language-go beside it) and stop, saying how to get one, before
# anything is built or created.
FIND_PULUMI := $(CURDIR)/tools/find-pulumi.sh

.PHONY: stack
stack:
	@$(PASSPHRASE) && cli=$$($(FIND_PULUMI)) && mkdir -p .pulumi-state && \
	  $$cli stack select --create $(STACK) --non-interactive

.PHONY: up
up:
	@$(PASSPHRASE) && cli=$$($(FIND_PULUMI)) && mkdir -p .pulumi-state && \
	  $$cli stack select --create $(STACK) --non-interactive && \
	  $$cli up --stack $(STACK) $(if $(filter dev,$(STACK)),--yes,)

.PHONY: preview
preview:
	@$(PASSPHRASE) && cli=$$($(FIND_PULUMI)) && mkdir -p .pulumi-state && \
	  $$cli stack select --create $(STACK) --non-interactive && \
	  $$cli preview --stack $(STACK) --diff

.PHONY: down
down:
	@$(PASSPHRASE) && cli=$$($(FIND_PULUMI)) && \
	  $$cli destroy --stack $(STACK) $(if $(filter dev,$(STACK)),--yes,)

# Provider plugins and the Go language host for the tests' PULUMI_HOME:
# from ../shared/pulumi where it exists (machines that cannot download
# them; the tests then never reach for the network), else downloaded by the
# CLI. The language host goes beside ./bin/pulumi, where the CLI looks for
# its bundled hosts.
SHARED_PULUMI := $(abspath $(CURDIR)/../shared/pulumi)
TEST_PULUMI_HOME ?= $(CURDIR)/.pulumi-home
ifneq ($(wildcard $(SHARED_PULUMI)/install.sh),)
E2E_ENV := PULUMI_HOME=$(TEST_PULUMI_HOME) PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
else
E2E_ENV := PULUMI_HOME=$(TEST_PULUMI_HOME)
endif

.PHONY: plugins
plugins: $(PULUMI)
	@set -eo pipefail; \
	if [ -x "$(SHARED_PULUMI)/install.sh" ]; then \
	  PULUMI=$(PULUMI) "$(SHARED_PULUMI)/install.sh" "$(TEST_PULUMI_HOME)" "$(BIN)"; \
	else \
	  go run ./cmd/apphubctl plugins | while read -r name version; do \
	    PULUMI_HOME="$(TEST_PULUMI_HOME)" $(PULUMI) plugin install resource "$$name" "$$version" || exit 1; \
	  done; \
	  echo "plugins: downloaded into $(TEST_PULUMI_HOME); the e2e tier also needs pulumi-language-go beside $(PULUMI) or on PATH"; \
	fi

.PHONY: vet
vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	go vet ./...
	go vet -tags clitest ./...
	go vet -tags cluster ./...
	go vet -tags e2e ./...
	go vet -tags e2e,realnode ./...

# Tiers: unit + mocks (seconds), then the Automation API, HTTP API and CLI
# against the real Pulumi CLI and a file:// backend (build tag clitest).
.PHONY: test
test: vet test-unit test-cli test-cluster test-bench

.PHONY: test-unit
test-unit:
	go test -count=1 ./...

.PHONY: test-cli
test-cli: $(PULUMI)
	go test -count=1 -tags clitest -timeout 20m ./automation/... ./server/... ./cmd/... ./bench/...

# The cluster tier runs against $$KUBECONFIG when APPHUB_CLUSTER_TESTS=1
# (.ci/run starts ../shared/kube/up.sh and sets both). The end-to-end tier
# runs with it: the real providers and the Go language host from `make
# plugins`; it fails, never skips, when they are missing. With
# APPHUB_REAL_NODE=1 (.ci/run starts ../shared/kube/node/up.sh) the
# real-node tier follows: previews and builds that really run.
.PHONY: test-cluster
test-cluster: $(PULUMI)
	@if [ "$${APPHUB_CLUSTER_TESTS:-}" = 1 ]; then \
	  set -e; \
	  $(MAKE) --no-print-directory plugins; \
	  go test -count=1 -tags cluster -timeout 20m -v ./internal/testing/kubetier/...; \
	  $(E2E_ENV) go test -count=1 -tags e2e -timeout 40m -v ./e2e/...; \
	  if [ "$${APPHUB_REAL_NODE:-}" = 1 ]; then \
	    $(E2E_ENV) go test -count=1 -tags e2e,realnode -run '^TestRealNode' -timeout 70m -v ./e2e/; \
	  else \
	    echo "real-node tier off: run ../shared/kube/node/up.sh (KUBE_NODE_BUILDKIT=1), export APPHUB_REAL_NODE=1"; \
	  fi; \
	else \
	  echo "cluster tier off: run ../shared/kube/up.sh, export KUBECONFIG=... APPHUB_CLUSTER_TESTS=1"; \
	fi

# A short run of every benchmark (failed operations or damaged state fail
# it; speed targets never gate make test, only `make bench` checks them): the programs
# under mocks, and the Automation API at 1 and 20 in flight (20 concurrent
# operations without error or state damage is a target) against the naive
# baseline. The cluster comparison runs in test-cluster's tier. The full
# suite with the published figures is `make bench`.
.PHONY: test-bench
test-bench: $(PULUMI)
	go test -count=1 -run '^$$' -bench Program -benchtime 3x -benchmem ./stacks
	go run ./bench automation -levels 1,20 -baseline-levels 1 -sequential 3
	go run ./bench queue -levels 1,20 -ops 50 >/dev/null
	go run ./bench serve-kill -requests 50 -check >/dev/null
	@if [ "$${APPHUB_CLUSTER_TESTS:-}" = 1 ]; then \
	  go test -count=1 -tags cluster -run '^$$' -bench PreviewCreateOnCluster -benchtime 2x ./internal/testing/kubetier; \
	  $(E2E_ENV) go test -count=1 -tags e2e -run '^$$' -bench PulumiPreviewOnCluster -benchtime 2x -v ./e2e; \
	fi

# The full benchmark suite; figures and how to read them: docs/benchmarks.md.
.PHONY: bench
bench: $(PULUMI)
	go test -count=1 -run '^$$' -bench Program -benchmem ./stacks
	go run ./bench automation -check
	go run ./bench queue
	go run ./bench serve-kill -check
	@if [ -n "$${KUBECONFIG:-}" ]; then \
	  go test -count=1 -tags cluster -run '^$$' -bench PreviewCreateOnCluster -benchtime 5x ./internal/testing/kubetier; \
	  $(MAKE) --no-print-directory plugins; \
	  $(E2E_ENV) go test -count=1 -tags e2e -run '^$$' -bench PulumiPreviewOnCluster -benchtime 3x -v ./e2e; \
	else \
	  echo "cluster comparison skipped: start ../shared/kube/up.sh and export KUBECONFIG"; \
	fi
	@if [ "$${APPHUB_REAL_NODE:-}" = 1 ]; then \
	  $(E2E_ENV) APPHUB_BENCH_TARGETS=1 go test -count=1 -tags e2e,realnode -run '^TestRealNodeBuildCache$$' -timeout 40m -v ./e2e; \
	else \
	  echo "build cache figures skipped: start ../shared/kube/node/up.sh (KUBE_NODE_BUILDKIT=1), export APPHUB_REAL_NODE=1"; \
	fi
	go run ./bench build

.PHONY: apphubctl
apphubctl:
	go build -o $(BIN)/apphubctl ./cmd/apphubctl
