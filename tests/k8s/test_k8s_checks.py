"""Every check of scripts/k8s/validate.py passes on the repository and fails on a seeded mistake."""

from __future__ import annotations

import copy
import shutil

import pytest
from k8s_helpers import ROOT, argocd_apps, find, render_mlflow_chart, validate
from support.environments import ENVIRONMENTS


def without(objects, kind, name):
    return [o for o in objects if not (o["kind"] == kind and o["metadata"]["name"].startswith(name))]


def mlflow_pod(objects):
    return find(objects, "Deployment", "mlflow", "mlflow")["spec"]["template"]["spec"]


# ---------------------------------------------------------------- build


def test_every_kustomization_builds_with_the_pinned_kubectl():
    targets = validate.kustomize_targets()
    assert {str(t.relative_to(ROOT)) for t in targets} == {
        path for env in ENVIRONMENTS
        for path in (f"k8s/overlays/{env}", f"k8s/overlays/{env}/schedules-sync", f"k8s/overlays/{env}/serving")}
    for target in targets:
        objects, error = validate.build_kustomization(target)
        assert error == "" and objects, f"{target}: {error}"


def test_build_reports_a_broken_kustomization(tmp_path):
    (tmp_path / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [missing.yaml]\n")
    objects, error = validate.build_kustomization(tmp_path)
    assert objects == [] and "missing.yaml" in error


# ---------------------------------------------------------------- layout


def test_optional_pieces_are_components_and_everything_has_apiversion_and_kind():
    assert validate.check_layout() == []
    components = sorted(p.parent.name for p in (ROOT / "k8s" / "components").glob("*/kustomization.yaml"))
    assert components == ["kfp-multi-user", "mlflow-ha-gcs", "mlflow-standalone", "postgres",
                          "serving", "serving-canary", "serving-pinned"]


LAYOUT_MISTAKES = {
    "component-as-sub-base": ("k8s/components/postgres", "kind: Kustomization\n", "Component"),
    "overlay-as-component": ("k8s/overlays/dev", "kind: Component\n", "Kustomization"),
    "no-api-version": ("k8s/base", "kind: Kustomization\n", "apiVersion/kind None/Kustomization"),
    "deprecated-bases": ("k8s/overlays/dev",
                         "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nbases: [../../base]\n",
                         "`bases:` is deprecated"),
}


@pytest.mark.parametrize("where,text,message", LAYOUT_MISTAKES.values(), ids=LAYOUT_MISTAKES.keys())
def test_layout_mistakes_are_reported(tmp_path, where, text, message):
    shutil.copytree(ROOT / "k8s", tmp_path / "k8s")
    (tmp_path / where / "kustomization.yaml").write_text(text)
    errors = validate.check_layout(tmp_path)
    assert len(errors) >= 1 and all(where in e for e in errors) and any(message in e for e in errors), errors


# ---------------------------------------------------------------- drift


def test_rendered_mlflow_matches_the_chart():
    assert render_mlflow_chart.main(["--check"]) == 0


@pytest.mark.parametrize("mistake", ["edit", "stale", "missing"])
def test_drift_is_reported(tmp_path, mistake, capsys):
    components = tmp_path / "components"
    shutil.copytree(ROOT / "k8s" / "components", components)
    standalone = components / "mlflow-standalone"
    if mistake == "edit":
        path = standalone / "deployment.yaml"
        path.write_text(path.read_text().replace("replicas: 1", "replicas: 3"))
    elif mistake == "stale":
        (standalone / "configmap-leftover.yaml").write_text("kind: ConfigMap\n")
    else:
        (standalone / "service.yaml").unlink()
    assert render_mlflow_chart.main(["--check", "--components", str(components)]) == 1
    assert "drifted" in capsys.readouterr().err


def test_render_refuses_an_object_without_its_own_namespace():
    # a Component cannot set `namespace:` without moving the whole overlay that opts in
    rendered = "apiVersion: v1\nkind: Service\nmetadata:\n  name: mlflow\n"
    with pytest.raises(ValueError, match="not in namespace mlflow"):
        render_mlflow_chart.render_files(rendered, "values.yaml")
    ok = render_mlflow_chart.render_files(rendered.replace("name: mlflow", "name: mlflow\n  namespace: mlflow"), "v")
    assert sorted(ok) == ["kustomization.yaml", "service.yaml"] and "kind: Component" in ok["kustomization.yaml"]


def test_render_rewrites_a_drifted_variant(tmp_path):
    components = tmp_path / "components"
    shutil.copytree(ROOT / "k8s" / "components", components)
    (components / "mlflow-standalone" / "deployment.yaml").write_text("edited by hand\n")
    assert render_mlflow_chart.main(["--components", str(components)]) == 0
    assert render_mlflow_chart.main(["--check", "--components", str(components)]) == 0


# ---------------------------------------------------------------- schema


def test_schema_passes_on_every_render(every_overlay, crd_schemas):
    assert validate.check_schema(every_overlay, crd_schemas) == []


def test_schema_rejects_an_unknown_field_of_a_builtin_kind(dev, crd_schemas):
    bad = copy.deepcopy(find(dev, "Deployment", "mlflow"))
    bad["spec"]["replica"] = 2
    errors = validate.check_schema([bad], crd_schemas)
    assert errors and "replica" in errors[0]


def test_schema_rejects_a_wrong_type(dev, crd_schemas):
    bad = copy.deepcopy(find(dev, "Service", "mlflow"))
    bad["spec"]["ports"][0]["port"] = "five thousand"
    assert validate.check_schema([bad], crd_schemas)


def test_schema_rejects_an_invalid_argocd_application(crd_schemas):
    (app,) = [o for o in argocd_apps(ENVIRONMENTS[0], "--set", "root=true") if o["kind"] == "Application"]
    assert validate.check_schema([app], crd_schemas) == []
    missing_destination = copy.deepcopy(app)
    del missing_destination["spec"]["destination"]
    typo = copy.deepcopy(app)
    typo["spec"]["syncPolicy"]["automated"]["prun"] = True
    assert "destination" in validate.check_schema([missing_destination], crd_schemas)[0]
    assert "prun" in validate.check_schema([typo], crd_schemas)[0]


def test_schema_rejects_an_invalid_servicemonitor(crd_schemas):
    objects, _ = validate.helm_lint_and_template(ROOT / "k8s/components/mlflow-ha-gcs/values.yaml")
    monitor = find(objects, "ServiceMonitor", "mlflow")
    assert validate.check_schema([monitor], crd_schemas) == []
    bad = copy.deepcopy(monitor)
    bad["spec"]["endpoints"][0]["interval"] = "every minute"
    assert "interval" in validate.check_schema([bad], crd_schemas)[0]


def test_schema_refuses_a_kind_it_has_no_schema_for(crd_schemas):
    errors = validate.check_schema([{"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
                                     "metadata": {"name": "x"}}], crd_schemas)
    assert errors and "vendor its CRD schema" in errors[0]


# ---------------------------------------------------------------- references


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_references_resolve_in_every_overlay(env, external):
    objects, _ = validate.build_kustomization(ROOT / f"k8s/overlays/{env}")
    assert validate.check_references(objects, external[f"k8s/overlays/{env}"]) == []


def test_external_keys_with_a_glob_segment_match_every_environment_and_nothing_deeper():
    listed = {"k8s/overlays/*": [{"kind": "Namespace", "name": "kubeflow"}],
              "k8s/overlays/prod": [{"kind": "Secret", "namespace": "mlflow", "name": "db"}]}
    assert validate.external_for("k8s/overlays/dev", listed) == [{"kind": "Namespace", "name": "kubeflow"}]
    assert len(validate.external_for("k8s/overlays/prod", listed)) == 2
    assert validate.external_for("k8s/overlays/dev/schedules-sync", listed) == []


def test_a_missing_secret_is_reported(dev, external):
    errors = validate.check_references(without(dev, "Secret", "mlflow-backend-store"), external["k8s/overlays/dev"])
    assert any("mlflow-backend-store" in e for e in errors)


def test_the_external_list_is_what_makes_prod_secrets_acceptable(prod, external):
    assert any("mlflow-basic-auth" in e for e in validate.check_references(prod, []))


def test_a_missing_secret_key_is_reported(dev, external):
    objects = copy.deepcopy(dev)
    env = mlflow_pod(objects)["containers"][0]["env"]
    next(e for e in env if e["name"] == "AWS_ACCESS_KEY_ID")["valueFrom"]["secretKeyRef"]["key"] = "ACCESS_KEY"
    errors = validate.check_references(objects, external["k8s/overlays/dev"])
    assert any("reads key ACCESS_KEY" in e for e in errors)


@pytest.mark.parametrize("kind,name", [("ServiceAccount", "mlflow"), ("ConfigMap", "churnops-config"),
                                       ("Role", "churnops-pipeline-runner"), ("Namespace", "mlflow")])
def test_missing_service_account_role_and_namespace_are_reported(dev, external, kind, name):
    objects = without(dev, kind, name)
    if kind == "ConfigMap":  # nothing in the bundle mounts it; seed a pod that does
        objects = copy.deepcopy(objects)
        mlflow_pod(objects)["containers"][0].setdefault("envFrom", []).append({"configMapRef": {"name": "churnops-config"}})
    errors = validate.check_references(objects, external["k8s/overlays/dev"])
    assert any(name in e for e in errors), errors


def test_a_missing_pvc_and_an_undeclared_mount_are_reported(external):
    objects, _ = validate.helm_lint_and_template(None)  # chart defaults: SQLite on a PVC
    objects = without(objects, "PersistentVolumeClaim", "mlflow-data")
    objects.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "mlflow"}})
    pod = mlflow_pod(objects)
    pod["containers"][0]["volumeMounts"].append({"name": "cache", "mountPath": "/cache"})
    errors = validate.check_references(objects, [])
    assert any("PersistentVolumeClaim mlflow/mlflow-data" in e for e in errors)
    assert any("undeclared volume cache" in e for e in errors)


