"""Every environment (a directory under k8s/overlays/) has all its pieces, and the Argo CD values
file of each names the environment it is for."""

from __future__ import annotations

import shutil

import pytest
import yaml
from k8s_helpers import ROOT
from support.environments import ENVIRONMENTS, PIECES, environments, missing_pieces


def test_the_environment_list_is_read_from_the_overlays():
    assert ENVIRONMENTS == environments() and {"dev", "prod"} <= set(ENVIRONMENTS)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_environment_has_all_its_pieces(env):
    missing = missing_pieces(env)
    assert missing == [], f"environment {env} (k8s/overlays/{env}) lacks {', '.join(missing)}"
    values = yaml.safe_load((ROOT / "k8s" / "argocd" / "values" / f"{env}.yaml").read_text())
    assert values["environment"] == env


def test_argocd_values_exist_only_for_environments():
    values = sorted(p.stem for p in (ROOT / "k8s" / "argocd" / "values").glob("*.yaml"))
    assert tuple(values) == ENVIRONMENTS, "an Argo CD values file without an overlay (or the reverse)"


def test_a_new_overlay_is_an_environment_and_its_missing_pieces_are_named(tmp_path):
    for piece in PIECES:
        path = tmp_path / piece.format(env="dev")
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / piece.format(env="dev"), path)
    staging = tmp_path / "k8s" / "overlays" / "staging"
    staging.mkdir()
    (staging / "kustomization.yaml").write_text("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n")
    (tmp_path / "k8s" / "overlays" / "notes").mkdir()  # no kustomization.yaml: not an environment
    assert environments(tmp_path / "k8s" / "overlays") == ("dev", "staging")
    assert missing_pieces("dev", tmp_path) == []
    assert missing_pieces("staging", tmp_path) == [
        "k8s/overlays/staging/schedules-sync/kustomization.yaml", "k8s/argocd/values/staging.yaml",
        "schedules/staging.yaml", "config/platform/staging.yaml"]
