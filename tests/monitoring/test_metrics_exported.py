"""Every `churnops_*` metric the alerts and the dashboard use is one the predictor registers at start
(a renamed metric would otherwise leave an alert that can never fire)."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from support.paths import REPO

pytestmark = [pytest.mark.serving]  # imports the serving extra (kserve, prometheus_client)

METRIC = re.compile(r"\b(churnops_[a-z_]+?)(?:_bucket|_count|_sum)?\b")


def used_names() -> set[str]:
    rule = yaml.safe_load((REPO / "monitoring" / "prometheusrule.yaml").read_text())
    exprs = [r["expr"] for group in rule["spec"]["groups"] for r in group["rules"]]
    for path in (REPO / "monitoring" / "dashboards").glob("*.json"):
        dashboard = json.loads(path.read_text())
        exprs += [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
        exprs += [v["definition"] for v in dashboard["templating"]["list"] if "definition" in v]
    return {name for expr in exprs for name in METRIC.findall(expr)}


def test_every_metric_in_the_alerts_and_dashboard_is_registered_by_the_predictor():
    from prometheus_client import REGISTRY

    from churnops.serving import governance, predictor  # noqa: F401 (importing registers their metrics)

    governance.register_metrics("churn-classifier")
    registered = {metric.name for metric in REGISTRY.collect()}
    # prometheus_client reports a counter's family without its _total suffix
    registered |= {f"{name}_total" for name in registered}
    used = used_names()
    assert used >= {"churnops_guard_findings_total", "churnops_drift_verdict", "churnops_model_load_failures_total",
                    "churnops_last_gate_decision_timestamp_seconds"}
    assert used - registered == set()
