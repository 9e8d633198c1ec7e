# EDMS developer and CI entry points. `make help` lists the targets.
#
# Everything runs from the project virtualenv in .venv, which `make install` creates
# and keeps in step with setup.cfg / pyproject.toml (pip only re-runs when they change).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
# Targets must run in order (install before lint before tests), even under `make -j`.
.NOTPARALLEL:

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Extra pytest arguments, e.g. `make test PYTEST_ARGS='-k upload -x'`.
PYTEST_ARGS ?=
# pytest-xdist worker count; `auto` is one per core.
PYTEST_WORKERS ?= auto
# Extra arguments for every benchmark, e.g. `make bench BENCH_ARGS='--size-mb 50'`.
BENCH_ARGS ?=

.PHONY: help venv install translations test lint format-check typecheck pytest format \
	run bench clean

help:
	@echo "make install       create .venv and install EDMS with its dev extras"
	@echo "make translations  compile the message catalogs"
	@echo "make test          lint, format check, type check and the test suite"
	@echo "                   (PYTEST_ARGS='...' passes extra pytest arguments)"
	@echo "make format        reformat the code and apply safe lint fixes"
	@echo "make run           migrate, load demo data and serve on http://127.0.0.1:\$$EDMS_PORT"
	@echo "make bench         run the benchmarks in bench/ (BENCH_ARGS='...')"
	@echo "make clean         remove var/ and caches (keeps .venv)"

# --- environment ---------------------------------------------------------------

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Order-only on the interpreter: installing packages must not look like a new venv.
$(STAMP): setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/pip install --disable-pip-version-check -e '.[dev]'
	@touch $@

venv install: $(STAMP)

# The .mo files are build products (see .gitignore); -f keeps fuzzy entries too.
# Nothing to do until edms/translations holds a catalog (pybabel fails on none).
translations: install
	@if compgen -G 'edms/translations/*/LC_MESSAGES/*.po' >/dev/null; then \
		$(BIN)/pybabel compile -d edms/translations -f; \
	fi

# --- checks --------------------------------------------------------------------

# Runs every check even when an earlier one fails, so one red run shows all problems;
# the exit status is non-zero if any of them failed.
test: install translations
	@$(MAKE) --no-print-directory -k lint format-check typecheck pytest

lint: install
	$(BIN)/ruff check .

format-check: install
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy edms storage workflows signing

pytest: install translations
	$(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# --- running -------------------------------------------------------------------

# Demo mode (no secret key needed) unless the caller chose EDMS_DEMO themselves.
run: install translations
	@export EDMS_DEMO="$${EDMS_DEMO:-true}"; \
	$(BIN)/edms db upgrade; \
	$(BIN)/edms demo; \
	echo; \
	echo "EDMS is starting on http://127.0.0.1:$${EDMS_PORT:-5000}/ (Ctrl-C stops it)"; \
	exec $(BIN)/gunicorn --config config/gunicorn.conf.py 'edms:create_app()'

# Benchmarks are not tests: each prints its figures and exits non-zero only on a crash.
bench: install translations
	@for script in bench/*.py; do \
		echo "=== $$script"; \
		$(BIN)/python "$$script" $(BENCH_ARGS); \
	done

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache .hypothesis .coverage htmlcov build dist
	find . -path ./$(VENV) -prune -o -path ./.git -prune -o \
		-name __pycache__ -type d -print0 | xargs -0 rm -rf
	if [ -d edms/translations ]; then find edms/translations -name '*.mo' -delete; fi
