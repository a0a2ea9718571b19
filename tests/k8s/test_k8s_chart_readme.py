"""charts/mlflow/README.md is generated from the `# --` comments of values.yaml, never hand-kept."""

from __future__ import annotations

import shutil

import chart_readme
import yaml
from k8s_helpers import CHART, ROOT


def test_the_committed_readme_is_what_the_values_comments_generate():
    assert chart_readme.main(["--check"]) == 0


def test_every_value_is_in_the_table_with_its_default():
    rows = {row.key: row for row in chart_readme.parse_rows((CHART / "values.yaml").read_text())}
    values = yaml.safe_load((CHART / "values.yaml").read_text())

    def leaves(node, prefix=""):
        for name, value in node.items():
            path = f"{prefix}.{name}" if prefix else name
            if isinstance(value, dict) and value and path not in rows:
                yield from leaves(value, path)
            else:
                yield path
    assert set(leaves(values)) == set(rows)
    assert rows["image.tag"].default == '"3.17.2"' and rows["image.tag"].type == "string"
    assert rows["resources.requests"].type == "object" and "512Mi" in rows["resources.requests"].default
    assert rows["replicaCount"].description.startswith("Number of server replicas")


def test_a_stale_readme_is_detected_and_rewritten(tmp_path, capsys):
    chart = tmp_path / "mlflow"
    shutil.copytree(CHART, chart)
    values = chart / "values.yaml"
    values.write_text(values.read_text().replace("# -- Image pull policy", "# -- How the kubelet pulls the image"))
    assert chart_readme.main(["--check", "--chart", str(chart)]) == 1
    assert "README.md is stale" in capsys.readouterr().err
    assert chart_readme.main(["--chart", str(chart)]) == 0
    assert "How the kubelet pulls the image" in (chart / "README.md").read_text()
    assert chart_readme.main(["--check", "--chart", str(chart)]) == 0


def test_a_missing_readme_is_detected(tmp_path):
    chart = tmp_path / "mlflow"
    shutil.copytree(CHART, chart)
    (chart / "README.md").unlink()
    assert chart_readme.main(["--check", "--chart", str(chart)]) == 1
    assert (ROOT / "charts" / "mlflow" / "README.md").exists()
