# xmppgate. `make help` lists the targets.
GO      ?= go
BIN     := bin/xmppgate
PKGS    := ./...
FUZZTIME ?= 30s
FUZZFLAGS ?= -fuzzminimizetime=5s
# CI's time per target (make fuzz-ci, run by .ci/run) and the long run's
# (make fuzz-long, which writes its table into docs/fuzzing.md).
FUZZCI ?= 3s
FUZZLONG ?= 10m

.DEFAULT_GOAL := build
.PHONY: help deps build run test test-short bench bench-xmpp bench-ejabberd bench-peers conformance fixtures lint fuzz fuzz-ci fuzz-long docs verify clean
.PHONY: release

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

deps: ## install what the build and tests need (Go modules; gcc for SQLite's cgo; slixmpp, an independent XMPP client, with aiohttp for its HTTP upload; chromium and converse.js for the browser tests; postgresql, its service kept stopped, for the PostgreSQL store tests)
	@command -v gcc >/dev/null || { apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev; }
	@/usr/bin/python3 -c 'import slixmpp, aiohttp' 2>/dev/null || { apt-get update && apt-get install -y --no-install-recommends python3-slixmpp python3-aiohttp; }
	@command -v perl >/dev/null || { apt-get update && apt-get install -y --no-install-recommends perl; }
	@command -v chromium >/dev/null || { apt-get update && apt-get install -y --no-install-recommends chromium; }
	@command -v npm >/dev/null || { apt-get update && apt-get install -y --no-install-recommends npm; }
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || $(GO) run ./internal/pgtest/install || echo "postgresql not installed: the PostgreSQL store tests will skip" >&2
	@v=$$(sed -n 's/.*"converse.js": "\(.*\)".*/\1/p' internal/browsertest/package.json); \
	  grep -qs "\"version\": \"$$v\"" internal/browsertest/node_modules/converse.js/package.json || \
	  { cd internal/browsertest && npm ci --ignore-scripts --no-audit --no-fund; }
	$(GO) mod download

build: ## build bin/xmppgate
	CGO_ENABLED=1 $(GO) build -o $(BIN) .

run: build ## run the server on the embedded defaults (./data, 127.0.0.1:5280)
	./$(BIN) serve

test: deps ## vet, then every test with the race detector
	$(GO) vet $(PKGS)
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 14m $(PKGS)

test-short: ## tests without the race detector and the slow crash test
	$(GO) test -short -count=1 $(PKGS)

bench: build ## benchmarks through the real HTTP server (see bench/README.md)
	$(GO) run ./bench/dreamhost -bin $(BIN)

bench-ejabberd: build ## register through POST /api/register, c=16, 10 s (bench/ejabberd)
	$(GO) run ./bench/ejabberd -bin $(BIN)

bench-xmpp: ## XMPP logins/s, messages/s and memory per idle session (bench/xmpp)
	$(GO) run ./bench/xmpp

bench-ws: build ## WebSocket: RSS per idle session (10,000) and messages/s across 100 pairs (bench/ws)
	$(GO) run ./bench/ws -bin $(BIN)

.PHONY: bench-ws

bench-bosh: build ## BOSH: RSS per idle session with one held request (10,000) (bench/bosh)
	$(GO) run ./bench/bosh -bin $(BIN)

.PHONY: bench-bosh
bench-scale: ## 15,000 idle TLS sessions: logins while the count grows, RSS per session, 1,000 active pairs (bench/xmpp -phases scale; docs/scale.md)
	$(GO) run ./bench/xmpp -phases scale -idle 15000 -pairs 1000 -dur 10s

bench-storefill: build ## a million users in 1,000 domains: register, logins, list_users, add_user acks vs an empty store; DB bytes per user (bench/storefill)
	$(GO) run ./bench/storefill -bin $(BIN)

.PHONY: bench-scale bench-storefill

bench-batch: ## one batch of 100,000 queued changes applied while services-progress is polled, SQLite and PostgreSQL (bench/batch)
	$(GO) test ./bench/batch -run '^$$' -bench . -benchtime 1x -timeout 60m

.PHONY: bench-batch

bench-peers: build ## xmppgate vs ejabberd and Prosody, same workload; as root, ~7 min (bench/peers, bench/RESULTS.md)
	$(GO) run ./bench/peers -bin $(BIN) $(PEERS_FLAGS)

