# The single entry point: `make serve` runs the service locally, `make test` tests it.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
SAM_VENV := .sam-venv
PY := $(VENV)/bin/python
PORT ?= 8000

.PHONY: serve test lint validate unit integration e2e bench events invoke build deploy clean

$(VENV)/.installed: pyproject.toml layers/uws/requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# aws-sam-cli pins its own boto3, so it lives in a venv of its own.
$(SAM_VENV)/.installed:
	test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet aws-sam-cli
	touch $@

serve: $(VENV)/.installed  ## the whole deployment on 127.0.0.1:$(PORT), moto as AWS
	$(PY) -m local.serve --port $(PORT)

test: lint validate  ## everything CI runs
	$(PY) -m pytest -q

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

validate: $(VENV)/.installed $(SAM_VENV)/.installed
	$(VENV)/bin/cfn-lint template.yaml
	SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam validate --lint --region us-east-1
	AWS_DEFAULT_REGION=us-east-1 $(SAM_VENV)/bin/python -W ignore -m local.check_transform
	@# sam build needs the runtime's Python (3.12) but no Docker; skip it where there is none.
	@if PYENV_VERSION=3.12.1:3.11.7 command -v python3.12 >/dev/null 2>&1 && \
	    PYENV_VERSION=3.12.1:3.11.7 python3.12 --version >/dev/null 2>&1; then \
	  PYENV_VERSION=3.12.1:3.11.7 SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam build >/dev/null 2>&1 && \
	  test -f .aws-sam/build/UwsLayer/python/uws/actions.py && \
	  echo "sam build: ok (layer and $$(ls -d .aws-sam/build/*Function | wc -l) functions for python3.12 on arm64)"; \
	else echo "sam build: skipped (no python3.12 on PATH)"; fi

unit: $(VENV)/.installed
	$(PY) -m pytest -q tests/unit

integration: $(VENV)/.installed
	$(PY) -m pytest -q tests/integration

e2e: $(VENV)/.installed
	$(PY) -m pytest -q tests/e2e

bench: $(VENV)/.installed
	$(PY) -m bench

events: $(VENV)/.installed  ## rewrite events/ after changing routes
	$(PY) -m local.make_events

invoke: $(VENV)/.installed  ## make invoke FUNCTION=PhaseFunction EVENT=events/phase-get.json
	$(PY) -m local.invoke $(FUNCTION) $(EVENT)

build: $(SAM_VENV)/.installed
	PYENV_VERSION=3.12.1:3.11.7 SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam build

deploy: build
	SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam deploy --guided

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache .ruff_cache
