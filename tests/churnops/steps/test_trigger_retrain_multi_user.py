"""The retrain trigger on multi-user KFP, as it will really run: k8s/components/kfp-multi-user rendered
with the real kubectl kustomize, the scoring pipeline compiled with the prod platform config, then
the trigger_retrain step driven against the KFP double in multi-user mode with exactly what those
give its pod: the ServiceAccount the schedules file names (in the profile namespace), the token the
PodDefault mounts (audience, path, $KF_PIPELINES_SA_TOKEN_PATH) if the step's pod carries the label it
selects, and the RBAC of the rendered Role and RoleBinding.

The double reviews tokens and RBAC like KFP 2.17.0 (tests/support/kfp_server.py cites
auth/authenticator_token_review.go, resource/resource_manager.go IsAuthorized and, for runs,
server/run_server.go createRun/listRuns/canAccessRun).
"""

from __future__ import annotations

import os

import kfp
import pytest
import yaml
from k8s_helpers import ROOT, validate  # validate: scripts/k8s/validate.py
from kfp import compiler
from support import retrain_target
from support.kfp_server import TOKEN_AUDIENCE, FakeKfpServer
from support.retrain_target import TARGET

import components
from churnops import defaults
from churnops.app.platform_config import load_platform_config
from churnops.errors import ChurnopsError
from churnops.steps import trigger_retrain
from pipelines import PIPELINES
from pipelines.platform import with_platform

pytestmark = pytest.mark.k8s

OVERLAY = ROOT / "k8s" / "overlays" / "prod" / "schedules-sync"
COMPONENT = ROOT / "k8s" / "components" / "kfp-multi-user"
ROLE = "churnops-pipeline-runner-kfp"
DRIFTED = {"verdict": "drifted", "drifted_features": ["tenure"], "report_uri": "gs://b/report.html",
           "model_name": "churn-classifier", "model_version": "3"}


def render(tmp_path, drop: tuple[str, str] | None = None) -> list[dict]:
    """The prod sync overlay with the component, as an overlay opting in builds it; `drop` seeds a
    mistake: the pipeline runner's Role without one verb on one resource."""
    component = COMPONENT
    if drop:
        component = tmp_path / "component"
        component.mkdir()
        for path in COMPONENT.iterdir():
            (component / path.name).write_text(path.read_text())
        role = yaml.safe_load((component / "pipeline-runner-role.yaml").read_text())
        for rule in role["rules"]:
            if drop[0] in rule["resources"]:
                rule["verbs"] = [verb for verb in rule["verbs"] if verb != drop[1]]
        (component / "pipeline-runner-role.yaml").write_text(yaml.safe_dump(role))
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": [os.path.relpath(OVERLAY, overlay)], "components": [os.path.relpath(component, overlay)]}))
    objects, error = validate.build_kustomization(overlay)
    assert not error, error
    return objects


def one(objects: list[dict], kind: str, name: str) -> dict:
    found = [obj for obj in objects if obj["kind"] == kind and obj["metadata"]["name"] == name]
    assert len(found) == 1, f"{len(found)} {kind} {name} in the render"
    return found[0]


@pytest.fixture(scope="module")
def executors(tmp_path_factory) -> dict[str, dict]:
    """{executor: its kubernetes platform spec} of churn-inference compiled for prod."""
    config = load_platform_config(ROOT / "config" / "platform" / "prod.yaml", components.__all__)
    path = tmp_path_factory.mktemp("compiled") / "inference.yaml"
    compiler.Compiler().compile(with_platform(PIPELINES["inference"], config.for_step), str(path))
    platform = list(yaml.safe_load_all(path.read_text()))[1]
    return platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]


