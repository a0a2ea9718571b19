"""Reconcile KFP pipeline versions and recurring runs with a schedules file (docs/schedules.md).

    python scripts/sync_schedules.py --config schedules/prod.yaml [--host URL] [--namespace NS]
        [--token-file PATH] [--dry-run] [--prune] [--check]

Same as `churnops sync`. Exit codes: 0 in sync, 3 changes applied (or pending with --dry-run),
4 invalid config, 5 KFP API error, 1 unexpected error. The steps are small functions in
churnops.schedules, re-exported here: load_config, validate, plan, apply.
"""

from __future__ import annotations

import sys

from churnops.schedules.apply import apply
from churnops.schedules.cli import main
from churnops.schedules.config import load_config, validate
from churnops.schedules.plan import plan

__all__ = ["main", "load_config", "validate", "plan", "apply"]

if __name__ == "__main__":
    sys.exit(main())
