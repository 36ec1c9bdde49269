# MovieDice: `make run` serves on http://localhost:8080 (embedded PostgreSQL),
# `make test` runs the checks and the whole test suite on a real PostgreSQL.
GO ?= go
BIN := bin/moviedice

.PHONY: run build generate check test postgres chromium

run: postgres build
	./$(BIN) serve

build:
	$(GO) build -o $(BIN) ./cmd/moviedice

# The PostgreSQL server binaries: the app and the tests start their own
# private clusters from them. Installed with apt-get when we are root.
postgres:
	@if ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || \
	   (command -v pg_config >/dev/null 2>&1 && test -x "$$(pg_config --bindir)/postgres"); then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing PostgreSQL server binaries with apt-get"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	else \
	  echo "PostgreSQL server binaries are missing: install them (e.g. 'sudo apt-get install -y postgresql'), then run make again." >&2; \
	  exit 1; \
	fi

# Chromium, for the browser tests in web/e2e (which fail without it).
# Installed with apt-get when we are root; the package lists are refreshed
# only if the first try fails.
chromium:
	@if test -x /usr/bin/chromium; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Chromium with apt-get"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }; \
	else \
	  echo "Chromium is missing: install it (e.g. 'sudo apt-get install -y chromium'), then run make again." >&2; \
	  exit 1; \
	fi

# Regenerate templ and sqlc code; commit the result.
generate:
	$(GO) tool templ generate
	$(GO) tool sqlc generate

# Fails on stale generated code, unformatted files or vet findings.
check:
	$(GO) tool sqlc diff
	$(GO) tool templ generate >/dev/null 2>&1
	@git diff --exit-code --stat -- '*_templ.go' || { echo "templ output is stale: run 'make generate' and commit" >&2; exit 1; }
	@test -z "$$(git ls-files --others --exclude-standard -- '*_templ.go')" || { echo "templ output is not in git: run 'make generate' and add it" >&2; exit 1; }
	@unformatted="$$(gofmt -l $$(git ls-files '*.go'))"; test -z "$$unformatted" || { echo "gofmt would change: $$unformatted" >&2; exit 1; }
	$(GO) vet ./...

test: postgres chromium check
	$(GO) test -race -count=1 ./...
