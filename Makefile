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

.PHONY: help venv demo test lint postgres-bin uv-bin test-latest

help:
	@echo "make demo   run the quickstart, Airflow, Kedro and DVC examples; evidence and reports"
	@echo "make test   run the test suite (starts its own PostgreSQL server)"
	@echo "make lint   ruff and mypy (not part of test)"
	@echo "make test-latest  install lifegate[all] at the newest versions its ranges allow (no"
	@echo "                  uv.lock) in .venv-latest; run the examples and a smoke subset of the tests"

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

# --- What users install is what we test -------------------------------------------------------
# `make test-latest`: a clean venv (.venv-latest, never the locked .venv) with lifegate[all] built
# from this checkout at the newest versions its declared ranges allow, uv.lock ignored: what
# `pip install 'lifegate[all]'` gives a user today. The test tools are installed afterwards and
# must not move a single package of that set. Then the four examples and a smoke subset of the
# tests run on it (PostgreSQL tests excluded: they need a server). About 6-9 minutes on 2 cores.
# When an upstream release breaks it: fix lifegate, or declare an upper bound in pyproject.toml
# with a comment naming the breakage (upper bounds are declared only for such a breakage).
LATEST_VENV := .venv-latest
LATEST_PY := $(LATEST_VENV)/bin/python
UV = $(shell command -v uv >/dev/null 2>&1 && echo uv || echo "$(PYTHON) -m uv")
# what the examples (scikit-learn, joblib) and the smoke tests import, from the dev group
LATEST_TEST_DEPS := pytest pytest-timeout hypothesis httpx scikit-learn joblib
LATEST_VERSIONS := apache-airflow|kedro|dvc|great-expectations|model-signing|cyclonedx-python-lib
LATEST_VERSIONS := $(LATEST_VERSIONS)|omegaconf|pandas|numpy|pydantic|sqlalchemy|lifegate
LATEST_SMOKE := tests/unit/cli tests/security/test_ledger_trust.py \
	tests/integration/kedro/test_kedro_config.py tests/integration/kedro/test_kedro_hooks.py \
	tests/integration/airflow/test_airflow_example_dags.py::test_example_dags_load_without_import_errors \
	tests/integration/airflow/test_airflow_example_dags.py::test_release_monitor_retire \
	tests/integration/dvc/test_dvc_digests.py

# Internal: uv itself (the same fallback as `venv`).
uv-bin:
	@if ! command -v uv >/dev/null 2>&1 && ! $(PYTHON) -m uv --version >/dev/null 2>&1; then \
		echo "uv not found: installing it with pip"; \
		$(PYTHON) -m pip install --quiet uv \
		|| $(PYTHON) -m pip install --quiet --user uv \
		|| $(PYTHON) -m pip install --quiet --user --break-system-packages uv; \
	fi

test-latest: uv-bin
	$(UV) venv --clear --quiet --python $(PYTHON) $(LATEST_VENV)
	$(UV) pip install --quiet --python $(LATEST_PY) --resolution highest --upgrade \
		--reinstall-package lifegate '.[all]'
	@$(UV) pip freeze --python $(LATEST_PY) > $(LATEST_VENV)/resolved.txt
	$(UV) pip install --quiet --python $(LATEST_PY) $(LATEST_TEST_DEPS)
	@if $(UV) pip freeze --python $(LATEST_PY) | grep -Fxv -f - $(LATEST_VENV)/resolved.txt; then \
		echo "test-latest: installing the test tools changed the packages above of the user's set"; \
		exit 1; \
	fi
	@echo "test-latest: newest versions resolved (uv.lock not used):"
	@$(UV) pip list --python $(LATEST_PY) 2>/dev/null | grep -iE '^($(LATEST_VERSIONS)) '
	$(LATEST_PY) example_pipelines/quickstart/run_demo.py
	$(LATEST_PY) example_pipelines/airflow/run_demo.py
	$(LATEST_PY) example_pipelines/kedro/run_demo.py
	$(LATEST_PY) example_pipelines/dvc/run_demo.py
	$(LATEST_PY) -m pytest -q -p no:cacheprovider -m "not postgres" $(LATEST_SMOKE)
