"""The estimators a churn model can use, built from a name and a dict of hyperparameters.

scikit-learn is imported inside the factories: checking a name and its hyperparameters (the CLI,
the search's first step) must not cost the ~1 s import.

`n_jobs` (keyword-only, so not a hyperparameter: it changes how fast a model fits, never what it
learns) is how many cores a fit may use; the steps take it from the cores their process has
(churnops.cpus.cpu_budget).
"""

from __future__ import annotations

from typing import Any, Callable

from churnops.errors import ChurnopsError


def _logistic_regression(random_state: int, C: float = 1.0, class_weight: str | None = None, *,  # noqa: N803
                         n_jobs: int = 1):
    # lbfgs on one binary problem uses one core whatever n_jobs says.
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=float(C), class_weight=class_weight, max_iter=2000, random_state=random_state)


def _random_forest(
    random_state: int,
    n_estimators: int = 300,
    max_depth: int | None = None,
    min_samples_leaf: int = 5,
    class_weight: str | None = None,
    *,
    n_jobs: int = 1,
):
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(
        n_estimators=int(n_estimators),
        max_depth=None if max_depth in (None, 0) else int(max_depth),
        min_samples_leaf=int(min_samples_leaf),
        class_weight=class_weight,
        n_jobs=int(n_jobs),
        random_state=random_state,
    )


def _hist_gradient_boosting(
    random_state: int,
    learning_rate: float = 0.05,
    max_depth: int | None = 3,
    max_iter: int = 300,
    l2_regularization: float = 0.0,
    early_stopping: str | bool = "auto",
    *,
    n_jobs: int = 1,
):
    # Its threads are OpenMP's: the caller limits them (threadpoolctl), n_jobs is not a parameter.
    from sklearn.ensemble import HistGradientBoostingClassifier

    # "auto" is scikit-learn's rule (1.9.1 ensemble/_hist_gradient_boosting/gradient_boosting.py,
    # BaseHistGradientBoosting.fit: do_early_stopping_ = n_samples > 10_000; defaults
    # n_iter_no_change=10, validation_fraction=0.1); max_iter is then a cap, not a count.
    return HistGradientBoostingClassifier(
        learning_rate=float(learning_rate),
        max_depth=None if max_depth in (None, 0) else int(max_depth),
        max_iter=int(max_iter),
        l2_regularization=float(l2_regularization),
        early_stopping=early_stopping,
        random_state=random_state,
    )


ESTIMATORS: dict[str, Callable[..., Any]] = {
    "logistic_regression": _logistic_regression,
    "random_forest": _random_forest,
    "hist_gradient_boosting": _hist_gradient_boosting,
}


def build_estimator(model_type: str, hyperparameters: dict[str, Any] | None, random_state: int = 42,
                    n_jobs: int = 1):
    """An unfitted classifier; unknown names or parameters are refused with the valid choices."""
    check_hyperparameters(model_type, hyperparameters)
    return ESTIMATORS[model_type](random_state, **(hyperparameters or {}), n_jobs=n_jobs)


def check_hyperparameters(model_type: str, hyperparameters: dict[str, Any] | None) -> None:
    """Refuse an unknown estimator name or a hyperparameter it does not take, naming the choices."""
    if model_type not in ESTIMATORS:
        raise ChurnopsError(f"Unknown model_type {model_type!r}; choose one of {sorted(ESTIMATORS)}.")
    factory = ESTIMATORS[model_type]
    accepted = set(factory.__code__.co_varnames[1 : factory.__code__.co_argcount])
    unknown = sorted(set(hyperparameters or {}) - accepted)
    if unknown:
        raise ChurnopsError(
            f"Hyperparameter(s) {unknown} are not used by {model_type}; it accepts {sorted(accepted)}."
        )
