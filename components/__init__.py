"""KFP components: one `@dsl.component` per file, named after its function."""

from components.batch_predict import batch_predict
from components.check_drift import check_drift
from components.check_sharded_drift import check_sharded_drift
from components.end_orphaned_runs import end_orphaned_runs
from components.evaluate_model import evaluate_model
from components.fingerprint_training import fingerprint_training
from components.load_and_preprocess_data import load_and_preprocess_data
from components.plan_shards import plan_shards
from components.profile_reference import profile_reference
from components.promote_model import promote_model
from components.publish_predictions import publish_predictions
from components.register_model import register_model
from components.resolve_model import resolve_model
from components.score_model_family import score_model_family
from components.select_best_candidate import select_best_candidate
from components.single_model import single_model
from components.start_candidate_search import start_candidate_search
from components.train_model import train_model
from components.trigger_retrain import trigger_retrain
from components.write_manifest import write_manifest

__all__ = [
    "load_and_preprocess_data",
    "start_candidate_search",
    "score_model_family",
    "select_best_candidate",
    "single_model",
    "train_model",
    "evaluate_model",
    "profile_reference",
    "register_model",
    "fingerprint_training",
    "promote_model",
    "resolve_model",
    "batch_predict",
    "publish_predictions",
    "check_drift",
    "trigger_retrain",
    "plan_shards",
    "write_manifest",
    "check_sharded_drift",
    "end_orphaned_runs",
]
