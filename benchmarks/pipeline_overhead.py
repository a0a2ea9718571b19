"""Pipeline overhead: the local training pipeline vs one process doing the same work.

Pipeline: `churnops train --model-type logistic_regression` (single-model mode, KFP local runner,
one process per step, fresh embedded SQLite store), once with each local executor: `warm` (steps
forked from a pre-imported forkserver, the default) and `subprocess` (kfp.local's plain runner, a
fresh interpreter per step). Baseline: one fresh Python process that calls the same step functions
in a row (read + split, fit + log params/metrics/model, evaluate + log metrics/plots, reference
profile, fingerprint, register + alias, promotion gate) against a fresh store of the same kind. All
three are timed from process start to exit, interleaved, medians over --runs. Ratio = pipeline /
baseline; target for the default (warm) executor <= 1.3 (issue 15).

--profile adds where the pipeline's time goes: each step's wall time from the run log, and the
fixed cost every step process pays (interpreter + kfp, imports, opening the store, teardown).

    python benchmarks/pipeline_overhead.py [--runs 3] [--profile] [--python /path/to/other/venv/python]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from pathlib import Path

from benchlib import REPO, machine, median, print_table, run_measured, verdict

DATASET = REPO / "data" / "churn_synthetic.csv"
TARGET_RATIO = 1.3
EXECUTORS = ("warm", "subprocess")
STEP_LINE = re.compile(r"^(\d\d):(\d\d):(\d\d\.\d+) - INFO - (?:Executing task '([\w-]+)'|Task '([\w-]+)' finished)")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def in_process_run(dataset: str, home: Path) -> None:
    """The pipeline's work in this one process: same functions, same logging, same kind of store."""
    from churnops.app.views import training_summary
    from churnops.core.fingerprint import training_fingerprint
    from churnops.registry.tracking import connect, embedded_tracking_uri
    from churnops.steps import (
        evaluate_model,
        load_and_preprocess_data,
        profile_reference,
        promote_model,
        register_model,
        train_model,
    )

    uri = embedded_tracking_uri(home)
    connect(uri)
    paths = {name: str(home / f"{name}.csv") for name in ("x_train", "y_train", "x_test", "y_test")}
    info = load_and_preprocess_data.run(dataset, 0.2, "Churn", 42, "", paths)
    trained = train_model.run(paths["x_train"], paths["y_train"], info, uri, "churn", "churn-classifier",
                          "logistic_regression", {"C": 1.0}, 42, x_test_path=paths["x_test"])
    result = evaluate_model.run(paths["x_test"], paths["y_test"], trained["model_uri"], trained["run_id"], uri, 0.5)
    profile_reference.run(paths["x_train"], paths["x_test"], trained["model_uri"], trained["run_id"], uri,
                          "churn-classifier")
    fingerprint = training_fingerprint(
        info["dataset_sha256"], target_column="Churn", positive_label=info["positive_label"], test_size_ratio=0.2,
        random_state=42, model_type="logistic_regression", hyperparameters={"C": 1.0}, decision_threshold=0.5)
    registered = register_model.run(trained["model_uri"], trained["run_id"], uri, "churn-classifier", result.metrics,
                                info["dataset_sha256"], fingerprint=fingerprint)
    promote_model.run(paths["x_test"], paths["y_test"], trained["run_id"], uri, "churn-classifier",
                      str(registered["model_version"]), {"roc_auc": 0.75}, "roc_auc", 0.005, 0.5)
    training_summary(uri, "churn-classifier", str(registered["model_version"]))


def pipeline_command(python: str) -> list[str]:
    return [python, "-m", "churnops", "train", "--dataset", str(DATASET), "--model-type", "logistic_regression",
            "--json"]


def step_seconds(log_text: str) -> dict[str, float]:
    """Wall seconds per step from a kfp.local run log."""
    started: dict[str, float] = {}
    seconds: dict[str, float] = {}
    for line in ANSI.sub("", log_text).splitlines():
        match = STEP_LINE.match(line)
        if not match:
            continue
        hours, minutes, secs, begin, end = match.groups()
        moment = int(hours) * 3600 + int(minutes) * 60 + float(secs)
        if begin:
            started[begin] = moment
        elif end in started:
            seconds[end] = seconds.get(end, 0.0) + moment - started.pop(end)
    return seconds


