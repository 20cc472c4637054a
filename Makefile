# Two commands: `make run` (set up, materialize this week's fundamentals on the embedded default) and
# `make test` (set up, run the whole suite). Both create .venv on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME := $(CURDIR)/.dagster_home
export OPS_ENV ?= local

.PHONY: setup run test ui lint format bench clean browser deploy destroy stage-given

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $@

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@

setup: $(VENV)/.installed $(DAGSTER_HOME)/dagster.yaml

# `make run VERBOSE=1` prints Dagster's full event log of each run (otherwise in $(DAGSTER_HOME)/make_run.log).
run: setup
	$(BIN)/python scripts/run_local.py $(if $(filter 1 yes true,$(VERBOSE)),--verbose)

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

ui: setup
	$(BIN)/dagster dev -w workspace.yaml

# Debian's Chromium for the browser test (tests/ui): installed with apt-get when missing, else nothing.
browser:
	bash tests/ui/install_browser.sh

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: setup
	for script in benchmarks/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf .dagster_home .local_data

# AWS deploy (docs/DEPLOY.md): make deploy STAGE=dev EMAIL=you@example.com [YES=1] [IMAGE_TAG=sha] [DRY_RUN=1].
# The venv's bin/ goes first on PATH so the locked AWS CLI is the one used.
DEPLOY_ARGS = --stage $(STAGE) $(if $(REGION),--region $(REGION)) $(if $(YES),--yes) $(if $(DRY_RUN),--dry-run)
deploy destroy: stage-given setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python scripts/deploy.py $@ $(DEPLOY_ARGS) \
		$(if $(filter deploy,$@),$(if $(EMAIL),--email $(EMAIL)) $(if $(IMAGE_TAG),--image-tag $(IMAGE_TAG)))

stage-given:
	@test -n "$(STAGE)" || { echo "make deploy/destroy needs STAGE=dev, STAGE=staging or STAGE=prod"; exit 2; }
