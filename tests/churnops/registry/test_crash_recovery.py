"""The kill matrix: a process killed at every step boundary of registration and promotion, then rerun.

Issue 16, "Why" 1: killed after registration, the rerun found the version by fingerprint and left
it pending forever; killed between the two alias moves, `champion` pointed at the new version with
no `previous-champion`. Here each boundary is named on purpose (CHURNOPS_CRASH_AT: the process
`os._exit(137)`s there, exactly as after a SIGKILL: no cleanup, no flush), the store is inspected,
then the same steps run again in a fresh process. The store must end as the uninterrupted run
leaves it (aliases, validation tags, run tags, audit actions), plus one `recovered` audit entry when
a half-applied journal entry was finished.

By default the matrix runs one boundary per recovery path (SHARP: nothing written yet, a version
without its candidate alias, an intent with nothing applied, champion moved without
previous-champion, half the tags, all but the journal's end; the challenger move), 11 cases instead
of 20; CHURNOPS_FULL_MATRICES=1 runs every boundary.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

import mlflow
import pytest
from support import crash_run
from support.paths import REPO

from churnops import defaults, names
from churnops.registry.tracking import embedded_tracking_uri
from churnops.steps import evaluate_model, load_and_preprocess_data, promote_model, register_model, train_model

NAME = "churn-classifier"
REGISTER = ["register:before-create", "register:after-create", "register:after-candidate-alias"]
JOURNAL_START = ["promote:before-intent", "promote:after-intent"]
JOURNAL_END = ["promote:after-tags-vnew", "promote:after-run-tags", "promote:after-finish"]
PROMOTE = [*REGISTER, *JOURNAL_START, "promote:after-set-champion", "promote:after-set-previous-champion",
           "promote:after-tags-vnew", "promote:after-audit-new", "promote:after-audit-old",
           "promote:after-run-tags", "promote:after-finish"]
CHALLENGE = [*REGISTER, *JOURNAL_START, "promote:after-set-challenger", *JOURNAL_END]
SHARP = {"register:after-create", "promote:after-intent", "promote:after-set-champion", "promote:after-tags-vnew",
         "promote:after-audit-new", "promote:after-run-tags", "promote:after-set-challenger"}
FULL = bool(os.environ.get("CHURNOPS_FULL_MATRICES"))
VOLATILE = {names.TAG_VALIDATION_DECIDED, names.TAG_AUDIT_HISTORY}  # times; the audit actions are compared below
TIMES = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC")  # in the descriptions (churnops.core.narrative.when)


def trained(base, split, info, c: float) -> dict:
    uri = embedded_tracking_uri(base / "home")
    logged = train_model.run(split["x_train"], split["y_train"], info, uri, defaults.EXPERIMENT, NAME,
                             "logistic_regression", {"C": c}, defaults.RANDOM_STATE)
    result = evaluate_model.run(split["x_test"], split["y_test"], logged["model_uri"], logged["run_id"], uri,
                                defaults.DECISION_THRESHOLD)
    return {"model_uri": logged["model_uri"], "run_id": logged["run_id"], "tracking_uri": uri,
            "model_name": NAME, "test_metrics": result.metrics, "fingerprint": f"fp-C{c}",
            "x_test": split["x_test"], "y_test": split["y_test"],
            "thresholds": dict(defaults.PROMOTION_THRESHOLDS), "primary_metric": defaults.PROMOTION_METRIC,
            "tolerance": defaults.PROMOTION_TOLERANCE, "threshold": defaults.DECISION_THRESHOLD}


@pytest.fixture(scope="module")
def baseline(tmp_path_factory, synthetic_csv):
    """A store with v1 (C=1) champion, and two logged, evaluated, unregistered candidates."""
    base = tmp_path_factory.mktemp("kill-matrix")
    split = {key: str(base / f"{key}.csv") for key in ("x_train", "y_train", "x_test", "y_test")}
    info = load_and_preprocess_data.run(str(synthetic_csv), defaults.TEST_SIZE_RATIO, defaults.TARGET_COLUMN,
                                        defaults.RANDOM_STATE, "", split)
    first = trained(base, split, info, 1.0)
    version = register_model.run(first["model_uri"], first["run_id"], first["tracking_uri"], NAME,
                                 first["test_metrics"], fingerprint=first["fingerprint"])["model_version"]
    promote_model.run(split["x_test"], split["y_test"], first["run_id"], first["tracking_uri"], NAME, str(version),
                      first["thresholds"], first["primary_metric"], first["tolerance"], first["threshold"])
    plans = {"winner": trained(base, split, info, 100.0), "loser": trained(base, split, info, 0.0001)}
    return {"base": base, "plans": plans}


def run_steps(plan: dict, home, crash_at: str | None = None) -> subprocess.CompletedProcess:
    plan = {**plan, "tracking_uri": embedded_tracking_uri(home)}
    path = home.parent / "plan.json"
    path.write_text(json.dumps(plan))
    env = {key: value for key, value in os.environ.items() if key != names.ENV_CRASH_AT}
    if crash_at:
        env[names.ENV_CRASH_AT] = crash_at
    return crash_run.forked(str(path), env)


def state(home, run_id: str) -> dict:
    """What a user of the registry sees: aliases, each version's lasting tags and audit actions, the run's tags."""
    uri = embedded_tracking_uri(home)
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    model = client.get_registered_model(NAME)
    versions = {}
    for found in client.search_model_versions(f"name = '{NAME}'"):
        tags = {k: v for k, v in found.tags.items() if k not in VOLATILE}
        actions = [entry["action"] for entry in json.loads(found.tags.get(names.TAG_AUDIT_HISTORY, "[]"))]
        # The descriptions are part of the journal entry: a recovered run writes them too (its times are its own).
        versions[found.version] = {"tags": tags, "audit": actions,
                                   "description": TIMES.sub("<time>", found.description or "")}
    run_tags = client.get_run(run_id).data.tags
    return {"aliases": {k: str(v) for k, v in model.aliases.items()}, "intent": model.tags.get(names.TAG_INTENT),
            "versions": versions,
            "run": {k: run_tags.get(k) for k in (names.RUN_TAG_VALIDATION_STATUS, names.RUN_TAG_PROMOTION_ACTION)}}


def without_recovery(snapshot: dict) -> dict:
    versions = {v: {**d, "audit": [a for a in d["audit"] if a != "recovered"]} for v, d in snapshot["versions"].items()}
    return {**snapshot, "versions": versions}


def summary(snapshot: dict) -> str:
    aliases = ",".join(f"{k}=v{v}" for k, v in sorted(snapshot["aliases"].items()))
    statuses = ",".join(f"v{v}:{d['tags'].get(names.TAG_STATUS)}" for v, d in sorted(snapshot["versions"].items()))
    return f"{aliases}; {statuses}{'; intent left' if snapshot['intent'] else ''}"


def copy_store(baseline, tmp_path, label: str):
    home = tmp_path / label / "home"
    shutil.copytree(baseline["base"] / "home", home)
    return home


@pytest.mark.parametrize(("candidate", "boundaries"), [("winner", [b for b in PROMOTE if FULL or b in SHARP]),
                                                       ("loser", [b for b in CHALLENGE if FULL or b in SHARP])])
def test_a_kill_at_every_boundary_ends_as_an_uninterrupted_run(baseline, tmp_path, candidate, boundaries):
    plan = baseline["plans"][candidate]
    reference_home = copy_store(baseline, tmp_path, "reference")
    done = run_steps(plan, reference_home)
    assert done.returncode == 0, done.stderr[-2000:]
    reference = state(reference_home, plan["run_id"])
    expected_champion = "2" if candidate == "winner" else "1"
    assert reference["aliases"]["champion"] == expected_champion and reference["intent"] is None
    new = {str(number): details for number, details in reference["versions"].items()}["2"]
    assert len(new["tags"]) + len(VOLATILE) <= 12, sorted(new["tags"])
    status = "CHAMPION since <time> (promoted by " if expected_champion == "2" else "CHALLENGER - failed the gate"
    assert new["description"].startswith(status) and ". v2 trained on " in new["description"], new["description"]
    def kill_and_rerun(boundary: str):
        home = copy_store(baseline, tmp_path, boundary.replace(":", "_"))
        killed = run_steps(plan, home, crash_at=boundary)
        assert killed.returncode == 137, f"{boundary} was never reached: {killed.stderr[-1500:]}"
        after_kill = state(home, plan["run_id"])
        rerun = run_steps(plan, home)
        assert rerun.returncode == 0, rerun.stderr[-2000:]
        return boundary, after_kill, state(home, plan["run_id"])

    # Each boundary on its own copy of the store, two at a time (every case is two fresh processes).
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(kill_and_rerun, boundaries))
    rows, failures = [], []
    for boundary, after_kill, final in outcomes:
        ok = without_recovery(final) == reference and final["intent"] is None
        recovered = "recovered" in sum((d["audit"] for d in final["versions"].values()), [])
        rows.append(f"| {candidate} | {boundary} | {summary(after_kill)} | {summary(final)}"
                    f"{' (+recovered audit)' if recovered else ''} | {'ok' if ok else 'FAIL'} |")
        if not ok:
            failures.append((boundary, final, reference))
    table = "\n".join(["| candidate | boundary | state after kill | after rerun | ok |", "|---|---|---|---|---|", *rows])
    print(table)
    (REPO / "build").mkdir(exist_ok=True)
    (REPO / "build" / f"kill-matrix-{candidate}.md").write_text(table + "\n")
    assert not failures, failures[0]
