"""Human-readable output: the plan as a table, and what an apply did or did not do."""

from __future__ import annotations

from churnops.schedules.apply import ApplyResult
from churnops.schedules.plan import Plan

HEADER = ("ACTION", "KIND", "NAME", "DETAIL")


def plan_table(plan: Plan) -> str:
    rows = [HEADER] + [(c.verb, c.kind, c.name, c.detail) for c in plan.changes]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)) + "  " + row[3] for row in rows]
    pending = len(plan.pending)
    lines.append(f"Plan: {pending} to change, {len(plan.changes) - pending} unchanged.")
    lines.extend(f"warning: {warning}" for warning in plan.warnings)
    return "\n".join(line.rstrip() for line in lines)


def apply_report(result: ApplyResult) -> str:
    lines = [f"  done: {line}" for line in result.done] or ["  done: nothing"]
    if result.failed is not None:
        failed = result.failed
        lines.append(f"  FAILED: {failed.verb} {failed.kind} {failed.name}: {result.error}")
        lines.extend(f"  not applied: {c.verb} {c.kind} {c.name}" for c in result.not_applied)
        lines.append("  Rerun the same command once KFP answers: it picks up where this one stopped.")
    return "\n".join(lines)
