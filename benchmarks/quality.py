"""Quality: the default training pipeline's holdout ROC AUC vs the best of three plain models.

For each split seed: `churnops train` with defaults (the candidate search) on the dataset, and a
plain scikit-learn script on the *same* stratified split (same rows, same seed) fitting logistic
regression, a random forest and hist gradient boosting, as a notebook would. Ratio =
pipeline AUC / best plain AUC. Target: median ratio >= 0.995.

    python benchmarks/quality.py [--dataset ../shared/data/telco_customer_churn.csv] [--seeds 42 7 123]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from benchlib import REPO, machine, median, print_table, run_measured, verdict

TELCO = REPO.parent / "shared" / "data" / "telco_customer_churn.csv"
TARGET_RATIO = 0.995


def plain_scores(dataset: Path, target: str, positive: str, drop: list[str], seed: int) -> dict[str, float]:
    """Holdout ROC AUC of three plain models, fit the way a notebook would."""
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame = pd.read_csv(dataset)
    y = (frame[target].astype(str).str.strip() == positive).astype(int)
    x = frame.drop(columns=[target, *drop])
    numeric = [c for c in x.columns if pd.to_numeric(x[c], errors="coerce").notna().mean() > 0.98]
    x[numeric] = x[numeric].apply(pd.to_numeric, errors="coerce")
    categorical = [c for c in x.columns if c not in numeric]
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=seed, stratify=y)
    models = {
        "logistic_regression": LogisticRegression(max_iter=2000),
        "random_forest": RandomForestClassifier(n_estimators=300, min_samples_leaf=5, random_state=seed, n_jobs=-1),
        "hist_gradient_boosting": HistGradientBoostingClassifier(random_state=seed),
    }
    scores = {}
    for name, model in models.items():
        preprocess = ColumnTransformer([
            ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), categorical),
        ])
        fitted = make_pipeline(preprocess, model).fit(x_train, y_train)
        scores[name] = float(roc_auc_score(y_test, fitted.predict_proba(x_test)[:, 1]))
    return scores


def pipeline_score(dataset: Path, target: str, seed: int) -> dict:
    """`churnops train` with defaults, in its own process and store."""
    with tempfile.TemporaryDirectory(prefix="churnops-quality-") as home:
        measured = run_measured(
            [str(Path(sys.executable).parent / "churnops"), "train", "--dataset", str(dataset), "--target", target,
             "--random-state", str(seed), "--json"],
            env={**os.environ, "CHURNOPS_HOME": home},
        )
    result = json.loads(measured["stdout"])
    return {"roc_auc": result["metrics"]["roc_auc"], "selected": result["selection"]["candidate"]
            or result["selection"]["model_type"], "wall": measured["wall"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=TELCO)
    parser.add_argument("--target", default="Churn")
    parser.add_argument("--positive-label", default="Yes")
    parser.add_argument("--drop", nargs="*", default=["customerID"], help="identifier columns the plain script drops")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 7, 123])
    args = parser.parse_args(argv)
    if not args.dataset.exists():
        print(f"quality: skipped, {args.dataset} is absent (the real Telco file is not committed); pass --dataset")
        return 0
    print(f"quality benchmark: {args.dataset.name}; {machine()}")
    rows, ratios = [], []
    for seed in args.seeds:
        started = time.perf_counter()
        plain = plain_scores(args.dataset, args.target, args.positive_label, args.drop, seed)
        plain_seconds = time.perf_counter() - started
        ours = pipeline_score(args.dataset, args.target, seed)
        best_name = max(plain, key=plain.get)
        ratio = ours["roc_auc"] / plain[best_name]
        ratios.append(ratio)
        rows.append([seed, f"{ours['roc_auc']:.4f}", ours["selected"], *(f"{plain[name]:.4f}" for name in plain),
                     best_name, f"{ratio:.4f}", f"{ours['wall']:.1f}", f"{plain_seconds:.1f}"])
    print_table(
        "Holdout ROC AUC: default pipeline vs best plain model on the same split",
        ["seed", "pipeline", "pipeline chose", "plain LR", "plain RF", "plain HGB", "best plain", "ratio",
         "pipeline s", "plain s"],
        rows,
    )
    ratio = median(ratios)
    print(f"\nmedian ratio {ratio:.4f}: {verdict(ratio, TARGET_RATIO, higher_is_better=True)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
