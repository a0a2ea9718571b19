"""Batch inference: `churnops predict` vs a plain read_csv -> predict_proba -> to_csv script.

Inputs are made by resampling data/churn_synthetic.csv (rows drawn with replacement, target
dropped) into a temporary directory; nothing is committed. One model is trained once
(single-model mode: by default the forest the default search chooses on Telco, 200 trees with
min_samples_leaf 20) into a temporary embedded store; both sides score with that same version:
`churnops predict` with the version's own form (its compiled form, on the cores the step has), the
plain script with the version's scikit-learn pipeline as logged. For each size: rows per second
(median over --runs) and the peak RSS of the largest process of each side. Targets (issue 26):
churnops rows/s >= 2x the plain script for the forest; churnops peak memory at the largest size
<= 1.2x that at the smallest (streamed, flat).

    python benchmarks/batch_inference.py [--rows 1000000 5000000] [--runs 3] [--model-type logistic_regression]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchlib import REPO, machine, median, print_table, run_measured, verdict

SOURCE = REPO / "data" / "churn_synthetic.csv"
MODEL_NAME = "bench-inference"
FOREST = ["--model-type", "random_forest", "--param", "n_estimators=200", "--param", "min_samples_leaf=20"]
SPEED_TARGET = 2.0
MEMORY_TARGET = 1.2
WRITE_CHUNK = 500_000


def make_input(rows: int, path: Path, seed: int = 0) -> None:
    """`rows` rows resampled from the synthetic dataset, written in chunks (memory stays small)."""
    import numpy as np
    import pandas as pd

    source = pd.read_csv(SOURCE, dtype=str, keep_default_na=False).drop(columns=["Churn"])
    rng = np.random.default_rng(seed)
    written = 0
    while written < rows:
        count = min(WRITE_CHUNK, rows - written)
        chunk = source.iloc[rng.integers(0, len(source), count)].copy()
        chunk["customerID"] = [f"C{index:09d}" for index in range(written, written + count)]
        chunk.to_csv(path, mode="a", header=written == 0, index=False)
        written += count


def plain_predict(model_uri: str, tracking_uri: str, input_path: str, output_path: str) -> None:
    """What a plain script does: load the model, read the whole CSV, predict_proba, write a CSV.

    The registered model is churnops' pyfunc (since issue 16); the script takes the scikit-learn
    pipeline out of it and calls predict_proba itself, as a notebook would, with no row checks:
    the issue's baseline. The text columns are read as text (the pipeline was fit on text).
    """
    import mlflow
    import pandas as pd

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    model = mlflow.pyfunc.load_model(model_uri).unwrap_python_model()
    frame = pd.read_csv(input_path, dtype={column: str for column in model.categorical})
    churn = model.pipeline.predict_proba(frame[model.numeric + model.categorical])[:, 1]
    pd.DataFrame({"customerID": frame["customerID"], "churn_probability": churn,
                  "churn_predicted": (churn >= model.decision_threshold).astype(int)}).to_csv(output_path, index=False)


def churnops_cli(python: str) -> list[str]:
    return [python, "-m", "churnops"]


def check_predict_exists(python: str) -> None:
    done = subprocess.run([*churnops_cli(python), "predict", "--help"], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(
            "batch_inference: `churnops predict` is not available in this checkout (it comes with the batch "
            "inference issue); run this benchmark after that branch is merged."
        )


def train_model(python: str, home: Path, model: list[str]) -> tuple[str, str]:
    tracking = f"sqlite:///{home / 'mlflow' / 'mlflow.db'}"
    done = subprocess.run(
        [*churnops_cli(python), "train", "--dataset", str(SOURCE), *model, "--model-name", MODEL_NAME, "--json"],
        capture_output=True, text=True, env={**os.environ, "CHURNOPS_HOME": str(home)}, cwd=REPO,
    )
    if done.returncode != 0:
        raise SystemExit(f"batch_inference: training the benchmark model failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout)["model_uri"], tracking


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--model-type", default="random_forest",
                        help="random_forest (the Telco champion's settings, default) or logistic_regression")
    parser.add_argument("--plain", nargs=4, metavar=("MODEL_URI", "TRACKING_URI", "INPUT", "OUTPUT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.plain:
        plain_predict(*args.plain)
        return 0
    check_predict_exists(args.python)
    print(f"batch inference benchmark ({args.model_type}): {SOURCE.name} resampled to {args.rows} rows; {machine()}")
    with tempfile.TemporaryDirectory(prefix="churnops-inference-") as scratch:
        scratch = Path(scratch)
        home = scratch / "home"
        model_uri, tracking = train_model(
            args.python, home, FOREST if args.model_type == "random_forest" else ["--model-type", args.model_type])
        env = {**os.environ, "CHURNOPS_HOME": str(home)}
        rows_out, peaks = [], {}
        for rows in args.rows:
            input_path = scratch / f"input-{rows}.csv"
            make_input(rows, input_path)
            ours, plain = [], []
            for run in range(args.runs):
                output = scratch / f"ours-{rows}-{run}.csv"
                ours.append(run_measured(
                    [*churnops_cli(args.python), "predict", "--model-uri", model_uri, "--input", str(input_path),
                     "--output", str(output), "--tracking-uri", tracking, "--json"], env=env))
                output.unlink(missing_ok=True)
                output = scratch / f"plain-{rows}-{run}.csv"
                plain.append(run_measured([args.python, str(Path(__file__).resolve()), "--plain", model_uri,
                                           tracking, str(input_path), str(output)], env=env))
                output.unlink(missing_ok=True)
            input_path.unlink()
            ours_rate = rows / median([m["wall"] for m in ours])
            plain_rate = rows / median([m["wall"] for m in plain])
            peaks[rows] = (max(m["peak_kib"] for m in ours), max(m["peak_kib"] for m in plain))
            rows_out.append([f"{rows:,}", f"{ours_rate:,.0f}", f"{plain_rate:,.0f}", f"{ours_rate / plain_rate:.2f}",
                             f"{peaks[rows][0] / 1024:,.0f}", f"{peaks[rows][1] / 1024:,.0f}"])
    print_table("Rows per second (median) and peak RSS of the largest process",
                ["rows", "churnops predict rows/s", "plain rows/s", "ratio", "churnops peak MiB", "plain peak MiB"],
                rows_out)
    smallest, largest = min(peaks), max(peaks)
    speed = min(float(row[3]) for row in rows_out)
    memory = peaks[largest][0] / peaks[smallest][0]
    print(f"\nslowest ratio {speed:.2f}: {verdict(speed, SPEED_TARGET, higher_is_better=True)}")
    print(f"churnops peak memory {largest:,} / {smallest:,} rows = {memory:.2f}: "
          f"{verdict(memory, MEMORY_TARGET, higher_is_better=False)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
