"""The version description the gate writes: status and verdict first (what the MLflow version page shows above the fold)."""

from __future__ import annotations

import pytest

from churnops.core import promotion
from churnops.steps.promote_model import version_description

POLICY = promotion.Policy({"roc_auc": 0.6}, "roc_auc", 0.005, min_test_rows=0, min_class_rows=0)
HOLDOUT = (400, 100)


@pytest.mark.parametrize(("candidate", "champion", "champion_now", "start"), [
    (0.85, None, None, "PASSED - PROMOTED to champion: no champion yet"),
    (0.85, 0.80, "1", "PASSED - PROMOTED to champion: beats the champion"),
    (0.70, 0.80, "1", "FAILED - kept as challenger: worse than the champion"),
    (0.50, None, None, "FAILED - kept as challenger: "),
    (0.85, 0.80, "2", "FAILED - not moved (the champion changed meanwhile): the champion changed during this run"),
])
def test_the_description_starts_with_status_and_verdict_then_says_data_and_comparison(candidate, champion,
                                                                                      champion_now, start):
    decision = promotion.decide({"roc_auc": candidate}, "1" if champion else None,
                                {"roc_auc": champion} if champion else None, champion_now, POLICY, HOLDOUT)
    text = version_description(decision, "3", "churn_synthetic@b86bccb1efbd")
    assert text.startswith(start), text
    assert text.split(" - ", 1)[0] == decision.status.upper()
    assert decision.reason.rstrip(".") in text
    assert f"v3 trained on churn_synthetic@b86bccb1efbd; holdout roc_auc {candidate:.4f}; " in text
    against = "compared with champion v1 on the same 400 holdout rows." if champion else "no champion to compare with."
    assert text.endswith(against), text
    assert ".." not in text


def test_unknown_data_and_a_missing_score_are_said_plainly():
    decision = promotion.decide({}, None, None, None, promotion.Policy({}, "roc_auc", 0.0, 0, 0))
    text = version_description(decision, "1", "")
    assert text.startswith(f"{decision.status.upper()} - ")
    assert "v1 trained on unknown data; holdout roc_auc -;" in text


# The gate on real trained versions (issue 25): a copy of the target as a column must not pass, and a champion
# that needs such a column must not block the next honest retrain. Steps run in-process on a SQLite store.
NAME = "churn-classifier"
LEAK = "churned_flag"


def _split(base, source, leak: bool) -> tuple[dict, dict]:
    import pandas as pd

    from churnops import defaults
    from churnops.steps import load_and_preprocess_data

    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    if leak:
        frame[LEAK] = frame["Churn"]  # what a data join that looked one week ahead produces
    base.mkdir()
    frame.to_csv(base / "data.csv", index=False)
    split = {key: str(base / f"{key}.csv") for key in ("x_train", "y_train", "x_test", "y_test")}
    info = load_and_preprocess_data.run(str(base / "data.csv"), defaults.TEST_SIZE_RATIO, defaults.TARGET_COLUMN,
                                        defaults.RANDOM_STATE, "", split)
    return split, info


def _train_and_gate(uri: str, split: dict, info: dict, c: float) -> dict:
    from churnops import defaults
    from churnops.steps import evaluate_model, promote_model, register_model, train_model

    logged = train_model.run(split["x_train"], split["y_train"], info, uri, defaults.EXPERIMENT, NAME,
                             "logistic_regression", {"C": c}, defaults.RANDOM_STATE)
    metrics = evaluate_model.run(split["x_test"], split["y_test"], logged["model_uri"], logged["run_id"], uri,
                                 defaults.DECISION_THRESHOLD).metrics
    version = register_model.run(logged["model_uri"], logged["run_id"], uri, NAME, metrics,
                                 fingerprint=f"{info['dataset_sha256']}-C{c}")["model_version"]
    return promote_model.run(split["x_test"], split["y_test"], logged["run_id"], uri, NAME, str(version),
                             dict(defaults.PROMOTION_THRESHOLDS), defaults.PROMOTION_METRIC,
                             defaults.PROMOTION_TOLERANCE, defaults.DECISION_THRESHOLD)


@pytest.fixture(scope="module")
def gated(tmp_path_factory, synthetic_csv):
    from churnops.registry.tracking import embedded_tracking_uri

    base = tmp_path_factory.mktemp("leakage-gate")
    honest, leaky = _split(base / "honest", synthetic_csv, False), _split(base / "leaky", synthetic_csv, True)
    uri = embedded_tracking_uri(base / "home")
    first = _train_and_gate(uri, *honest, c=1.0)
    assert first["promoted"], first
    return {"uri": uri, "honest": honest, "leaky": leaky, "first": first}


def _champion(uri: str) -> str:
    import mlflow

    return str(mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri).get_registered_model(NAME).aliases["champion"])


def test_a_column_equal_to_the_target_stops_the_promotion_naming_it(gated):
    decision = _train_and_gate(gated["uri"], *gated["leaky"], c=1.0)
    assert decision["candidate_metrics"]["roc_auc"] > 0.99  # what fooled the gate before
    assert not decision["promoted"] and decision["status"] == "failed"
    assert decision["reason"].startswith("leakage: ") and f"'{LEAK}'" in decision["reason"], decision["reason"]
    assert decision["evidence"]["single_feature_auc"][LEAK] == 1.0
    assert _champion(gated["uri"]) == gated["first"]["model_version"]


def test_a_champion_that_cannot_score_the_data_does_not_block_the_next_retrain(gated):
    """The state the attack left: a leaky version became champion; every honest retrain then failed the gate."""
    import mlflow

    from churnops.registry import aliases

    client = mlflow.MlflowClient(tracking_uri=gated["uri"], registry_uri=gated["uri"])
    leaky = _train_and_gate(gated["uri"], *gated["leaky"], c=1.0)["model_version"]  # registered once: reused
    if _champion(gated["uri"]) != leaky:
        aliases.promote(client, NAME, str(leaky), actor="attack", reason="what the fooled gate did")
    decision = _train_and_gate(gated["uri"], *gated["honest"], c=0.5)
    assert decision["promoted"], decision["reason"]
    assert f"the champion v{leaky} cannot score this run's test set" in decision["reason"]
    assert LEAK in decision["reason"]  # the operator is told which column it needed
    assert _champion(gated["uri"]) == decision["model_version"]
