"""`churnops`: train, compile and inspect the churn pipelines from the command line.

stdout carries only results (one JSON object with --json); logs and progress go to stderr.
A failure exits non-zero with a one-paragraph error, and a traceback only with --verbose.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from pathlib import Path

from churnops.errors import ChurnopsError

DEFAULT_DATASET = "data/churn_synthetic.csv"


def _add_tracking(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tracking-uri",
        help="MLflow tracking URI (an http(s) server or sqlite:///...); default: the embedded store in $CHURNOPS_HOME (./.churnops)",
    )


def _parse_param(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--param takes KEY=VALUE, got {text!r}")
    key, raw = text.split("=", 1)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key, value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="churnops", description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="stream step logs and show tracebacks")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="run the training pipeline locally (KFP local runner)")
    train.add_argument("--dataset", default=DEFAULT_DATASET, help="CSV path or URI (default: %(default)s)")
    train.add_argument("--target", default="Churn", help="target column (default: %(default)s)")
    train.add_argument("--positive-label", default="", help="target value that means churn (default: detected)")
    train.add_argument("--test-size", type=float, default=0.2, help="holdout share (default: %(default)s)")
    _add_tracking(train)
    train.add_argument("--experiment", default="churn", help="MLflow experiment (default: %(default)s)")
    train.add_argument("--model-name", default="churn-classifier", help="registered model name (default: %(default)s)")
    train.add_argument("--model-type", default="logistic_regression",
                       help="logistic_regression | random_forest | hist_gradient_boosting (default: %(default)s)")
    train.add_argument("--param", action="append", type=_parse_param, default=[], metavar="KEY=VALUE",
                       help="estimator hyperparameter, repeatable (e.g. --param C=0.5)")
    train.add_argument("--random-state", type=int, default=42)
    train.add_argument("--json", action="store_true", help="print one JSON object with the result on stdout")
    train.add_argument("--verbose", action="store_true", help=argparse.SUPPRESS)

    compile_ = commands.add_parser("compile", help="compile every pipeline to KFP YAML")
    compile_.add_argument("--output-dir", default="build/pipelines", help="(default: %(default)s)")

    mlflow_ = commands.add_parser("mlflow", help="MLflow helpers")
    mlflow_commands = mlflow_.add_subparsers(dest="mlflow_command", required=True)
    ui = mlflow_commands.add_parser("ui", help="serve the MLflow UI on the embedded store")
    ui.add_argument("--port", type=int, default=5000)
    ui.add_argument("--host", default="127.0.0.1")
    serve = mlflow_commands.add_parser(
        "serve", help="run the production-topology server locally: PostgreSQL metadata, proxied artifacts")
    serve.add_argument("--backend-store-uri", help="PostgreSQL URI (default: $MLFLOW_BACKEND_STORE_URI or "
                       "postgresql://postgres@127.0.0.1:5432/churnops_mlflow); created and upgraded when needed")
    serve.add_argument("--artifacts-destination", help="proxied artifact store: s3://, gs:// or a folder (default: "
                       "$MLFLOW_ARTIFACTS_DESTINATION or $CHURNOPS_HOME/mlflow-server/artifacts)")
    serve.add_argument("--default-artifact-root", help="direct mode instead: clients write here with their own credentials")
    serve.add_argument("--port", type=int, default=5000)
    serve.add_argument("--host", default="127.0.0.1")
    return parser


def cmd_train(args: argparse.Namespace) -> int:
    from churnops import runs

    result = runs.train(
        args.dataset,
        tracking_uri=args.tracking_uri,
        experiment=args.experiment,
        model_name=args.model_name,
        target=args.target,
        positive_label=args.positive_label,
        test_size=args.test_size,
        model_type=args.model_type,
        hyperparameters=dict(args.param) if args.param else None,
        random_state=args.random_state,
        verbose=args.verbose,
    )
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        metrics = ", ".join(f"{name} {value:.3f}" for name, value in result["metrics"].items() if value is not None)
        print(f"Registered {result['model_name']} version {result['model_version']} (run {result['run_id']})")
        print(f"  holdout: {metrics}")
        print(f"  aliases: {result['aliases']}")
        print(f"  tracking: {result['tracking_uri']}")
    return 0


def cmd_compile(args: argparse.Namespace) -> int:
    from churnops.compile import compile_all

    for path in compile_all(Path(args.output_dir)):
        print(path)
    return 0


def cmd_mlflow_ui(args: argparse.Namespace) -> int:
    from churnops.tracking import churnops_home, connect, embedded_tracking_uri

    uri = embedded_tracking_uri(churnops_home())
    connect(uri)
    print(f"MLflow UI on http://{args.host}:{args.port} (store {uri}); Ctrl-C to stop", file=sys.stderr)
    os.execvp(sys.executable, [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri,
                               "--host", args.host, "--port", str(args.port), "--workers", "1"])
    return 0  # not reached


def cmd_mlflow_serve(args: argparse.Namespace) -> int:
    from churnops import server
    from churnops.tracking import churnops_home

    config = server.local_config(
        dict(os.environ), churnops_home(),
        backend_store_uri=args.backend_store_uri, artifacts_destination=args.artifacts_destination,
        default_artifact_root=args.default_artifact_root, host=args.host, port=args.port,
    )
    server.serve(config, dict(os.environ))
    return 0  # not reached


def cmd_mlflow(args: argparse.Namespace) -> int:
    return {"ui": cmd_mlflow_ui, "serve": cmd_mlflow_serve}[args.mlflow_command](args)


HANDLERS = {"train": cmd_train, "compile": cmd_compile, "mlflow": cmd_mlflow}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return HANDLERS[args.command](args)
    except ChurnopsError as exc:
        if args.verbose:
            traceback.print_exc()
        print(f"churnops {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"churnops {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 (the CLI's promise: one paragraph, traceback only on request)
        if args.verbose:
            traceback.print_exc()
        print(
            f"churnops {args.command}: unexpected error: {type(exc).__name__}: {exc}. "
            "Rerun with --verbose for the traceback.",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
