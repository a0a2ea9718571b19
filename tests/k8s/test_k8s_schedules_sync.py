"""The schedules sync Job reads schedules/<env>.yaml and config/platform/<env>.yaml from git.

Defect 4 of issue 11: on main (5803999) the files were baked into the component image, so a
schedule edit changed nothing Argo CD renders and the PostSync hook never reran. Here the Job
mounts hash-suffixed ConfigMaps that kustomize generates from the repository files; these tests
materialise the Job's volume from the render exactly as the kubelet would, run the sync's own
`--check` on it, and prove that an edit in git changes the Job's spec.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from k8s_helpers import ROOT, build, find, validate
from support.environments import ENVIRONMENTS


def sync_job(objects: list[dict]) -> dict:
    return find(objects, "Job", "churnops-schedules-sync", "kubeflow")


def materialise(objects: list[dict], job: dict, into: Path) -> Path:
    """Write the Job's mounted volume (projected ConfigMap items) to `into`; return the --config path."""
    spec = job["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    mounts = {m["name"]: m["mountPath"] for m in container.get("volumeMounts", [])}
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    config = env["SCHEDULES_CONFIG"]
    written = 0
    for volume in spec["volumes"]:
        if volume["name"] not in mounts:
            continue
        sources = (volume.get("projected") or {}).get("sources") or ([{"configMap": volume["configMap"]}]
                                                                      if "configMap" in volume else [])
        for source in sources:
            ref = source["configMap"]
            data = find(objects, "ConfigMap", ref["name"], "kubeflow")["data"]
            for item in ref["items"]:
                target = into / mounts[volume["name"]].lstrip("/") / item["path"]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(data[item["key"]], encoding="utf-8")
                written += 1
    assert written, "the sync Job mounts no ConfigMap: its inputs would come from the image"
    assert config.startswith("/"), f"SCHEDULES_CONFIG={config} is not a mounted path"
    return into / config.lstrip("/")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_sync_reads_the_repository_files_from_a_generated_config_map(env, tmp_path):
    objects = build(f"k8s/overlays/{env}/schedules-sync")
    config = materialise(objects, sync_job(objects), tmp_path)
    assert config.read_text() == (ROOT / "schedules" / f"{env}.yaml").read_text()
    platform = config.parent.parent / "config" / "platform" / f"{env}.yaml"
    assert platform.read_text() == (ROOT / "config" / "platform" / f"{env}.yaml").read_text()
    # the sync's own validation, on exactly the files the pod would see (no KFP contacted)
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "sync_schedules.py"), "--config", str(config),
                             "--check"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("env", ENVIRONMENTS)
@pytest.mark.parametrize("edited", ["schedules/{env}.yaml", "config/platform/{env}.yaml"])
def test_an_edit_in_git_changes_the_hook_job_spec(env, edited, tmp_path):
    copy = tmp_path / "repo"
    for part in ("k8s", "schedules", "config"):
        shutil.copytree(ROOT / part, copy / part)
    before = sync_job(validate.build_kustomization(copy / "k8s" / "overlays" / env / "schedules-sync")[0])
    path = copy / edited.format(env=env)
    path.write_text(path.read_text() + "\n# an edit\n")
    after = sync_job(validate.build_kustomization(copy / "k8s" / "overlays" / env / "schedules-sync")[0])
    # Argo CD sees a changed hook spec: the Application goes OutOfSync, the PostSync hook runs again
    assert before["spec"] != after["spec"]


def test_every_environment_is_in_the_generators():
    import yaml
    for directory, name in (("schedules", "churnops-schedules"), ("config/platform", "churnops-platform")):
        component = yaml.safe_load((ROOT / directory / "Kustomization").read_text())
        (generator,) = [g for g in component["configMapGenerator"] if g["name"] == name]
        assert sorted(generator["files"]) == sorted(f"{env}.yaml" for env in ENVIRONMENTS), directory
