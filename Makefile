# The GaP harness. `make reproduce TABLE=imagenet` and `make test` do all the
# set-up they need on a fresh Debian 12 machine with Go 1.26 (as root).
SHELL := /bin/bash
GO ?= go
TABLE ?= imagenet
PROFILE ?= default
SEEDS ?= 1
JOBS ?=
DATA ?=
RESULTS ?= results/runs
OLD ?=
NEW ?=
FUZZTIME ?= 10s

APT_PACKAGES := libopenblas-dev dataset-fashion-mnist sword-text-kjv sword-text-sparv libsword-utils libcgal-demo assimp-testmodels

# OpenBLAS is used when its header and library are present (cgo); otherwise the
# pure-Go gonum BLAS. `make BLAS=gonum ...` forces the fallback.
BLAS ?= $(shell { test -e /usr/include/x86_64-linux-gnu/cblas.h || test -e /usr/include/aarch64-linux-gnu/cblas.h || test -e /usr/include/cblas.h; } && /sbin/ldconfig -p 2>/dev/null | grep -q libopenblas && echo openblas || echo gonum)
TAGS = $(if $(filter openblas,$(BLAS)),openblas,)
CGO = $(if $(filter openblas,$(BLAS)),1,0)
GOFLAGS_TAGS = $(if $(TAGS),-tags $(TAGS),)
# The commit results record: HEAD, with -dirty when tracked files differ.
COMMIT := $(shell git rev-parse HEAD 2>/dev/null)$(shell git diff --quiet HEAD -- 2>/dev/null || echo -dirty)
LDFLAGS := -X main.commit=$(COMMIT)

.PHONY: all setup setup-torch build test test-long test-parity test-gpu gpu-step-build vet reproduce report reports-all bench bench-torch compare fuzz clean test-slurm test-slurm-if-root torture

all: build

# setup is idempotent: installs missing Debian packages when root and online,
# otherwise says what is missing and carries on with the fallbacks.
setup:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "setup: installing$$missing"; \
	    (apt-get install -y -qq --no-install-recommends $$missing >/dev/null 2>&1 || \
	     (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends $$missing >/dev/null)) || \
	     echo "setup: could not install$$missing; continuing with fallbacks (pure-Go BLAS, MNIST from the Go module)"; \
	  else \
	    echo "setup: missing Debian packages:$$missing (run as root: apt-get install$$missing); continuing with fallbacks"; \
	  fi; \
	fi
	@$(GO) mod download
	@echo "setup: BLAS=$(BLAS)"

build: setup
	CGO_ENABLED=$(CGO) $(GO) build $(GOFLAGS_TAGS) -ldflags "$(LDFLAGS)" -o bin/gap ./cmd/gap

vet:
	@test -z "$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files -co --exclude-standard '*.go'); exit 1; }
	CGO_ENABLED=$(CGO) $(GO) vet $(GOFLAGS_TAGS) ./...

# The test suite, in both builds: OpenBLAS through cgo (when installed) and
# the pure-Go fallback. The second pass runs with -short: the whole-table
# kill/resume and suite smoke tests, which do not depend on the BLAS, run once.
test: setup vet
	CGO_ENABLED=$(CGO) $(GO) test $(GOFLAGS_TAGS) -timeout 20m ./...
	$(if $(filter openblas,$(BLAS)),CGO_ENABLED=0 $(GO) test -short -timeout 20m ./...,@echo "pure-Go build already tested")
	@$(MAKE) --no-print-directory test-slurm-if-root

# Slow, realistic runs (LeNet-5 on MNIST to 98%, dense sanity runs, kill-and-resume).
test-long: setup
	CGO_ENABLED=$(CGO) $(GO) test -tags "long $(TAGS)" -timeout 120m ./...

# PyTorch (Debian's python3-torch 1.13) for the parity checks and the speed
# reference; installed when root, otherwise the parity tests skip with a message.
setup-torch:
	@/usr/bin/python3 -c 'import torch' 2>/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "setup-torch: installing python3-torch"; \
	    (apt-get install -y -qq python3-torch >/dev/null 2>&1 || (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq python3-torch >/dev/null)) || \
	    echo "setup-torch: could not install python3-torch; parity tests will skip"; \
	  else echo "setup-torch: python3-torch missing (run as root: apt-get install python3-torch); parity tests will skip"; fi; }

# End-to-end checks of every model against PyTorch: same initial weights
# (safetensors), same batches, dropout off; losses of the first steps agree to
# 1e-3 relative. Tests tagged `parity`, named TestParity*, scripts in scripts/torch/.
test-parity: setup setup-torch
	CGO_ENABLED=$(CGO) $(GO) test -tags "parity $(TAGS)" -run 'Parity' -timeout 60m ./...

# GPU checks (CUDA backend conformance against the CPU); skip without a GPU.
test-gpu:
	bash scripts/gpu/check.sh

# The ResNet-50 step check for a GPU machine without Go: build the CUDA test
# binaries into .gpu/ here (gpu-step-build), carry .gpu/ there and run
# scripts/gpu/step.sh (conformance tests, small-ResNet step vs CPU, BenchmarkResNet50Step).
gpu-step-build:
	bash scripts/gpu/step.sh build

