# Tok — the two commands first: `make dev` runs Tok locally on the emulators with a demo
# organisation; `make test` runs every test (unit and emulator-backed).
SHELL := /bin/bash
GO ?= go
TOOLS := $(CURDIR)/.tok/tools
GOLANGCI_LINT_VERSION := v2.15.0
GOVULNCHECK_VERSION := v1.8.0
# The public vulnerability database by default; CI points this at an offline copy.
VULNDB ?= https://vuln.go.dev
# Fuzz targets as package:Target:inputs; each runs for that many inputs (about five seconds
# here) in `make fuzz`, part of `make test`. A count, not a duration: a duration's deadline
# races Go's fuzz coordinator (go.dev/issue/75804, fixed in Go 1.27) and fails a target that
# found nothing.
FUZZ_TARGETS := \
	./shared/money:FuzzParseAmount:40000 \
	./shared/money:FuzzValidateIBAN:40000 \
	./shared/ids:FuzzValid:100000 \
	./shared/apikey:FuzzFromHeader:100000 \
	./shared/apikey:FuzzParse:100000 \
	./shared/payments:FuzzAdvance:1000

.PHONY: setup dev test unit fuzz linkcache tffmt lint vuln stage tools clean bench

## setup: installs what dev and test need (Chromium, Java, the emulators) where missing.
setup:
	@bash scripts/setup/setup.sh

dev: setup
	@mkdir -p .tok/bin
	$(GO) build -o .tok/bin/devstack ./emulators/cmd/devstack
	exec .tok/bin/devstack

## test: every test, with the Firestore, Pub/Sub and KMS/Secret Manager emulators started
## once for the run; then the fuzz targets briefly and the Terraform format check.
test: setup
	@$(MAKE) --no-print-directory unit fuzz tffmt

# Test binaries are built with -trimpath, so that a fresh clone reuses what another checkout
# compiled (otherwise the build cache keys each package on its folder), and linked without
# DWARF and symbol table (-s -w), which no test reads: each of the ~75 test binaries links in
# a quarter less time. The local stack builds its functions binary with the same flags
# (emulators/localstack), so the packages compile once for both.
#
# go test links every test binary it runs anew, even of unchanged code (it caches compiled
# packages, not linked tests), so its links go through scripts/linkcache, which keeps each test
# binary in ~/.cache/tok/links under the SHA-256 of the link's inputs: a fresh clone, or a second
# run, copies the binaries of unchanged packages instead of linking them.
LINKCACHE := $(CURDIR)/.tok/bin/linkcache
TESTFLAGS := -trimpath -ldflags='-s -w' -toolexec=$(LINKCACHE)

# Test packages spend most of their time waiting: on the emulators, the local stack, Chromium
# and the SDKs' subprocesses. go test runs as many packages at once as there are cores; twice
# as many kept this 2-core machine busier (make unit on a fresh clone with a warm build cache:
# 309 s at -p 2, 257 and 259 s at -p 4, 287 s at -p 8).
TESTP ?= $(shell echo $$(( 2 * $$(getconf _NPROCESSORS_ONLN) )))

# go test starts packages in the order it is given them, as -p allows, and runs each once:
# the longest ones first, so that none of them is left running alone at the end. (Rank them
# with go test -json, each package's Elapsed.)
SLOWFIRST := ./sdks/sdktest ./emulators/localstack ./e2e/paymentflow ./functions/payments \
	./functions/hostedpages ./functions/callback ./sdks/go/tok ./scripts/stage ./shared/ratelimit

unit: setup linkcache
	$(GO) run ./emulators/cmd/withemulators -logdir .tok/test-logs -- \
		$(GO) test -count=1 -p $(TESTP) $(TESTFLAGS) -timeout 20m $(SLOWFIRST) ./...

fuzz: linkcache
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; rest=$${t#*:}; fn=$${rest%%:*}; n=$${rest##*:}; \
		echo "fuzz $$pkg $$fn ($$n inputs)"; \
		$(GO) test $(TESTFLAGS) -run='^$$' -fuzz="^$$fn\$$" -fuzztime=$${n}x $$pkg; \
	done

linkcache:
	$(GO) build -trimpath -o $(LINKCACHE) ./scripts/linkcache

# terraform fmt where Terraform is installed; the HCL tests in infra/ check formatting
# with hclwrite everywhere.
tffmt:
	@if command -v terraform >/dev/null; then terraform fmt -check -recursive infra && echo "terraform fmt: ok"; \
	else echo "terraform not installed: format checked by the infra tests only"; fi

tools: $(TOOLS)/golangci-lint $(TOOLS)/govulncheck

$(TOOLS)/golangci-lint:
	GOBIN=$(TOOLS) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

$(TOOLS)/govulncheck:
	GOBIN=$(TOOLS) $(GO) install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION)

lint: $(TOOLS)/golangci-lint
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(TOOLS)/golangci-lint run --allow-parallel-runners ./...

vuln: $(TOOLS)/govulncheck
	$(TOOLS)/govulncheck -db $(VULNDB) ./...

## bench: every benchmark on the emulators, several rounds each, one table of Tok against the
## baseline of the same run (README's "Measured here"); fails when a goal is missed by more
## than the noise margin. Not part of `make test` (the benchmarks compile under its go vet).
bench: setup
	$(GO) run ./scripts/bench

## stage: deployable source folders build/<function>/ for Terraform.
stage:
	$(GO) run ./scripts/stage -all

clean:
	rm -rf .tok build
