"""scripts/monitoring/validate.py with the real promtool: the shipped alerts pass their unit tests, and a
rule that no longer does what its test says, or a dashboard query that does not parse, fails."""

from __future__ import annotations

import importlib.util
import json
import shutil

import pytest
from support.paths import REPO

pytestmark = [pytest.mark.k8s]  # `make validate`'s tier: it installs promtool (Debian's prometheus)


@pytest.fixture
def validate(tmp_path, monkeypatch):
    if shutil.which("promtool") is None:
        pytest.fail("promtool is not installed: run `make promtool` (apt-get install prometheus, as root)")
    spec = importlib.util.spec_from_file_location("monitoring_validate", REPO / "scripts" / "monitoring" / "validate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    copy = tmp_path / "monitoring"
    shutil.copytree(REPO / "monitoring", copy)
    monkeypatch.setattr(module, "MONITORING", copy)
    monkeypatch.setattr(module, "RULE", copy / "prometheusrule.yaml")
    monkeypatch.setattr(module, "ROOT", tmp_path)
    return module, copy


def test_the_shipped_alerts_and_dashboard_pass(validate):
    module, _ = validate
    assert module.main([]) == 0


def test_a_rule_that_drifted_from_its_unit_test_fails(validate, capsys):
    module, copy = validate
    rule = copy / "prometheusrule.yaml"
    rule.write_text(rule.read_text().replace("churnops_drift_verdict == 2", "churnops_drift_verdict == 3"))
    assert module.main([]) == 1
    assert "alertname: ChurnDriftDetected" in capsys.readouterr().out


def test_a_dashboard_query_that_does_not_parse_fails(validate, capsys):
    module, copy = validate
    path = copy / "dashboards" / "churnops.json"
    dashboard = json.loads(path.read_text())
    dashboard["panels"][0]["targets"][0]["expr"] = "sum(rate(churnops_model_swaps_total[5m]"
    path.write_text(json.dumps(dashboard))
    assert module.main([]) == 1
    assert "dashboard queries: FAILED" in capsys.readouterr().out
