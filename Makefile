# Every target creates and reuses .venv on its own.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
ARGS   ?=

.PHONY: run test lint typecheck pytest venv clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

## make run: start a server on the embedded defaults (SQLite, self-signed TLS, ./data)
run: $(STAMP)
	$(VENV)/bin/tertulia server --data-dir data $(ARGS)

## make test: linters, type checks and the whole test suite
test: lint typecheck pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/ruff format --check src tests

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP)
	$(PY) -m pytest -q $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

## make reliability: run the fault scenarios at full size and write docs/reliability.md
reliability: $(STAMP)
	$(PY) scripts/reliability_report.py