def pod_identity(objects: list[dict], executors: dict[str, dict]) -> dict:
    """What the trigger step's pod gets on multi-user KFP, from the render and the compiled pipeline."""
    schedules = yaml.safe_load((ROOT / "schedules" / "prod.yaml").read_text())
    binding = one(objects, "RoleBinding", ROLE)
    namespace = binding["metadata"]["namespace"]
    [subject] = binding["subjects"]
    account = schedules["defaults"]["service_account"]
    # The scoring run's pods run in the profile namespace as the schedules file's service account.
    assert subject == {"kind": "ServiceAccount", "name": account, "namespace": namespace}
    assert one(objects, "ServiceAccount", account)["metadata"]["namespace"] == namespace
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": ROLE}
    role = one(objects, "Role", ROLE)
    assert role["metadata"]["namespace"] == namespace
    default = one(objects, "PodDefault", "churnops-kfp-api-token")
    assert default["metadata"]["namespace"] == namespace  # a PodDefault mutates pods of its own namespace
    selector = default["spec"]["selector"]["matchLabels"]
    selected = [name for name, spec in executors.items()
                if selector.items() <= spec.get("podMetadata", {}).get("labels", {}).items()]
    assert selected == ["exec-trigger-retrain"], selected  # the token goes to the one step that calls KFP
    [volume] = default["spec"]["volumes"]
    [source] = volume["projected"]["sources"]
    [mount] = [m for m in default["spec"]["volumeMounts"] if m["name"] == volume["name"]]
    token_path = f"{mount['mountPath']}/{source['serviceAccountToken']['path']}"
    assert source["serviceAccountToken"]["audience"] == TOKEN_AUDIENCE  # what multi-user KFP's TokenReview asks for
    env = {item["name"]: item["value"] for item in default["spec"]["env"]}
    assert env["KF_PIPELINES_SA_TOKEN_PATH"] == token_path == trigger_retrain.ApiClient.TOKEN_PATH
    return {"user": f"system:serviceaccount:{namespace}:{account}", "namespace": namespace, "role": role,
            "audience": source["serviceAccountToken"]["audience"], "env": env}


@pytest.fixture(scope="module")
def training_package(tmp_path_factory):
    return retrain_target.compile_training(tmp_path_factory.mktemp("package") / "training.yaml")


def seeded(server: FakeKfpServer, package, namespace: str) -> None:
    """What the sync leaves in the profile namespace: the training pipeline and its recurring run."""
    client = kfp.Client(host=server.url)  # before multi-user mode is switched on: the sync's part is tested elsewhere
    pipeline = client.upload_pipeline(str(package), pipeline_name="churn-training")
    version = client.list_pipeline_versions(pipeline.pipeline_id).pipeline_versions[0]
    experiment = client.create_experiment("churn-prod", namespace=namespace)
    server.add_recurring_run(
        display_name=TARGET, experiment_id=experiment.experiment_id, service_account="churnops-pipeline-runner",
        pipeline_version_reference={"pipeline_id": pipeline.pipeline_id, "pipeline_version_id": version.pipeline_version_id},
        runtime_config={"parameters": {}}, trigger={"cron_schedule": {"cron": "0 0 3 * * MON"}})
    server.reset_calls()


@pytest.mark.parametrize("drop", [None, ("runs", "create"), ("experiments", "create"), ("runs", "list"),
                                  ("experiments", "delete"), ("jobs", "list")],
                         ids=["as-rendered", "no-create-runs", "no-create-experiments", "no-list-runs",
                              "no-delete-experiments", "no-list-jobs"])
