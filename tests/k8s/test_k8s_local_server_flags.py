"""`churnops mlflow serve` and the integration harness start the server the chart's way.

They build their command with churnops.app.mlflow_server.server_command (not derived from the
chart: see docs/production-topology.md). This compares it with the chart's render for each
artifact mode, after normalising what is local by design (host, port, workers, store locations,
the backend URI passed as a flag instead of the env var the chart sets from a Secret, and
--allowed-hosts: the local server binds 127.0.0.1 and keeps MLflow's localhost default).
"""

from __future__ import annotations

import pytest
from k8s_helpers import find, rendered

from churnops.app import mlflow_server

PG = ["--set", "backendStore.type=postgres", "--set", "backendStore.postgres.existingSecret=db"]
S3 = ["--set", "artifactRoot.type=s3", "--set", "artifactRoot.s3.bucket=b", "--set", "artifactRoot.s3.existingSecret=s3"]
LOCAL = {"--host", "--port", "--workers", "--allowed-hosts", "--backend-store-uri", "--artifacts-destination"}


def flags(argv: list[str]) -> dict[str, str | None]:
    out, i = {}, 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("--"):
            name, eq, value = arg.partition("=")
            if not eq and i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                value, i = argv[i + 1], i + 1
            out[name] = value or None
        i += 1
    return {k: v for k, v in out.items() if k not in LOCAL}


@pytest.mark.parametrize("serve_artifacts", [True, False])
def test_local_server_flags_match_the_chart(serve_artifacts):
    extra = [] if serve_artifacts else ["--set", "artifactRoot.serveArtifacts=false"]
    container = find(rendered(*PG, *S3, *extra), "Deployment", "mlflow")["spec"]["template"]["spec"]["containers"][0]
    chart = flags(container["args"])
    if serve_artifacts:
        config = mlflow_server.ServerConfig("postgresql://u@h/db", artifacts_destination="s3://b")
    else:
        config = mlflow_server.ServerConfig("postgresql://u@h/db", default_artifact_root="s3://b")
    local = flags(mlflow_server.server_command(config)[3:])  # after `python -m mlflow`
    assert local == chart
    chart_env = {e["name"]: e.get("value") for e in container["env"] if "value" in e}
    local_env = mlflow_server.job_execution_env({})
    assert local_env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == chart_env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"]
