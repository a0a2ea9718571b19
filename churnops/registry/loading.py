"""Find and load registered models: resolve a model URI to one concrete version, read what it was logged with."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import mlflow
from mlflow.exceptions import MlflowException

from churnops import defaults, names
from churnops.core.features import FeatureSpec
from churnops.core.fitting import set_cores
from churnops.errors import RegistryError
from churnops.registry.versions import missing_model

MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>[^/]+))$")
RUNS_URI = re.compile(r"^runs:/(?P<run_id>[0-9a-f]+)(?:/.*)?$")


@dataclass(frozen=True)
class ResolvedModel:
    requested_uri: str
    model_uri: str  # concrete: models:/NAME/N, or the runs:/ URI of an unregistered model
    model_name: str
    model_version: str
    run_id: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def unresolved(client: mlflow.MlflowClient, model_uri: str, name: str, alias: str | None, exc: Exception) -> str:
    """Why a models:/ URI does not resolve, with what does exist."""
    if missing := missing_model(client, name, lambda close: model_uri.replace(f"models:/{name}", f"models:/{close}", 1)):
        return f"Cannot resolve {model_uri}: {missing}"
    detail = str(getattr(exc, "message", exc)).strip().rstrip(".")
    if alias:
        aliases = sorted(client.get_registered_model(name).aliases)
        return (f"Cannot resolve {model_uri}: {name} has no alias {alias!r} (its aliases: "
                f"{', '.join(aliases) or 'none'}). Use one of those, or models:/{name}/VERSION; "
                f"`churnops models list --model-name {name}` lists the versions.")
    return (f"Cannot resolve {model_uri}: {detail}. List what exists with "
            f"`churnops models list --model-name {name}`.")


def resolve(model_uri: str, client: mlflow.MlflowClient) -> ResolvedModel:
    """models:/NAME@ALIAS, models:/NAME/N, models:/NAME/latest or runs:/RUN_ID/PATH -> a version."""
    if match := MODELS_URI.match(model_uri):
        name, alias, version = match.group("name", "alias", "version")
        try:
            if alias:
                found = client.get_model_version_by_alias(name, alias)
            elif version == "latest":
                versions = client.search_model_versions(f"name = '{name}'")
                if not versions:
                    raise MlflowException(f"{name} has no versions")
                found = max(versions, key=lambda item: int(item.version))
            else:
                found = client.get_model_version(name, version)
        except MlflowException as exc:
            raise RegistryError(unresolved(client, model_uri, name, alias, exc)) from None
        return ResolvedModel(model_uri, f"models:/{name}/{found.version}", name, str(found.version), found.run_id)
    if match := RUNS_URI.match(model_uri):
        run_id = match.group("run_id")
        registered = client.search_model_versions(f"run_id = '{run_id}'")
        if registered:
            found = max(registered, key=lambda item: int(item.version))
            return ResolvedModel(model_uri, f"models:/{found.name}/{found.version}", found.name,
                                 str(found.version), run_id)
        try:
            run = client.get_run(run_id)
        except MlflowException:
            raise RegistryError(f"Cannot resolve {model_uri}: no run {run_id} in this tracking store.") from None
        # Not registered: still name what produced the rows.
        return ResolvedModel(model_uri, model_uri, run.data.tags.get(names.RUN_TAG_MODEL_NAME, ""), f"run:{run_id}", run_id)
    raise RegistryError(
        f"Unsupported model URI {model_uri!r}. Use models:/NAME@ALIAS (e.g. models:/churn-classifier@champion), "
        "models:/NAME/VERSION or runs:/RUN_ID/model."
    )


def feature_spec(model_uri: str) -> FeatureSpec:
    info = mlflow.models.get_model_info(model_uri)
    stored = (info.metadata or {}).get("feature_spec")
    if not stored:
        raise RegistryError(f"Model {model_uri} has no feature_spec metadata; it was not logged by churnops.")
    return FeatureSpec(**stored)


def load_pipeline(model_uri: str, n_jobs: int | None = None):
    """The fitted sklearn pipeline of a churnops model, whichever way it was logged.

    Versions logged before the pyfunc wrapper carry the sklearn flavour; newer ones are a
    churnops.registry.serving.ChurnModel pyfunc that holds the same pipeline. `n_jobs`: cores
    its predictions may use (churnops.core.fitting.set_cores); None keeps what was logged.
    """
    pipeline = _load_pipeline(model_uri)
    return pipeline if n_jobs is None else set_cores(pipeline, n_jobs)


def _load_pipeline(model_uri: str):
    info = mlflow.models.get_model_info(model_uri)
    if "sklearn" in (info.flavors or {}):
        return mlflow.sklearn.load_model(model_uri)
    python_model = mlflow.pyfunc.load_model(model_uri).unwrap_python_model()
    pipeline = getattr(python_model, "pipeline", None)
    if pipeline is None:
        raise RegistryError(f"Model {model_uri} holds no churnops pipeline; it was not logged by churnops.")
    return pipeline


def decision_threshold(client: mlflow.MlflowClient, run_id: str) -> float:
    """The threshold the model was evaluated (and promoted) with; the default when it was not recorded."""
    return float(client.get_run(run_id).data.params.get(names.PARAM_DECISION_THRESHOLD, defaults.DECISION_THRESHOLD))
