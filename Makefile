# provision's build, tests and demo.
#
#   make build      static binary in bin/provision
#   make test       deps, fast tests, then the end-to-end tests (root)
#   make test-unit  fast tests only
#   make test-e2e   end-to-end tests only: real systemd in containers (root)
#   make lint       gofmt, go vet (e2e files included)
#   make bench      benchmarks
#   make demo       examples/demo for real in a throwaway container (root)
#   make deb        dist/provision_VERSION_ARCH.deb (amd64, arm64), lintian-checked
#   make dist       the packages, tarballs of the binaries and SHA256SUMS
#
# The end-to-end tests skip without root, and fail instead under CI=true.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

GO      ?= go
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
E2E_TIMEOUT ?= 15m
# Extra flags for go test, e.g. GOTESTFLAGS=-v or GOTESTFLAGS='-run Smoke'.
GOTESTFLAGS ?=

export PATH := $(PATH):/usr/local/go/bin

.PHONY: build test test-unit test-e2e deps lint bench demo clean fuzz

# BIN is where build writes the binary. The release build has no crash
# points: only the end-to-end tests build with -tags crashpoints.
BIN ?= bin/provision
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/provision

test: deps
	$(GO) test $(GOTESTFLAGS) ./...
	$(GO) test -tags e2e -count=1 -timeout $(E2E_TIMEOUT) -v $(GOTESTFLAGS) ./internal/nspawn/ ./test/e2e/... \
		| grep -E --line-buffered -v '^(=== (RUN|PAUSE|CONT)|    --- PASS:)'

test-unit:
	$(GO) test $(GOTESTFLAGS) ./...

test-e2e: deps
	$(GO) test -tags e2e -count=1 -timeout $(E2E_TIMEOUT) -v $(GOTESTFLAGS) ./internal/nspawn/ ./test/e2e/...

# The Debian packages the demo and the tests use on the host, as pairs
# FILE=PACKAGE: systemd-nspawn boots the containers; sudo's visudo and sudo
# run inside them; the demo runs Redis and Debian's Sidekiq; cloud-init runs
# in the cloud-init test's container (its units are masked in the others);
# lintian checks the .deb, python3-prometheus-client parses verify's
# textfile, bash-completion runs the package's completion and ansible-core
# runs examples/ansible. Containers see the host's
# /, so all must be installed before one boots. Installed only when missing.
DEMO_PKGS := /usr/bin/systemd-nspawn=systemd-container /usr/sbin/visudo=sudo \
	/usr/bin/redis-server=redis-server /usr/bin/sidekiq=ruby-sidekiq
TEST_PKGS := $(DEMO_PKGS) /usr/bin/cloud-init=cloud-init /usr/bin/lintian=lintian \
	/usr/lib/python3/dist-packages/prometheus_client=python3-prometheus-client \
	/usr/share/bash-completion/bash_completion=bash-completion \
	/usr/bin/ansible-playbook=ansible-core

# install-missing installs the packages of the FILE=PACKAGE pairs $(1)
# whose file is missing. Without root it only says what is missing.
define install-missing
	@missing=; \
	for pair in $(1); do test -e "$${pair%%=*}" || missing="$$missing $${pair#*=}"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" -ne 0 ]; then \
		echo "$@: missing:$$missing; install them as root: apt-get install$$missing" >&2; \
		exit 0; \
	fi; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get install -y $$missing || { apt-get update && apt-get install -y $$missing; }
endef

deps:
	$(call install-missing,$(TEST_PKGS))

.PHONY: demo-deps
demo-deps:
	$(call install-missing,$(DEMO_PKGS))

lint:
	@unformatted=$$(gofmt -l .); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags e2e ./internal/nspawn/ ./test/e2e/...

