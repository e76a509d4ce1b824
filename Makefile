# Two commands on a fresh machine: `make run` (the server on the embedded
# default) and `make test` (lint, types, the import layers, the whole suite).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: run test lint schema manifest clean

$(STAMP): pyproject.toml
	@echo "Installing the Python environment in $(VENV) (about a minute the first time)..."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# GraphiQL's assets (served by the API itself) and the JavaScript test clients.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

run: $(STAMP) $(NODE_STAMP)
	$(BIN)/scheduling-worker serve

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# The coverage figure is printed after the tests (no threshold: it is there to read).
test: lint $(NODE_STAMP)
	$(BIN)/pytest --cov --cov-report=term:skip-covered

schema: $(STAMP)
	$(BIN)/scheduling-worker export-schema

# The persisted-query manifest as Apollo Client's own tool makes it of operations/
# (persisted-query-manifest.config.json): the ids a stock Apollo Client sends.
manifest: $(NODE_STAMP)
	node_modules/.bin/generate-persisted-query-manifest --config persisted-query-manifest.config.json

# Also removes .data: the embedded database and Redis of `make run`.
clean:
	rm -rf $(VENV) node_modules .data .mypy_cache .ruff_cache .pytest_cache .hypothesis .import_linter_cache .coverage htmlcov
