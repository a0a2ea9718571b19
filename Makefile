# churnops: `make help` lists the targets. Everything installs into ./.venv and ./.tools.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

setup: $(STAMP) ## Create .venv and install churnops with pinned dependencies

run: setup ## Main job: full local training run on the embedded MLflow store
	$(BIN)/churnops train

test: setup ## Run the whole test suite (unit, component, end-to-end)
	$(BIN)/pytest

compile: setup ## Compile every pipeline to KFP YAML under build/
	$(BIN)/churnops compile --output-dir build/pipelines

schedules-check: setup ## Validate schedules/*.yaml and compile the pipelines they name (no KFP contacted)
	@for file in schedules/*.yaml; do $(BIN)/python scripts/sync_schedules.py --config $$file --check || exit $$?; done

bench: setup ## Run the benchmarks (they print ratios against a baseline measured in the same run)
	$(BIN)/python benchmarks/sync_scale.py

mlflow-ui: setup ## Open the MLflow UI on the embedded store (http://127.0.0.1:5000)
	$(BIN)/churnops mlflow ui

data: setup ## Regenerate data/churn_synthetic.csv (byte-for-byte reproducible)
	$(BIN)/python scripts/generate_synthetic_data.py --output data/churn_synthetic.csv

.PHONY: help setup run test compile schedules-check bench mlflow-ui data
