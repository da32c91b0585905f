# The two commands: `make up` (install and run everything) and `make test` (install and run all tests).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: up test lint typecheck pytest bench bulletin-demo-png clean

$(STAMP): pyproject.toml
	@$(PY) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "devzones needs Python 3.11 or newer (set PY=python3.x)")'
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

up: $(STAMP)
	$(BIN)/devzones up $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy libs services

# Three processes, each taking whole test modules (module fixtures such as a started stack or an npm
# install run once); PYTEST_ARGS="-p no:xdist" runs everything in one process.
PYTEST_ARGS ?= -n 3 --dist loadfile

pytest: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench $(ARGS)

# Redraws docs/images/bulletin-demo.png from the demo (needs /usr/bin/chromium; docs/assessment.md#bulletins).
bulletin-demo-png: $(STAMP)
	PYTHONPATH=. $(BIN)/python docs/images/bulletin_demo.py

test: lint typecheck pytest
	$(BIN)/python -m bench --tiny

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
