"""Every default the product ships, written once: the CLI, the pipelines and the steps import them.

A component's own signature has no defaults for these (its pipeline always passes them), so a
changed default is changed here and nowhere else.
"""

from __future__ import annotations

from typing import Any

# Names
MODEL_NAME = "churn-classifier"
EXPERIMENT = "churn"
TARGET_COLUMN = "Churn"
CHAMPION_URI = f"models:/{MODEL_NAME}@champion"

# Local runs (`churnops train|predict` on the embedded store)
HOME = ".churnops"  # $CHURNOPS_HOME: the embedded store, step logs, KFP local outputs, the events' dead letters
LOCAL_DATASET = "data/churn_synthetic.csv"

# What a scheduled run on the cluster uses unless the schedule overrides it (compiled into the YAML).
CLUSTER_DATASET_URI = "gs://churnops-data/churn_data_2025_03.csv"
CLUSTER_INPUT_URI = "gs://churnops-data/churn_to_score.csv"
CLUSTER_TRACKING_URI = "http://mlflow.mlflow.svc.cluster.local:5000"

# Training
TEST_SIZE_RATIO = 0.2
RANDOM_STATE = 42
CV_FOLDS = 3
# How the candidate search spends its time (churnops.core.halving): successive halving, each round
# keeping 1/factor of a family's settings on factor times the rows, every family's last round on
# at most max_rows rows of the training split (0: all of them); the refit always uses every row.
# 50k rows rank these model families as all rows do, and cap the search's cost as data grows;
# no round ranks on fewer than min_rows rows (below 3 x 2000 training rows the search is exhaustive:
# on the 7k-row Telco file a 1.9k-row first round changed the choice for one split seed of three).
SEARCH_BUDGET: dict[str, Any] = {"strategy": "halving", "factor": 3, "max_rows": 50_000, "min_rows": 2_000}
DECISION_THRESHOLD = 0.5  # probability at or above which a customer is predicted to churn
# Single-model mode with no --param: what each estimator is trained with.
HYPERPARAMETERS: dict[str, dict[str, Any]] = {"logistic_regression": {"C": 1.0}}

# Promotion policy (the validation gate)
# More than one metric: a model that ranks well (roc_auc) but predicts nobody at the decision
# threshold (precision = recall = 0) must not pass.
PROMOTION_THRESHOLDS: dict[str, float] = {"roc_auc": 0.75, "precision": 0.3, "recall": 0.2}
PROMOTION_METRIC = "roc_auc"
PROMOTION_TOLERANCE = 0.005
# The gate refuses to decide on a holdout too small to tell (a 12-row extract has 2-3 test rows
# and an ROC AUC of 1.0 by luck): at least this many test rows, and this many of each class.
PROMOTION_MIN_TEST_ROWS = 200
PROMOTION_MIN_CLASS_ROWS = 30
# Leakage (churnops.core.leakage): a feature that alone reaches this ROC AUC on the holdout is a copy of the
# outcome, and a holdout ROC AUC this high is implausible for churn (the best honest Telco models reach
# ~0.85): either stops the promotion, naming the columns. An operator who reviewed it can still
# `churnops models promote` the version.
PROMOTION_MAX_FEATURE_AUC = 0.95
PROMOTION_MAX_HOLDOUT_AUC = 0.99
# Who moves the champion after the gate passes (issue 27): "auto" (the gate) or "approval" (a person,
# `churnops models approve`, within APPROVAL_HOURS or the version expires). Prod's schedule says approval.
PROMOTION_MODES = ("auto", "approval")
PROMOTION_MODE = "auto"
APPROVAL_HOURS = 72.0
# What the guard does with an alias moved outside churnops: "report" (announce) or "enforce" (also put it back).
GUARD_MODES = ("report", "enforce")
GUARD_MODE = "report"

# Events (CloudEvents 1.0, structured JSON over HTTP) to the sinks CHURNOPS_EVENT_SINKS lists: each
# sink gets EVENT_ATTEMPTS tries, EVENT_TIMEOUT_SECONDS each, backoff doubling from EVENT_BACKOFF_SECONDS;
# a caller waits at most EVENT_DEADLINE_SECONDS for all of them (the decision is already made), then
# what is undelivered goes to the dead-letter file.
EVENT_SOURCE = "urn:churnops"
EVENT_TYPE_PREFIX = "io.churnops."
EVENT_ATTEMPTS = 4
EVENT_TIMEOUT_SECONDS = 2.0
EVENT_BACKOFF_SECONDS = 0.25
EVENT_DEADLINE_SECONDS = 10.0