def test_the_rendered_rbac_and_token_cover_every_call_the_trigger_makes(tmp_path, monkeypatch, executors,
                                                                        training_package, drop):
    pod = pod_identity(render(tmp_path, drop), executors)
    namespace = pod["namespace"]
    with FakeKfpServer() as server:
        seeded(server, training_package, namespace)
        server.multi_user = True
        server.tokens["projected-token"] = (pod["user"], (pod["audience"],))
        kfp_rules = [rule for rule in pod["role"]["rules"] if rule["apiGroups"] == ["pipelines.kubeflow.org"]]
        # Besides KFP's own API (what its server checks for the trigger): what a step's pod needs from
        # Kubernetes and Argo (issue 22: the churnops ConfigMap/Secrets, the executor's task results).
        assert [rule for rule in pod["role"]["rules"] if rule not in kfp_rules] == [
            {"apiGroups": [""], "resources": ["configmaps", "secrets"], "verbs": ["get"]},
            {"apiGroups": ["argoproj.io"], "resources": ["workflowtaskresults"], "verbs": ["create", "patch"]}]
        for rule in kfp_rules:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    server.rbac.add((pod["user"], namespace, resource, verb))
        token = tmp_path / "token"
        token.write_text("projected-token\n")
        monkeypatch.setenv("KF_PIPELINES_SA_TOKEN_PATH", str(token))  # what the PodDefault sets, at the test's path

        def trigger():
            return trigger_retrain.run(DRIFTED, enabled=True, kfp_host=server.url, namespace=namespace,
                                       recurring_run=TARGET, window_seconds=86400, now=lambda: server.now)

        def denied(call_path: str, verb: str):
            with pytest.raises(ChurnopsError, match=f"HTTP 403.*Verb:{verb}"):
                trigger()
            assert any(c.status == 403 and c.path.endswith(call_path) for c in server.calls), server.calls

        if drop == ("jobs", "list"):
            return denied("/recurringruns", "list")
        if drop == ("experiments", "create"):
            return denied("/experiments", "create")
        if drop == ("runs", "create"):
            denied("/runs", "create")
            assert not server.state.runs and not [e for e in server.state.experiments.values()
                                                  if "-drift-retrain-" in e["display_name"]]  # window given back
            return
        first = trigger()  # jobs list, experiments list + create, runs create
        assert first["action"] == "trigger"
        [run] = server.state.runs.values()
        assert run["namespace"] == namespace and run["run_id"] == first["run_id"]
        assert all(call.authorization == "Bearer projected-token" for call in server.calls)
        server.advance(defaults.RETRAIN_CLAIM_GRACE_SECONDS)
        if drop == ("runs", "list"):
            return denied("/runs", "list")  # the self-healing check cannot see the claim's run
        assert trigger()["action"] == "skip"  # runs list: claim 1 has its run
        server.advance(86400)
        server.fail("POST", r"/runs$", status=400)
        with pytest.raises(ChurnopsError, match="KFP refused the run"):
            trigger()
        claims = [e["display_name"] for e in server.state.experiments.values() if "-drift-retrain-" in e["display_name"]]
        if drop == ("experiments", "delete"):
            assert claims[-1].endswith("-000002")  # the window could not be given back: it stays closed
            assert any(c.status == 403 and c.method == "DELETE" for c in server.calls)
        else:
            assert drop is None and claims == [f"{TARGET}-drift-retrain-000001"]  # claim 2 deleted: window reopened


def test_a_token_without_the_kfp_audience_is_refused(tmp_path, monkeypatch, executors, training_package):
    pod = pod_identity(render(tmp_path), executors)
    with FakeKfpServer() as server:
        seeded(server, training_package, pod["namespace"])
        server.multi_user = True
        server.tokens["plain-token"] = (pod["user"], ("https://kubernetes.default.svc",))  # the pod's own token
        server.grant(pod["user"], pod["namespace"], ("experiments", "runs", "jobs"))
        token = tmp_path / "token"
        token.write_text("plain-token")
        monkeypatch.setenv("KF_PIPELINES_SA_TOKEN_PATH", str(token))
        with pytest.raises(ChurnopsError, match="HTTP 401"):
            trigger_retrain.run(DRIFTED, enabled=True, kfp_host=server.url, namespace=pod["namespace"],
                                recurring_run=TARGET, window_seconds=86400, now=lambda: server.now)
        assert not server.state.runs
