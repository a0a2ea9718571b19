"""kserve is installed --no-deps (requirements/serve.txt says why): every requirement it declares but
pandas must still be met by what is installed, so an upgrade that needs more fails here, not in a pod."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from packaging.requirements import Requirement

OVERRIDDEN = {"pandas"}  # kserve 0.21.0 says <3.0.0; churnops pins 3.1.1 (batch and online scores must agree)


def test_every_kserve_requirement_but_pandas_is_met():
    unmet = []
    for text in importlib.metadata.requires("kserve") or []:
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue  # an extra we do not install (storage, ray, llm, logging)
        if requirement.name.lower() in OVERRIDDEN:
            continue
        try:
            installed = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            unmet.append(f"{requirement} (not installed)")
            continue
        if not requirement.specifier.contains(installed, prereleases=True):
            unmet.append(f"{requirement} (installed {installed})")
    assert unmet == [], f"add or re-pin in requirements/serve.txt: {unmet}"


def test_the_overridden_pandas_is_the_runtime_pin():
    constraints = (Path(__file__).resolve().parents[3] / "constraints.txt").read_text().splitlines()
    pinned = next(line for line in constraints if line.lower().startswith("pandas=="))
    assert importlib.metadata.version("pandas") == pinned.split("==")[1].strip()
