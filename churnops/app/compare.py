"""`churnops models compare`: a version (default: what the champion replaced) against the champion on the
champion's holdout rows; each side named by its aliases now, each gate decision marked when a later move
superseded it.

Printed, saved as artifacts of the challenger's run (`review/compare-vN-vs-vM.json|.html`) and
written as an HTML page under $CHURNOPS_HOME/reviews/.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

import mlflow

from churnops import defaults, names
from churnops.app import views
from churnops.core import comparison, narrative
from churnops.errors import RegistryError
from churnops.registry.aliases import get_version


def opponent(client: mlflow.MlflowClient, model_name: str, aliases: dict[str, str], champion: str) -> str:
    """What `compare` reviews by default: what the champion replaced (the rollback target, else the version
    recorded on the champion), else the newest version that is not the champion."""
    previous = aliases.get(names.ALIAS_PREVIOUS_CHAMPION)
    if previous and previous != champion:
        return previous
    replaced = get_version(client, model_name, champion).tags.get(names.TAG_REPLACED_CHAMPION)
    if replaced and replaced != champion:
        return replaced
    others = [int(v.version) for v in client.search_model_versions(f"name = '{model_name}'") if str(v.version) != champion]
    if not others:
        raise RegistryError(f"{model_name} has only its champion v{champion}: there is nothing to compare it with yet.")
    return str(max(others))


def label(version: str, aliases: dict[str, str]) -> str:
    """`v1 (previous-champion)`: a version named by the aliases it has now."""
    held = sorted((alias for alias, number in aliases.items() if number == version),
                  key=lambda alias: (alias != names.ALIAS_CHAMPION, alias))
    return f"v{version} ({', '.join(held) or 'no alias'})"


def decision_now(tags: dict[str, str]) -> dict[str, Any]:
    """The gate's decision on a version and, when a later move overrode it, what superseded it."""
    decided = tags.get(names.TAG_VALIDATION_DECIDED, "")
    at, _, by = decided.partition(" by ")
    history = json.loads(tags.get(names.TAG_AUDIT_HISTORY) or "[]")
    later = [entry for entry in history if at and entry.get("at", "") >= at and entry.get("action") != "recovered"
             and not (entry.get("by") == by and entry.get("action") == "promote")]  # not the decision's own move
    superseded = (f"{later[-1]['action']} at {narrative.when(later[-1].get('at', ''))} by {later[-1].get('by', '?')}: "
                  f"{later[-1].get('reason', '')}" if later else "")
    return {"status": tags.get(names.TAG_STATUS, names.STATUS_PENDING),
            "reason": tags.get(names.TAG_VALIDATION_REASON, "not decided by the gate"),
            "decided": decided, "superseded": superseded, "evidence": views.decision_of(tags)}


def review(client: mlflow.MlflowClient, model_name: str, version: str | None = None,
           seed: int = defaults.RANDOM_STATE) -> dict[str, Any]:
    """A version (default: what the champion replaced) against the champion on the champion's holdout rows."""
    from churnops.registry.loading import feature_spec
    from churnops.steps.promote_model import probabilities

    registered = views.registered_model(client, model_name)
    aliases = {alias: str(number) for alias, number in registered.aliases.items()}
    champion = aliases.get(names.ALIAS_CHAMPION)
    if champion is None:
        raise RegistryError(f"{model_name} has no champion to compare with; promote one with `churnops models promote`.")
    version = str(get_version(client, model_name, version).version) if version else opponent(
        client, model_name, aliases, champion)
    found = get_version(client, model_name, version)
    if version == champion:
        raise RegistryError(f"v{version} is the champion; pass --version N of another version to compare with it "
                            f"(without --version: v{opponent(client, model_name, aliases, champion)}).")
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
    ids = feature_spec(f"models:/{model_name}/{champion}").id_columns
    id_column = ids[0] if ids and ids[0] in x_test.columns else ""
    for row in result["disagreements"]:
        row["id"] = str(x_test[id_column].iloc[row["row"]]) if id_column else f"row {row['row'] + 1}"
    return {"model_name": model_name, "challenger": version, "champion": champion, **result,
            "labels": {"challenger": label(version, aliases), "champion": label(champion, aliases)},
            "id_column": id_column or "holdout row",
            "decision": decision_now(found.tags), "champion_decision": decision_now(
                get_version(client, model_name, champion).tags),
            "run_id": found.run_id}


def _decision_line(version: str, decision: dict[str, Any]) -> str:
    when = f" ({narrative.when(decision['decided'].split(' by ')[0])})" if decision["decided"] else ""
    line = f"  gate's decision on v{version}{when}: {decision['status']}: {decision['reason']}"
    return line + (f"\n    superseded: {decision['superseded']}" if decision["superseded"] else "")


def format_text(report: dict[str, Any]) -> str:
    v, c = report["challenger"], report["champion"]
    labels = report.get("labels") or {"challenger": f"v{v}", "champion": f"v{c}"}
    width = max(len(labels["challenger"]), len(labels["champion"]), len("0.0000 [0.0000, 0.0000]"))
    names_width = max(len("metric"), *(len(name) for name in report["metrics"]["challenger"]))
    lines = [f"{report['model_name']}: {labels['challenger']} vs {labels['champion']} on the champion's "
             f"{report['rows']} holdout rows ({report['churners']} churners), threshold {report['threshold']}",
             f"  {'metric'.ljust(names_width)}  {labels['challenger'].ljust(width)}  {labels['champion']}"]
    for name, a in report["metrics"]["challenger"].items():
        b = report["metrics"]["champion"][name]
        ours = f"{a['value']:.4f} [{a['low']:.4f}, {a['high']:.4f}]"
        lines.append(f"  {name.ljust(names_width)}  {ours.ljust(width)}  {b['value']:.4f} [{b['low']:.4f}, {b['high']:.4f}]")
    lines.append(f"  predictions that differ at the threshold: {report['flips']} of {report['rows']}")
    id_column = report.get("id_column", "row")
    ids = [str(d.get("id", d["row"])) for d in report["disagreements"]]
    id_width = max([len(id_column), *map(len, ids)])
    lines.append(f"  rows where they disagree most ({id_column}, churned, v{v}, v{c}):")
    lines += [f"    {shown.ljust(id_width)}  {d['churned']}  {d['challenger']:.4f}  {d['champion']:.4f}"
              for shown, d in zip(ids, report["disagreements"], strict=True)]
    lines.append(_decision_line(v, report["decision"]))
    if report.get("champion_decision"):
        lines.append(_decision_line(c, report["champion_decision"]))
    return "\n".join(lines)


def figure_png(report: dict[str, Any]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for label, curves in report["curves"].items():
        name = report.get("labels", {}).get(label, f"v{report[label]}")
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
