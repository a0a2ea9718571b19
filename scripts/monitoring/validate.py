"""Validate the alerts and the dashboard of monitoring/ with the real promtool (`make validate`).

    .venv/bin/python scripts/monitoring/validate.py [--promtool PATH]

1. monitoring/prometheusrule.yaml is a PrometheusRule; its spec.groups, written as a plain rules
   file, pass `promtool check rules` (every expression parsed by Prometheus' own parser, every
   alert's fields checked) and `promtool test rules` runs monitoring/tests/*.test.yaml on it.
2. monitoring/dashboards/*.json: the fields Grafana needs to import a dashboard (uid, title,
   schemaVersion, panels with unique ids, a gridPos and targets, every `$variable` defined under
   templating), and every panel query parsed by promtool too: the queries are written as
   recording rules and checked with `promtool check rules`, the dashboard variables replaced by a
   valid value first. Grafana's own linter (grafana/dashboard-linter) is not installable here;
   a metric name that no process exports is caught by tests/monitoring/test_metrics_exported.py.
promtool comes from Debian's prometheus package (scripts/bootstrap.py promtool installs it).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "monitoring"
RULE = MONITORING / "prometheusrule.yaml"
RULES_FILE = "churnops-alerts.rules.yaml"  # the name the unit tests' rule_files use
VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")
GRAFANA_BUILTINS = {"__interval", "__rate_interval", "__range", "__interval_ms", "__range_s", "__range_ms"}


def rule_groups(path: Path | None = None) -> tuple[list[dict], list[str]]:
    path = path or RULE
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    problems = []
    if document.get("apiVersion") != "monitoring.coreos.com/v1" or document.get("kind") != "PrometheusRule":
        problems.append(f"{path.name}: must be apiVersion monitoring.coreos.com/v1, kind PrometheusRule")
    groups = (document.get("spec") or {}).get("groups") or []
    if not groups:
        problems.append(f"{path.name}: spec.groups is empty")
    return groups, problems


def promtool(promtool_path: str, *args: str, cwd: Path) -> tuple[bool, str]:
    result = subprocess.run([promtool_path, *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    return result.returncode == 0, (result.stdout + result.stderr).strip()


def dashboard_problems(path: Path) -> tuple[list[str], list[str]]:
    """Structural problems of one dashboard and its queries (variables replaced) for promtool."""
    try:
        dashboard = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        return [f"{path.name}: not JSON: {exc}"], []
    problems, queries = [], []
    for key, kind in (("uid", str), ("title", str), ("schemaVersion", int), ("panels", list)):
        if not isinstance(dashboard.get(key), kind):
            problems.append(f"{path.name}: `{key}` must be a {kind.__name__}")
    defined = {v.get("name") for v in (dashboard.get("templating") or {}).get("list", [])}
    ids = [panel.get("id") for panel in dashboard.get("panels") or []]
    if len(ids) != len(set(ids)):
        problems.append(f"{path.name}: panel ids repeat: {ids}")
    for panel in dashboard.get("panels") or []:
        where = f"{path.name}: panel {panel.get('id')} ({panel.get('title')})"
        grid = panel.get("gridPos") or {}
        if not all(isinstance(grid.get(k), int) for k in ("h", "w", "x", "y")) or grid.get("x", 0) + grid.get("w", 0) > 24:
            problems.append(f"{where}: gridPos needs whole h, w, x, y within 24 columns")
        if not panel.get("targets"):
            problems.append(f"{where}: no targets")
        for target in panel.get("targets") or []:
            expr = target.get("expr", "")
            for name in VARIABLE.findall(json.dumps(panel)):
                if name not in defined and name not in GRAFANA_BUILTINS:
                    problems.append(f"{where}: ${name} is not defined under templating")
            queries.append(VARIABLE.sub(lambda m: "5m" if m.group(1) in GRAFANA_BUILTINS else "x", expr))
    return problems, queries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--promtool", default=shutil.which("promtool") or "promtool")
    args = parser.parse_args(argv)
    if shutil.which(args.promtool) is None:
        print(f"no promtool at {args.promtool!r}: run `python3.11 scripts/bootstrap.py promtool` "
              "(Debian's prometheus package; apt-get as root)", file=sys.stderr)
        return 2
    failed = False
    groups, problems = rule_groups()
    dashboards = sorted((MONITORING / "dashboards").glob("*.json"))
    queries = []
    for path in dashboards:
        found, exprs = dashboard_problems(path)
        problems += found
        queries += exprs
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / RULES_FILE).write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
        ok, output = promtool(args.promtool, "check", "rules", RULES_FILE, cwd=work)
        print(f"== promtool check rules ({RULE.relative_to(ROOT)}): {'ok' if ok else 'FAILED'}\n   {output}")
        failed |= not ok
        tests = sorted((MONITORING / "tests").glob("*.test.yaml"))
        for test in tests:
            shutil.copyfile(test, work / test.name)
        ok, output = promtool(args.promtool, "test", "rules", *[t.name for t in tests], cwd=work)
        print(f"== promtool test rules ({len(tests)} file(s)): {'ok' if ok else 'FAILED'}\n   {output}")
        failed |= not ok or not tests
        recording = {"groups": [{"name": "dashboard-queries", "rules": [
            {"record": f"dashboard:query_{index}", "expr": expr} for index, expr in enumerate(queries)]}]}
        (work / "dashboard-queries.yaml").write_text(yaml.safe_dump(recording, sort_keys=False))
        ok, output = promtool(args.promtool, "check", "rules", "dashboard-queries.yaml", cwd=work)
        print(f"== promtool parses the {len(queries)} dashboard queries: {'ok' if ok else 'FAILED'}\n   {output}")
        failed |= not ok or not queries
    print(f"== dashboards ({len(dashboards)}): {'ok' if not problems else f'{len(problems)} problem(s)'}")
    for problem in problems:
        print(f"   {problem}")
    failed |= bool(problems) or not dashboards
    print("monitoring validation FAILED" if failed else "monitoring validation passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
