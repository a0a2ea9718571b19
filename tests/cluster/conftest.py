"""The local control plane (scripts/cluster) for the tests in this folder (marker `cluster`).

One cluster per test run: every test here is in the xdist group `tests/cluster`
(tests/support/grouping.py), so one worker runs them all, and the session fixture `cluster` starts it
once (in the run's folder, apart from a developer's own `make cluster-up` in .churnops/cluster) and
stops it at the end. `make test` builds the components first (`cluster-build`); a component that is
not built is an error, not a skip.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cluster_helpers import BUNDLE_NAMESPACES, ROOT
from support import shared

from scripts.cluster import build, pins, plane, processes


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.cluster)  # its xdist group: tests/support/grouping.py


@pytest.fixture(scope="session")
def cluster(pytestconfig) -> dict[str, str]:
    """The running control plane's env file ({KUBECONFIG, ARGOCD_NAMESPACE, GIT_URL, ...})."""
    unbuilt = [c.name for c in pins.components().values() if not build.built(c)]
    if unbuilt:
        pytest.fail(f"not built: {', '.join(unbuilt)}: run `make cluster-build` (make test does)")
    state = shared.run_dir(pytestconfig) / "cluster"
    os.environ[pins.STATE_ENV] = str(state)
    running = [name for name in processes.order() if processes.alive(name)]
    if running:  # a second cluster here would take the first one's kubeconfig and ports away mid-test
        os.environ.pop(pins.STATE_ENV)
        pytest.fail(f"another worker's control plane runs in {state} ({', '.join(running)}): every test of "
                    "tests/cluster must be in one xdist group (tests/support/grouping.py)")
    started = time.monotonic()
    failures = []
    for _ in range(2):  # a second try only after a failed one, which stopped what it started
        up = subprocess.run([sys.executable, "-m", "scripts.cluster", "up"], cwd=ROOT, capture_output=True, text=True)
        if up.returncode == 0:
            break
        # Seen under make test: a free port chosen for one component was taken by the other worker's
        # services before the component bound it (kwok: "bind: address already in use").
        failures.append(f"{up.stdout[-3000:]}\n{up.stderr[-3000:]}")
        subprocess.run([sys.executable, "-m", "scripts.cluster", "down"], cwd=ROOT, capture_output=True)
    print(f"\ncluster up in {time.monotonic() - started:.0f} s" + (f" (after a failed try: {failures[0][-500:]})"
                                                                   if failures and up.returncode == 0 else ""))
    try:
        if up.returncode != 0:
            pytest.fail("make cluster-up failed twice:\n" + "\n---\n".join(failures))
        yield plane.read_env()
    finally:
        subprocess.run([sys.executable, "-m", "scripts.cluster", "down"], cwd=ROOT, capture_output=True)
        os.environ.pop(pins.STATE_ENV, None)


@pytest.fixture(scope="session")
def empty_cluster_factory(cluster):
    """A function that takes the cluster back to empty: nothing of the bundle (the CRDs, the
    controllers and Argo CD stay). Each scenario (a module or a parameter of one) calls it first."""

    def empty() -> dict[str, str]:
        plane.reset(BUNDLE_NAMESPACES)
        return cluster

    return empty
