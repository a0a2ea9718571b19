"""churnops has one version, churnops.__version__: this repository's Argo CD targetRevision is
`v<version>` and every ghcr.io/churnops/churnops image the overlays deploy is tagged `<version>`."""

from __future__ import annotations

import ast
import copy
import re
import shutil

import pytest
from k8s_helpers import ROOT, argocd_apps, build, find, validate
from support.environments import ENVIRONMENTS

REPO_URL = "https://github.com/churnops/churnops.git"
IMAGE = "ghcr.io/churnops/churnops:"


def package_version() -> str:
    """__version__ parsed from churnops/__init__.py (not imported: the test needs no package)."""
    tree = ast.parse((ROOT / "churnops" / "__init__.py").read_text())
    (value,) = [node.value.value for node in tree.body if isinstance(node, ast.Assign)
                and any(getattr(t, "id", None) == "__version__" for t in node.targets)]
    return value


VERSION = package_version()


def our_sources(apps: list[dict]) -> list[dict]:
    return [a["spec"]["source"] for a in apps
            if a["kind"] == "Application" and a["spec"]["source"]["repoURL"] == REPO_URL]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_argocd_tracks_the_release_tag_of_the_package_version(env):
    apps = argocd_apps(env) + argocd_apps(env, "--set", "root=true")
    sources = our_sources(apps)
    assert len(sources) == 3  # the root, the MLflow stack, the schedules sync
    assert {s["targetRevision"] for s in sources} == {f"v{VERSION}"}


def test_every_churnops_image_in_every_overlay_is_tagged_with_the_package_version():
    images = set()
    for target in validate.kustomize_targets():
        for _, container in validate.pod_containers(build(str(target.relative_to(ROOT)))):
            if container["image"].startswith(IMAGE):
                images.add(container["image"])
    assert images == {IMAGE + VERSION}


def test_validate_reads_the_same_version_and_checks_it_on_every_render():
    assert validate.package_version() == VERSION and validate.argocd_repo_url() == REPO_URL
    renders = [validate.Render(str(t), build(str(t.relative_to(ROOT)))) for t in validate.kustomize_targets()]
    renders += [validate.Render(str(v), validate.render_argocd(v)[0]) for v in validate.argocd_values_files()]
    assert all(validate.check_release_version(r.objects, VERSION, REPO_URL) == [] for r in renders)


def test_a_stale_image_tag_is_reported():
    objects = copy.deepcopy(build(f"k8s/overlays/{ENVIRONMENTS[0]}/schedules-sync"))
    job = find(objects, "Job", "churnops-schedules-sync")
    job["spec"]["template"]["spec"]["containers"][0]["image"] = IMAGE + "0.0.9"
    errors = validate.check_release_version(objects, VERSION, REPO_URL)
    assert len(errors) == 1 and "0.0.9" in errors[0] and f"{IMAGE}{VERSION}" in errors[0]


def test_a_chart_app_version_that_left_the_package_version_behind_is_reported(tmp_path):
    chart = tmp_path / "argocd"
    shutil.copytree(ROOT / "k8s" / "argocd", chart)
    chart_yaml = chart / "Chart.yaml"
    chart_yaml.write_text(re.sub(r'(?m)^appVersion: .*$', 'appVersion: "0.0.9"', chart_yaml.read_text()))
    objects, errors = validate.render_argocd(chart / "values" / f"{ENVIRONMENTS[0]}.yaml", chart=chart)
    assert errors == []
    reported = validate.check_release_version(objects, VERSION, REPO_URL)
    assert len(reported) == 3 and all("'v0.0.9'" in e and f"v{VERSION}" in e for e in reported)
