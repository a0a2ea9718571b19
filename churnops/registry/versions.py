"""Register model versions in the MLflow Model Registry and find them again by fingerprint.

Aliases, not the deprecated stages: `candidate-latest` is the newest registered version;
`champion` (what serves) is moved only by the promotion step (churnops.registry.aliases).
"""

from __future__ import annotations

import difflib

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from churnops import names
from churnops.errors import RegistryError
from churnops.registry import journal


def check_model_files(model_uri: str) -> None:
    """Refuse to register a URI whose MLmodel cannot be read: a version must always have its files."""
    try:
        mlflow.models.get_model_info(model_uri)
    except (MlflowException, OSError) as exc:
        raise RegistryError(
            f"Model files for {model_uri} cannot be read ({exc}); nothing was registered. "
            "Check the artifact store credentials and rerun the training."
        ) from None


def register_version(model_uri: str, model_name: str, tags: dict[str, str]) -> ModelVersion:
    """Register `model_uri` under `model_name`, tag it pending, and point `candidate-latest` at it."""
    check_model_files(model_uri)
    journal.boundary("register:before-create")
    version = mlflow.register_model(model_uri, model_name, tags={names.TAG_STATUS: names.STATUS_PENDING, **tags})
    journal.boundary("register:after-create")
    client = mlflow.MlflowClient()
    client.set_registered_model_alias(model_name, names.ALIAS_CANDIDATE, version.version)
    journal.boundary("register:after-candidate-alias")
    return client.get_model_version(model_name, version.version)


def find_by_fingerprint(client: mlflow.MlflowClient, model_name: str, fingerprint: str) -> ModelVersion | None:
    """The oldest registered version of `model_name` with this training fingerprint, or None."""
    found = client.search_model_versions(f"name = '{model_name}' and tags.`{names.TAG_FINGERPRINT}` = '{fingerprint}'")
    return min(found, key=lambda version: int(version.version)) if found else None


def ensure_candidate_alias(client: mlflow.MlflowClient, model_name: str, version: ModelVersion) -> None:
    """A pending version found again (its registration was interrupted): `candidate-latest` on it if newest."""
    if version.tags.get(names.TAG_STATUS, names.STATUS_PENDING) != names.STATUS_PENDING:
        return
    newest = max(int(v.version) for v in client.search_model_versions(f"name = '{model_name}'"))
    if newest == int(version.version) and journal.alias_version(client, model_name, names.ALIAS_CANDIDATE) != str(newest):
        client.set_registered_model_alias(model_name, names.ALIAS_CANDIDATE, str(newest))


def model_names(client: mlflow.MlflowClient) -> list[str]:
    """The registered models a user can name (not the alias leases churnops.registry.locks keeps)."""
    return sorted(model.name for model in client.search_registered_models()
                  if not model.name.endswith(names.LEASE_MODEL_SUFFIX))


def missing_model(client: mlflow.MlflowClient, name: str, suggest=repr) -> str | None:
    """None when `name` is a registered model; else a sentence naming the models there are and the
    closest one (as `suggest(name)` writes it), so a mistyped name is never echoed back in a suggestion."""
    known = model_names(client)
    if name in known:
        return None
    close = difflib.get_close_matches(name, known, n=1)
    return (f"There is no registered model {name!r} in this tracking store (models: {', '.join(known) or 'none'})."
            + (f" Did you mean {suggest(close[0])}?" if close else
               " Train and promote a version first (`churnops train`), or pass --tracking-uri for another store."))
