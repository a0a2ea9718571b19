"""The gate step on real trained versions: its floor (the best champion score per test set) is one readable
registered-model tag, a copy of the target as a column does not pass, a champion that cannot score does not block."""

from __future__ import annotations

import json

import mlflow
import pytest

from churnops import names
from churnops.registry.tracking import embedded_tracking_uri
from churnops.steps.promote_model import record_best, stored_best


def test_best_scores_are_one_json_tag_and_an_old_per_test_set_tag_is_read_then_replaced(tmp_path):
    uri = embedded_tracking_uri(tmp_path)
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("floors", tags={"best_champion.roc_auc.454ee810c133864f": "0.844349"})
    tags = client.get_registered_model("floors").tags
    assert stored_best(tags, "roc_auc", "454ee810c133864f") == 0.844349  # a store written before issue 24
    assert stored_best(tags, "roc_auc", "0000000000000000") is None
    record_best(client, "floors", "roc_auc", "454ee810c133864f", 0.85)
    record_best(client, "floors", "roc_auc", "b86bccb1efbd0000", 0.8482)
    tags = client.get_registered_model("floors").tags
    assert set(tags) == {names.TAG_BEST_CHAMPION_SCORES}
    assert json.loads(tags[names.TAG_BEST_CHAMPION_SCORES]) == {"roc_auc": {"454ee810c133864f": 0.85,
                                                                            "b86bccb1efbd0000": 0.8482}}
    assert stored_best(tags, "roc_auc", "454ee810c133864f") == 0.85


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
    champion = _champion(gated["uri"])
    decision = _train_and_gate(gated["uri"], *gated["leaky"], c=2.0)  # its own version, in any test order
    assert decision["candidate_metrics"]["roc_auc"] > 0.99  # what fooled the gate before
    assert not decision["promoted"] and decision["status"] == "failed"
    assert decision["reason"].startswith("leakage: ") and f"'{LEAK}'" in decision["reason"], decision["reason"]
    assert decision["evidence"]["single_feature_auc"][LEAK] == 1.0
    assert _champion(gated["uri"]) == champion


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
