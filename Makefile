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

.PHONY: test fmtcheck vet cover

## test: formatting check, go vet, and every test under the race detector.
test: fmtcheck vet
	$(GO) test -race -count=1 ./...

fmtcheck:
	@out=$$($(GOFMT) -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

## cover: statement coverage of the package; fails below COVER_MIN percent.
cover:
	$(GO) test -count=1 -coverprofile=coverage.out .
	@$(GO) tool cover -func=coverage.out | awk -v min=$(COVER_MIN) \
		'/^total:/ { sub("%", "", $$3); print "coverage: " $$3 "% (minimum " min "%)"; if ($$3 + 0 < min) exit 1 }'
