"""The gate's floor (the best champion score per test set) is one readable registered-model tag."""

from __future__ import annotations

import json

import mlflow

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
