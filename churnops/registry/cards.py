"""A model card per version (issue 27), built from what the gate and the training run already recorded.

Data and its digest, training and holdout sizes, the holdout metrics with 95% bootstrap intervals
(the gate's `promotion/decision.json`), the comparison with the champion it was gated against,
lineage to the MLflow run and the KFP run, the decision and who approved it (the audit trail), and
the known limits the model carries by construction (unseen categories, imputed numbers, the data
it was trained on). Markdown and HTML (markdown-it-py renders the one into the other), logged to
the version's run as `card/model-card.md|.html` with every decision, linked from the version's
description, printed or written by `churnops models card --version N [--output FILE]`.
"""

from __future__ import annotations

import html
import json
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException

from churnops import names
from churnops.registry import journal
from churnops.registry.narrative import card_link

DECISION_ARTIFACT = "promotion/decision.json"
PROFILE_ARTIFACT = names.ARTIFACT_REFERENCE_PROFILE



def _load(run_id: str, path: str) -> dict[str, Any]:
    try:
        return mlflow.artifacts.load_dict(f"runs:/{run_id}/{path}")
    except (MlflowException, OSError, ValueError):
        return {}


def gather(client: mlflow.MlflowClient, model_name: str, version: str) -> dict[str, Any]:
    """Everything the card says, as plain data."""
    found = client.get_model_version(model_name, str(version))
    registered = client.get_registered_model(model_name)
    run = client.get_run(found.run_id) if found.run_id else None
    tags, params = dict(found.tags), dict(run.data.params) if run else {}
    run_tags = dict(run.data.tags) if run else {}
    decision = _load(found.run_id, DECISION_ARTIFACT) if found.run_id else {}
    profile = _load(found.run_id, PROFILE_ARTIFACT) if found.run_id else {}
    evidence = journal.json_tag(tags, names.TAG_VALIDATION_EVIDENCE) or {}
    return {
        "model_name": model_name, "version": str(found.version),
        "aliases": sorted(a for a, v in registered.aliases.items() if str(v) == str(found.version)),
        "status": tags.get(names.TAG_STATUS, names.STATUS_PENDING),
        "action": tags.get(names.TAG_VALIDATION_ACTION, ""), "reason": tags.get(names.TAG_VALIDATION_REASON, ""),
        "decided": tags.get(names.TAG_VALIDATION_DECIDED, ""),
        "dataset": run_tags.get(names.RUN_TAG_DATASET, ""), "dataset_sha256": tags.get(names.TAG_DATASET_SHA256, ""),
        "dataset_uri": params.get("dataset_uri", ""), "target": params.get("target_column", ""),
        "train_rows": params.get("n_train_rows", ""), "model_type": params.get("model_type", ""),
        "hyperparameters": {k[3:]: v for k, v in sorted(params.items()) if k.startswith("hp_")},
        "holdout": {"rows": evidence.get("test_rows"), "churners": evidence.get("test_churners")},
        "intervals": decision.get("intervals") or {},
        "metrics": (journal.json_tag(tags, names.TAG_VALIDATION_METRICS) or {}).get("candidate")
        or journal.json_tag(tags, names.TAG_TEST_METRICS) or {},
        "champion": {"version": evidence.get("compared_champion"),
                     "metrics": (journal.json_tag(tags, names.TAG_VALIDATION_METRICS) or {}).get("champion") or {},
                     "auc_difference": [evidence.get(k) for k in ("auc_difference", "auc_difference_low",
                                                                  "auc_difference_high")]},
        "approval_expires": evidence.get("approval_expires", ""),
        "lineage": {"mlflow_run": found.run_id, "model_uri": f"models:/{model_name}/{found.version}",
                    "source": found.source, "fingerprint": tags.get(names.TAG_FINGERPRINT, ""),
                    "kfp_run_id": tags.get(names.TAG_KFP_RUN, run_tags.get(names.RUN_TAG_KFP_RUN_ID, "")),
                    "kfp_run_name": run_tags.get(names.RUN_TAG_KFP_RUN_NAME, ""),
                    "kfp_pipeline": run_tags.get(names.RUN_TAG_KFP_PIPELINE, "")},
        "history": journal.json_tag(tags, names.TAG_AUDIT_HISTORY) or [],
        "features": profile.get("features") or {},
        "experiment_id": run.info.experiment_id if run else "",
    }


def _number(value: Any) -> str:
    return "-" if value in (None, "") else f"{float(value):.4f}"


