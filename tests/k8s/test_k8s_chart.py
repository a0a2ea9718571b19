"""charts/mlflow: lint, the values contract (schema, comments) and every `fail` that guards it."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import yaml
from k8s_helpers import CHART, find, helm_template, rendered, validate

PG = ["--set", "backendStore.type=postgres", "--set", "backendStore.postgres.existingSecret=db"]
S3 = ["--set", "artifactRoot.type=s3", "--set", "artifactRoot.s3.bucket=b", "--set", "artifactRoot.s3.existingSecret=s3"]
GCS = ["--set", "artifactRoot.type=gcs", "--set", "artifactRoot.gcs.bucket=b"]


@pytest.mark.parametrize("values", validate.chart_values_files(), ids=lambda v: v.name if v else "defaults")
def test_every_documented_values_combination_lints_strictly(values):
    extra = ["--values", str(values)] if values else []
    result = subprocess.run([str(validate.HELM), "lint", "--strict", str(CHART), *extra], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# (values that cannot work, words the fail message must contain so that a user knows the fix)
INVALID = {
    "postgres-without-secret": (["--set", "backendStore.type=postgres"], "backendStore.postgres.existingSecret"),
    "s3-without-bucket": (
        ["--set", "artifactRoot.type=s3", "--set", "artifactRoot.s3.existingSecret=x"], "artifactRoot.s3.bucket"),
    "s3-without-credentials": (
        ["--set", "artifactRoot.type=s3", "--set", "artifactRoot.s3.bucket=b"], "artifactRoot.s3.existingSecret"),
    "gcs-without-bucket": (["--set", "artifactRoot.type=gcs"], "artifactRoot.gcs.bucket"),
    "hpa-with-sqlite": ([*S3, "--set", "autoscaling.enabled=true"], "needs an external database and a blob store"),
    "hpa-with-proxied-local-artifacts": (
        [*PG, "--set", "autoscaling.enabled=true"], "needs an external database and a blob store"),
    "replicas-with-sqlite": (["--set", "replicaCount=2"], "replicaCount > 1 needs an external database"),
    "hpa-min-above-max": ([*PG, *GCS, "--set", "autoscaling.enabled=true", "--set", "autoscaling.minReplicas=5",
                           "--set", "autoscaling.maxReplicas=2"], "lower minReplicas"),
    "pdb-blocking-drains": ([*PG, *GCS, "--set", "podDisruptionBudget.enabled=true"], "would block every node drain"),
    "auth-without-config": (["--set", "auth.enabled=true"], "auth.existingSecret"),
    # issue 11 defect 2: basic auth exits without MLFLOW_FLASK_SERVER_SECRET_KEY
    "auth-without-secret-key": (["--set", "auth.enabled=true", "--set", "auth.existingSecret=a"],
                                "auth.secretKeySecret"),
    # issue 11 defect 6: /metrics answers 401 without credentials under basic auth
    "auth-metrics-without-scrape-credentials": (
        ["--set", "auth.enabled=true", "--set", "auth.existingSecret=a", "--set", "auth.secretKeySecret=k",
         "--set", "metrics.enabled=true", "--set", "serviceMonitor.enabled=true"], "serviceMonitor.basicAuthSecret"),
    "servicemonitor-without-metrics": (["--set", "serviceMonitor.enabled=true"], "metrics.enabled=true"),
    "ingress-without-host": (["--set", "ingress.enabled=true"], "ingress.host"),
    "ingress-host-not-allowed": (["--set", "ingress.enabled=true", "--set", "ingress.host=mlflow.example.com"],
                                 "add it to server.allowedHosts"),
    "migration-job-with-sqlite": (["--set", "backendStore.migration.job=true"], "needs backendStore.type=postgres"),
    "no-migration-at-all": (["--set", "backendStore.migration.initContainer=false"], "unmigrated database"),
    "latest-tag-past-the-schema": (["--skip-schema-validation", "--set", "image.tag=latest"], "pin a version"),
}


@pytest.mark.parametrize("args,message", INVALID.values(), ids=INVALID.keys())
def test_invalid_combination_fails_with_a_how_to_fix_message(args, message):
    result = helm_template(*args)
    assert result.returncode != 0, f"rendered although invalid: {args}"
    assert message in result.stderr, result.stderr


@pytest.mark.parametrize("args,where", [
    (["--set", "artifactRoot.typo=1"], "typo"),
    (["--set", "image.tag=latest"], "/image/tag"),
    (["--set", "artifactRoot.type=azure"], "/artifactRoot/type"),
    (["--set", "podSecurityContext.runAsNonRoot=false"], "/podSecurityContext/runAsNonRoot"),
    (["--set", "server.allowedHosts={}"], "/server/allowedHosts"),
])
def test_schema_rejects_typos_and_unsafe_values_at_lint_time(args, where):
    result = helm_template(*args)
    assert result.returncode != 0
    assert where in result.stderr, result.stderr


def test_every_schema_object_rejects_unknown_keys():
    schema = json.loads((CHART / "values.schema.json").read_text())
    loose = []

    def walk(node, path):
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node and node.get("additionalProperties") is not False:
                loose.append(path or "<root>")
            for name, sub in node.get("properties", {}).items():
                walk(sub, f"{path}.{name}")
    walk(schema, "")
    assert loose == []


def leaf_keys(node, prefix=""):
    for name, value in node.items():
        path = f"{prefix}.{name}" if prefix else name
        if isinstance(value, dict) and value:
            yield from leaf_keys(value, path)
        else:
            yield path


def test_values_and_schema_describe_the_same_keys():
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    schema = json.loads((CHART / "values.schema.json").read_text())

    def schema_paths(node, prefix=""):
        for name, sub in node.get("properties", {}).items():
            path = f"{prefix}.{name}" if prefix else name
            if sub.get("properties"):
                yield from schema_paths(sub, path)
            else:
                yield path
    assert set(leaf_keys(values)) == set(schema_paths(schema)) - {"global"}


def test_every_value_has_a_doc_comment():
    """helm-docs style: every leaf value has a `# --` line above it or above a parent key
    (a documented map such as `resources.requests` documents its entries)."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    undocumented, stack = [], []  # stack of (indent, documented) of the enclosing keys
    for index, line in enumerate(lines):
        match = re.match(r"^(\s*)([A-Za-z][\w-]*):(.*)$", line)
        if not match:
            continue
        indent = len(match.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        documented = (lines[index - 1].strip().startswith("# --") if index else False) or any(d for _, d in stack)
        nxt = lines[index + 1] if index + 1 < len(lines) else ""
        is_parent = match.group(3).strip() == "" and len(nxt) - len(nxt.lstrip()) > indent
        if is_parent:
            stack.append((indent, documented))
        elif not documented:
            undocumented.append(match.group(2))
    assert undocumented == []


def test_server_is_hardened_and_migrates_before_it_starts():
    deployment = find(rendered(*PG, *S3), "Deployment", "mlflow")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert [c["name"] for c in pod["initContainers"]] == ["db-upgrade"]
    # the advisory-locked upgrade the image ships (docker/mlflow-server/db_upgrade.py, COPYed there)
    assert pod["initContainers"][0]["command"] == ["python", "/opt/mlflow/db_upgrade.py"]
    for container in validate.containers(pod):
        ctx = container["securityContext"]
        assert ctx["readOnlyRootFilesystem"] and not ctx["allowPrivilegeEscalation"]
        assert ctx["capabilities"]["drop"] == ["ALL"]
    server = pod["containers"][0]
    assert {"startupProbe", "readinessProbe", "livenessProbe"} <= set(server)
    # MLflow compares the whole Host header, port included: every name also with `:*` (issue 11 defect 1)
    assert ("--allowed-hosts=localhost,localhost:*,mlflow,mlflow:*,mlflow.mlflow,mlflow.mlflow:*,mlflow.mlflow.svc,"
            "mlflow.mlflow.svc:*,mlflow.mlflow.svc.cluster.local,mlflow.mlflow.svc.cluster.local:*") in server["args"]


def test_gcs_uses_workload_identity_and_no_key_file():
    objects = rendered(*PG, *GCS, "--set", "artifactRoot.gcs.workloadIdentityServiceAccount=gsa@p.iam.gserviceaccount.com")
    sa = find(objects, "ServiceAccount", "mlflow")
    assert sa["metadata"]["annotations"]["iam.gke.io/gcp-service-account"] == "gsa@p.iam.gserviceaccount.com"
    server = find(objects, "Deployment", "mlflow")["spec"]["template"]["spec"]["containers"][0]
    assert "--artifacts-destination=gs://b" in server["args"]
    assert not any("GOOGLE_APPLICATION_CREDENTIALS" == e["name"] for e in server["env"])


@pytest.mark.parametrize("extra,expected", [
    ([], ["--serve-artifacts", "--artifacts-destination=/data/artifacts"]),
    ([*PG, *S3], ["--serve-artifacts", "--artifacts-destination=s3://b"]),
    ([*PG, *S3, "--set", "artifactRoot.serveArtifacts=false"], ["--no-serve-artifacts", "--default-artifact-root=s3://b"]),
])
def test_artifact_store_modes(extra, expected):
    server = find(rendered(*extra), "Deployment", "mlflow")["spec"]["template"]["spec"]["containers"][0]
    assert [a for a in server["args"] if a in expected] == expected


def test_basic_auth_reads_its_own_config_from_a_secret():
    objects = rendered("--set", "auth.enabled=true", "--set", "auth.existingSecret=auth",
                       "--set", "auth.secretKeySecret=flask")
    pod = find(objects, "Deployment", "mlflow")["spec"]["template"]["spec"]
    server = pod["containers"][0]
    assert "--app-name=basic-auth" in server["args"]
    assert {"name": "MLFLOW_AUTH_CONFIG_PATH", "value": "/etc/mlflow/auth/basic_auth.ini"} in server["env"]
    assert {"name": "MLFLOW_FLASK_SERVER_SECRET_KEY", "valueFrom": {"secretKeyRef": {
        "name": "flask", "key": "MLFLOW_FLASK_SERVER_SECRET_KEY"}}} in server["env"]
    assert any(v.get("secret", {}).get("secretName") == "auth" for v in pod["volumes"])


def test_optional_resources_appear_only_when_enabled():
    kinds = {o["kind"] for o in rendered(*PG, *GCS, "--set", "autoscaling.enabled=true",
                                         "--set", "podDisruptionBudget.enabled=true",
                                         "--set", "metrics.enabled=true", "--set", "serviceMonitor.enabled=true")}
    assert {"HorizontalPodAutoscaler", "PodDisruptionBudget", "ServiceMonitor"} <= kinds
    assert not {"HorizontalPodAutoscaler", "PodDisruptionBudget", "ServiceMonitor", "Ingress"} & {o["kind"] for o in rendered()}


def test_server_image_pins_the_mlflow_version_the_chart_deploys():
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    image = CHART.parents[1] / "docker" / "mlflow-server"
    dockerfile = (image / "Dockerfile").read_text()
    requirements = (image / "requirements.txt").read_text()
    pins = dict(re.findall(r"^([a-z0-9-]+)(?:\[[a-z,]+\])?==([\w.]+)$", requirements, re.M))
    assert pins["mlflow"] == chart["appVersion"] == values["image"]["tag"]
    # what the chart's flags need: basic auth, --expose-prometheus, the drivers of every store
    assert {"flask-wtf", "prometheus-flask-exporter", "psycopg2-binary", "boto3", "google-cloud-storage"} <= set(pins)
    assert "mlflow[auth]==" in requirements
    assert "pip install -r /opt/mlflow/requirements.txt" in dockerfile
    assert re.search(r"^USER 10001$", dockerfile, re.M) and values["podSecurityContext"]["runAsUser"] == 10001
