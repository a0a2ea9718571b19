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
# Promotion policy `approval` (issue 27): a version that passed the gate waits for a person.
STATUS_AWAITING_APPROVAL = "awaiting-approval"  # passed the gate; `challenger` until approved, rejected or expired
STATUS_REJECTED = "rejected"  # an approver said no (`churnops models reject`)
STATUS_EXPIRED = "expired"  # nobody approved it within the policy's time
TAG_FINGERPRINT = "churnops.fingerprint"
TAG_SOURCE_RUN = "source_run_id"
TAG_DATASET_SHA256 = "dataset_sha256"
TAG_TEST_METRIC_PREFIX = "test_"  # test_roc_auc ... as evaluated by the training run
TAG_VALIDATION_PREFIX = "validation_"  # the gate's decision: validation_action, validation_reason ...
TAG_VALIDATION_ACTION = "validation_action"
TAG_VALIDATION_REASON = "validation_reason"
TAG_REPLACED_CHAMPION = "replaced_champion_version"  # on a champion: the one it replaced
TAG_AUDIT_PREFIX = "audit."  # versions decided before issue 13 also carry audit.action/by/at/reason
TAG_AUDIT_HISTORY = "audit.history"
# Since issue 13 a version carries at most these 12 tags (the MLflow UI shows them without
# scrolling); the detail is JSON in the two *_metrics and the evidence tag, the audit trail is
# also an artifact of the source run (AUDIT_ARTIFACT). Older versions keep their longer tag set:
# the readers (churnops.app.views) accept both.
TAG_TEST_METRICS = "test_metrics"  # JSON: the evaluation step's holdout metrics
TAG_VALIDATION_METRICS = "validation_metrics"  # JSON: {"candidate": {...}, "champion": {...}} re-scored by the gate
TAG_VALIDATION_EVIDENCE = "validation_evidence"  # JSON: compared champion, primary metric, tolerance, bootstrap ...
TAG_VALIDATION_DECIDED = "validation_decided"  # "<when> by <who>"
TAG_KFP_RUN = "kfp_run_id"  # the KFP run that trained the version (absent for local runs without one)
VERSION_TAGS = (TAG_STATUS, TAG_VALIDATION_ACTION, TAG_VALIDATION_REASON, TAG_VALIDATION_METRICS,
                TAG_VALIDATION_EVIDENCE, TAG_VALIDATION_DECIDED, TAG_TEST_METRICS, TAG_DATASET_SHA256,
                TAG_FINGERPRINT, TAG_KFP_RUN, TAG_REPLACED_CHAMPION, TAG_AUDIT_HISTORY)
AUDIT_ARTIFACT = "registry/{model_name}-v{version}-audit.json"  # in the version's source run, rewritten per action

# Run tags.
RUN_TAG_STEP = "churnops.step"
RUN_TAG_VERSION = "churnops.version"
RUN_TAG_MODEL_NAME = "churnops.model_name"
RUN_TAG_CANDIDATE = "churnops.candidate"
# On a candidate's run: the successive-halving round (0-based) after which it was not scored again.
RUN_TAG_HALVING_ROUND_OUT = "churnops.halving_round_out"
RUN_TAG_SELECTED_CANDIDATE = "churnops.selected_candidate"
RUN_TAG_DUPLICATE_OF = "churnops.duplicate_of"
RUN_TAG_VALIDATION_STATUS = "churnops.validation_status"
RUN_TAG_PROMOTION_ACTION = "churnops.promotion_action"
RUN_TAG_PARENT = "mlflow.parentRunId"  # MLflow's own nesting tag
RUN_TAG_DATASET = "churnops.dataset"  # name@digest of the training data (the dataset input has the rest)
# The KFP run a step ran in (churnops.registry.lineage): filled by KFP's run-time placeholders.
RUN_TAG_KFP_RUN_ID = "kfp.run_id"
RUN_TAG_KFP_RUN_NAME = "kfp.run_name"
RUN_TAG_KFP_PIPELINE = "kfp.pipeline_name"

# Run parameters read back by others.
PARAM_DECISION_THRESHOLD = "decision_threshold"

# Experiment tags. MLflow 3.17's UI reads `mlflow.experimentKind` to pick an experiment's view
# (server/js main bundle: the `experimentKind` lookup, values `custom_model_development` and
# `genai_development`); `mlflow.note.content` is the description the UI shows and edits.
EXPERIMENT_TAG_KIND = "mlflow.experimentKind"
EXPERIMENT_KIND_MODEL_TRAINING = "custom_model_development"
EXPERIMENT_TAG_DESCRIPTION = "mlflow.note.content"