# Batch inference
# How local runs execute each KFP step (churnops.app.warm_executor): "warm" forks each step from
# a pre-imported forkserver; "subprocess" is kfp.local's plain SubprocessRunner (a fresh interpreter
# per step). CHURNOPS_LOCAL_EXECUTOR overrides it.
LOCAL_EXECUTOR = "warm"
CHUNK_ROWS = 50_000
MAX_REJECTED_FRACTION = 0.01
# Rows holding a category value the model never saw are scored (as if that column were empty), counted
# and named; above this share the scoring job fails: more than half the rows unseen is a broken export
# (a lower-cased column), not customers. Fewer stay scored: the drift check calls a new category
# drift from 1% of the rows and can trigger the retraining that learns it.
MAX_UNSEEN_FRACTION = 0.5

# The alias lease on a tracking server (churnops.registry.locks): a holder that dies keeps it this
# long (longer than any alias move takes), and a writer waits this long for it before refusing.
ALIAS_LEASE_SECONDS = 60.0
ALIAS_LEASE_WAIT_SECONDS = 30.0
ALIAS_LEASE_POLL_SECONDS = 0.05

# How long an interactive command (churnops train/predict/models) retries a tracking server that does
# not answer before it fails naming it (pipeline steps and serve wait CHURNOPS_TRACKING_WAIT_SECONDS,
# default 60 s, for a restarting server).
INTERACTIVE_TRACKING_WAIT_SECONDS = 2.0

# Online serving (churnops serve, the KServe predictor): where it listens, how often it asks the
# registry whether the alias moved, how long it waits for MLflow at start.
SERVE_HOST = "127.0.0.1"
SERVE_PORT = 8080
SERVE_POLL_SECONDS = 30.0
SERVE_START_WAIT_SECONDS = 60.0
# How large a request the predictor accepts (churnops.serving.exposure): rows per request, and a
# body limit of the replica's memory / divisor, at most the cap (a 127 MB request cost ~12 MiB of
# memory per MB of JSON: 1536Mi / 32 = 48 MiB of body stays well inside the container's limit).
SERVE_MAX_ROWS = 10_000
SERVE_BODY_MEMORY_DIVISOR = 32
SERVE_MAX_BODY_BYTES_CAP = 64 << 20
# Decimals of churn_probability in what churnops writes or answers (batch files and online responses
# alike, so the two are equal on the same rows).
PROBABILITY_DECIMALS = 6

# Drift check of a scoring batch against the model version's reference profile (churnops.core.drift).
# PSI 0.1 / 0.25 are the customary "watch" / "act" levels; KS on D (with large batches every
# p-value is tiny, so p only gates small ones); a category value training never saw is a warning
# on one row and drift from 1% of the rows; fewer than min_rows rows never count as drifted.
DRIFT_THRESHOLDS: dict[str, float] = {
    "psi_warn": 0.1, "psi_drift": 0.25,
    "ks_warn": 0.1, "ks_drift": 0.2, "ks_p_value": 0.01,
    "new_category_warn": 0.0, "new_category_drift": 0.01,
    "min_rows": 200,
}
# Drift-triggered retraining: at most one triggered retrain per window (the storm guard).
RETRAIN_WINDOW_SECONDS = 7 * 24 * 3600
# A claim older than this whose retraining run was never created is abandoned (its scoring pod died
# between the claim and the create) and a later drifted batch takes over (churnops.core.storm_guard).
# The owner's run create is cut off well before it (a request timeout), so the owner and a taker
# cannot both start a run.
RETRAIN_CLAIM_GRACE_SECONDS = 15 * 60
RETRAIN_RUN_CREATE_TIMEOUT_SECONDS = 60
CLUSTER_KFP_HOST = "http://ml-pipeline.kubeflow.svc.cluster.local:8888"
# Sharded scoring on the cluster (pipelines/sharded_inference.py): a prefix of files -> parts + manifest.
CLUSTER_SHARDED_INPUT_URI = "gs://churnops-data/churn/to-score/shards/"
CLUSTER_SHARDED_OUTPUT_URI = "gs://churnops-data/churn/predictions/sharded"
