"""The check `churnops train|predict|models` run on the registry before their own work (issue 27).

After the journal's recovery: the guard (an alias moved outside churnops is announced and, under
the recorded policy `enforce`, put back) and the approval deadlines (an approval nobody gave in
time becomes `expired`). What it found is said on stderr, so `--json` output stays one object.
"""

from __future__ import annotations

import sys

import mlflow

from churnops.registry import approvals, guard


def check_registry(client: mlflow.MlflowClient, model_name: str, actor: str, origin: str = "cli") -> dict:
    findings = guard.check(client, model_name, actor=actor, origin=origin)
    for finding in findings:
        print(f"churnops: guard: {model_name}: {finding.describe()}", file=sys.stderr)
    expired = approvals.expire_overdue(client, model_name, actor=actor, origin=origin)
    for version in expired:
        print(f"churnops: {model_name} v{version}: its approval expired (nobody approved it in time)", file=sys.stderr)
    return {"guard_findings": [f.to_dict() for f in findings], "expired": expired}