# Registered-model tags.
TAG_INTENT = "churnops.intent"  # the promotion journal: moves decided but not yet all applied (JSON)
# The guard (issue 27): where churnops last put the guarded aliases, written in the same journal
# entry as the audit entries of the move; an alias elsewhere was moved outside churnops.
TAG_GUARD_RECORD = "churnops.guard.aliases"  # JSON {alias: version}
TAG_GUARD_FINDING = "churnops.guard.finding"  # JSON: the last finding announced (announced once, not per command)
GUARDED_ALIASES = (ALIAS_CHAMPION, ALIAS_PREVIOUS_CHAMPION)
# The promotion policy the last gate ran under (JSON {promotion, guard, approval_hours}): every
# churnops command and the serving follower read it from the registry.
TAG_POLICY = "churnops.policy"
TAG_LAST_DECISION = "churnops.last_decision"  # JSON {version, status, at}: "no training in N days"
TAG_LAST_DRIFT = "churnops.drift.last"  # JSON {verdict, version, at, run_id}: the newest drift verdict
# Audit actions written by churnops (journal.audit) besides promote/demoted/rollback/rolled-back/recovered.
AUDIT_APPROVE = "approve"
AUDIT_REJECT = "reject"
AUDIT_EXPIRE = "expire"
AUDIT_AWAIT = "await-approval"
AUDIT_GUARD_RESTORED = "guard-restored"  # the guard put an alias back
AUDIT_GUARD_REFUSED = "guard-refused"  # on the version an alias was moved to outside churnops
AUDIT_GUARD_REPORTED = "guard-reported"  # policy report: announced, not put back
# The model card (issue 27): artifacts of the version's source run, rewritten with every decision.
CARD_MARKDOWN = "card/model-card.md"
CARD_HTML = "card/model-card.html"

# The one environment variable read by a production path, at call time and only to fail on
# purpose: the name of a step boundary at which the process kills itself (the kill-matrix tests).
ENV_CRASH_AT = "CHURNOPS_CRASH_AT"
ENV_HOME = "CHURNOPS_HOME"  # the project-local folder of the embedded store and local outputs
# Who owns a run (host:pid of the `churnops train` process, or of the step when run on its own):
# the next run marks a RUNNING run of a dead owner FAILED.
RUN_TAG_OWNER = "churnops.owner"
RUN_TAG_SWEPT = "churnops.swept"
# Who ended a run left RUNNING: the local owner sweep writes "owner sweep", the pipeline's exit
# handler (steps/end_orphaned_runs.py) "exit handler"; the why is in RUN_TAG_SWEPT.
RUN_TAG_ENDED_BY = "churnops.ended_by"
ENDED_BY_OWNER_SWEEP = "owner sweep"
ENDED_BY_EXIT_HANDLER = "exit handler"
ENV_RUN_OWNER = "CHURNOPS_RUN_OWNER"  # set by churnops train for its step processes
# When a local pipeline run started (UTC, churnops.core.run_time.FORMAT): the `{scheduled_time}` of
# its output URIs, the same in every step (KFP's local runner does not fill the schedule-time
# placeholder the cluster's driver fills). Set by churnops.app.local_runner.run_locally.
ENV_RUN_TIME = "CHURNOPS_RUN_TIME"
# A local run's step processes: {URI as recorded (churnops.core.secrets.redact): the URI with its
# credentials}, JSON, set by churnops train/predict for a dataset or input URI that carries credentials,
# so the pipeline parameter (printed by KFP's executor, kept in its records) never holds them.
ENV_URI_CREDENTIALS = "CHURNOPS_URI_CREDENTIALS"

# A step's progress line in its stdout (a pod's log on a cluster): churnops.app.local_runner lifts
# lines starting with this onto stderr of a local run.
PROGRESS_PREFIX = "churnops-progress: "

# The alias lease on a tracking server (churnops.registry.locks): a registered model of its own,
# `<model>.alias-lease`, created only by the writer that holds it (the name is the store's unique key).
LEASE_MODEL_SUFFIX = ".alias-lease"
TAG_LEASE_TOKEN = "churnops.lease.token"
TAG_LEASE_EXPIRES = "churnops.lease.expires_ms"
TAG_LEASE_HOLDER = "churnops.lease.holder"

# On the registered model: the best primary-metric score a champion reached on each test set (the
# gate's floor: that minus the tolerance), one JSON tag {"<metric>": {"<test-set digest>": score}}.
# Before issue 24 it was one tag per test set, `best_champion.<metric>.<digest>` = "<score>" (two of
# them read as two competing "best" values): still read, and replaced by the JSON tag on the next write.
TAG_BEST_CHAMPION_SCORES = "churnops.gate.best_champion_scores"
TAG_BEST_CHAMPION_PREFIX = "best_champion."

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
