# The two commands README promises: `make demo` and `make test`.
GO        ?= go
BINARY    ?= monero_exporter
VERSION   ?= $(shell cat VERSION 2>/dev/null || echo 0.0.0)
REVISION  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
BRANCH    ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)
VERSION_PKG := github.com/prometheus/common/version
LDFLAGS   := -s -w -X $(VERSION_PKG).Version=$(VERSION) -X $(VERSION_PKG).Revision=$(REVISION) \
             -X $(VERSION_PKG).Branch=$(BRANCH) -X $(VERSION_PKG).BuildUser=make \
             -X $(VERSION_PKG).BuildDate=$(shell date -u +%Y%m%d-%H:%M:%S)

.PHONY: all build test lint demo bench generate fuzz vulncheck clean

all: build

# A static binary: the Dockerfile runs this same target.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BINARY) ./cmd/monero_exporter

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi
	$(GO) vet ./...

# Every test: unit, integration against real regtest monerods (they fail
# rather than skip when CI is set), with the race detector.
FUZZTIME ?= 10s

test: lint build
	FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh
	$(GO) test -race -count=1 -timeout 20m ./...

# Each fuzz target for FUZZTIME (their seed corpora already run in go test).
fuzz:
	FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh

# Re-render the alert rules (from alerts/config.yml) and the dashboards.
generate:
	$(GO) generate ./alerts ./dashboards

# Known vulnerabilities in the code and its dependencies. Needs vuln.go.dev,
# which this project's machines cannot reach, so it is not part of make test.
# v1.8.0: the newest govulncheck whose dependencies the Go proxy serves here.
vulncheck:
	$(GO) run golang.org/x/vuln/cmd/govulncheck@v1.8.0 ./...

demo: build
	bash scripts/demo.sh

clean:
	rm -rf $(BINARY) .demo

# Figures for README's performance section: a real monerod, the real binary.
bench:
	MONERO_EXPORTER_BENCH=1 $(GO) test -count=1 -run '^TestBenchReport$$' -v ./cmd/monero_exporter | grep -v -E '^(=== RUN|--- PASS|PASS|ok )'
	$(GO) test -run '^$$' -bench . -benchmem ./collector/