# ---------------------------------------------------------------- services


def test_services_select_pods_and_declared_ports(overlays):
    assert {env: validate.check_services(objects) for env, objects in overlays.items()} == {env: [] for env in overlays}


def test_a_service_selecting_nothing_is_reported(dev):
    objects = copy.deepcopy(dev)
    find(objects, "Service", "postgres")["spec"]["selector"] = {"app.kubernetes.io/name": "postgresql"}
    assert any("matches no pod" in e for e in validate.check_services(objects))


@pytest.mark.parametrize("target", ["metrics", 8080])
def test_a_service_targeting_an_undeclared_port_is_reported(dev, target):
    objects = copy.deepcopy(dev)
    find(objects, "Service", "mlflow")["spec"]["ports"][0]["targetPort"] = target
    assert any("no selected container declares" in e for e in validate.check_services(objects))


# ---------------------------------------------------------------- images and resources


def test_images_are_pinned(every_overlay):
    assert validate.check_images(every_overlay) == []


@pytest.mark.parametrize("image,ok", [
    ("ghcr.io/churnops/mlflow-server:latest", False),
    ("ghcr.io/churnops/mlflow-server", False),
    ("localhost:5000/mlflow-server", False),
    ("localhost:5000/mlflow-server:3.17.2", True),
    ("ghcr.io/churnops/mlflow-server@sha256:" + "a" * 64, True),
])
def test_untagged_and_latest_images_are_reported(dev, image, ok):
    objects = copy.deepcopy(dev)
    mlflow_pod(objects)["initContainers"][0]["image"] = image
    assert (validate.check_images(objects) == []) is ok