# Tests against real Slurm daemons (build tag `slurm`, names TestSlurm*): a
# one-node cluster on localhost (scripts/slurm/start.sh: Debian 12's slurmctld,
# slurmd and munge, installed when missing), the tests, then stop.sh, which
# stops only what start.sh started. Needs root. About 100 s once the packages are
# in (2 cores, loaded), most of it the lenet smoke table run twice: too slow
# for `make test`'s budget, so `make test` does not run it. One package at a
# time (-p 1): the packages share the node's CPUs, and the lenet table would
# hold up experiments/slurm's timing-sensitive tasks.
SLURM_TEST_DIR ?= /tmp/gap-slurm-test
SLURM_TEST_PORT ?= 6827
test-slurm:
	@GAP_SLURM_DIR=$(SLURM_TEST_DIR) GAP_SLURM_PORT=$(SLURM_TEST_PORT) GAP_SLURM_MAX_ARRAY=1001 GAP_SLURM_CRED_EXPIRE=5 scripts/slurm/start.sh
	@. $(SLURM_TEST_DIR)/env.sh && CGO_ENABLED=0 $(GO) test -tags slurm -run 'Slurm' -count=1 -p 1 -timeout 10m ./experiments/slurm/ ./cmd/gap/; \
	  rc=$$?; GAP_SLURM_DIR=$(SLURM_TEST_DIR) scripts/slurm/stop.sh; exit $$rc

# test-slurm when it can run (root, and the Slurm packages installed or
# installable); otherwise a message saying why it was skipped.
test-slurm-if-root:
	@if [ "$$(id -u)" != 0 ]; then echo "test-slurm: skipped: needs root to start slurmctld, slurmd and munged (run: sudo make test-slurm)"; \
	elif ! { [ -x /usr/sbin/slurmctld ] && [ -x /usr/sbin/slurmd ] && [ -x /usr/bin/sbatch ] && [ -x /usr/sbin/munged ]; } && ! command -v apt-get >/dev/null; then \
	  echo "test-slurm: skipped: Slurm is not installed and there is no apt-get (Debian 12: slurmctld slurmd slurm-client munge)"; \
	else GAP_SLURM_DIR=$(SLURM_TEST_DIR) GAP_SLURM_PORT=$(SLURM_TEST_PORT) GAP_SLURM_MAX_ARRAY=1001 GAP_SLURM_CRED_EXPIRE=5 scripts/slurm/start.sh; rc=$$?; \
	  if [ $$rc = 3 ]; then echo "test-slurm: skipped: the Slurm packages could not be installed (offline?)"; exit 0; fi; \
	  [ $$rc = 0 ] || exit $$rc; \
	  . $(SLURM_TEST_DIR)/env.sh && CGO_ENABLED=0 $(GO) test -tags slurm -run 'Slurm' -count=1 -p 1 -timeout 10m ./experiments/slurm/ ./cmd/gap/; \
	  rc=$$?; GAP_SLURM_DIR=$(SLURM_TEST_DIR) scripts/slurm/stop.sh; exit $$rc; \
	fi

reproduce: build
	bin/gap reproduce -table $(TABLE) -profile $(PROFILE) -seeds $(SEEDS) -results $(RESULTS) \
	  $(if $(JOBS),-jobs $(JOBS),) $(if $(DATA),-data $(DATA),)

report: build
	bin/gap report -table $(TABLE) -results $(RESULTS)

# Every table's report and the index reports/README.md.
reports-all: build
	bin/gap report -all -results $(RESULTS)

# Engine benchmarks in Go's benchmark format, for benchstat (make compare).
bench: setup
	@mkdir -p out
	CGO_ENABLED=$(CGO) $(GO) test $(GOFLAGS_TAGS) -run '^$$' -bench . -benchtime 5x -count 5 ./engine/... ./models/... | tee out/bench-$$(git rev-parse --short HEAD 2>/dev/null || echo nogit).txt

# Times the project's PyTorch reference (scripts/torch/reference.py, Debian's
# python3-torch) beside `gap bench step`, model by model in the same minute.
bench-torch: build setup-torch
	@/usr/bin/python3 -c 'import torch' 2>/dev/null || { echo "bench-torch: PyTorch missing (run as root, or apt-get install python3-torch)"; exit 1; }
	@for m in mlp lenet5 conv2 resnet20; do \
	  b=128; [ $$m = conv2 ] && b=64; \
	  /usr/bin/python3 scripts/torch/reference.py $$m --batch $$b --threads 2 --steps 10 || exit 1; \
	  bin/gap bench step -model $$m -batch $$b -threads 2 -steps 10 || exit 1; \
	done

# Compares two benchmark files (make bench output, or `gap bench export`) with benchstat.
compare: build
	@test -n "$(OLD)" -a -n "$(NEW)" || { echo "usage: make compare OLD=old.txt NEW=new.txt"; exit 2; }
	bin/gap bench compare $(OLD) $(NEW)

fuzz: setup
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# Hostile-user sweeps (not part of make test): a generated corpus of bad
# inputs through every parser of the CLI, then random SIGKILLs over a smoke
# table with every method and a bit-for-bit comparison of resumed runs.
# TRIALS sets the number of kill-and-resume trials (0 skips the sweep).
TRIALS ?= 20
torture: build
	scripts/torture/run.sh -gap bin/gap -trials $(TRIALS)

clean:
	rm -rf bin out
