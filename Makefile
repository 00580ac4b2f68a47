# Two commands do all set-up on a fresh machine: `make up` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: up test lint bench install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Run the platform: embedded PostgreSQL and broker, migrations, demo data, API, relay and
## consumers; prints URLs, tokens and example queries. Ctrl-C stops it; the data stays.
up: $(STAMP)
	$(BIN)/careledger up --demo

## Run the tests: lint and types, then the whole suite against real PostgreSQL.
test: $(STAMP) lint
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check careledger tests bench
	$(BIN)/mypy careledger

## Benchmarks print ratios measured side by side in one run.
bench: $(STAMP)
	$(BIN)/python -m bench
	$(BIN)/python -m bench.views
	$(BIN)/python -m bench.graphql
	$(BIN)/python -m bench.audit

clean:
	rm -rf $(VENV) .careledger
