"""Scale: default training (successive-halving search) vs one fit of the model it chose, at 7k/70k/700k rows.

For each size, the real Telco file is resampled to that many rows (with replacement; each row gets
a new customerID and its numbers a small jitter, so a copy is not an exact duplicate of another)
into a temp dir, then, each in a fresh process and its own embedded store:
- `churnops train` with defaults (the search by successive halving, churnops.defaults.SEARCH_BUDGET);
- `churnops train --search-strategy exhaustive --search-max-rows 0`: every setting cross-validated
  on every row, the search as it was before halving (its holdout ROC AUC is the quality bar);
  `--no-exhaustive-above N` skips it above N rows (it takes ~11 min at 700k);
- the baseline: one plain script that reads the CSV, makes the same stratified split and fits the
  model the default run chose, once, on every core (churnops.core.fitting.fit_model, n_jobs = cores).
Ratios: default wall / baseline wall (target <= 2 at 700k), peak RSS of the largest process /
the baseline's (target <= 1.2), holdout ROC AUC default - exhaustive (target >= -0.002).

    python benchmarks/scale.py [--rows 7043 70000 700000] [--dataset ../shared/data/telco_customer_churn.csv]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from benchlib import REPO, machine, print_table, run_measured
from pipeline_overhead import step_seconds

TELCO = REPO.parent / "shared" / "data" / "telco_customer_churn.csv"
TARGET_WALL, TARGET_PEAK, TARGET_AUC_DROP = 2.0, 1.2, 0.002

BASELINE = """
import json, os, sys, time
from churnops.core import data
from churnops.core.fitting import fit_model
from churnops.storage.datasets import read_dataset
path, model_type, hyperparameters = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
split = data.split_dataset(read_dataset(path), "Churn", 0.2)
started = time.perf_counter()
fit_model(split.x_train, split.y_train, model_type, hyperparameters, 42, n_jobs=len(os.sched_getaffinity(0)))
print(json.dumps({"fit_seconds": time.perf_counter() - started}))
"""


def resample(source: Path, rows: int, target: Path, seed: int = 0) -> Path:
    import numpy as np
    import pandas as pd

    frame = pd.read_csv(source)
    rng = np.random.default_rng(seed)
    sample = frame
    if rows != len(frame):
        sample = frame.iloc[rng.integers(0, len(frame), rows)].reset_index(drop=True)
        sample["customerID"] = [f"R{index:08d}" for index in range(rows)]
        for column in ("MonthlyCharges", "TotalCharges"):
            values = pd.to_numeric(sample[column], errors="coerce")
            jittered = (values * rng.normal(1.0, 0.02, rows)).round(2)
            sample[column] = jittered.where(values.notna(), sample[column])  # blanks stay blank
        sample["tenure"] = (sample["tenure"] + rng.integers(-1, 2, rows)).clip(lower=0)
    sample.to_csv(target, index=False)
    return target


def train(dataset: Path, *extra: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="churnops-scale-") as home:
        measured = run_measured(
            [str(Path(sys.executable).parent / "churnops"), "train", "--dataset", str(dataset), "--json", *extra],
            env={**os.environ, "CHURNOPS_HOME": home},
        )
        steps = step_seconds("".join(log.read_text() for log in Path(home, "logs").glob("*.log")))
    result = json.loads(measured["stdout"].splitlines()[-1])
    selection = result["selection"]
    return {"wall": measured["wall"], "peak_mib": measured["peak_kib"] / 1024, "roc_auc": result["metrics"]["roc_auc"],
            "candidate": selection.get("candidate") or selection["model_type"], "model_type": selection["model_type"],
            "hyperparameters": selection.get("hyperparameters") or {}, "steps": steps}


def baseline(dataset: Path, model_type: str, hyperparameters: dict) -> dict:
    measured = run_measured([sys.executable, "-c", BASELINE, str(dataset), model_type, json.dumps(hyperparameters)])
    fit = json.loads(measured["stdout"].splitlines()[-1])
    return {"wall": measured["wall"], "peak_mib": measured["peak_kib"] / 1024, "fit_seconds": fit["fit_seconds"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=TELCO)
    parser.add_argument("--rows", type=int, nargs="+", default=[7043, 70_000, 700_000])
    parser.add_argument("--no-exhaustive-above", type=int, default=10**9, metavar="N",
                        help="skip the exhaustive comparison run above N rows")
    args = parser.parse_args(argv)
    if not args.dataset.exists():
        print(f"scale: skipped, {args.dataset} is absent (the real Telco file is not committed); pass --dataset")
        return 0
    print(f"scale benchmark: {args.dataset.name} resampled; {machine()}", flush=True)
    rows, profiles = [], {}
    with tempfile.TemporaryDirectory(prefix="churnops-scale-data-") as folder:
        for size in args.rows:
            dataset = resample(args.dataset, size, Path(folder) / f"telco_{size}.csv")
            ours = train(dataset)
            base = baseline(dataset, ours["model_type"], ours["hyperparameters"])
            exhaustive = (train(dataset, "--search-strategy", "exhaustive", "--search-max-rows", "0")
                          if size <= args.no_exhaustive_above else None)
            wall_ratio, peak_ratio = ours["wall"] / base["wall"], ours["peak_mib"] / base["peak_mib"]
            drop = ours["roc_auc"] - exhaustive["roc_auc"] if exhaustive else None
            rows.append([
                f"{size:,}", ours["candidate"], f"{ours['wall']:.1f}", f"{base['wall']:.1f} (fit {base['fit_seconds']:.1f})",
                f"**{wall_ratio:.2f}**", f"{ours['peak_mib']:.0f} / {base['peak_mib']:.0f}", f"**{peak_ratio:.2f}**",
                f"{ours['roc_auc']:.4f}",
                f"{exhaustive['roc_auc']:.4f} ({exhaustive['candidate']}, {exhaustive['wall']:.0f} s)" if exhaustive else "-",
                f"{drop:+.4f}" if drop is not None else "-",
            ])
            print(f"  {size} rows: {rows[-1]}", flush=True)
            profiles[size] = ours["steps"]
    print_table(
        "Default training (halving search) vs one fit of the chosen model, and vs the exhaustive search",
        ["rows", "default chose", "default s", "one fit s", "wall ratio", "peak MiB default / fit", "peak ratio",
         "default AUC", "exhaustive AUC (chose, s)", "AUC diff"],
        rows,
    )
    names = list(dict.fromkeys(name for steps in profiles.values() for name in steps))
    print_table("Default training: wall s of each step (from the run log; score tasks summed, two run at once)",
                ["step", *(f"{size:,}" for size in profiles)],
                [[name, *(f"{profiles[size].get(name, 0.0):.1f}" for size in profiles)] for name in names])
    print(f"\ntargets at the largest size: wall ratio <= {TARGET_WALL}, peak ratio <= {TARGET_PEAK}, "
          f"AUC diff >= -{TARGET_AUC_DROP}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
