"""KFP components: one `@dsl.component` per file, named after its function."""

from components.batch_predict import batch_predict
from components.evaluate_model import evaluate_model
from components.fingerprint_training import fingerprint_training
from components.load_and_preprocess_data import load_and_preprocess_data
from components.promote_model import promote_model
from components.register_model import register_model
from components.resolve_model import resolve_model
from components.train_model import train_model

__all__ = [
    "load_and_preprocess_data",
    "train_model",
    "evaluate_model",
    "register_model",
    "fingerprint_training",
    "promote_model",
    "resolve_model",
    "batch_predict",
]
