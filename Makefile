.DEFAULT_GOAL := help
.PHONY: help run build test test-short lint bench bench-server fuzz

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

run: ## run the server on the embedded SQLite default
	go run ./cmd/portti serve

build: ## build the portti binary
	go build -trimpath -o portti ./cmd/portti

test: ## the whole suite, with set-up (Chromium, PostgreSQL): what CI runs
	./scripts/test.sh

test-short: ## unit tests only, no set-up
	go test -short ./...

lint: ## vet and formatting
	go vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt: $$out"; exit 1; fi

bench: ## benchmarks
	go test -run '^$$' -bench . -benchmem ./...

bench-server: ## the issue 3 server benchmark
	go run ./cmd/portti-bench

fuzz: ## run each fuzz target for 30 s
	@for pkg in $$(go list ./...); do \
	  for f in $$(go test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; go test -run '^$$' -fuzz "^$$f$$" -fuzztime 30s $$pkg || exit 1; \
	  done; \
	done
