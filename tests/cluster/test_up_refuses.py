"""`cluster up` refuses, before it starts anything, what would make a component fail later."""

from __future__ import annotations

import socket

import pytest

from scripts.cluster import pins, plane, processes


def test_a_taken_knative_probe_port_is_named_before_anything_starts(tmp_path, monkeypatch):
    """Knative's controller binds :8080 whatever its env says; the tier's own cluster holds it while it runs,
    so this test (in the same xdist group) holds it only when it is free."""
    monkeypatch.setenv(pins.STATE_ENV, str(tmp_path))
    with socket.socket() as holder:
        if processes.port_free_everywhere(plane.KNATIVE_PROBE_PORT):
            holder.bind(("127.0.0.1", plane.KNATIVE_PROBE_PORT))
            holder.listen()
        assert not processes.port_free_everywhere(plane.KNATIVE_PROBE_PORT)
        with pytest.raises(SystemExit, match="port 8080 is taken, and Knative's controller binds it"):
            plane.start_all()
    assert processes.order() == [] and not (tmp_path / "kubeconfig").exists()  # nothing was started or written
