"""Command-line flags and exit codes of the schedules sync (light: no kfp import).

Shared by `scripts/sync_schedules.py` and `churnops sync`; see churnops.schedules.cli.
"""

from __future__ import annotations

import argparse
from pathlib import Path

EXIT_IN_SYNC = 0
EXIT_UNEXPECTED = 1
EXIT_CHANGED = 3
EXIT_INVALID = 4
EXIT_API_ERROR = 5


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--config", required=True, type=Path, help="schedules file, e.g. schedules/prod.yaml")
    parser.add_argument("--host", help="KFP API URL (default: the in-cluster ml-pipeline Service, found "
                                       "through the Kubernetes API)")
    parser.add_argument("--namespace", help="KFP namespace (multi-user KFP; omit for single-user)")
    parser.add_argument("--token-file", help="bearer token file (default in a pod: the KFP projected token, "
                                             "else the ServiceAccount token)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    parser.add_argument("--prune", action="store_true",
                        help="delete recurring runs of this scope that the file no longer declares")
    parser.add_argument("--check", action="store_true",
                        help="validate the file and compile its pipelines without contacting KFP")
    parser.add_argument("--changes-exit-code", type=int, default=EXIT_CHANGED, metavar="CODE",
                        help="exit code when changes were applied or are pending (default: %(default)s; "
                             "the in-cluster Job passes 0)")
    parser.add_argument("--verbose", action="store_true", help="tracebacks on errors")
    return parser
