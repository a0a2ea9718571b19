"""Measure batch inference peak memory (RSS) and throughput as the input grows.

    python scripts/measure_inference_memory.py --rows 200000 1000000

Builds inputs by repeating data/churn_synthetic.csv (ids made unique), registers one model in a
throwaway embedded store, then scores each input in a fresh process (so each peak RSS is that
run's own) with the streaming scorer (churnops.steps.batch_predict.predict_file). Baselines measured in the
same script: the same process loading the model and scoring 1,000 rows (the fixed cost), and the
naive way (read the whole file with pandas, score it in one call) at the smallest size.
Prints ratios; asserts nothing (timings belong in reports, not in tests).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "data" / "churn_synthetic.csv"
MODEL_NAME = "memory-benchmark"


def build_input(rows: int, path: Path, source: Path = SOURCE) -> Path:
    """`rows` rows of the source's feature columns, repeated, written block by block (flat memory)."""
    base = pd.read_csv(source, dtype=str, keep_default_na=False).drop(columns=["Churn"])
    written = 0
    with open(path, "w", newline="") as handle:
        while written < rows:
            block = base.head(rows - written).copy()
            block["customerID"] = block["customerID"] + f"-{written}"
            block.to_csv(handle, index=False, header=written == 0)
            written += len(block)
    return path


def register_model(tracking_uri: str) -> str:
    """Fit and register one logistic regression without the pipeline (seconds, not a KFP run)."""
    from churnops.core import data
    from churnops.registry import models, tracking, versions
    from churnops.storage.datasets import read_dataset

    tracking.connect(tracking_uri)
    experiment = tracking.ensure_experiment(tracking_uri, "memory-benchmark")
    split = data.split_dataset(read_dataset(str(SOURCE)), "Churn", 0.2)
    _, logged = models.train_and_log(
        split.x_train, split.y_train, experiment_id=experiment, model_type="logistic_regression",
        hyperparameters={"C": 1.0}, random_state=42, target="Churn", positive_label=split.positive_label,
    )
    return str(versions.register_version(logged.model_uri, MODEL_NAME, {}).version)


def child(mode: str, tracking_uri: str, input_path: str, output_path: str, chunk_rows: int) -> dict:
    """Runs in a fresh process: score, then report this process's peak RSS."""
    import mlflow

    from churnops.core.fitting import typed_features
    from churnops.registry import loading, tracking
    from churnops.steps.batch_predict import predict_file

    tracking.connect(tracking_uri)
    resolved = loading.resolve(f"models:/{MODEL_NAME}/1", mlflow.MlflowClient())
    started = time.monotonic()
    if mode == "stream":
        summary = predict_file(resolved, input_path, output_path, output_path + ".rejected",
                                         tracking_uri=tracking_uri, chunk_rows=chunk_rows)
        rows = summary["rows"]
    else:  # naive: the whole file in memory, one predict_proba call
        model = mlflow.sklearn.load_model(resolved.model_uri)
        spec = loading.feature_spec(resolved.model_uri)
        frame = pd.read_csv(input_path, dtype=str, keep_default_na=False, na_values=[""])
        frame["churn_probability"] = model.predict_proba(typed_features(frame, spec))[:, 1]
        frame.to_csv(output_path, index=False)
        rows = len(frame)
    seconds = time.monotonic() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    return {"mode": mode, "rows": rows, "seconds": round(seconds, 2), "peak_rss_mib": round(peak_mib, 1)}


def measure(mode: str, tracking_uri: str, input_path: Path, chunk_rows: int) -> dict:
    completed = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--tracking-uri", tracking_uri, "--input", str(input_path),
         "--chunk-rows", str(chunk_rows)],
        capture_output=True, text=True, check=False, cwd=REPO,
    )
    if completed.returncode != 0:
        raise SystemExit(f"child {mode} {input_path} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def report(results: list[dict]) -> str:
    fixed = next(result for result in results if result["label"] == "fixed cost (1k rows)")
    lines = [f"{'run':<26} {'rows':>9} {'peak RSS MiB':>13} {'x fixed':>8} {'seconds':>8} {'rows/s':>9}"]
    for result in results:
        rate = result["rows"] / result["seconds"] if result["seconds"] else float("nan")
        lines.append(f"{result['label']:<26} {result['rows']:>9} {result['peak_rss_mib']:>13.1f} "
                     f"{result['peak_rss_mib'] / fixed['peak_rss_mib']:>8.2f} {result['seconds']:>8.2f} {rate:>9.0f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--chunk-rows", type=int, default=50_000)
    parser.add_argument("--child", choices=["stream", "naive"], help=argparse.SUPPRESS)
    parser.add_argument("--tracking-uri", help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.tracking_uri, args.input, args.input + ".out", args.chunk_rows)))
        return 0
    with tempfile.TemporaryDirectory(prefix="churnops-memory-") as scratch:
        work = Path(scratch)
        tracking_uri = f"sqlite:///{work / 'mlflow' / 'mlflow.db'}"
        register_model(tracking_uri)
        plan = [("fixed cost (1k rows)", "stream", 1_000)]
        plan += [(f"streaming {rows:,}", "stream", rows) for rows in sorted(args.rows)]
        plan += [(f"naive (all in memory) {min(args.rows):,}", "naive", min(args.rows))]
        results = []
        for label, mode, rows in plan:
            path = work / f"input-{rows}.csv"
            if not path.exists():
                build_input(rows, path)
            results.append({"label": label, **measure(mode, tracking_uri, path, args.chunk_rows)})
            print(f"measured {label}", file=sys.stderr)
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
