"""Multi-user KFP: what a pipeline pod's ServiceAccount in a profile namespace may do, asked of the
real RBAC authorizer (a SubjectAccessReview, what `kubectl auth can-i --as` sends), after the RBAC of
k8s/components/kfp-multi-user is applied the way an overlay that opts in applies it. The review names
the API group itself: `kubectl auth can-i` resolves a resource through discovery, and this cluster
serves neither KFP's pipelines.kubeflow.org nor Argo's argoproj.io Workflow kinds, so it would ask
about group "" and answer "no" whatever the Role says.

The pods of a churnops run in the profile namespace run as `churnops-pipeline-runner`:
- KFP's driver and launcher get the namespace's `kfp-launcher` ConfigMap through the API
  (kubeflow/pipelines backend/src/v2/config/env.go `FromConfigMap`, read at commit 071973e9) and
  the object store's credentials Secret (the same file's default MinIO session names
  `mlpipeline-minio-artifact` as `secretName`); issue 22 lists `configmaps get` and `secrets get`;
- Argo's executor reports outputs as WorkflowTaskResults (create, patch: issue 22);
- the scoring pipeline's retrain trigger calls the KFP API, which multi-user KFP authorizes with a
  SubjectAccessReview on group pipelines.kubeflow.org (the Role's comment lists them).
Nothing more: no Secret listing, nothing in another namespace, no pods, no writes on ConfigMaps.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
import yaml
from cluster_helpers import ROOT

from scripts.cluster import plane

PROFILE = "kubeflow-user-example-com"
RUNNER = f"system:serviceaccount:{PROFILE}:churnops-pipeline-runner"
RBAC_KINDS = {"ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"}

ALLOWED = [
    ("get", "configmaps", PROFILE),
    ("get", "secrets", PROFILE),
    ("create", "workflowtaskresults.argoproj.io", PROFILE),
    ("patch", "workflowtaskresults.argoproj.io", PROFILE),
    ("list", "jobs.pipelines.kubeflow.org", PROFILE),
    ("list", "experiments.pipelines.kubeflow.org", PROFILE),
    ("create", "experiments.pipelines.kubeflow.org", PROFILE),
    ("delete", "experiments.pipelines.kubeflow.org", PROFILE),
    ("list", "runs.pipelines.kubeflow.org", PROFILE),
    ("create", "runs.pipelines.kubeflow.org", PROFILE),
]
DENIED = [
    ("list", "secrets", PROFILE),
    ("watch", "secrets", PROFILE),
    ("get", "secrets", "kubeflow"),
    ("get", "configmaps", "kubeflow"),
    ("update", "configmaps", PROFILE),
    ("create", "pods", PROFILE),
    ("delete", "workflowtaskresults.argoproj.io", PROFILE),
    ("create", "workflows.argoproj.io", PROFILE),
    ("create", "jobs.pipelines.kubeflow.org", PROFILE),
    ("update", "runs.pipelines.kubeflow.org", PROFILE),
    ("create", "pipelines.pipelines.kubeflow.org", PROFILE),
    ("list", "runs.pipelines.kubeflow.org", "kubeflow"),
]


@pytest.fixture(scope="module")
def multi_user(empty_cluster_factory):
    """The component's RBAC on the profile namespace (the namespace itself stands in for a Kubeflow
    Profile's; PodDefault needs Kubeflow's admission webhook, which is not built here)."""
    empty_cluster_factory()
    # an overlay that opts in, as docs/schedules.md says; inside the checkout (kustomize loads
    # bases by paths relative to the kustomization) but in the git-ignored .churnops, where neither
    # the k8s/ checks nor a gitops snapshot look, removed afterwards
    (ROOT / ".churnops").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=ROOT / ".churnops") as work:
        overlay = Path(work)
        (overlay / "kustomization.yaml").write_text(yaml.safe_dump({
            "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
            "resources": [os.path.relpath(ROOT / "k8s" / "overlays" / "dev" / "schedules-sync", overlay)],
            "components": [os.path.relpath(ROOT / "k8s" / "components" / "kfp-multi-user", overlay)]}))
        rendered = plane.kubectl("kustomize", str(overlay)).stdout
    objects = [o for o in yaml.safe_load_all(rendered) if o and o["kind"] in RBAC_KINDS]
    namespaces = sorted({o["metadata"]["namespace"] for o in objects if o["metadata"].get("namespace")})
    plane.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in namespaces])
    plane.apply(objects)


def can_i(verb: str, resource: str, namespace: str) -> bool:
    """`resource` as kubectl writes it: `<plural>` or `<plural>.<group>`."""
    plural, _, group = resource.partition(".")
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": {
        "user": RUNNER, "groups": ["system:serviceaccounts", f"system:serviceaccounts:{PROFILE}", "system:authenticated"],
        "resourceAttributes": {"namespace": namespace, "verb": verb, "group": group, "resource": plural}}}
    answer = json.loads(plane.kubectl("create", "-f", "-", "-o", "json", stdin=json.dumps(review)).stdout)
    return answer["status"].get("allowed", False)


@pytest.mark.parametrize(("verb", "resource", "namespace"), ALLOWED)
def test_the_runner_may(multi_user, verb, resource, namespace):
    assert can_i(verb, resource, namespace)


@pytest.mark.parametrize(("verb", "resource", "namespace"), DENIED)
def test_the_runner_may_not(multi_user, verb, resource, namespace):
    assert not can_i(verb, resource, namespace)
