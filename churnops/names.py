"""The registry's vocabulary, written once: aliases, model-version tags, run tags and their values.

Everything churnops writes to MLflow is named here; readers (the CLI views, the gate, tests)
import the same constants, so a renamed tag cannot leave a reader behind.
"""

# Model-version aliases (never the deprecated stages).
ALIAS_CANDIDATE = "candidate-latest"  # the newest registered version
ALIAS_CHAMPION = "champion"  # what serves
ALIAS_PREVIOUS_CHAMPION = "previous-champion"  # what rollback returns to
ALIAS_CHALLENGER = "challenger"  # a version that did not pass the gate

# Model-version tags.
TAG_STATUS = "validation_status"
STATUS_PENDING = "pending"
STATUS_PASSED = "passed"
STATUS_FAILED = "failed"
TAG_FINGERPRINT = "churnops.fingerprint"
TAG_SOURCE_RUN = "source_run_id"
TAG_DATASET_SHA256 = "dataset_sha256"
TAG_TEST_METRIC_PREFIX = "test_"  # test_roc_auc ... as evaluated by the training run
TAG_VALIDATION_PREFIX = "validation_"  # the gate's decision: validation_action, validation_reason ...
TAG_VALIDATION_ACTION = "validation_action"
TAG_VALIDATION_REASON = "validation_reason"
TAG_REPLACED_CHAMPION = "replaced_champion_version"  # on a champion: the one it replaced
TAG_AUDIT_PREFIX = "audit."
TAG_AUDIT_HISTORY = "audit.history"

# Run tags.
RUN_TAG_STEP = "churnops.step"
RUN_TAG_VERSION = "churnops.version"
RUN_TAG_MODEL_NAME = "churnops.model_name"
RUN_TAG_CANDIDATE = "churnops.candidate"
RUN_TAG_SELECTED_CANDIDATE = "churnops.selected_candidate"
RUN_TAG_DUPLICATE_OF = "churnops.duplicate_of"
RUN_TAG_VALIDATION_STATUS = "churnops.validation_status"
RUN_TAG_PROMOTION_ACTION = "churnops.promotion_action"
RUN_TAG_PARENT = "mlflow.parentRunId"  # MLflow's own nesting tag

# Run parameters read back by others.
PARAM_DECISION_THRESHOLD = "decision_threshold"

# Registered-model tags.
TAG_INTENT = "churnops.intent"  # the promotion journal: moves decided but not yet all applied (JSON)

# The one environment variable read by a production path, at call time and only to fail on
# purpose: the name of a step boundary at which the process kills itself (the kill-matrix tests).
ENV_CRASH_AT = "CHURNOPS_CRASH_AT"
# Who owns a run (host:pid of the `churnops train` process, or of the step when run on its own):
# the next run marks a RUNNING run of a dead owner FAILED.
RUN_TAG_OWNER = "churnops.owner"
RUN_TAG_SWEPT = "churnops.swept"
ENV_RUN_OWNER = "CHURNOPS_RUN_OWNER"  # set by churnops train for its step processes

# Reference profile and drift (issue 17).
ARTIFACT_REFERENCE_PROFILE = "reference/profile.json"  # on the run that logged the registered model
ARTIFACT_DRIFT_REPORT = "drift/report.html"
ARTIFACT_DRIFT_JSON = "drift/report.json"
RUN_TAG_DRIFT_VERDICT = "churnops.drift.verdict"
RUN_TAG_DRIFT_FEATURES = "churnops.drift.features"  # the drifted ones, comma-separated
RUN_TAG_MODEL_VERSION = "churnops.model_version"
RUN_TAG_REFERENCE_RUN = "churnops.reference_run_id"
RUN_TAG_INPUT = "churnops.input_uri"
RUN_TAG_RETRAIN_DECISION = "churnops.retrain.decision"  # triggered | skipped
RUN_TAG_RETRAIN_REASON = "churnops.retrain.reason"
RUN_TAG_RETRAIN_RUN = "churnops.retrain.kfp_run_id"
STEP_CHECK_DRIFT = "check_drift"
