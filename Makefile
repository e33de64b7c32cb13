# make demo and make test are the two commands README starts with; the other
# targets are what a Prometheus-ecosystem repository has beside them.
#
# Go 1.26.8, the machines' default, has standard-library vulnerabilities
# reachable from this code (net/http, crypto/tls, ...); everything is built
# and tested with the toolchain that fixes them. The go command downloads it
# from the module proxy the first time.
export GOTOOLCHAIN := go1.27.3

GO        ?= go
BINARY    ?= monero_exporter
VERSION   ?= $(shell cat VERSION 2>/dev/null || echo 0.0.0)
REVISION  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
BRANCH    ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)
VERSION_PKG := github.com/prometheus/common/version
LDFLAGS   := -s -w -X $(VERSION_PKG).Version=$(VERSION) -X $(VERSION_PKG).Revision=$(REVISION) \
             -X $(VERSION_PKG).Branch=$(BRANCH) -X $(VERSION_PKG).BuildUser=make \
             -X $(VERSION_PKG).BuildDate=$(shell date -u +%Y%m%d-%H:%M:%S)

# The Go vulnerability database, from a pinned version of golang.org/x/vulndb
# (served by the module proxy), so that make vulncheck needs no internet and
# gives the same answer for the same commit.
VULNDB_VERSION ?= v0.0.0-20261105234957-e22db6528018
VULNDB_DIR     := .cache/vulndb-$(VULNDB_VERSION)

.PHONY: all build test test-deps lint vulncheck fuzz demo demo-fleet bench generate clean

all: build

# A static binary: the Dockerfile runs this same target.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BINARY) ./cmd/monero_exporter

# Every test, the same answer for the same commit: lint, known
# vulnerabilities, then unit and integration tests (against real regtest
# monerods, Prometheus and Alertmanager; they fail rather than skip when CI
# is set) with the race detector. The fuzz targets' seed corpora and the
# inputs they found (testdata/fuzz) run as ordinary tests; the fuzzing
# engine runs only in make fuzz.
test: test-deps lint vulncheck build
	$(GO) test -race -count=1 -timeout 20m ./...

# Installs the Debian packages the integration tests need when run as root
# with apt-get; elsewhere names what will be skipped.
test-deps:
	@bash scripts/test-deps.sh

# golangci-lint, pinned by go.mod's tool directive; .golangci.yml says which
# linters and formatters. It runs go vet among them.
lint:
	$(GO) tool golangci-lint run ./...

vulncheck: $(VULNDB_DIR)/index/db.json
	$(GO) tool govulncheck -db file://$(abspath $(VULNDB_DIR)) ./...

$(VULNDB_DIR)/index/db.json:
	@rm -rf $(VULNDB_DIR).tmp && mkdir -p $(VULNDB_DIR).tmp
	$(GO) run golang.org/x/vulndb/cmd/indexdb@$(VULNDB_VERSION) \
	  -vulns "$$($(GO) mod download -json golang.org/x/vulndb@$(VULNDB_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p')/data/osv" \
	  -out $(VULNDB_DIR).tmp
	@rm -rf $(VULNDB_DIR) && mv $(VULNDB_DIR).tmp $(VULNDB_DIR)

# Each fuzz target for FUZZTIME. A failing input is written under
# <package>/testdata/fuzz/<Target>/: commit it with the fix.
FUZZTIME ?= 30s
fuzz:
	FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh

# Re-render the alert rules (from alerts/config.yml) and the dashboards.
generate:
	$(GO) generate ./alerts ./dashboards

demo: build
	bash scripts/demo.sh

# The whole stack: three regtest nodes, the exporter's /probe, Prometheus
# with the mixin's alerts (demo durations) and Alertmanager. DEMO_FAULTS=1
# stalls, forks and heals a node on a timer. Kept beside make demo, which
# stays the quick look at one node.
demo-fleet: build
	GO=$(GO) bash scripts/demo-fleet.sh

# The figures of docs/performance.md: a real monerod, the real binary.
bench:
	$(GO) test -tags bench -count=1 -timeout 60m -run '^TestBench(Report|Mainnet)$$' -v ./cmd/monero_exporter | grep -v -E '^ *(=== RUN|--- PASS|PASS|ok )'
	$(GO) test -run '^$$' -bench . -benchmem ./collector/

clean:
	rm -rf $(BINARY) .demo .demo-fleet .cache