def limits(card: dict[str, Any]) -> list[str]:
    """What the model cannot know, from how it was built and what it was trained on."""
    found = []
    categorical = {name: f for name, f in card["features"].items() if f.get("kind") == "categorical"}
    if categorical:
        shown = ", ".join(f"{name} ({len(f.get('categories') or {})})" for name, f in sorted(categorical.items()))
        found.append(f"Unseen categories: a value of a categorical column that training never saw is encoded as "
                     f"no category at all (one-hot, handle_unknown=ignore) and scored silently. Values seen per "
                     f"column: {shown}.")
    numeric = [name for name, f in card["features"].items() if f.get("kind") == "numeric"]
    if numeric:
        found.append(f"Missing numbers ({', '.join(sorted(numeric))}) are imputed with the training median; a "
                     "value far outside the training range is scored, not refused.")
    rows = card["holdout"].get("rows")
    if rows:
        found.append(f"Measured on {rows} holdout rows ({card['holdout'].get('churners')} churners) of the same "
                     "data: the intervals above are for that population; the drift check says when scoring data moves away.")
    found.append(f"Trained on {card['dataset'] or 'unrecorded data'}; a customer population unlike it (another "
                 "market, product or period) was never measured.")
    return found


def to_markdown(card: dict[str, Any]) -> str:
    v = card["version"]
    lines = [f"# Model card: {card['model_name']} v{v}", "",
             f"**Status:** {card['status']} ({card['action'] or 'no decision'}); aliases: "
             f"{', '.join(card['aliases']) or 'none'}", ""]
    if card["reason"]:
        lines += [f"**Decision:** {card['reason']}", ""]
    if card["decided"]:
        lines += [f"**Decided:** {card['decided']}", ""]
    lines += ["## Data", "",
              f"- Dataset: {card['dataset'] or '-'} (sha256 `{card['dataset_sha256'] or '-'}`)",
              f"- Target column: {card['target'] or '-'}; training rows: {card['train_rows'] or '-'}",
              f"- Holdout: {card['holdout'].get('rows') or '-'} rows, {card['holdout'].get('churners') or '-'} churners",
              "", "## Model", "", f"- Type: {card['model_type'] or '-'}",
              f"- Hyperparameters: {json.dumps(card['hyperparameters'], sort_keys=True) or 'defaults'}",
              "", "## Holdout metrics (95% bootstrap interval)", "", "| metric | value | interval |", "|---|---|---|"]
    for metric, value in sorted(card["metrics"].items()):
        interval = card["intervals"].get(metric) or {}
        bounds = f"[{_number(interval.get('low'))}, {_number(interval.get('high'))}]" if interval else "-"
        lines.append(f"| {metric} | {_number(value)} | {bounds} |")
    champion = card["champion"]
    lines += ["", "## Compared with the champion", ""]
    if champion["version"] and champion["version"] != "none":
        diff, low, high = champion["auc_difference"]
        lines.append(f"- Champion at the decision: v{champion['version']}, re-scored on the same holdout rows")
        lines += [f"- {metric}: this version {_number(card['metrics'].get(metric))}, champion {_number(value)}"
                  for metric, value in sorted(champion["metrics"].items())]
        if diff is not None:
            lines.append(f"- ROC AUC difference {_number(diff)}, 95% paired-bootstrap interval [{_number(low)}, {_number(high)}]")
    else:
        lines.append("- No champion to compare with at the decision.")
    lineage = card["lineage"]
    lines += ["", "## Lineage", "", f"- MLflow run: `{lineage['mlflow_run']}`; model: `{lineage['model_uri']}`",
              f"- KFP run: `{lineage['kfp_run_id'] or '-'}` {lineage['kfp_run_name'] or ''} "
              f"(pipeline {lineage['kfp_pipeline'] or '-'})".rstrip(),
              f"- Training fingerprint: `{lineage['fingerprint'] or '-'}`", "",
              "## Decisions and approvals", ""]
    lines += [f"- {e.get('at', '')} **{e.get('action', '')}** by {e.get('by', '')}: {e.get('reason', '')}"
              for e in card["history"]] or ["- none yet"]
    if card["approval_expires"] and card["status"] == names.STATUS_AWAITING_APPROVAL:
        lines.append(f"- Awaiting approval until {card['approval_expires']}: "
                     f"`churnops models approve --version {v} --reason TEXT` (or `models reject`)")
    lines += ["", "## Known limits", ""] + [f"- {limit}" for limit in limits(card)]
    return "\n".join(lines) + "\n"


def to_html(markdown: str, title: str) -> str:
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    style = ("body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1f2328}"
             "table{border-collapse:collapse}td,th{border:1px solid #d0d7de;padding:.3rem .6rem}"
             "code{background:#f6f8fa;padding:0 .2rem}")
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>{body}</body></html>\n")


def render(client: mlflow.MlflowClient, model_name: str, version: str) -> tuple[str, str, dict[str, Any]]:
    card = gather(client, model_name, version)
    markdown = to_markdown(card)
    return markdown, to_html(markdown, f"Model card: {model_name} v{card['version']}"), card


def log(client: mlflow.MlflowClient, model_name: str, version: str) -> str:
    """Write both forms to the version's run; returns the UI link ("" for a version without a run)."""
    markdown, page, card = render(client, model_name, version)
    run_id = card["lineage"]["mlflow_run"]
    if not run_id:
        return ""
    client.log_text(run_id, markdown, names.CARD_MARKDOWN)
    client.log_text(run_id, page, names.CARD_HTML)
    return card_link(card["experiment_id"], run_id)
