"""Every problem with a training run's parameters, found before anything runs (pure).

One set of rules for the three places a training run starts: `churnops train` (app/runs.py),
`sync_schedules.py --check` (schedules/config.py), and the pipeline's own steps. Each problem
names the parameter, what was given, and what would be accepted.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from churnops import defaults
from churnops.core.estimators import ESTIMATORS, check_hyperparameters
from churnops.core.halving import budget_problems
from churnops.core.promotion import governance_problems
from churnops.core.search_space import DEFAULT_SEARCH_SPACE, MODEL_TYPES, SEARCH, check_search_space
from churnops.errors import ChurnopsError

# The metrics a promotion threshold can name: churnops.core.evaluation.METRIC_NAMES, written
# out because that module imports scikit-learn (~1 s); tests/churnops/core/test_parameters.py
# checks that the two agree. Each is in [0, 1] except log_loss (>= 0, a maximum).
PROMOTION_METRICS = ("roc_auc", "accuracy", "precision", "recall", "f1", "log_loss")
UNBOUNDED_METRICS = frozenset({"log_loss"})


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _positive(value: Any) -> bool:
    return _number(value) and value > 0


def _positive_int(value: Any) -> bool:
    return _whole(value) and value >= 1


def _depth(value: Any) -> bool:  # None or 0: unlimited (see churnops.core.estimators)
    return value is None or (_whole(value) and value >= 0)


def _non_negative(value: Any) -> bool:
    return _number(value) and value >= 0


def _rate(value: Any) -> bool:
    return _number(value) and 0 < value <= 1


def _class_weight(value: Any) -> bool:
    return value is None or value in ("balanced", "balanced_subsample")


# Hyperparameter -> (accepts?, what is accepted). Names follow the factories in core.estimators.
HYPERPARAMETER_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "C": (_positive, "a positive number (e.g. 1.0)"),
    "class_weight": (_class_weight, "null, 'balanced' or 'balanced_subsample'"),
    "n_estimators": (_positive_int, "a whole number >= 1 (e.g. 300)"),
    "max_depth": (_depth, "a whole number >= 0 or null (0/null: unlimited)"),
    "min_samples_leaf": (_positive_int, "a whole number >= 1"),
    "learning_rate": (_rate, "a number in (0, 1] (e.g. 0.05)"),
    "max_iter": (_positive_int, "a whole number >= 1"),
    "l2_regularization": (_non_negative, "a number >= 0"),
    "early_stopping": (lambda value: value == "auto" or isinstance(value, bool),
                       "'auto' (on above 10,000 rows), true or false"),
}


def accepted_hyperparameters(model_type: str) -> list[str]:
    factory = ESTIMATORS[model_type]
    return sorted(factory.__code__.co_varnames[1 : factory.__code__.co_argcount])


def hyperparameter_problems(model_type: str, hyperparameters: Any) -> list[str]:
    """Unknown names for `model_type`, and values of the wrong type or out of range."""
    if not isinstance(hyperparameters, dict):
        return [f"hyperparameters must map names to values, got {type(hyperparameters).__name__}"]
    if model_type not in ESTIMATORS:
        return []  # reported once, by the model_type rule
    accepted = accepted_hyperparameters(model_type)
    problems = []
    for name, value in hyperparameters.items():
        if name not in accepted:
            problems.append(f"hyperparameter {name!r} is not used by {model_type}; it accepts {accepted}")
            continue
        check, wanted = HYPERPARAMETER_RULES[name]
        if not check(value):
            problems.append(f"hyperparameter {name!r} of {model_type} must be {wanted}, got {value!r}")
    return problems


def _ratio_problem(name: str, value: Any) -> list[str]:
    if _number(value) and 0 < value < 1:
        return []
    return [f"{name} must be a number strictly between 0 and 1 (e.g. 0.2), got {value!r}"]


def training_parameter_problems(parameters: dict[str, Any]) -> list[str]:
    """Every problem with the training parameters present in `parameters` (absent ones use the
    pipeline defaults, which are valid). Keys are the training pipeline's parameter names."""
    problems: list[str] = []
    model_type = parameters.get("model_type", SEARCH)
    if model_type not in (*MODEL_TYPES, SEARCH):
        problems.append(f"model_type {model_type!r} is unknown; choose one of {[*MODEL_TYPES, SEARCH]}")
    if "hyperparameters" in parameters:
        hyperparameters = parameters["hyperparameters"]
        if model_type == SEARCH and hyperparameters:
            problems.append("hyperparameters apply to one named model, not to the candidate search "
                            f"(model_type {SEARCH!r}); name the model or put them in search_space")
        elif model_type != SEARCH:
            problems.extend(hyperparameter_problems(model_type, hyperparameters))
    if "test_size_ratio" in parameters:
        problems.extend(_ratio_problem("test_size_ratio", parameters["test_size_ratio"]))
    if "decision_threshold" in parameters:
        problems.extend(_ratio_problem("decision_threshold", parameters["decision_threshold"]))
    if "search_cv_folds" in parameters:
        folds = parameters["search_cv_folds"]
        if not (_whole(folds) and folds >= 2):
            problems.append(f"search_cv_folds must be a whole number >= 2, got {folds!r}")
    if "search_budget" in parameters:
        problems.extend(budget_problems(parameters["search_budget"]))
    if "promotion_thresholds" in parameters:
        thresholds = parameters["promotion_thresholds"]
        if not isinstance(thresholds, dict):
            problems.append(f"promotion_thresholds must map metric names to values, got {thresholds!r}")
        else:
            for metric, value in thresholds.items():
                if metric not in PROMOTION_METRICS:
                    problems.append(f"promotion_thresholds names unknown metric {metric!r}; "
                                    f"choose from {list(PROMOTION_METRICS)}")
                elif metric in UNBOUNDED_METRICS and not _non_negative(value):
                    problems.append(f"promotion_thresholds[{metric!r}] must be a number >= 0, got {value!r}")
                elif metric not in UNBOUNDED_METRICS and not (_number(value) and 0 <= value <= 1):
                    problems.append(f"promotion_thresholds[{metric!r}] must be a number in [0, 1], got {value!r}")
    for name in ("promotion_min_test_rows", "promotion_min_class_rows"):
        if name in parameters and not (_whole(parameters[name]) and parameters[name] >= 0):
            problems.append(f"{name} must be a whole number >= 0 (0: no minimum), got {parameters[name]!r}")
    rows, per_class = parameters.get("promotion_min_test_rows"), parameters.get("promotion_min_class_rows")
    if _whole(rows) and _whole(per_class) and rows >= 0 and per_class >= 0 and rows and 2 * per_class > rows:
        problems.append(f"promotion_min_class_rows ({per_class}) of each class needs at least {2 * per_class} test rows, "
                        f"more than promotion_min_test_rows ({rows}); raise promotion_min_test_rows or lower "
                        "promotion_min_class_rows")
    if {"promotion", "promotion_guard", "approval_hours"} & set(parameters):
        problems.extend(governance_problems(parameters.get("promotion", defaults.PROMOTION_MODE),
                                            parameters.get("promotion_guard", defaults.GUARD_MODE),
                                            parameters.get("approval_hours", defaults.APPROVAL_HOURS)))
    if "promotion_metric" in parameters and parameters["promotion_metric"] not in PROMOTION_METRICS:
        problems.append(f"promotion_metric {parameters['promotion_metric']!r} is unknown; "
                        f"choose from {list(PROMOTION_METRICS)}")
    return problems