def fixed_costs(python: str, runs: int) -> list[list[str]]:
    """What every step process pays before and after its work (medians of `runs` fresh processes)."""
    with tempfile.TemporaryDirectory() as scratch:
        store = f"sqlite:///{scratch}/mlflow.db"
        run_measured([python, "-c", f"import mlflow; mlflow.MlflowClient('{store}').search_experiments()"])
        probes = {
            "interpreter + kfp executor import": "import kfp.dsl.executor_main",
            "+ import pandas": "import kfp.dsl.executor_main, pandas",
            "+ import scikit-learn": "import kfp.dsl.executor_main, pandas, sklearn.ensemble, sklearn.linear_model",
            "+ import mlflow": "import kfp.dsl.executor_main, pandas, sklearn.ensemble, mlflow",
            "+ open the SQLite store": "import kfp.dsl.executor_main, pandas, sklearn.ensemble, mlflow; "
                                       f"mlflow.MlflowClient('{store}').search_experiments()",
            "  ... ending with os._exit (no teardown)": "import kfp.dsl.executor_main, pandas, sklearn.ensemble, "
                                                        f"mlflow, os; mlflow.MlflowClient('{store}')"
                                                        ".search_experiments(); os._exit(0)",
        }
        rows = []
        for label, code in probes.items():
            walls = [run_measured([python, "-c", code])["wall"] for _ in range(runs)]
            rows.append([label, f"{median(walls):.2f}"])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter whose churnops is measured (e.g. a venv of another checkout)")
    parser.add_argument("--in-process", type=Path, metavar="HOME", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.in_process:
        in_process_run(str(DATASET), args.in_process)
        return 0

    print(f"pipeline overhead benchmark: {DATASET.name}, single-model mode; {machine()}")
    walls: dict[str, list[float]] = {name: [] for name in (*EXECUTORS, "baseline")}
    steps_runs: dict[str, list[dict[str, float]]] = {name: [] for name in EXECUTORS}
    for _ in range(args.runs):
        for executor in EXECUTORS:
            with tempfile.TemporaryDirectory(prefix="churnops-overhead-") as home:
                env = {**os.environ, "CHURNOPS_HOME": home, "CHURNOPS_LOCAL_EXECUTOR": executor}
                walls[executor].append(run_measured(pipeline_command(args.python), env=env)["wall"])
                logs = sorted((Path(home) / "logs").glob("*.log"))
                steps_runs[executor].append(step_seconds(logs[-1].read_text(encoding="utf-8")))
        with tempfile.TemporaryDirectory(prefix="churnops-inprocess-") as home:
            command = [args.python, str(Path(__file__).resolve()), "--in-process", home]
            walls["baseline"].append(run_measured(command)["wall"])
    baseline = median(walls["baseline"])
    rows = []
    for executor in EXECUTORS:
        ratio = median(walls[executor]) / baseline
        rows.append([f"local pipeline, {executor} executor", f"{median(walls[executor]):.2f}",
                     " ".join(f"{w:.1f}" for w in walls[executor]), f"{ratio:.2f}",
                     verdict(ratio, TARGET_RATIO, higher_is_better=False) if executor == "warm" else "(plain kfp.local)"])
    rows.append(["one process, same work (baseline)", f"{baseline:.2f}", " ".join(f"{w:.1f}" for w in walls["baseline"]),
                 "1.00", ""])
    print_table("Wall time, process start to exit (median)", ["what", "median s", "runs", "ratio to baseline", "target"],
                rows)
    if args.profile:
        names = list(steps_runs["warm"][0])
        print_table("Pipeline steps (median wall s, from the run log)", ["step", *EXECUTORS],
                    [[name, *(f"{median([run.get(name, 0.0) for run in steps_runs[e]]):.2f}" for e in EXECUTORS)]
                     for name in names]
                    + [["sum of steps", *(f"{median([sum(run.values()) for run in steps_runs[e]]):.2f}"
                                          for e in EXECUTORS)]])
        print_table("Fixed cost of one step process (median wall s, cumulative)", ["process does", "s"],
                    fixed_costs(args.python, args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
