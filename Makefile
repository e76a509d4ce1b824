# Two commands on a fresh machine: `make run` (the server on the embedded
# default) and `make test` (lint, types, the whole suite).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint schema clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/scheduling-worker serve

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

schema: $(STAMP)
	$(BIN)/scheduling-worker export-schema

clean:
	rm -rf $(VENV) .data .mypy_cache .ruff_cache .pytest_cache .hypothesis