def test_every_container_has_requests_and_limits(every_overlay):
    assert validate.check_resources(every_overlay) == []


@pytest.mark.parametrize("section,resource", [("limits", "memory"), ("requests", "cpu")])
def test_a_container_without_requests_or_limits_is_reported(dev, section, resource):
    objects = copy.deepcopy(dev)
    del mlflow_pod(objects)["initContainers"][0]["resources"][section][resource]
    errors = validate.check_resources(objects)
    assert len(errors) == 1 and f"no {section} for {resource}" in errors[0]


# ---------------------------------------------------------------- argo cd


@pytest.fixture(scope="module")
def applications():
    """Every Application of every environment as validate.py renders them: root + children."""
    objects = []
    for values in validate.argocd_values_files():
        rendered, errors = validate.render_argocd(values)
        assert errors == []
        objects += rendered
    return objects


def test_applications_are_pinned_pruned_and_finalized(applications, crd_schemas):
    # 5 children + the root Application + the root's AppProject per environment
    assert len(applications) == 7 * len(ENVIRONMENTS)
    assert sum(o["kind"] == "AppProject" for o in applications) == len(ENVIRONMENTS)
    assert validate.check_argocd(applications) == [] and validate.check_schema(applications, crd_schemas) == []


def test_the_argocd_chart_refuses_a_render_without_an_environment_or_with_a_typo(tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("{}\n")
    _, errors = validate.render_argocd(empty)
    assert any("environment is required" in e for e in errors), errors
    typo = tmp_path / "typo.yaml"
    typo.write_text("environment: dev\nenviroment: dev\n")
    _, errors = validate.render_argocd(typo)
    assert any("'enviroment' not allowed" in e for e in errors), errors


def test_an_argocd_chart_mistake_fails_validation(tmp_path, crd_schemas):
    chart = tmp_path / "argocd"
    shutil.copytree(ROOT / "k8s" / "argocd", chart)
    template = chart / "templates" / "applications.yaml"
    template.write_text(template.read_text().replace("  destination:", "  destinaton:"))
    objects, errors = validate.render_argocd(chart / "values" / f"{ENVIRONMENTS[0]}.yaml", chart=chart)
    assert errors == [] and any("destinaton" in e for e in validate.check_schema(objects, crd_schemas))


@pytest.mark.parametrize("mistake,message", [
    (lambda a: a["spec"]["source"].update(targetRevision="HEAD"), "not pinned"),
    (lambda a: a["spec"]["source"].update(targetRevision="main"), "not pinned"),
    (lambda a: a["metadata"].pop("finalizers"), "finalizer"),
    (lambda a: a["spec"]["syncPolicy"]["automated"].update(prune=False), "prune"),
    (lambda a: a["spec"]["destination"].pop("namespace"), "InvalidSpecError"),
])
def test_argocd_mistakes_are_reported(applications, mistake, message):
    app = copy.deepcopy(applications[0])
    mistake(app)
    errors = validate.check_argocd([app])
    assert len(errors) == 1 and message in errors[0]


# ---------------------------------------------------------------- checkov


def test_checkov_passes_on_everything_rendered_with_only_the_justified_skips():
    skips, errors = validate.load_checkov_skips()
    assert errors == [] and len(skips) <= 5
    renders = validate.collect_renders()
    assert all(not r.errors for r in renders), [r.errors for r in renders if r.errors]
    assert validate.check_checkov(renders, skips) == []


def test_checkov_reports_an_insecure_pod(dev):
    objects = copy.deepcopy(dev)
    server = mlflow_pod(objects)["containers"][0]
    server["securityContext"].update(privileged=True, allowPrivilegeEscalation=True)
    skips, _ = validate.load_checkov_skips()
    errors = validate.check_checkov([validate.Render("seeded", objects)], skips)
    assert any("CKV_K8S_16" in e for e in errors), errors  # privileged container
    assert any("CKV_K8S_20" in e for e in errors), errors  # privilege escalation


def test_a_skip_without_a_reason_is_an_error(tmp_path):
    path = tmp_path / "skips.yaml"
    path.write_text("CKV_K8S_43: digests are pinned at release\nCKV_K8S_8:\n")
    skips, errors = validate.load_checkov_skips(path)
    assert skips == ["CKV_K8S_43", "CKV_K8S_8"] and errors == [f"{path}: CKV_K8S_8 has no reason"]


# ---------------------------------------------------------------- the whole run


def test_make_validate_entry_point_passes_on_the_repository(capsys):
    assert validate.main([]) == 0
    assert "validation passed" in capsys.readouterr().out


def test_schema_rejects_a_misspelt_appproject_field(crd_schemas):
    (project,) = [o for o in argocd_apps(ENVIRONMENTS[0], "--set", "root=true") if o["kind"] == "AppProject"]
    assert validate.check_schema([project], crd_schemas) == []
    typo = copy.deepcopy(project)
    typo["spec"]["sourceRepo"] = typo["spec"].pop("sourceRepos")
    errors = validate.check_schema([typo], crd_schemas)
    assert any("sourceRepo" in e and "AppProject" in e for e in errors), errors


def test_crd_schema_provenance_names_only_what_was_used():
    """Issue 11 defect 8: main's README cited upstream commits that do not exist. Every schema file
    now says it is a hand copy and names the registry package it was checked against, or the upstream
    tag it was read at (issue 25's Istio schema); no file claims an upstream commit."""
    import re
    readme = (validate.CRD_SCHEMAS / "README.md").read_text()
    for path in sorted(validate.CRD_SCHEMAS.glob("*.yaml")):
        header = "".join(line for line in path.read_text().splitlines(keepends=True) if line.startswith("#"))
        if path.name == "serving.kserve.io_inferenceservices.yaml":  # generated; test_k8s_serving checks it is current
            assert "GENERATED by scripts/k8s/generate_kserve_schema.py" in header and "kserve==" in header
        else:
            assert "HAND" in header and ("@kubernetes-models/" in header or re.search(r" at tag v\d", header)), path.name
        assert not re.search(r"\b[0-9a-f]{40}\b", header), f"{path.name} claims an upstream commit"
        assert f"`{path.name}`" in readme, f"{path.name} is not in README.md"
    assert not re.search(r"`[0-9a-f]{40}`", readme)
    for package in ("@kubernetes-models/argo-cd@4.0.0", "@kubernetes-models/prometheus-operator@6.0.0"):
        assert package in readme
