# The commands a developer runs, and CI runs through .ci/run.
#
# The module needs Go 1.27. GOTOOLCHAIN=auto lets an older go command (1.21
# or newer; these machines have 1.26) fetch the go1.27.3 toolchain that
# go.mod names, once per machine, from the module proxy.
export GOTOOLCHAIN := auto

GO ?= go
# The toolchain's own gofmt, which knows the language version go.mod names.
GOFMT = "$$($(GO) env GOROOT)/bin/gofmt"
# Statement coverage the package must keep.
COVER_MIN ?= 95
# Tools, pinned, run with go run so that go.mod gains no dependencies.
STATICCHECK = honnef.co/go/tools/cmd/staticcheck@v0.8.2
BENCHSTAT = golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
# How many times make bench runs each benchmark; the table shows medians.
BENCHCOUNT ?= 6
# The toolchain go.mod names, for the progress messages.
GOVERSION = $(shell sed -n 's/^toolchain go//p' go.mod)
# How long make fuzz runs each fuzz target.
FUZZTIME ?= 30s
# Every fuzz target of the package, one per contract type.
FUZZ_TARGETS = $(shell grep -ho '^func Fuzz[A-Za-z0-9_]*' *_test.go | cut -c6-)

.PHONY: demo test fmtcheck vet crossvet crosstest lint apicheck apibaseline cover bench benchinstr benchlifecycle fuzz schema schemacheck tscheck golden

## demo: start a real daemon and walk its lifecycle through the contract.
demo:
	@echo "== make demo: building the demo (a first run downloads Go $(GOVERSION) and builds the standard library: about half a minute)" >&2
	$(GO) run ./examples/demo

## test: formatting check, go vet, and every test under the race detector,
## but for the API check (make apicheck runs it; it has no goroutines, and
## costs 13 s under -race against 2 s without).
test: fmtcheck vet
	@echo "== make test: every package under the race detector (a first run builds the standard library for the race detector: about a minute)" >&2
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /internal/apicheck$$)

