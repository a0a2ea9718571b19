"""How many cores a step may use (standard library only: steps, the local runner and the pipelines' platform config share it)."""

from __future__ import annotations

import os

# How many cores a step may use. On a cluster the platform config's cpu_request of the step
# becomes CHURNOPS_CPUS (pipelines/platform.py); elsewhere the process's own CPU quota or affinity.
ENV_CPUS = "CHURNOPS_CPUS"
# How many tasks of a ParallelFor share those cores at once: the local runner sets it (kfp.local
# runs up to two of them at once on one machine; its other tasks run one after another, in
# topological order: kfp 2.17.3 kfp/local/orchestrator/enhanced_dag_orchestrator.py, the
# `while sorted_body_tasks` loop); a pod has its cores to itself.
ENV_CONCURRENT_TASKS = "CHURNOPS_CONCURRENT_TASKS"
CGROUP_CPU_MAX = "/sys/fs/cgroup/cpu.max"


def cpu_budget(fan_out: bool = False) -> int:
    """Cores this step may use: CHURNOPS_CPUS, else the cgroup v2 CPU quota (a pod's limit), else
    the CPUs this process may run on; for a task of a ParallelFor (`fan_out`) divided by
    CHURNOPS_CONCURRENT_TASKS; at least 1."""
    cores = _env_int(ENV_CPUS)
    if cores is None:
        cores = _cgroup_quota() or len(os.sched_getaffinity(0))
    return max(1, cores // ((_env_int(ENV_CONCURRENT_TASKS) or 1) if fan_out else 1))


def _env_int(name: str) -> int | None:
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{name} must be a whole number >= 1, got {value!r}; unset it or fix the value.")
    return int(value)


def _cgroup_quota(path: str = CGROUP_CPU_MAX) -> int | None:
    """ceil(quota / period) from cgroup v2's cpu.max ("max 100000": no quota -> None)."""
    try:
        with open(path, encoding="ascii") as handle:
            quota, period = handle.read().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    return max(1, -(-int(quota) // int(period)))
