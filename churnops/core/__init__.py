"""The pure core: data checks and split, features, estimators, fitting, cross-validation, evaluation,
the search space, the promotion rule, row checks for scoring and the training fingerprint.

No MLflow, no KFP, no network here (an import-linter contract in pyproject.toml enforces it):
everything takes and returns DataFrames, arrays and plain values, so tests call it directly.
"""
