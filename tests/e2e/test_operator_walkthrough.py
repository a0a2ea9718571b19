"""Issue 24's operator walk-through, as a new operator runs it: real `churnops` processes on a fresh embedded
store - train a logistic regression, train a random forest, compare with no arguments, roll back, promote
again. Every step exits 0 and prints no warning; after each move what the registry says is true: the
registered model's first sentence names the current champion and no version's description claims a role
it no longer has. ~3 min on the shared 2-core machine (two single-model trainings dominate)."""

from __future__ import annotations

import os
import subprocess
import sys

import mlflow
import pytest
from support.paths import REPO

from churnops import names
from churnops.registry.tracking import embedded_tracking_uri

pytestmark = pytest.mark.e2e
NAME = "churn-classifier"
# The role a version's description claims first (churnops.core.narrative) -> the alias that role needs now.
ROLES = {"CHAMPION since": names.ALIAS_CHAMPION, "PREVIOUS CHAMPION": names.ALIAS_PREVIOUS_CHAMPION,
         "CHALLENGER": names.ALIAS_CHALLENGER}
NOT_SERVING = ("ROLLED BACK - not serving", "SUPERSEDED - not serving", "FAILED THE GATE - not serving")


def churnops(home, *args: str) -> subprocess.CompletedProcess:
    """One step as the operator types it; it must exit 0, say what it does first and print no warning."""
    result = subprocess.run([sys.executable, "-m", "churnops", *args], cwd=REPO,
                            env={**os.environ, "CHURNOPS_HOME": str(home)}, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, (args, result.stderr[-3000:])
    assert result.stderr.startswith(f"churnops {args[0]}"), result.stderr[:300]  # the opening line
    for noise in ("Warning", "\x1b[", "Traceback"):
        assert noise not in result.stdout + result.stderr, (args, noise, result.stderr[-3000:])
    return result


def registry(home) -> tuple[dict[str, str], str, dict[str, str]]:
    """(aliases, the registered model's description, each version's description)."""
    uri = embedded_tracking_uri(home)
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    model = client.get_registered_model(NAME)
    versions = {str(v.version): v.description or "" for v in client.search_model_versions(f"name = '{NAME}'")}
    return {alias: str(v) for alias, v in model.aliases.items()}, model.description or "", versions


def assert_words_are_true(home) -> tuple[dict[str, str], str, dict[str, str]]:
    aliases, model, versions = registry(home)
    champion = aliases[names.ALIAS_CHAMPION]
    first_sentence = model.split(". ", 1)[0]
    assert first_sentence.startswith(f"Champion: v{champion} since "), model
    previous = aliases.get(names.ALIAS_PREVIOUS_CHAMPION)
    assert f"rollback` target): {f'v{previous}' if previous else 'none'}." in model, model
    for version, text in versions.items():
        status = text.split("\n\n", 1)[0]
        claimed = [alias for role, alias in ROLES.items() if status.startswith(role)]
        if claimed:
            assert aliases.get(claimed[0]) == version, (version, status, aliases)  # holds the role it claims
        else:
            held = {alias for alias, number in aliases.items() if number == version}
            assert status.startswith(NOT_SERVING) and not held & set(ROLES.values()), (version, status, aliases)
        assert "PROMOTED to champion" not in text  # the gate's verdict is a dated record, not a role
    return aliases, model, versions


def test_train_train_compare_rollback_promote_and_the_registry_tells_the_truth(tmp_path, synthetic_csv):
    home = tmp_path / "home"
    first = churnops(home, "train", "--model-type", "logistic_regression", "--dataset", str(synthetic_csv))
    assert "promoted: yes; aliases: candidate-latest v1, champion v1" in first.stdout
    # A smooth random forest on the same data ties v1 within the default tolerance (ROC AUC 0.8449 vs 0.8482
    # on the same holdout, not significantly worse): the gate promotes it.
    second = churnops(home, "train", "--model-type", "random_forest", "--dataset", str(synthetic_csv),
                      "--param", "n_estimators=300", "--param", "min_samples_leaf=40")
    assert "promoted: yes; aliases: candidate-latest v2, champion v2, previous-champion v1" in second.stdout
    assert_words_are_true(home)

    review = churnops(home, "models", "compare").stdout  # no arguments: the champion against what it replaced
    assert review.startswith(f"{NAME}: v1 (previous-champion) vs v2 (champion, candidate-latest) on the champion's ")
    assert "(customerID, churned, v1, v2):" in review

    churnops(home, "models", "rollback", "--reason", "INC-7: v2 over-predicts churn", "--by", "oncall")
    aliases, model, versions = assert_words_are_true(home)
    assert aliases[names.ALIAS_CHAMPION] == "1" and names.ALIAS_PREVIOUS_CHAMPION not in aliases
    assert model.startswith("Champion: v1 since ") and " (rollback by oncall). Why: INC-7: v2 over-predicts churn." in model
    assert versions["2"].startswith("ROLLED BACK - not serving since ") and "INC-7" in versions["2"]
    listed = churnops(home, "models", "list").stdout.splitlines()
    assert listed[0].split()[:4] == ["version", "aliases", "status", "roc_auc_on_v1_rows"]
    assert [line.split()[:2] for line in listed[1:3]] == [["2", "candidate-latest"], ["*", "1"]]

    churnops(home, "models", "promote", "--version", "2", "--reason", "INC-7 fixed upstream", "--by", "oncall")
    aliases, model, versions = assert_words_are_true(home)
    assert (aliases[names.ALIAS_CHAMPION], aliases[names.ALIAS_PREVIOUS_CHAMPION]) == ("2", "1")
    assert " (promoted by oncall). Why: INC-7 fixed upstream." in model
    moves = model.split("Last moves, newest first:\n", 1)[1].splitlines()
    assert [line.split(": ", 1)[1].split(" by ")[0] for line in moves] == [
        "v2 promoted to champion", "champion rolled back to v1", "v2 promoted to champion", "v1 promoted to champion"]
