"""`churnops models compare`: a version against the champion on the champion's holdout rows.

Printed, saved as artifacts of the challenger's run (`review/compare-vN-vs-vM.json|.html`) and
written as an HTML page under $CHURNOPS_HOME/reviews/.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import mlflow

from churnops import defaults, names
from churnops.app import views
from churnops.core import comparison
from churnops.errors import RegistryError
from churnops.registry.aliases import get_version


def review(client: mlflow.MlflowClient, model_name: str, version: str | None = None,
           seed: int = defaults.RANDOM_STATE) -> dict[str, Any]:
    from churnops.steps.promote_model import probabilities

    registered = client.get_registered_model(model_name)
    aliases = {alias: str(number) for alias, number in registered.aliases.items()}
    champion = aliases.get(names.ALIAS_CHAMPION)
    if champion is None:
        raise RegistryError(f"{model_name} has no champion to compare with; promote one with `churnops models promote`.")
    if version is None:
        version = str(max(int(v.version) for v in client.search_model_versions(f"name = '{model_name}'")))
    found = get_version(client, model_name, version)
    version = str(found.version)
    if version == champion:
        raise RegistryError(f"v{version} is the champion; pass --version N of another version to compare with it.")
    holdout = views.champion_holdout(client, model_name, champion)
    if holdout is None:
        raise RegistryError(f"The champion v{champion}'s run kept no holdout rows (trained before churnops kept them); "
                            "retrain it, or compare versions trained since.")
    x_test, y_test, threshold = holdout
    try:
        challenger = probabilities(f"models:/{model_name}/{version}", x_test)
    except Exception as exc:  # noqa: BLE001 (any load/scoring failure means: not comparable on these rows)
        raise RegistryError(f"v{version} cannot score the champion v{champion}'s rows ({exc}); "
                            "it was trained on other columns.") from None
    champion_scores = probabilities(f"models:/{model_name}/{champion}", x_test)
    result = comparison.compare(y_test, challenger, champion_scores, threshold, seed)
    tags = found.tags
    return {"model_name": model_name, "challenger": version, "champion": champion, **result,
            "decision": {"status": tags.get(names.TAG_STATUS, names.STATUS_PENDING),
                         "reason": tags.get(names.TAG_VALIDATION_REASON, "not decided by the gate"),
                         "evidence": views.decision_of(tags)},
            "run_id": found.run_id}


def format_text(report: dict[str, Any]) -> str:
    v, c = report["challenger"], report["champion"]
    lines = [f"{report['model_name']}: v{v} (challenger) vs v{c} (champion) on the champion's {report['rows']} "
             f"holdout rows ({report['churners']} churners), threshold {report['threshold']}",
             f"  {'metric':<10} {'v' + v:>26} {'v' + c:>26}"]
    for name, a in report["metrics"]["challenger"].items():
        b = report["metrics"]["champion"][name]
        lines.append(f"  {name:<10} {a['value']:.4f} [{a['low']:.4f}, {a['high']:.4f}]"
                     f"   {b['value']:.4f} [{b['low']:.4f}, {b['high']:.4f}]")
    lines.append(f"  predictions that differ at the threshold: {report['flips']} of {report['rows']}")
    lines.append("  rows where they disagree most (row, churned, challenger, champion):")
    lines += [f"    {d['row']:>6} {d['churned']} {d['challenger']:.4f} {d['champion']:.4f}" for d in report["disagreements"]]
    lines.append(f"  decision on v{v}: {report['decision']['status']}: {report['decision']['reason']}")
    return "\n".join(lines)


def figure_png(report: dict[str, Any]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for label, curves in report["curves"].items():
        name = f"v{report[label]} ({label})"
        axes[0].plot(*curves["roc"], label=name)
        axes[1].plot(*curves["pr"], label=name)
        axes[2].plot(*curves["calibration"], marker="o", label=name)
    axes[0].plot([0, 1], [0, 1], ":", color="grey")
    axes[2].plot([0, 1], [0, 1], ":", color="grey")
    for ax, (title, xl, yl) in zip(axes, [("ROC", "false positive rate", "true positive rate"),
                                          ("Precision-recall", "recall", "precision"),
                                          ("Calibration", "predicted churn probability", "observed churn rate")],
                                   strict=True):
        ax.set(title=title, xlabel=xl, ylabel=yl)
        ax.legend(loc="best")
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()


def to_html(report: dict[str, Any], png: bytes) -> str:
    image = base64.b64encode(png).decode()
    return (f"<!doctype html><meta charset='utf-8'><title>v{report['challenger']} vs v{report['champion']}</title>"
            f"<h1>{html.escape(report['model_name'])}: v{report['challenger']} vs champion v{report['champion']}</h1>"
            f"<pre>{html.escape(format_text(report))}</pre>"
            f"<img alt='ROC, precision-recall and calibration curves' src='data:image/png;base64,{image}'>")


def save(client: mlflow.MlflowClient, report: dict[str, Any], home: Path) -> Path:
    """The review as artifacts of the challenger's run and as a local HTML page; returns the page's path."""
    stem = f"compare-v{report['challenger']}-vs-v{report['champion']}"
    page = to_html(report, figure_png(report))
    if report["run_id"]:
        data = {k: v for k, v in report.items() if k != "curves"}
        client.log_dict(report["run_id"], data, f"review/{stem}.json")
        client.log_text(report["run_id"], page, f"review/{stem}.html")
    path = home / "reviews" / f"{report['model_name']}-{stem}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
