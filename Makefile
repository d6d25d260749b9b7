# mailflow — see README.md. Every target works on a fresh machine with Go.
GO      ?= go
BIN     ?= bin/mailflow
# The binary is static (no cgo). Tests use the race detector where a C compiler
# exists, since -race needs cgo; without one they run without it.
RACE    ?= $(shell command -v gcc >/dev/null 2>&1 && echo -race)

.PHONY: build demo test vet fmt-check bench clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/mailflow

# The embedded lab on loopback, one round over its three paths, a readable table.
demo:
	CGO_ENABLED=0 $(GO) run ./cmd/mailflow demo

# Unit and end-to-end tests against the embedded lab; no root, no packages.
test: vet fmt-check
	CGO_ENABLED=$(if $(RACE),1,0) $(GO) test $(RACE) -count=1 ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l cmd internal seeds); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin
