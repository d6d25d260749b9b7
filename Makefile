# mailflow — see README.md. Every target works on a fresh machine with Go.
GO      ?= go
BIN     ?= bin/mailflow
# The binary is static (no cgo). Tests use the race detector where a C compiler
# exists, since -race needs cgo; without one they run without it.
RACE    ?= $(shell command -v gcc >/dev/null 2>&1 && echo -race)

.PHONY: build demo test vet fmt-check bench fuzz-smoke integration clean

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

# make bench BENCH='^BenchmarkRound$$' COUNT=3 runs one benchmark, as the README's rows do.
BENCH   ?= .
COUNT   ?= 1
bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -count $(COUNT) -benchmem ./...

# Every fuzz target of every package for a few seconds each: CI proves the
# parsers do not panic on fresh input. Longer runs:
# go test -run '^$$' -fuzz NAME -fuzztime 10m ./internal/PACKAGE
FUZZTIME ?= 10s
fuzz-smoke:
	@for p in $$(grep -l '^func Fuzz' $$(find internal -name '*_test.go') | xargs -n1 dirname | sort -u); do \
		for f in $$($(GO) test -list '^Fuzz' ./$$p | grep '^Fuzz'); do \
			echo "fuzz $$p $$f for $(FUZZTIME)"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) ./$$p || exit 1; \
		done; \
	done

# The real stack of testdata/stack (Postfix, Dovecot, Rspamd, dnsmasq on loopback;
# root on Debian 12): brought up, or reused when up, then the integration tests
# (build tag integration), then taken down whatever the result.
integration:
	testdata/stack/up.sh
	MAILFLOW_REQUIRE_STACK=1 $(GO) test -tags integration -count=1 -run '^TestStack' ./cmd/mailflow ; rc=$$?; testdata/stack/down.sh; exit $$rc

clean:
	rm -rf bin
