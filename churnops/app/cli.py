"""`churnops`: train, promote, predict, compile and inspect the churn pipelines from the command line.

stdout carries only results (one JSON object with --json); logs and progress go to stderr.
A failure exits non-zero with a one-paragraph error, and a traceback only with --verbose.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import sys
import traceback
from pathlib import Path
from urllib.parse import urlparse

from churnops import defaults, names
from churnops.core.search_space import MODEL_TYPES, SEARCH  # standard library only: cheap for --help
from churnops.errors import ChurnopsError


class Parser(argparse.ArgumentParser):
    """argparse that says "did you mean" for a mistyped flag or command (Python 3.11's has no suggestions).

    `argv`: the command line being parsed, set by main(): an unknown flag is reported by the top
    parser, and the suggestions come from the options of the (sub)command the line names."""

    argv: list[str] = []

    def error(self, message: str):
        hint = suggestion(self, message, self.argv)
        super().error(f"{message}; did you mean {hint}?" if hint else message)


def suggestion(parser: argparse.ArgumentParser, message: str, argv: list[str]) -> str:
    """The close match of what argparse refused: an unknown flag of the command used, or a command name."""
    if match := re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)$", message):
        close = difflib.get_close_matches(match.group(1), re.findall(r"'([^']*)'", match.group(2)), n=1, cutoff=0.6)
        return repr(close[0]) if close else ""
    if not message.startswith("unrecognized arguments: "):
        return ""
    command = parser
    for token in argv:  # descend into the subcommands the line names
        chosen = [action.choices[token] for action in command._actions  # noqa: SLF001 (argparse has no public walk)
                  if isinstance(action, argparse._SubParsersAction) and token in action.choices]  # noqa: SLF001
        if chosen:
            command = chosen[0]
    options = [option for action in command._actions for option in action.option_strings]  # noqa: SLF001
    hints = {token: close[0] for token in message.removeprefix("unrecognized arguments: ").split()
             if token.startswith("--") and (close := difflib.get_close_matches(token.split("=", 1)[0], options, n=1))}
    if len(hints) == 1:
        return next(iter(hints.values()))
    return ", ".join(f"{close} for {token}" for token, close in hints.items())


def shown(uri: str) -> str:
    """A URI as the opening line prints it: without a user or password."""
    parsed = urlparse(uri)
    if parsed.scheme and "@" in parsed.netloc:
        return parsed._replace(netloc=parsed.netloc.rsplit("@", 1)[1]).geturl()
    return uri


def opening_line(args: argparse.Namespace) -> str:
    """What the command is about to do, printed before its heavy imports (MLflow, KFP: seconds)."""
    uri = getattr(args, "tracking_uri", None)
    store = f"tracking server {shown(uri)}" if uri else "embedded store " + os.environ.get("CHURNOPS_HOME", ".churnops")
    command = args.command
    if command == "train":
        return f"churnops train: {shown(args.dataset)} -> {args.model_name} on the {store}"
    if command == "predict":
        return f"churnops predict: {shown(args.input)} with {args.model_uri} -> {args.output} on the {store}"
    if command == "models":
        return f"churnops models {args.models_command}: {args.model_name} on the {store}"
    if command == "serve":
        return f"churnops serve: {args.model_uri} from the {store}, on http://{args.host}:{args.port} when loaded"
    if command == "compile":
        return f"churnops compile: every pipeline -> {args.output_dir}"
    if command == "sync":
        return f"churnops sync: {args.config}" + (" (check only)" if args.check else "")
    return f"churnops {command} {getattr(args, 'mlflow_command', '')}: starting".replace("  ", " ")


def quiet_libraries() -> None:
    """No MLflow warning or INFO line in churnops' output (--verbose keeps them): they name internals
    (pyfunc type hints, database migrations) an operator cannot act on, some with raw terminal colours.

    By the warning's source, not a filter: MLflow raises some inside its own `catch_warnings()` with
    `simplefilter("once")` (mlflow/utils/annotations.py filter_user_warnings_once), which a filter
    installed here cannot override; `catch_warnings` keeps the `showwarning` it finds."""
    import logging
    import warnings

    for logger in ("mlflow", "alembic"):
        logging.getLogger(logger).setLevel(logging.WARNING)
    show = warnings.showwarning
    if getattr(show, "churnops_quiet", False):  # main() ran before in this process (tests, the e2e cli fixture)
        return

    def shown_unless_mlflow(message, category, filename, lineno, file=None, line=None):
        package = getattr(sys.modules.get("mlflow"), "__file__", None)  # imported if it is the source
        if (package and str(filename).startswith(os.path.dirname(package) + os.sep)) or "\x1b[" in str(message):
            return
        show(message, category, filename, lineno, file, line)

    shown_unless_mlflow.churnops_quiet = True
    warnings.showwarning = shown_unless_mlflow


def _add_tracking(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tracking-uri",
        help="MLflow tracking URI (an http(s) server or sqlite:///...); "
             "default: the embedded store in $CHURNOPS_HOME (./.churnops)",
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


def _parse_threshold(text: str) -> tuple[str, float]:
    key, value = _parse_param(text)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise argparse.ArgumentTypeError(f"--min-metric takes METRIC=NUMBER (e.g. roc_auc=0.75), got {text!r}")
    return key, float(value)


def _parse_minimum(flag: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = -1
        if value < 0:
            raise argparse.ArgumentTypeError(f"{flag} takes a whole number of rows >= 0 (0: no minimum), got {text!r}")
        return value

    return parse


def _add_promotion(train: argparse.ArgumentParser) -> None:
    gate = train.add_argument_group("validation gate (promotion to the `champion` alias)")
    gate.add_argument("--min-metric", action="append", type=_parse_threshold, default=[], metavar="METRIC=VALUE",
                      help="absolute threshold, repeatable; replaces the default "
                           + ", ".join(f"{k}={v}" for k, v in defaults.PROMOTION_THRESHOLDS.items())
                           + " (for log_loss it is a maximum)")
    gate.add_argument("--promotion-metric", default=defaults.PROMOTION_METRIC,
                      help="metric compared with the champion on the same test set (default: %(default)s)")
    gate.add_argument("--tolerance", type=float, default=defaults.PROMOTION_TOLERANCE,
                      help="how much worse than the champion the candidate may be (default: %(default)s)")
    gate.add_argument("--min-test-rows", type=_parse_minimum("--min-test-rows"), default=defaults.PROMOTION_MIN_TEST_ROWS,
                      metavar="N", help="no decision on a holdout of fewer rows; the candidate stays `challenger` "
                                        "(default: %(default)s; 0: no minimum)")
    gate.add_argument("--min-class-rows", type=_parse_minimum("--min-class-rows"),
                      default=defaults.PROMOTION_MIN_CLASS_ROWS, metavar="N",
                      help="no decision when the holdout has fewer churners or non-churners (default: %(default)s; "
                           "0: no minimum)")
    gate.add_argument("--decision-threshold", type=float, default=defaults.DECISION_THRESHOLD,
                      help="probability at or above which a customer is predicted to churn (default: %(default)s)")
    gate.add_argument("--promotion", choices=defaults.PROMOTION_MODES, default=defaults.PROMOTION_MODE,
                      help="auto: a pass moves the champion; approval: a pass leaves the version awaiting-approval "
                           "(alias challenger) for `churnops models approve` (default: %(default)s)")
    gate.add_argument("--guard", choices=defaults.GUARD_MODES, default=defaults.GUARD_MODE,
                      help="an alias moved outside churnops is announced (report) or also put back (enforce) "
                           "(default: %(default)s)")
    gate.add_argument("--approval-hours", type=float, default=defaults.APPROVAL_HOURS,
                      help="how long a version awaits approval before it expires (default: %(default)s)")
    gate.add_argument("--force", action="store_true",
                      help="register a new version even if an identical run (same data, parameters, code) exists")


def _parse_drift_threshold(text: str) -> tuple[str, float]:
    key, value = _parse_param(text)
    if key not in defaults.DRIFT_THRESHOLDS or not isinstance(value, (int, float)) or isinstance(value, bool):
        raise argparse.ArgumentTypeError(f"--drift-threshold takes KEY=NUMBER with KEY one of "
                                         f"{', '.join(defaults.DRIFT_THRESHOLDS)}, got {text!r}")
    return key, value


def _add_drift(predict: argparse.ArgumentParser) -> None:
    drift = predict.add_argument_group("drift check (against the model version's reference profile)")
    drift.add_argument("--check-drift", action="store_true",
                       help="compare the input and its scores with the version's training profile; prints the "
                            "verdict (ok / warn / drifted) and the HTML report's path (<output>.drift.html)")
    drift.add_argument("--drift-threshold", action="append", type=_parse_drift_threshold, default=[], metavar="KEY=VALUE",
                       help="override one threshold, repeatable (defaults: "
                            + ", ".join(f"{k}={v}" for k, v in defaults.DRIFT_THRESHOLDS.items()) + ")")
    drift.add_argument("--experiment", default=defaults.EXPERIMENT,
                       help="MLflow experiment of the drift report run (default: %(default)s)")
    drift.add_argument("--kfp-host", default="",
                       help="KFP API URL: on drifted, start a retrain there (storm-guarded); default: never trigger")
    drift.add_argument("--kfp-namespace", default="", help="KFP namespace (multi-user KFP)")
    drift.add_argument("--retrain-recurring-run", default="",
                       help="the recurring run whose pipeline version and parameters a triggered retrain uses")
    drift.add_argument("--retrain-window-seconds", type=int, default=defaults.RETRAIN_WINDOW_SECONDS,
                       help="at most one triggered retrain per this many seconds (default: %(default)s)")


def _add_models(commands) -> None:
    models = commands.add_parser("models", help="review and move the model aliases (champion, rollback)")
    actions = models.add_subparsers(dest="models_command", required=True)

    def action(name: str, help_: str) -> argparse.ArgumentParser:
        parser = actions.add_parser(name, help=help_)
        parser.add_argument("--model-name", default=defaults.MODEL_NAME, help="registered model (default: %(default)s)")
        _add_tracking(parser)
        parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
        parser.add_argument("--verbose", action="store_true", help=argparse.SUPPRESS)
        return parser

    listing = action("list", "versions with aliases, validation status, key metrics (also on the champion's holdout rows), "
                             "source run, created time")
    listing.add_argument("--no-rescore", action="store_true",
                         help="skip scoring every version on the champion's holdout rows (roc_auc_on_champion_rows)")
    compare = action("compare", "a version against the champion on the champion's holdout rows: metrics with "
                                "intervals, curves, calibration, disagreements, the decision (printed, MLflow artifact, HTML)")
    compare.add_argument("--version", help="version number (default: the latest)")
    history = action("history", "a version's whole audit trail (default: the champion)")
    history.add_argument("--version", help="version number (default: the champion)")
    show = action("show", "one version's decision, metrics and audit trail (default: the champion)")
    show.add_argument("--version", help="version number (default: the champion)")
    for name, help_ in (("promote", "make --version N the champion (the old one becomes previous-champion)"),
                        ("rollback", "move champion back to previous-champion")):
        parser = action(name, help_)
        if name == "promote":
            parser.add_argument("--version", required=True, help="version number to promote")
        parser.add_argument("--if-champion", default="read", metavar="N",
                            help="move only if vN is still the champion ('none': only if there is none); "
                                 "refused otherwise. Default: the champion at the time of the move")
        parser.add_argument("--reason", default="", help="why (recorded in the audit tags)")
        parser.add_argument("--by", default="", help="who (default: $USER@hostname)")
    for name, help_ in (("approve", "make --version N, awaiting approval after passing the gate, the champion"),
                        ("reject", "end --version N's wait for approval; the champion stays")):
        parser = action(name, help_)
        parser.add_argument("--version", required=True, help="version number awaiting approval")
        parser.add_argument("--reason", required=True, help="why (recorded in the audit trail and announced)")
        parser.add_argument("--by", default="", help="who (default: $USER@hostname)")
    card = action("card", "a version's model card: data, holdout metrics with intervals, the comparison with the "
                          "champion, lineage, decisions and approvals, known limits (Markdown; HTML for *.html)")
    card.add_argument("--version", help="version number (default: the champion)")
    card.add_argument("--output", type=Path, metavar="FILE", help="write it here (.html: HTML, else Markdown) "
                                                                   "instead of printing the Markdown")
    guard = action("guard", "check now that `champion` and `previous-champion` are where churnops put them; "
                            "report (and, under the policy enforce or --enforce, put back) what is not")
    guard.add_argument("--enforce", action="store_true", help="put back whatever the recorded policy says")
    webhook = action("webhook", "subscribe a receiver (the predictor's /churnops/v1/events) to the MLflow server's "
                                "alias webhooks (needs an `mlflow server` with a SQL store)")
    webhook.add_argument("--url", required=True, help="where MLflow posts model_version_alias.created|deleted")
    webhook.add_argument("--secret-env", default="",
                         help="environment variable holding the HMAC secret MLflow signs with (the receiver checks it)")


def build_parser() -> argparse.ArgumentParser:
    import churnops

    parser = Parser(prog="churnops", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"churnops {churnops.__version__}")
    parser.add_argument("--verbose", action="store_true", help="stream step logs and show tracebacks")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="run the training pipeline locally (KFP local runner)")
    train.add_argument("--dataset", default=defaults.LOCAL_DATASET, help="CSV path or URI (default: %(default)s)")
    train.add_argument("--target", default=defaults.TARGET_COLUMN, help="target column (default: %(default)s)")
    train.add_argument("--positive-label", default="", help="target value that means churn (default: detected)")
    train.add_argument("--test-size", type=float, default=defaults.TEST_SIZE_RATIO, help="holdout share (default: %(default)s)")
    _add_tracking(train)
    train.add_argument("--experiment", default=defaults.EXPERIMENT, help="MLflow experiment (default: %(default)s)")
    train.add_argument("--model-name", default=defaults.MODEL_NAME, help="registered model name (default: %(default)s)")
    train.add_argument("--model-type",
                       help=f"{SEARCH} (candidate search by cross-validation) | {' | '.join(MODEL_TYPES)} (one model) "
                            f"(default: {SEARCH}; logistic_regression when --param is given without it, as before "
                            "the search existed)")
    train.add_argument("--param", action="append", type=_parse_param, default=[], metavar="KEY=VALUE",
                       help="hyperparameter of the one --model-type, repeatable (e.g. --param C=0.5)")
    train.add_argument("--search-space", type=Path, metavar="FILE",
                       help="JSON/YAML list of {model_type, grid: [{hyperparameters}]} for --model-type auto "
                            "(default: logistic regression, random forest, hist gradient boosting; see docs/model-search.md)")
    train.add_argument("--cv-folds", type=int, default=defaults.CV_FOLDS,
                       help="cross-validation folds of the search (default: %(default)s)")
    train.add_argument("--search-strategy", choices=("halving", "exhaustive"), default=defaults.SEARCH_BUDGET["strategy"],
                       help="halving: successive halving over row budgets, each round keeping 1/%s of a family's "
                            "settings; exhaustive: every setting on the final budget (default: %%(default)s)"
                            % defaults.SEARCH_BUDGET["factor"])
    train.add_argument("--search-max-rows", type=int, default=defaults.SEARCH_BUDGET["max_rows"], metavar="N",
                       help="rows of the training split the search's last round uses at most, 0 for all "
                            "(the refit always uses every row; default: %(default)s)")
    train.add_argument("--random-state", type=int, default=defaults.RANDOM_STATE)
    train.add_argument("--json", action="store_true", help="print one JSON object with the result on stdout")
    train.add_argument("--verbose", action="store_true", help=argparse.SUPPRESS)
    _add_promotion(train)

    predict = commands.add_parser("predict", help="run the inference pipeline locally (batch scoring)")
    predict.add_argument("--model-uri", default=defaults.CHAMPION_URI,
                         help="models:/NAME@ALIAS, models:/NAME/N or runs:/RUN_ID/model (default: %(default)s)")
    predict.add_argument("--input", required=True, help="CSV path or URI to score")
    predict.add_argument("--output", required=True, help="predictions CSV to write (rejected rows go beside it)")
    _add_tracking(predict)
    predict.add_argument("--chunk-rows", type=int, default=defaults.CHUNK_ROWS,
                         help="rows scored at a time (default: %(default)s)")
    predict.add_argument("--max-rejected-fraction", type=float, default=defaults.MAX_REJECTED_FRACTION,
                         help="fail when more than this share of rows have unparseable numbers (default: %(default)s)")
    predict.add_argument("--max-unseen-fraction", type=float, default=defaults.MAX_UNSEEN_FRACTION,
                         help="fail when more than this share of rows hold category values the model never saw; "
                              "fewer are scored, counted and named (default: %(default)s)")
    predict.add_argument("--allow-blank-columns", action="store_true",
                         help="score even when a feature column is blank on every row (imputed for all of them)")
    predict.add_argument("--json", action="store_true", help="print one JSON object with the result on stdout")
    predict.add_argument("--verbose", action="store_true", help=argparse.SUPPRESS)
    _add_drift(predict)

    serve = commands.add_parser("serve", help="serve a model online (KServe predictor, v1 and v2 endpoints)")
    serve.add_argument("--model-uri", default=defaults.CHAMPION_URI,
                       help="models:/NAME@ALIAS (followed: the server moves when the alias does) or models:/NAME/N "
                            "(default: %(default)s)")
    _add_tracking(serve)
    serve.add_argument("--host", default=defaults.SERVE_HOST, help="address to bind (default: %(default)s)")
    serve.add_argument("--port", type=int, default=defaults.SERVE_PORT, help="HTTP port (default: %(default)s)")
    serve.add_argument("--poll-seconds", type=float, default=defaults.SERVE_POLL_SECONDS,
                       help="how often to ask the registry whether the alias moved (default: %(default)s)")
    serve.add_argument("--start-wait-seconds", type=float, default=defaults.SERVE_START_WAIT_SECONDS,
                       help="how long to wait for the tracking server at start (default: %(default)s)")
    serve.add_argument("--max-body-bytes", type=int, default=None,
                       help="largest request body accepted, else 413 (default: the replica's memory / "
                            f"{defaults.SERVE_BODY_MEMORY_DIVISOR}, at most {defaults.SERVE_MAX_BODY_BYTES_CAP >> 20} MiB)")
    serve.add_argument("--max-rows", type=int, default=defaults.SERVE_MAX_ROWS,
                       help="most rows per request, else 413 (default: %(default)s)")
    serve.add_argument("--enable-model-repository", action="store_true",
                       help="mount kserve's model load/unload routes (off: anyone who reaches them can stop the model)")
    serve.add_argument("--enable-docs", action="store_true", help="mount /docs and /openapi.json")
    serve.add_argument("--access-log", action="store_true",
                       help="log one JSON line per request (time, method, path, status, client); default: none")
    serve.add_argument("--verbose", action="store_true", help=argparse.SUPPRESS)

    _add_models(commands)
    events_ = commands.add_parser("events", help="the events' dead letters (what a sink did not get)")
    event_commands = events_.add_subparsers(dest="events_command", required=True)
    replay = event_commands.add_parser("replay", help="send the dead letters again to the sinks of "
                                                      "CHURNOPS_EVENT_SINKS; keep the undelivered")
    replay.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    replay.add_argument("--verbose", action="store_true", help=argparse.SUPPRESS)

    compile_ = commands.add_parser("compile", help="compile every pipeline to KFP YAML")
    compile_.add_argument("--output-dir", default="build/pipelines", help="(default: %(default)s)")
    compile_.add_argument("--platform", type=Path, metavar="PATH",
                          help="platform file (config/platform/<env>.yaml): Secrets, nodes, resources... on every step")

    from churnops.schedules.arguments import add_arguments as add_sync_arguments

    add_sync_arguments(commands.add_parser(
        "sync", help="reconcile KFP pipeline versions and recurring runs with a schedules file (docs/schedules.md)"))

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


def load_search_space(path: Path | None) -> list | None:
    """The --search-space file (JSON or YAML), or None for the default space."""
    if path is None:
        return None
    if not path.is_file():
        raise ChurnopsError(f"Search space file {path} does not exist. Pass a JSON or YAML file with --search-space.")
    import yaml

    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))  # JSON is YAML
    except yaml.YAMLError as exc:
        raise ChurnopsError(f"Search space file {path} is not valid JSON/YAML ({exc}). Fix its syntax.") from None


def probe_tracking(args: argparse.Namespace) -> None:
    """A --tracking-uri that does not answer fails a command a person waits on within seconds
    (interactive_wait_seconds), before its imports and its work; pipeline steps and `serve` are patient."""
    if args.tracking_uri:
        from churnops.registry.tracking import interactive_wait_seconds, wait_for_server

        wait_for_server(args.tracking_uri, timeout=interactive_wait_seconds())


def cmd_train(args: argparse.Namespace) -> int:
    from churnops.core.parameters import resolve_training_request
    from churnops.core.promotion import Policy

    policy = Policy(dict(args.min_metric) or dict(defaults.PROMOTION_THRESHOLDS), args.promotion_metric, args.tolerance,
                    min_test_rows=args.min_test_rows, min_class_rows=args.min_class_rows)
    hyperparameters = dict(args.param) if args.param else None
    search_space = load_search_space(args.search_space)
    search_budget = {"strategy": args.search_strategy, "max_rows": args.search_max_rows}
    # Every parameter problem before the tracking server is contacted (runs.train checks the same again).
    resolve_training_request(args.model_type, hyperparameters, args.test_size, args.cv_folds, args.decision_threshold,
                             search_budget, search_space, policy, governance(args))
    probe_tracking(args)
    from churnops.app import warm_executor

    warm_executor.start_if_warm()  # its imports overlap this process's own (and the store's opening)
    from churnops.app import runs

    result = runs.train(
        args.dataset,
        tracking_uri=args.tracking_uri,
        experiment=args.experiment,
        model_name=args.model_name,
        target=args.target,
        positive_label=args.positive_label,
        test_size=args.test_size,
        model_type=args.model_type,
        hyperparameters=hyperparameters,
        random_state=args.random_state,
        decision_threshold=args.decision_threshold,
        policy=policy,
        force=args.force,
        verbose=args.verbose,
        search_space=search_space,
        cv_folds=args.cv_folds,
        search_budget=search_budget,
        governance=governance(args),
    )
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        metrics = ", ".join(f"{name} {value:.3f}" for name, value in result["metrics"].items() if value is not None)
        if result["reused"]:
            print(f"Nothing new: an identical run (same data, parameters and code) already registered "
                  f"{result['model_name']} version {result['model_version']}; use --force to train again")
        else:
            print(f"Registered {result['model_name']} version {result['model_version']} (run {result['run_id']})")
            print(f"  model: {runs.describe_selection(result['selection'])}")
        print(f"  holdout: {metrics}")
        print(f"  validation: {validation_line(result)}")
        moved = ", ".join(f"{alias} v{version}" for alias, version in sorted(result["aliases"].items()))
        print(f"  promoted: {'yes' if result['promoted'] else 'no'}; aliases: {moved or 'none'}")
        print(f"  tracking: {result['tracking_uri']}")
    return 0


def governance(args: argparse.Namespace):
    from churnops.core.promotion import Governance

    try:
        return Governance(args.promotion, args.guard, args.approval_hours)
    except ValueError as exc:
        raise ChurnopsError(f"{exc}. Fix --promotion, --guard or --approval-hours.") from None


def validation_line(result: dict) -> str:
    """The gate's verdict as of now: a reused version's old reason ("no champion yet") is history, not news."""
    status = result["validation_status"] or "pending"
    reason = result["tags"].get(names.TAG_VALIDATION_REASON, "no decision recorded")
    if not result["reused"]:
        return f"{status} ({reason})"
    champion = result["aliases"].get(names.ALIAS_CHAMPION)
    now = (f"v{champion} is the champion" + (" (this version)" if champion == result["model_version"] else "")
           if champion else "no champion")
    return f"{status}, decided when v{result['model_version']} was registered; {now}"


def cmd_predict(args: argparse.Namespace) -> int:
    probe_tracking(args)
    from churnops.app import warm_executor

    warm_executor.start_if_warm()  # its imports overlap this process's own (and the store's opening)
    from churnops.app import runs

    result = runs.predict(
        args.model_uri,
        args.input,
        args.output,
        tracking_uri=args.tracking_uri,
        chunk_rows=args.chunk_rows,
        max_rejected_fraction=args.max_rejected_fraction,
        max_unseen_fraction=args.max_unseen_fraction,
        allow_blank_columns=args.allow_blank_columns,
        verbose=args.verbose,
        drift=drift_options(args),
    )
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        print(f"Scored {result['rows']} rows with {result['model_name']} version {result['model_version']} "
              f"({args.model_uri}) -> {result['output']}")
        if result["rejected"]:
            print(f"  rejected {result['rejected']} rows with unparseable values -> {result['rejections']}")
        if result["unseen_category_rows"]:
            print(f"  WARNING: {result['unseen_category_rows']} rows hold category values the model never saw, scored as "
                  f"if the column were empty: {result['unseen_category_values']}", file=sys.stderr)
        if result.get("drift"):
            drift = result["drift"]
            features = f" ({', '.join(drift['drifted_features'])})" if drift["drifted_features"] else ""
            print(f"  drift: {drift['verdict']}{features}; report: {drift['report_path']}")
            print(f"  retrain: {drift['retrain_decision'] or 'not decided'} ({drift['retrain_reason'] or '-'})")
    return 0


def drift_options(args: argparse.Namespace):
    """The --check-drift flags as runs.DriftOptions, or None without --check-drift."""
    if not args.check_drift:
        return None
    from churnops.app.runs import DriftOptions

    return DriftOptions(thresholds={**defaults.DRIFT_THRESHOLDS, **dict(args.drift_threshold)},
                        experiment=args.experiment, kfp_host=args.kfp_host, kfp_namespace=args.kfp_namespace,
                        retrain_recurring_run=args.retrain_recurring_run,
                        retrain_window_seconds=args.retrain_window_seconds)


ALIAS_COMMANDS = ("promote", "rollback")  # the `churnops models` commands that move aliases
WRITING_COMMANDS = (*ALIAS_COMMANDS, "approve", "reject", "guard")  # ...and the others that write the registry


def report_recovery(recovered: dict | None) -> None:
    if recovered and recovered.get("discarded"):
        print(f"churnops models: discarded an interrupted {recovered['what']} (journal {recovered['id']}): its aliases "
              "were moved since; audited on the version", file=sys.stderr)
    elif recovered:
        print(f"churnops models: finished an interrupted {recovered['what']} (journal {recovered['id']}) "
              "before this command; audited on the version", file=sys.stderr)


def cmd_models(args: argparse.Namespace) -> int:
    from churnops.registry.tracking import churnops_home, connect, embedded_tracking_uri, interactive_wait_seconds

    uri = args.tracking_uri or embedded_tracking_uri(churnops_home())
    connect(uri, wait=interactive_wait_seconds())  # probes a server before MLflow is imported
    import mlflow

    from churnops.app import views
    from churnops.registry import aliases, journal

    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    actor = args.by if getattr(args, "by", None) else aliases.default_actor()
    from churnops import events
    from churnops.app import governed

    events.check()  # a bad CHURNOPS_EVENT_SINKS is refused before anything moves
    pending = None
    if args.models_command in WRITING_COMMANDS:  # a read-only command never finishes another's move
        report_recovery(journal.recover(client, args.model_name, f"churnops models: {actor}"))
    elif (pending := journal.read(client, args.model_name)) is not None:
        print(f"churnops models: note: an interrupted {pending['what']} (journal {pending['id']}) is pending; the "
              "next promote, rollback or training finishes it", file=sys.stderr)
    # The guard and the approval deadlines, under the alias lock: an alias moved outside churnops does not
    # outlive the next command. Not while a move is half done: its aliases would look moved by hand.
    checked = (governed.check_registry(client, args.model_name, f"churnops models: {actor}") if pending is None
               else {"guard_findings": [], "expired": []})
    if args.models_command in GOVERNANCE_COMMANDS:
        return GOVERNANCE_COMMANDS[args.models_command](args, client, actor, checked)
    if args.models_command == "list":
        listing = views.list_versions(client, args.model_name, rescore=not args.no_rescore,
                                      cache=churnops_home() / "cache" / "champion-rows-scores.json")
        print(json.dumps(listing, sort_keys=True) if args.json else views.format_table(listing))
        return 0
    if args.models_command == "compare":
        from churnops.app import compare

        report = compare.review(client, args.model_name, args.version)
        page = compare.save(client, report, churnops_home())
        if args.json:
            print(json.dumps({**{k: v for k, v in report.items() if k != "curves"}, "html": str(page)}, sort_keys=True))
        else:
            print(compare.format_text(report) + f"\n  report: {page} (and review/ in run {report['run_id']})")
        return 0
    if args.models_command == "history":
        details = views.history(client, args.model_name, args.version)
        print(json.dumps(details, sort_keys=True) if args.json else views.format_history(details))
        return 0
    if args.models_command == "show":
        details = views.show_version(client, args.model_name, args.version)
        print(json.dumps(details, sort_keys=True) if args.json else views.format_show(details))
        return 0
    if args.models_command == "promote":
        result = aliases.promote(client, args.model_name, args.version, actor=actor,
                                 reason=args.reason or "manual promotion (no reason given)",
                                 if_champion=args.if_champion)
        if result["validation_status"] != names.STATUS_PASSED:
            print(f"churnops models promote: note: v{result['champion']} has validation_status "
                  f"{result['validation_status'] or 'unset'}; promoted on your authority (audited)", file=sys.stderr)
        text = (f"{args.model_name}: champion -> v{result['champion']}"
                f" (previous-champion: {('v' + result['previous_champion']) if result['previous_champion'] else '-'})")
    else:
        result = aliases.rollback(client, args.model_name, actor=actor, reason=args.reason or "rollback (no reason given)",
                                  if_champion=args.if_champion)
        text = (f"{args.model_name}: champion v{result['rolled_back']} -> v{result['champion']}"
                f" (previous-champion: {('v' + result['previous_champion']) if result['previous_champion'] else '-'})")
    print(json.dumps({**result, "by": actor}, sort_keys=True) if args.json else text)
    return 0


def models_approve(args: argparse.Namespace, client, actor: str, _checked: dict) -> int:
    from churnops.registry import approvals

    result = approvals.approve(client, args.model_name, args.version, actor=actor, reason=args.reason)
    text = (f"{args.model_name}: v{result['champion']} approved by {actor}: champion -> v{result['champion']}"
            f" (previous-champion: {('v' + result['previous_champion']) if result['previous_champion'] else '-'})")
    print(json.dumps(result, sort_keys=True) if args.json else text)
    return 0


def models_reject(args: argparse.Namespace, client, actor: str, _checked: dict) -> int:
    from churnops.registry import approvals

    result = approvals.reject(client, args.model_name, args.version, actor=actor, reason=args.reason)
    print(json.dumps(result, sort_keys=True) if args.json
          else f"{args.model_name}: v{result['version']} rejected by {actor}; the champion is unchanged")
    return 0


def models_card(args: argparse.Namespace, client, _actor: str, _checked: dict) -> int:
    from churnops.app import views
    from churnops.registry import cards

    version = args.version or views.champion_version(client, args.model_name)
    markdown, page, card = cards.render(client, args.model_name, version)
    if args.output is None:
        print(json.dumps({"model_name": args.model_name, "version": card["version"], "markdown": markdown},
                         sort_keys=True) if args.json else markdown, end="" if not args.json else "\n")
        return 0
    target = args.output.resolve()
    text = page if target.suffix.lower() in (".html", ".htm") else markdown
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ChurnopsError(f"Cannot write the model card to {target} ({exc.strerror}); pass a writable --output.") from None
    print(json.dumps({"model_name": args.model_name, "version": card["version"], "output": str(target)}, sort_keys=True)
          if args.json else f"{args.model_name} v{card['version']}: model card -> {target}")
    return 0


def models_guard(args: argparse.Namespace, client, actor: str, checked: dict) -> int:
    findings = checked["guard_findings"]
    if args.enforce:
        from churnops.registry import guard

        findings += [f.to_dict() for f in guard.check(client, args.model_name, actor=f"churnops models: {actor}",
                                                      origin="cli", enforce=True)]
    result = {"model_name": args.model_name, "findings": findings, "expired": checked["expired"]}
    print(json.dumps(result, sort_keys=True) if args.json else
          (f"{args.model_name}: {len(findings)} finding(s); details on stderr" if findings
           else f"{args.model_name}: every guarded alias is where churnops put it"))
    return 0


def models_webhook(args: argparse.Namespace, client, _actor: str, _checked: dict) -> int:
    from churnops.registry import webhooks

    secret = os.environ.get(args.secret_env, "") if args.secret_env else ""
    if args.secret_env and not secret:
        raise ChurnopsError(f"--secret-env {args.secret_env} names an unset or empty variable; set it to the "
                            "webhook secret the receiver checks, or leave --secret-env out.")
    result = webhooks.subscribe(client, args.model_name, args.url, secret)
    print(json.dumps(result, sort_keys=True) if args.json else
          f"MLflow webhook {result['name']} ({result['webhook_id']}) -> {result['url_label']}: {', '.join(result['events'])}")
    return 0


GOVERNANCE_COMMANDS = {"approve": models_approve, "reject": models_reject, "card": models_card,
                       "guard": models_guard, "webhook": models_webhook}


def cmd_events(args: argparse.Namespace) -> int:
    from churnops import events

    path = events.dead_letter_path()
    result = {"dead_letter": str(path), **events.replay(path, events.check())}
    print(json.dumps(result, sort_keys=True) if args.json else
          f"{result['replayed']} dead letter(s) replayed, {result['delivered']} delivered, {result['kept']} kept in {path}")
    return 0


def cmd_compile(args: argparse.Namespace) -> int:
    from churnops.app.compile import compile_all

    for path in compile_all(Path(args.output_dir), args.platform):
        print(path)
    return 0


def cmd_mlflow_ui(args: argparse.Namespace) -> int:
    from churnops.app import mlflow_server
    from churnops.registry.tracking import churnops_home, connect, embedded_tracking_uri

    uri = embedded_tracking_uri(churnops_home())
    connect(uri)
    print(f"MLflow UI on {mlflow_server.ui_url(args.host, args.port)} (store {uri}; job runner and telemetry off); "
          "Ctrl-C to stop", file=sys.stderr, flush=True)
    argv = mlflow_server.ui_command(uri, args.host, args.port)
    os.execve(argv[0], argv, mlflow_server.ui_env(dict(os.environ)))
    return 0  # not reached


def cmd_mlflow_serve(args: argparse.Namespace) -> int:
    from churnops.app import mlflow_server
    from churnops.registry.tracking import churnops_home

    config = mlflow_server.local_config(
        dict(os.environ), churnops_home(),
        backend_store_uri=args.backend_store_uri, artifacts_destination=args.artifacts_destination,
        default_artifact_root=args.default_artifact_root, host=args.host, port=args.port,
    )
    mlflow_server.serve(config, dict(os.environ))
    return 0  # not reached


def cmd_mlflow(args: argparse.Namespace) -> int:
    return {"ui": cmd_mlflow_ui, "serve": cmd_mlflow_serve}[args.mlflow_command](args)


def cmd_serve(args: argparse.Namespace) -> int:
    import importlib.util

    if importlib.util.find_spec("kserve") is None:
        raise ChurnopsError("churnops serve needs the online-serving extra (the KServe model server), which is not "
                            "installed in this environment. Install it with `make serve-setup`, then rerun.")
    from churnops.registry.tracking import churnops_home, embedded_tracking_uri
    from churnops.serving import exposure, server

    try:
        limit = exposure.default_max_body_bytes() if args.max_body_bytes is None else args.max_body_bytes
        exposed = exposure.Exposure(limit, args.max_rows,
                                    model_repository=args.enable_model_repository, docs=args.enable_docs)
    except ValueError as exc:
        raise server.ServingError(str(exc)) from None
    server.run(args.model_uri, args.tracking_uri or embedded_tracking_uri(churnops_home()), host=args.host,
               port=args.port, poll_seconds=args.poll_seconds, start_wait_seconds=args.start_wait_seconds,
               exposure=exposed, access_log=args.access_log)
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    from churnops.schedules.cli import run

    return run(args)  # its own exit codes: 0 in sync, 3 changed, 4 invalid config, 5 API error


HANDLERS = {"train": cmd_train, "predict": cmd_predict, "models": cmd_models, "compile": cmd_compile,
            "sync": cmd_sync, "mlflow": cmd_mlflow, "serve": cmd_serve, "events": cmd_events}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    parser.argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(parser.argv)
    print(opening_line(args), file=sys.stderr, flush=True)  # within a second, before MLflow/KFP are imported
    if not args.verbose:
        quiet_libraries()
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
    finally:
        flush_events()


def flush_events() -> None:
    """Whatever the command announced gets its bounded chance to be delivered (or dead-lettered) before exit."""
    if "churnops.events" in sys.modules:
        sys.modules["churnops.events"].flush()


def run() -> None:
    """The `churnops` console command: main() in a process that exits without interpreter teardown
    (~1 s with MLflow loaded). Tests call main() itself."""
    from churnops.steps.runtime import run_and_exit

    run_and_exit(main)


if __name__ == "__main__":
    run()