fmtcheck:
	@out=$$($(GOFMT) -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	@echo "== go vet (a first run downloads Go $(GOVERSION) when the go command is older)" >&2
	$(GO) vet ./...

## crossvet: go vet, tests included, as darwin, freebsd and windows build the
## module: examples/lifecycle and the demo run on Linux only, and their
## Linux code and tests carry build tags.
CROSS_GOOS = darwin freebsd windows
crossvet:
	@for os in $(CROSS_GOOS); do echo "== GOOS=$$os go vet ./..."; GOOS=$$os $(GO) vet ./... || exit 1; done

## crosstest: go test -c of every package for darwin, freebsd and windows:
## the test binaries link there (they are not run).
crosstest:
	@for os in $(CROSS_GOOS); do echo "== GOOS=$$os go test -c"; \
		dir=$$(mktemp -d) && GOOS=$$os $(GO) test -c -o $$dir/ ./... >/dev/null && rm -r $$dir || exit 1; done

## lint: gofmt, go vet (for Linux, darwin, freebsd and windows) and
## staticcheck (every check; see staticcheck.conf), in the root module and
## in the schema module.
lint: fmtcheck vet crossvet
	$(GO) run $(STATICCHECK) ./...
	cd schema && $(GO) vet ./... && $(GO) run $(STATICCHECK) ./...

## apicheck: fail if the exported API differs from api/daemoncontract.txt.
apicheck:
	$(GO) test -count=1 ./internal/apicheck

## apibaseline: rewrite api/daemoncontract.txt after a deliberate API change;
## commit it with the change, and for an incompatible one say why.
apibaseline:
	$(GO) test -count=1 ./internal/apicheck -args -update-api

## cover: statement coverage of the package; fails below COVER_MIN percent.
cover:
	$(GO) test -count=1 -coverprofile=coverage.out .
	@$(GO) tool cover -func=coverage.out | awk -v min=$(COVER_MIN) \
		'/^total:/ { sub("%", "", $$3); print "coverage: " $$3 "% (minimum " min "%)"; if ($$3 + 0 < min) exit 1 }'

## bench: run the benchmarks BENCHCOUNT times (raw output in bench.txt) and
## print, per contract type, the contract/plain time ratios and allocations.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count $(BENCHCOUNT) . > bench.txt
	@$(GO) run ./internal/benchratio < bench.txt

## benchlifecycle: what Ensure and Stop of examples/lifecycle cost at 0, 100k
## and 500k TCP sockets on the machine (LIFECYCLE_BENCH_SOCKETS="0,100000,500000"),
## with the socket lookup through sock_diag and through the /proc/net/tcp scan;
## BENCHCOUNT runs, raw output in bench-lifecycle.txt, medians by benchstat.
## Linux only; 500k sockets take about 2 GiB of kernel memory.
benchlifecycle:
	$(GO) test -run '^$$' -bench '^BenchmarkLifecycle$$' -benchtime 10x -count $(BENCHCOUNT) -timeout 2h ./examples/lifecycle > bench-lifecycle.txt
	@$(GO) run $(BENCHSTAT) -col /lookup bench-lifecycle.txt

## benchinstr: instructions a call of each benchmark, contract and plain,
## counted by valgrind's callgrind: deterministic, where time on a shared
## machine is not. Each figure is (instructions at 12000 calls - at 2000) / 10000.
BENCHINSTR = UnmarshalDaemonHandle MarshalDaemonHandle UnmarshalStatusRequest MarshalStatusRequest \
	UnmarshalStatusResponse MarshalStatusResponse MarshalStatusResponseV2 UnmarshalInstallConfig \
	MarshalInstallConfig UnmarshalInstallResult MarshalInstallResult UnmarshalUninstallConfig \
	MarshalUninstallConfig UnmarshalHttpDaemonConfig MarshalHttpDaemonConfig UnmarshalShutdownConfig \
	MarshalShutdownConfig
benchinstr:
	@command -v valgrind >/dev/null || { echo "benchinstr needs valgrind (apt-get install valgrind)"; exit 2; }
	$(GO) test -c -o bench.test .
	@count() { for try in 1 2 3; do n=$$(GOMAXPROCS=1 GOGC=off valgrind --tool=callgrind --callgrind-out-file=/dev/null ./bench.test \
		-test.run='^$$' -test.bench="^Benchmark$$1\$$/^$$2\$$" -test.benchtime=$${3}x 2>&1 >/dev/null | sed -n 's/.*Collected : //p'); \
		if [ -n "$$n" ]; then echo $$n; return; fi; done; echo "benchinstr: valgrind failed on $$1/$$2" >&2; exit 1; }; \
	printf '| benchmark | contract | plain | ratio |\n| --- | --- | --- | --- |\n'; \
	for b in $(BENCHINSTR); do \
		c=$$(( ($$(count $$b contract 12000) - $$(count $$b contract 2000)) / 10000 )); \
		p=$$(( ($$(count $$b plain 12000) - $$(count $$b plain 2000)) / 10000 )); \
		awk -v b=$$b -v c=$$c -v p=$$p 'BEGIN { printf "| %s | %d | %d | **%.2f×** |\n", b, c, p, c / p }'; \
	done
	@rm -f bench.test

## fuzz: run each fuzz target for FUZZTIME (default 30s), and the schema
## module's FuzzSchema. A failing input is saved under testdata/fuzz/<target>/
## (schema/testdata/fuzz/FuzzSchema/); commit it as a regression case.
fuzz:
	@for target in $(FUZZ_TARGETS); do \
		echo "== $$target ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) . || exit 1; \
	done
	@echo "== FuzzSchema ($(FUZZTIME))"
	cd schema && $(GO) test -run '^$$' -fuzz '^FuzzSchema$$' -fuzztime $(FUZZTIME) .

## schema: regenerate schema/daemoncontract.schema.json, schema/daemoncontract.d.ts
## and schema/ts/conformance.ts from the layouts, the Go docs, the
## conformance cases and the golden messages. go test . fails until they are
## regenerated and committed.
schema:
	$(GO) test -count=1 -run '^TestSchemaFiles$$' . -args -update-schema

## schemacheck: validate every conformance case and golden message with a
## real JSON Schema validator (the schema module, a Go module of its own).
schemacheck:
	@echo "== make schemacheck: the schema module (a first run downloads its validator)" >&2
	cd schema && $(GO) test -count=1 ./...

## tscheck: type-check the TypeScript declarations with the TypeScript
## compiler that schema/ts/package-lock.json pins (npm ci installs it).
tscheck:
	@echo "== make tscheck: npm ci and tsc --noEmit in schema/ts" >&2
	cd schema/ts && npm ci --no-audit --no-fund && npx --no-install tsc --noEmit

## golden: write the golden messages of the contract as it is now under
## testdata/wire/$(VERSION), for a new release, and regenerate the TypeScript
## check that lists them. A version's messages are never rewritten.
golden:
	@test -n "$(VERSION)" || { echo "usage: make golden VERSION=v0.2.0"; exit 2; }
	$(GO) test -count=1 -run '^TestGoldenMessages$$' . -args -golden-version=$(VERSION)
	$(MAKE) schema
