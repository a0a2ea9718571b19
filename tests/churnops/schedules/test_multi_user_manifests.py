"""Multi-user KFP as it will really run: the sync Job rendered with k8s/components/kfp-multi-user
(the real kubectl kustomize), then the sync driven against the KFP double in multi-user mode
with exactly what that render gives it: the projected token's audience and mount, the
--namespace argument, and the RBAC of the rendered ClusterRole and RoleBinding.

The double reviews tokens and RBAC the way KFP 2.17.0 does (tests/support/kfp_server.py cites
auth/authenticator_token_review.go and resource/resource_manager.go IsAuthorized).
"""

from __future__ import annotations

import os

import pytest
import yaml
from k8s_helpers import ROOT, validate  # validate: scripts/k8s/validate.py
from support.kfp_server import TOKEN_AUDIENCE

from churnops.schedules.kfp_api import KFP_TOKEN_PATH

pytestmark = pytest.mark.k8s

OVERLAY = ROOT / "k8s" / "overlays" / "prod" / "schedules-sync"
COMPONENT = ROOT / "k8s" / "components" / "kfp-multi-user"


def render_with_multi_user(tmp_path, drop: tuple[str, str] | None = None) -> list[dict]:
    """The prod sync overlay with the component, as an overlay opting in would build it."""
    component = COMPONENT
    if drop:  # a seeded mistake: the ClusterRole without one verb on one resource
        component = tmp_path / "component"
        component.mkdir()
        for path in COMPONENT.iterdir():
            (component / path.name).write_text(path.read_text())
        role = yaml.safe_load((component / "clusterrole.yaml").read_text())
        for rule in role["rules"]:
            if drop[0] in rule["resources"]:
                rule["verbs"] = [verb for verb in rule["verbs"] if verb != drop[1]]
        (component / "clusterrole.yaml").write_text(yaml.safe_dump(role))
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": [os.path.relpath(OVERLAY, overlay)],
        "components": [os.path.relpath(component, overlay)],
    }))
    objects, error = validate.build_kustomization(overlay)
    assert not error, error
    return objects


def one(objects: list[dict], kind: str, name: str | None = None) -> dict:
    found = [obj for obj in objects if obj["kind"] == kind and name in (None, obj["metadata"]["name"])]
    assert len(found) == 1, f"{len(found)} {kind} objects in the render"
    return found[0]


def what_the_pod_gets(objects: list[dict]) -> dict:
    job = one(objects, "Job")
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    mounts = {mount["name"]: mount["mountPath"] for mount in container.get("volumeMounts", [])}
    tokens = [(volume["name"], source["serviceAccountToken"]) for volume in pod.get("volumes", [])
              for source in volume.get("projected", {}).get("sources", []) if "serviceAccountToken" in source]
    namespaces = [arg.split("=", 1)[1] for arg in container["args"] if arg.startswith("--namespace=")]
    return {"job": job, "pod": pod, "mounts": mounts, "tokens": tokens, "namespaces": namespaces}


def test_the_sync_job_gets_an_audience_bound_token_where_the_sync_reads_it_and_a_namespace(tmp_path):
    pod = what_the_pod_gets(render_with_multi_user(tmp_path))
    assert len(pod["tokens"]) == 1, pod["tokens"]
    volume, token = pod["tokens"][0]
    assert token["audience"] == TOKEN_AUDIENCE
    # In the pod the sync's default token path (no --token-file) is this projected file.
    assert f"{pod['mounts'][volume]}/{token['path']}" == str(KFP_TOKEN_PATH)
    assert len(pod["namespaces"]) == 1


def test_without_the_component_the_job_has_no_kfp_token(tmp_path):
    # What main shipped before the component: single-user only.
    objects, error = validate.build_kustomization(OVERLAY)
    assert not error, error
    assert what_the_pod_gets(objects)["tokens"] == []


@pytest.mark.parametrize("drop", [None, ("jobs", "create"), ("experiments", "list"), ("jobs", "enable")],
                         ids=["as-rendered", "no-create-jobs", "no-list-experiments", "no-enable-jobs"])
def test_the_rendered_rbac_covers_every_call_the_sync_makes(tmp_path, drop, kfp_server, sync, write_schedules,
                                                           schedules_doc):
    objects = render_with_multi_user(tmp_path, drop)
    pod = what_the_pod_gets(objects)
    namespace = pod["namespaces"][0]
    role = one(objects, "ClusterRole")  # the component's; the base's Role is for ConfigMaps in kubeflow
    [binding] = [obj for obj in objects if obj["kind"] == "RoleBinding" and obj["roleRef"]["kind"] == "ClusterRole"]
    assert binding["metadata"]["namespace"] == namespace and binding["roleRef"]["name"] == role["metadata"]["name"]
    [subject] = binding["subjects"]
    assert subject == {"kind": "ServiceAccount", "name": pod["pod"]["serviceAccountName"],
                       "namespace": pod["job"]["metadata"]["namespace"]}
    user = f"system:serviceaccount:{subject['namespace']}:{subject['name']}"
    # Multi-user KFP: the TokenReview answers the projected token with its audience; the
    # SubjectAccessReview allows exactly what the rendered ClusterRole grants in that namespace.
    kfp_server.multi_user = True
    kfp_server.tokens["projected"] = (user, (pod["tokens"][0][1]["audience"],))
    for rule in role["rules"]:
        if "pipelines.kubeflow.org" in rule["apiGroups"]:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    kfp_server.rbac.add((user, namespace, resource, verb))
    token = tmp_path / "token"
    token.write_text("projected")
    doc = schedules_doc()
    doc["defaults"]["service_account"] = "churnops-pipeline-runner"
    first = sync(write_schedules(doc), "--namespace", namespace, "--token-file", str(token))
    if drop is None:
        assert first.code == 3, first.err  # changes applied
        again = sync(write_schedules(doc), "--namespace", namespace, "--token-file", str(token))
        assert again.code == 0, again.err
    else:
        assert first.code == 5 and "HTTP 403" in first.err, (first.code, first.err)
