"""Compatibility path for models registered before churnops 0.1.0's regrouping.

Their pickled pipelines name the transformers `churnops.features.NumericCoercer` and
`churnops.features.CategoryText`; unpickling looks those names up here. New code imports
churnops.core.features. Remove only when no registered version predates the regrouping.
"""

from churnops.core.features import CategoryText, FeatureSpec, NumericCoercer

__all__ = ["CategoryText", "FeatureSpec", "NumericCoercer"]