conformance: build ## xmppgate vs a real ejabberd 23.01, every ejabberd command; as root; writes docs/ejabberd-conformance.md and testdata/ejabberd-conformance/
	$(GO) run ./conformance -bin $(BIN)

fixtures: ## rebuild the real ejabberd 23.01 and Prosody 0.12 exports under testdata/migrate/; as root, ~2 min
	@command -v prosodyctl >/dev/null && command -v ejabberdctl >/dev/null || { echo "needs Debian's ejabberd and prosody (make bench-peers installs them)" >&2; exit 1; }
	@/usr/bin/python3 -c 'import slixmpp' 2>/dev/null || { apt-get update && apt-get install -y --no-install-recommends python3-slixmpp; }
	testdata/migrate/ejabberd-23.01/regen.sh
	testdata/migrate/prosody-0.12/regen.sh

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

# A package whose tests do not build fails the run instead of being skipped
# silently. FUZZFLAGS are added to each run (default: minimisation capped at 5s,
# since the XMPP targets run a real server whose coverage is noisy). See docs/fuzzing.md.
fuzz: ## run every fuzz target for FUZZTIME (default 30s) each
	@set -e; n=0; for pkg in $$($(GO) list $(PKGS)); do \
	  list=$$($(GO) test -list '^Fuzz' $$pkg) || { echo "$$list"; exit 1; }; \
	  for f in $$(echo "$$list" | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; n=$$((n+1)); \
	    $(GO) test $$pkg -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $(FUZZFLAGS); \
	  done; done; echo "fuzz: $$n targets, no crasher"

# internal/fuzzrun builds each package's fuzz binary once and runs its
# targets from it; a crasher fails the run and is printed with its path.
# CI's run starts from an empty fuzz cache (seeds and testdata/fuzz only),
# so its length does not grow with what earlier runs found.
fuzz-ci: ## every fuzz target for FUZZCI (default 3s) each, as CI runs them
	@cache=$$(mktemp -d) && trap 'rm -rf "$$cache"' EXIT && $(GO) run ./internal/fuzzrun -time $(FUZZCI) -cache "$$cache"

fuzz-long: ## every fuzz target for FUZZLONG (default 10m) each; writes the table in docs/fuzzing.md
	$(GO) run ./internal/fuzzrun -time $(FUZZLONG) -doc docs/fuzzing.md

docs: ## regenerate docs/commands.md from the registry
	$(GO) generate ./commands/...

verify: lint docs ## fail if generated files are stale
	git diff --exit-code docs/

clean: ## remove build output
	rm -rf bin dist

# make release: static binaries (SQLite's C compiled in by cgo, linked with
# -static; netgo/osusergo keep glibc's NSS out, sqlite_omit_load_extension
# its dlopen), so one file runs on any Linux of its architecture. Built on
# an amd64 host; arm64 needs Debian's cross compiler, installed here when
# missing (as root). VERSION goes into `xmppgate version`; the commit and
# its time come from the checkout (-buildvcs), the commit also from COMMIT
# (a worktree's checkout is not stamped).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
RELEASE_TAGS := osusergo,netgo,sqlite_omit_load_extension
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
RELEASE_LDFLAGS := -s -w -extldflags=-static -X main.version=$(VERSION) -X main.commit=$(COMMIT)
release: ## linux/amd64 and linux/arm64 static binaries in dist/ (cgo; installs gcc-aarch64-linux-gnu if missing)
	@command -v aarch64-linux-gnu-gcc >/dev/null || { apt-get update && apt-get install -y --no-install-recommends gcc-aarch64-linux-gnu libc6-dev-arm64-cross; }
	@mkdir -p dist
	CGO_ENABLED=1 GOOS=linux GOARCH=amd64 CC=gcc $(GO) build -trimpath -buildvcs=true -tags $(RELEASE_TAGS) \
	  -ldflags '$(RELEASE_LDFLAGS)' -o dist/xmppgate-linux-amd64 .
	CGO_ENABLED=1 GOOS=linux GOARCH=arm64 CC=aarch64-linux-gnu-gcc $(GO) build -trimpath -buildvcs=true -tags $(RELEASE_TAGS) \
	  -ldflags '$(RELEASE_LDFLAGS)' -o dist/xmppgate-linux-arm64 .
	cd dist && sha256sum xmppgate-linux-amd64 xmppgate-linux-arm64 > SHA256SUMS
	./dist/xmppgate-linux-amd64 version