# bench: the Go benchmarks (check phase on a temporary root), then
# bench/run: provision against bench/sidekiq.sh and ansible-playbook on
# bench/sidekiq.yml, each in fresh real-systemd containers (root), with
# verification after every run. BENCHFLAGS passes flags to bench/run, e.g.
# BENCHFLAGS='-rounds 1 -analyze=false'; the tables also go to
# bin/bench.md. About 2.5 minutes.
BENCHFLAGS ?=
bench: build bench-deps
	$(GO) test -run '^$$' -bench . -benchmem ./...
	CGO_ENABLED=0 $(GO) build -o bin/bench ./bench/run
	./bin/bench -bin bin/provision -markdown bin/bench.md $(BENCHFLAGS)

# What bench/run needs on the host, installed only when missing and before
# any container boots (containers are overlays of the host's /): Ansible,
# GNU time, strace, besides the end-to-end tests' deps.
.PHONY: bench-deps
bench-deps: deps
	@missing=; \
	command -v ansible-playbook >/dev/null || missing="$$missing ansible-core"; \
	test -x /usr/bin/time || missing="$$missing time"; \
	command -v strace >/dev/null || missing="$$missing strace"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" -ne 0 ]; then \
		echo "bench-deps: missing:$$missing; install them as root: apt-get install$$missing" >&2; \
		exit 1; \
	fi; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get install -y --no-install-recommends $$missing || { apt-get update && apt-get install -y --no-install-recommends $$missing; }

# demo: examples/demo in a throwaway container (root), see
# internal/nspawn/demo. About 10 seconds once the packages are there.
demo: build demo-deps
	$(GO) build -o bin/demo ./internal/nspawn/demo
	./bin/demo -bin bin/provision -dir examples/demo

# Packages and release archives, in DIST. make deb builds
# provision_DEBVERSION_ARCH.deb for each of DEB_ARCHES with dpkg-deb
# (packaging/mkdeb), from static binaries and the man page and completion
# the binary prints, and fails when lintian reports an error. make dist
# starts from an empty DIST, builds the packages, a tarball of each binary
# (with the man page and completion) and SHA256SUMS of them all.
DIST ?= dist
DEB_ARCHES ?= amd64 arm64
DEB_MAINTAINER ?= $(shell git log -1 --format='%an <%ae>' 2>/dev/null)
.PHONY: deb deb-deps dist

deb-deps:
	$(call install-missing,/usr/bin/lintian=lintian)

deb: build deb-deps
	@for arch in $(DEB_ARCHES); do \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(DIST)/linux_$$arch/provision ./cmd/provision; \
		deb=$$(GO=$(GO) MAINTAINER='$(DEB_MAINTAINER)' packaging/mkdeb '$(VERSION)' $$arch $(DIST)/linux_$$arch/provision $(BIN) $(DIST)); \
		echo "deb: $$deb"; \
		lintian --fail-on error $$deb; \
	done

dist:
	rm -rf $(DIST)
	$(MAKE) deb
	@epoch=$$(git log -1 --format=%ct 2>/dev/null || date +%s); \
	for arch in $(DEB_ARCHES); do \
		d=provision_$(VERSION)_linux_$$arch; \
		mkdir $(DIST)/$$d; \
		cp $(DIST)/linux_$$arch/provision $(DIST)/$$d/; \
		$(BIN) help --man > $(DIST)/$$d/provision.8; \
		$(BIN) help --bash-completion > $(DIST)/$$d/provision.bash-completion; \
		tar -C $(DIST) --sort=name --owner=0 --group=0 --numeric-owner --mtime=@$$epoch -cf - $$d | gzip -9n > $(DIST)/$$d.tar.gz; \
		rm -r $(DIST)/$$d; \
	done; \
	cd $(DIST) && sha256sum *.deb *.tar.gz > SHA256SUMS && cat SHA256SUMS

# Each Fuzz* target of each package in turn, FUZZTIME each (go test runs
# one fuzz target at a time). New crashers land in the package's
# testdata/fuzz and fail the target.
FUZZTIME ?= 60s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for target in $$($(GO) test -list '^Fuzz' "$$pkg" | grep '^Fuzz' || true); do \
			echo "fuzz: $$pkg $$target for $(FUZZTIME)"; \
			$(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) "$$pkg"; \
		done; \
	done

clean:
	rm -rf bin $(DIST)
