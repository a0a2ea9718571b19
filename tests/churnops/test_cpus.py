"""How many cores a step may use: the pod's request, its CPU quota, or the machine; shared in a fan-out."""

from __future__ import annotations

import os

import pytest

from churnops import cpus
from pipelines.platform import whole_cpus


def test_the_platform_configs_request_wins(monkeypatch):
    monkeypatch.setenv(cpus.ENV_CPUS, "3")
    monkeypatch.delenv(cpus.ENV_CONCURRENT_TASKS, raising=False)
    assert cpus.cpu_budget() == 3 and cpus.cpu_budget(fan_out=True) == 3  # a pod has its cores to itself


def test_local_fan_out_tasks_share_the_machine(monkeypatch):
    monkeypatch.delenv(cpus.ENV_CPUS, raising=False)
    monkeypatch.setenv(cpus.ENV_CONCURRENT_TASKS, "2")
    machine = cpus._cgroup_quota() or len(os.sched_getaffinity(0))
    assert cpus.cpu_budget() == machine
    assert cpus.cpu_budget(fan_out=True) == max(1, machine // 2)


def test_a_bad_value_is_named(monkeypatch):
    monkeypatch.setenv(cpus.ENV_CPUS, "two")
    with pytest.raises(ValueError, match="CHURNOPS_CPUS must be a whole number >= 1, got 'two'"):
        cpus.cpu_budget()


@pytest.mark.parametrize(("text", "cores"), [("max 100000", None), ("150000 100000", 2), ("50000 100000", 1),
                                             ("400000 100000", 4)])
def test_the_cgroup_v2_quota_is_read_rounded_up(tmp_path, text, cores):
    path = tmp_path / "cpu.max"
    path.write_text(text + "\n")
    assert cpus._cgroup_quota(str(path)) == cores
    assert cpus._cgroup_quota(str(tmp_path / "absent")) is None


@pytest.mark.parametrize(("quantity", "cores"), [("250m", 1), ("1", 1), ("1500m", 2), ("2", 2), (0.5, 1), ("4", 4)])
def test_a_kubernetes_cpu_quantity_becomes_whole_cores(quantity, cores):
    assert whole_cpus(quantity) == cores