def resolve_training_request(model_type: str | None, hyperparameters: dict[str, Any] | None, test_size: float,
                             cv_folds: int, decision_threshold: float, search_budget: dict[str, Any] | None,
                             search_space: list[dict[str, Any]] | None, policy: Any = None,
                             governance: Any = None) -> tuple[str, dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """What `churnops train` was asked, checked by the rules above before anything runs or is contacted:
    (model type, hyperparameters, search space, search budget) as the run uses them; a ChurnopsError
    naming every problem otherwise. `policy`: a churnops.core.promotion.Policy (its thresholds are checked),
    `governance`: a churnops.core.promotion.Governance (its promotion mode, guard and approval hours).
    Called by the CLI before it probes the tracking server, and by churnops.app.runs.train."""
    problems = training_parameter_problems({
        "model_type": model_type or ("logistic_regression" if hyperparameters else SEARCH),
        "hyperparameters": hyperparameters or {}, "test_size_ratio": test_size, "search_cv_folds": cv_folds,
        "decision_threshold": decision_threshold, "search_budget": {**defaults.SEARCH_BUDGET, **(search_budget or {})},
        **({"promotion_thresholds": dict(policy.thresholds), "promotion_metric": policy.primary_metric,
            "promotion_min_test_rows": policy.min_test_rows, "promotion_min_class_rows": policy.min_class_rows}
           if policy else {}),
        **({"promotion": governance.promotion, "promotion_guard": governance.guard,
            "approval_hours": governance.approval_hours} if governance else {}),
    })
    if problems:  # the rules --check and the pipeline apply, before any step runs
        raise ChurnopsError("Invalid training parameters: " + "; ".join(problems) + ".")
    model_type = model_type or ("logistic_regression" if hyperparameters else SEARCH)
    search_budget = {**defaults.SEARCH_BUDGET, **(search_budget or {})}
    search_space = check_search_space(search_space if search_space is not None else DEFAULT_SEARCH_SPACE)
    if model_type == SEARCH:
        if hyperparameters:
            raise ChurnopsError(
                "Hyperparameters apply to one named model, not to the candidate search (--model-type auto). "
                "Name the model with --model-type, or put the settings in a search space file (--search-space)."
            )
        hyperparameters = {}
    else:
        hyperparameters = hyperparameters if hyperparameters is not None else defaults.HYPERPARAMETERS.get(model_type, {})
        check_hyperparameters(model_type, hyperparameters)  # refuse a bad model config before any step runs
    return model_type, hyperparameters, search_space, search_budget
