"""scripts/cluster: the pins file agrees with what the bundle names, and the go.mod recipe generated
for each upstream module keeps its replace lines (pure functions; no build, no network)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from scripts.cluster import build, pins

ROOT = Path(__file__).resolve().parents[2]


def test_the_bundle_names_the_versions_the_control_plane_pins():
    """KFP's tag is written once in values.yaml and pinned (unavailable) in versions.toml; the
    Kubernetes minor of the build is the one the namespaces' PodSecurity labels enforce."""
    values = yaml.safe_load((ROOT / "k8s" / "argocd" / "values.yaml").read_text())
    assert pins.load()["kfp"]["version"] == values["kfp"]["version"]
    minor = ".".join(pins.components()["kubernetes"].version.split(".")[:2])
    namespace = yaml.safe_load((ROOT / "k8s" / "base" / "namespace.yaml").read_text())
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce-version"] == minor


def test_every_component_has_a_cache_entry_keyed_by_its_pins(tmp_path, monkeypatch):
    monkeypatch.setenv("CHURNOPS_CACHE", str(tmp_path))
    components = pins.components()
    assert all(c.home == tmp_path / "cluster" / f"{c.name}-{c.version}" for c in components.values())
    changed = pins.Component(**{**components["kwok"].__dict__, "version": "v0.0.1"})
    assert changed.key != components["kwok"].key


UPSTREAM = """module k8s.io/kubernetes

go 1.25.0

require k8s.io/api v0.0.0

replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tgithub.com/golang/protobuf => github.com/golang/protobuf v1.5.4 // pinned
)

replace go.etcd.io/etcd => ./FORBIDDEN_DEPENDENCY
replace sigs.k8s.io/controller-runtime => sigs.k8s.io/controller-runtime v0.22.5
"""


def test_the_recipe_keeps_upstream_replaces_and_maps_local_paths_to_the_staged_version():
    component = pins.Component(name="k", module="k8s.io/kubernetes", version="v1.35.8", binaries={"a": "cmd/a"},
                               local_replace_version="v0.35.8")
    text = build.gomod(component, UPSTREAM)
    assert "go 1.25.0" in text and "require k8s.io/kubernetes v1.35.8" in text
    assert "replace k8s.io/api => k8s.io/api v0.35.8" in text
    assert "replace github.com/golang/protobuf => github.com/golang/protobuf v1.5.4" in text
    assert "replace sigs.k8s.io/controller-runtime => sigs.k8s.io/controller-runtime v0.22.5" in text
    assert "FORBIDDEN" not in text


def test_a_local_replace_without_a_version_to_map_it_to_is_an_error_naming_the_fix():
    component = pins.Component(name="k", module="k8s.io/kubernetes", version="v1.35.8", binaries={})
    with pytest.raises(SystemExit, match="set local_replace_version"):
        build.gomod(component, UPSTREAM)


def test_kubernetes_binaries_carry_their_version_for_kubectl():
    flags = build.ldflags(pins.components()["kubernetes"])
    assert "-X k8s.io/component-base/version.gitVersion=v1.35.8" in flags
    assert "-X k8s.io/client-go/pkg/version.gitMinor=35" in flags
