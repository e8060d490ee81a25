# The README's two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck layers pytest services venv clean bench-check

demo: $(STAMP)
	$(BIN)/streetwatch demo

test: services $(STAMP) lint typecheck layers pytest

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Streetwatch needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	@touch $@

# PostgreSQL + TimescaleDB, Mosquitto, socat and mbpoll: installed only when missing (needs root or sudo).
services:
	@deploy/install-services.sh --check || deploy/install-services.sh

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

# The import-linter contracts in pyproject.toml: the packages' layers, no import cycle.
layers: $(STAMP)
	$(BIN)/lint-imports

pytest: $(STAMP)
	$(BIN)/pytest

# Short runs of the key benchmarks held to benchmarks/budgets.toml (a few minutes); exit 1 on a miss.
bench-check: services $(STAMP)
	$(BIN)/streetwatch bench check

clean:
	rm -rf $(VENV) .streetwatch .pytest_cache .mypy_cache .ruff_cache .grimp_cache
