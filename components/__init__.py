"""KFP components: one `@dsl.component` per file, named after its function."""

from components.evaluate_model import evaluate_model
from components.load_and_preprocess_data import load_and_preprocess_data
from components.register_model import register_model
from components.train_model import train_model

__all__ = ["load_and_preprocess_data", "train_model", "evaluate_model", "register_model"]
