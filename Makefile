# The commands a developer runs, and CI runs through .ci/run.
#
# The module needs Go 1.27. GOTOOLCHAIN=auto lets an older go command (1.21
# or newer, the first that switches toolchains) fetch the go1.27.3 toolchain
# that go.mod names, once per machine, from the module proxy.
export GOTOOLCHAIN := auto

GO ?= go
# The toolchain's own gofmt, which knows the language version go.mod names.
GOFMT = "$$($(GO) env GOROOT)/bin/gofmt"
# Statement coverage the package must keep.
COVER_MIN ?= 95
# Tools, pinned, run with go run so that go.mod gains no dependencies.
STATICCHECK = honnef.co/go/tools/cmd/staticcheck@v0.8.2
# staticcheck is built by the toolchain that go.mod selects. Left alone, a
# go command older than staticcheck's own go line (1.26.0) runs "go run
# pkg@version" with the newest Go 1.26 instead, fetched for it, and that
# staticcheck cannot read Go 1.27's standard library ("method must have no
# type parameters").
STATICCHECK_RUN = GOTOOLCHAIN=$$($(GO) env GOVERSION) $(GO) run $(STATICCHECK)
BENCHSTAT = golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
# How many times make bench runs each benchmark; the table shows medians.
BENCHCOUNT ?= 6
# The toolchain go.mod names, for the progress messages.
GOVERSION = $(shell sed -n 's/^toolchain go//p' go.mod)
# How long make fuzz runs each fuzz target.
FUZZTIME ?= 30s
# How long the fuzzer may spend minimizing each new input, interesting or
# failing. Go's default, 60s, can spend a whole short run minimizing one
# input (a review measured 4,108 executions in 60 s against 575,736 with 1s).
FUZZMINTIME ?= 1s
# Every fuzz target of the package, one per contract type.
FUZZ_TARGETS = $(shell grep -ho '^func Fuzz[A-Za-z0-9_]*' *_test.go | cut -c6-)

.PHONY: demo test fmtcheck vet crossvet crosstest lint apicheck apibaseline cover bench benchinstr benchlifecycle fuzz schema schemacheck tscheck golden

## demo: start a real daemon and walk its lifecycle through the contract.
demo:
	@echo "== make demo: building the demo (a first run downloads Go $(GOVERSION) and builds the standard library: half a minute to a minute)" >&2
	$(GO) run ./examples/demo

## test: formatting check, go vet, and every test under the race detector,
## but for the API check (make apicheck runs it; it has no goroutines, and
## costs 13 s under -race against 2 s without).
test: fmtcheck vet
	@echo "== make test: every package under the race detector (a first run builds the standard library for the race detector: one to two minutes)" >&2
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /internal/apicheck$$)

fmtcheck:
	@echo "== gofmt -l (a first run downloads Go $(GOVERSION) when the go command is older)" >&2
	@out=$$($(GOFMT) -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	@echo "== go vet" >&2
	$(GO) vet ./...

## crossvet: go vet, tests included, as darwin, freebsd and windows build the
## module: examples/lifecycle, examples/install and the demo run on Linux
## only, and their Linux code and tests carry build tags.
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
	@echo "== make lint: staticcheck in the root module, then go vet and staticcheck in the schema module (a first run downloads and builds staticcheck: about 40 s; then a few seconds)" >&2
	$(STATICCHECK_RUN) ./...
	cd schema && $(GO) vet ./... && $(STATICCHECK_RUN) ./...

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
	@echo "== make bench: every benchmark $(BENCHCOUNT) times, quiet until the table (about 45 s a time: about $$(( $(BENCHCOUNT) * 45 )) s); raw output in bench.txt" >&2
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
## GODEBUG=asyncpreemptoff=1: the Go runtime preempts a running goroutine with
## a signal (SIGURG), and valgrind 3.19's callgrind aborts on it (threads.c:247:
## Assertion 'sigNum == vgCallgrind_current_state.sig' failed) in 1 run of 12
## to 24 runs of 40, the busier the machine the more. Without the signal, 0
## of 40; the counts stay within their usual spread.
BENCHINSTR = UnmarshalDaemonHandle MarshalDaemonHandle UnmarshalStatusRequest MarshalStatusRequest \
	UnmarshalStatusResponse MarshalStatusResponse MarshalStatusResponseV2 UnmarshalInstallConfig \
	MarshalInstallConfig UnmarshalInstallResult MarshalInstallResult UnmarshalUninstallConfig \
	MarshalUninstallConfig UnmarshalHttpDaemonConfig MarshalHttpDaemonConfig UnmarshalShutdownConfig \
	MarshalShutdownConfig
benchinstr:
	@command -v valgrind >/dev/null || { echo "benchinstr needs valgrind (apt-get install valgrind)" >&2; exit 2; }
	@echo "== make benchinstr: $(words $(BENCHINSTR)) benchmarks, contract and plain, each run under callgrind at 2000 and 12000 calls (about 2 minutes)" >&2
	$(GO) test -c -o bench.test .
	@trap 'rm -f bench.test' EXIT; \
	count() { \
		out=$$(GODEBUG=$${GODEBUG:+$$GODEBUG,}asyncpreemptoff=1 GOMAXPROCS=1 GOGC=off valgrind --tool=callgrind --callgrind-out-file=/dev/null \
			./bench.test -test.run='^$$' -test.bench="^Benchmark$$1\$$/^$$2\$$" -test.benchtime=$${3}x 2>&1); rc=$$?; \
		n=$$(printf '%s\n' "$$out" | sed -n 's/.*Collected : //p'); \
		if [ $$rc -ne 0 ] || [ -z "$$n" ]; then \
			echo "benchinstr: valgrind failed (exit status $$rc) on Benchmark$$1/$$2 at $$3 calls; the table stops here. valgrind said:" >&2; \
			printf '%s\n' "$$out" | grep -v -e '^==[0-9]*==' -e '^ *$$' | head -n 12 >&2; \
			return 1; \
		fi; \
		echo "$$n"; \
	}; \
	printf '| benchmark | contract | plain | ratio |\n| --- | --- | --- | --- |\n'; \
	for b in $(BENCHINSTR); do \
		c12=$$(count $$b contract 12000) && c2=$$(count $$b contract 2000) && \
		p12=$$(count $$b plain 12000) && p2=$$(count $$b plain 2000) || exit 1; \
		awk -v b=$$b -v c=$$(( (c12 - c2) / 10000 )) -v p=$$(( (p12 - p2) / 10000 )) \
			'BEGIN { printf "| %s | %d | %d | **%.2f×** |\n", b, c, p, c / p }'; \
	done

## fuzz: run each fuzz target for FUZZTIME (default 30s), and the schema
## module's FuzzSchema. A failing input is saved under testdata/fuzz/<target>/
## (schema/testdata/fuzz/FuzzSchema/); commit it as a regression case.
fuzz:
	@echo "== make fuzz: $$(( $(words $(FUZZ_TARGETS)) + 1 )) fuzz targets, $(FUZZTIME) each and about a second more each (a first run builds them with fuzzing instrumentation first: about a minute)" >&2
	@for target in $(FUZZ_TARGETS); do \
		echo "== $$target ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINTIME) . || exit 1; \
	done
	@echo "== FuzzSchema ($(FUZZTIME))"
	cd schema && $(GO) test -run '^$$' -fuzz '^FuzzSchema$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINTIME) .

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
	@test -n "$(VERSION)" || { echo "usage: make golden VERSION=v0.3.0"; exit 2; }
	$(GO) test -count=1 -run '^TestGoldenMessages$$' . -args -golden-version=$(VERSION)
	$(MAKE) schema
