# lifegate developer entry points. The two that matter: `make demo` and `make test`.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV_PY := .venv/bin/python
PYTEST_ARGS ?=

# Offline switches for every target: no telemetry, analytics or example DAGs.
export KEDRO_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := 1
export DVC_NO_ANALYTICS := 1
export GX_ANALYTICS_ENABLED := false
export AIRFLOW__CORE__LOAD_EXAMPLES := False
# Compile bytecode at install time: tests start many subprocesses, and PYTHONDONTWRITEBYTECODE
# may be set, which would make every one of them recompile sqlalchemy, pydantic and friends.
export UV_COMPILE_BYTECODE := 1

.PHONY: help venv demo test lint postgres-bin

help:
	@echo "make demo   run the quickstart, Airflow, Kedro and DVC examples; evidence and reports"
	@echo "make test   run the test suite (starts its own PostgreSQL server)"
	@echo "make lint   ruff and mypy (not part of test)"

# Internal: the virtualenv from uv.lock, all extras. Fast when nothing changed.
venv:
	@if ! command -v uv >/dev/null 2>&1 && ! $(PYTHON) -m uv --version >/dev/null 2>&1; then \
		echo "uv not found: installing it with pip"; \
		$(PYTHON) -m pip install --quiet uv \
		|| $(PYTHON) -m pip install --quiet --user uv \
		|| $(PYTHON) -m pip install --quiet --user --break-system-packages uv; \
	fi
	@if command -v uv >/dev/null 2>&1; then uv sync --all-extras --frozen; \
	else $(PYTHON) -m uv sync --all-extras --frozen; fi
	@# lifegate itself is installed editable: compile it too (Airflow parses DAG files, and
	@# thus imports lifegate.operators, in fresh processes all the time)
	@$(VENV_PY) -m compileall -q src plugins operators >/dev/null

demo: venv
	$(VENV_PY) example_pipelines/quickstart/run_demo.py
	$(VENV_PY) example_pipelines/airflow/run_demo.py
	$(VENV_PY) example_pipelines/kedro/run_demo.py
	$(VENV_PY) example_pipelines/dvc/run_demo.py

# Internal: PostgreSQL server binaries for the ledger tests (the tests start their own server).
postgres-bin:
	@if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then exit 0; fi; \
	for d in /usr/lib/postgresql/*/bin; do \
		if [ -x "$$d/initdb" ] && [ -x "$$d/pg_ctl" ]; then exit 0; fi; \
	done; \
	echo "PostgreSQL server binaries not found: installing Debian's postgresql package"; \
	sudo=""; if [ "$$(id -u)" -ne 0 ]; then sudo="sudo"; fi; \
	$$sudo apt-get update && \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql

test: venv postgres-bin
	$(VENV_PY) -m pytest $(PYTEST_ARGS)

lint: venv
	.venv/bin/ruff check src plugins operators tests benchmarks example_pipelines
	.venv/bin/mypy
