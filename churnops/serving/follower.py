"""Follow models:/NAME@ALIAS: load a version, smoke-test it, swap it in only when it works.

The served version is one immutable `Served` held in one attribute; a request reads it once and
uses that object for the whole request, so a swap never leaves a request half on each version.
A version that fails to load or to score its smoke rows is reported (log, metric, `last_failure`)
and the old one keeps serving; it is retried only when the alias moves again.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Callable

import mlflow
import pandas as pd

from churnops.core.features import FeatureSpec, known_categories
from churnops.errors import ChurnopsError, RegistryError, TrackingError
from churnops.registry.loading import ResolvedModel, resolve
from churnops.registry.tracking import wait_for_server

log = logging.getLogger("churnops.serving")


class ServingError(ChurnopsError):
    """The server cannot start serving (registry unreachable, no such model, a broken version)."""


@dataclass(frozen=True)
class Served:
    resolved: ResolvedModel
    model: object  # mlflow.pyfunc.PyFuncModel: predict(raw rows) -> the four output columns
    spec: FeatureSpec
    smoke_rows: pd.DataFrame
    categories: dict = field(default_factory=dict)  # known_categories: what each category column saw in training


def load_version(resolved: ResolvedModel) -> Served:
    """Load one concrete version through the tracking server (artifacts are proxied) and smoke-test it."""
    model = mlflow.pyfunc.load_model(resolved.model_uri)
    stored = (model.metadata.metadata or {}).get("feature_spec")
    if not stored:
        raise RegistryError(f"{resolved.model_uri} has no feature_spec metadata: it was not logged by churnops.")
    spec = FeatureSpec(**stored)
    smoke = smoke_rows(model, spec)
    scored = model.predict(smoke)
    missing = [column for column in ("churn_probability", "churn_predicted") if column not in scored.columns]
    if missing or len(scored) != len(smoke) or scored["churn_probability"].isna().any():
        raise RegistryError(
            f"{resolved.model_uri} failed its smoke prediction: {len(smoke)} rows gave {len(scored)} rows "
            f"with columns {list(scored.columns)}; a churnops model returns churn_probability, churn_predicted, "
            "model_name, model_version for every row."
        )
    pipeline = getattr(model.unwrap_python_model(), "pipeline", None)
    return Served(resolved, model, spec, smoke, known_categories(pipeline, spec) if pipeline is not None else {})


def smoke_rows(model, spec: FeatureSpec) -> pd.DataFrame:
    """The rows the model was logged with (its input example), as raw text like a user's rows."""
    example = model.input_example
    if example is None or not isinstance(example, pd.DataFrame) or example.empty:
        raise RegistryError("the version has no input example to smoke-test it with; log it with churnops.")
    example = example.head(2)
    return pd.DataFrame({column: example[column].map(_text) for column in spec.features})


def _text(value) -> str | None:
    return None if value is None or (isinstance(value, float) and value != value) else str(value)


class Follower:
    """Serves one version and moves to the alias's new version after it loaded and passed its smoke test."""

    def __init__(self, model_uri: str, tracking_uri: str, poll_seconds: float,
                 loader: Callable[[ResolvedModel], Served] = load_version,
                 on_event: Callable[[str, ResolvedModel, str], None] | None = None,
                 vet: Callable[[mlflow.MlflowClient, ResolvedModel], ResolvedModel] | None = None):
        if poll_seconds <= 0:
            raise ServingError(f"--poll-seconds must be > 0, got {poll_seconds}.")
        self.model_uri = model_uri
        self.tracking_uri = tracking_uri
        self.poll_seconds = poll_seconds
        self.client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        self._loader = loader
        self._on_event = on_event or (lambda *_: None)
        self.served: Served | None = None
        self.last_failure: str = ""
        self._failed_version = ""
        # `vet`: the guard (churnops.serving.governance.vet): the version to serve for what the alias
        # resolved to; under the policy `enforce` never one the alias was moved to outside churnops.
        self._vet = vet or (lambda _client, resolved: resolved)
        self._stop = threading.Event()
        self._wake = threading.Event()  # an alias-moved event: resolve now instead of at the next poll
        self._thread: threading.Thread | None = None

    def start_serving(self, wait_seconds: float) -> Served:
        """Resolve and load the first version, retrying a registry that is not up yet for `wait_seconds`."""
        try:
            wait_for_server(self.tracking_uri, timeout=wait_seconds)  # bounded, names the URI
        except TrackingError as exc:
            raise ServingError(f"{exc} (churnops serve: --start-wait-seconds). Nothing was served.") from None
        try:
            resolved = self._vet(self.client, resolve(self.model_uri, self.client))
        except RegistryError as exc:  # the server answers but the model or alias does not exist
            raise ServingError(str(exc)) from None
        try:
            self.served = self._loader(resolved)
        except Exception as exc:  # noqa: BLE001 - nothing serves yet: the start fails with the reason
            raise ServingError(f"Cannot serve {resolved.model_uri} ({self.model_uri}): {exc}") from None
        self._on_event("serving", resolved, "")
        log.info("serving %s version %s (%s)", resolved.model_name, resolved.model_version, self.model_uri)
        return self.served

    def poll_once(self) -> str:
        """Ask the registry once; returns what happened: unchanged, swapped, failed, unreachable."""
        current = self.served
        try:
            resolved = self._vet(self.client, resolve(self.model_uri, self.client))
        except Exception as exc:  # noqa: BLE001 - registry down or alias gone: keep serving what is loaded
            self.last_failure = f"cannot resolve {self.model_uri}: {str(exc).splitlines()[0][:200]}"
            log.warning("%s; still serving version %s", self.last_failure, current.resolved.model_version)
            return "unreachable"
        if current is not None and resolved.model_uri == current.resolved.model_uri:
            return "unchanged"
        if resolved.model_uri == self._failed_version:
            return "failed"  # reported once; retried when the alias moves again
        try:
            candidate = self._loader(resolved)
        except Exception as exc:  # noqa: BLE001 - a broken version never replaces a working one
            self._failed_version = resolved.model_uri
            self.last_failure = f"{resolved.model_uri} failed to load: {str(exc).splitlines()[0][:300]}"
            log.error("%s; still serving version %s", self.last_failure, current.resolved.model_version)
            self._on_event("load_failed", resolved, self.last_failure)
            return "failed"
        self.served = candidate  # one attribute assignment: requests see the old or the new, whole
        self._failed_version = ""
        log.info("swapped to %s version %s (was %s)", resolved.model_name, resolved.model_version,
                 current.resolved.model_version if current else "none")
        self._on_event("swapped", resolved, "")
        return "swapped"

    def start_polling(self) -> None:
        self._thread = threading.Thread(target=self._poll_loop, name="churnops-alias-poller", daemon=True)
        self._thread.start()

    def hint(self) -> None:
        """An alias-moved event (MLflow's webhook or churnops' own): resolve now; hints while one resolve
        runs are coalesced into the next one. The poll stays the fallback."""
        self._wake.set()

    def _poll_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll_seconds)
            if self._stop.is_set():
                return
            self._wake.clear()
            self.poll_once()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self.poll_seconds + 5)
