"""`scripts/sync_schedules.py` and `churnops sync`: reconcile KFP with a schedules file.

Exit codes (stable; scripts and the sync Job rely on them):
  0  in sync: nothing to change (with --check: the file is valid)
  3  changes applied (with --dry-run: changes pending); --changes-exit-code sets another code
  4  invalid config: every problem is listed on stderr, nothing was contacted or changed
  5  KFP API error: what was and was not applied is listed; rerun to converge
  1  unexpected error (a bug: rerun with --verbose and report it); 2 is a usage error
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import traceback
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Mapping

from churnops.errors import ConfigError
from churnops.schedules.apply import apply
from churnops.schedules.arguments import (
    EXIT_API_ERROR,
    EXIT_IN_SYNC,
    EXIT_INVALID,
    EXIT_UNEXPECTED,
    add_arguments,
)
from churnops.schedules.cluster import ClusterError, core_v1, has_config_map_refs, resolve_config_map_refs
from churnops.schedules.compiled import compile_declared
from churnops.schedules.config import SchedulesConfig, load_config
from churnops.schedules.kfp_api import PAGE_SIZE, ApiError, KfpApi, RetryPolicy, connect
from churnops.schedules.plan import plan
from churnops.schedules.report import apply_report, plan_table


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sync_schedules.py", description=__doc__.splitlines()[0],
                                     epilog=__doc__.split("\n", 2)[2], formatter_class=argparse.RawDescriptionHelpFormatter)
    return add_arguments(parser)


def main(argv: list[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


def run(args: argparse.Namespace, *, pipelines: Mapping[str, Any] | None = None,
        retry: RetryPolicy | None = None, page_size: int = PAGE_SIZE,
        clock: Callable[[], datetime] | None = None) -> int:
    """Run a parsed command line; returns the exit code. Keyword arguments are for tests/benchmarks."""
    try:
        with tempfile.TemporaryDirectory(prefix="churnops-sync-") as workdir:
            return _run(args, Path(workdir), pipelines, retry, page_size, clock)
    except ConfigError as exc:
        print(f"{args.config}: invalid, nothing was changed. {exc}", file=sys.stderr)
        return EXIT_INVALID
    except ApiError as exc:  # raised before any write (failures during apply are reported by _run)
        print(f"KFP API error, nothing was changed: {exc}", file=sys.stderr)
        return EXIT_API_ERROR
    except ClusterError as exc:
        print(f"Kubernetes API error, nothing was changed: {exc}", file=sys.stderr)
        return EXIT_API_ERROR
    except Exception as exc:  # noqa: BLE001 (one paragraph, traceback on request)
        if args.verbose:
            traceback.print_exc()
        print(f"unexpected error: {type(exc).__name__}: {exc}. Rerun with --verbose for the traceback.",
              file=sys.stderr)
        return EXIT_UNEXPECTED


def _run(args: argparse.Namespace, workdir: Path, pipelines: Mapping[str, Any] | None,
         retry: RetryPolicy | None, page_size: int, clock: Callable[[], datetime] | None) -> int:
    config = load_config(args.config, pipelines)
    compiled = compile_declared(config, workdir, pipelines)
    if args.check:
        print(check_summary(config, compiled))
        return EXIT_IN_SYNC
    if has_config_map_refs(config.recurring_runs):
        runs = resolve_config_map_refs(config.recurring_runs, core_v1(), args.namespace)
        config = dataclasses.replace(config, recurring_runs=runs)
    api = KfpApi(connect(args.host, args.namespace, args.token_file), args.namespace, retry, page_size, clock)
    observed = api.observe([e.name for e in config.experiments],
                           {name: c.version_name for name, c in compiled.items()})
    the_plan = plan(config, compiled, observed, prune=args.prune)
    print(plan_table(the_plan))
    if not the_plan.pending:
        print("In sync: nothing to change.")
        return EXIT_IN_SYNC
    if args.dry_run:
        print("Dry run: nothing was changed.")
        return args.changes_exit_code
    result = apply(the_plan, config, compiled, observed, api)
    print(apply_report(result))
    if not result.ok:
        print(f"KFP API error: {result.error}", file=sys.stderr)
        return EXIT_API_ERROR
    planned = len(the_plan.pending)
    print(f"Applied {planned} planned change{'s' if planned != 1 else ''} ({len(result.done)} API writes).")
    return args.changes_exit_code


def check_summary(config: SchedulesConfig, compiled: dict) -> str:
    lines = [f"{config.path}: valid (scope {config.scope})"]
    lines += [f"  pipeline {name}: version {c.version_name}" for name, c in compiled.items()]
    lines += [f"  recurring run {r.name}: {r.pipeline}, " + (f"cron {r.cron!r}" if r.cron else f"every {r.interval_seconds}s")
              + ("" if r.enabled else ", disabled") for r in config.recurring_runs]
    return "\n".join(lines)
