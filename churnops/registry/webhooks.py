"""MLflow's registry webhooks (MLflow 3.17, experimental) as the guard's and the follower's trigger.

Read in the installed mlflow 3.17.2: the server's REST handlers (server/handlers.py,
`_set_registered_model_alias`, `_delete_registered_model_alias`) call
`webhooks.delivery.deliver_webhook` with the events `model_version_alias.created` (payload name,
alias, version) and `model_version_alias.deleted` (name, alias); the body is
`{"entity", "action", "timestamp", "data"}` with the headers `X-MLflow-Delivery-Id`,
`X-MLflow-Timestamp` and, when the webhook has a secret, `X-MLflow-Signature: v1,<base64 HMAC-SHA256
of "<delivery id>.<timestamp>.<body>">` (`_generate_hmac_signature`). Only a server delivers them,
and not from a FileStore (`deliver_webhook` returns early): the embedded store used directly by
the client has no webhooks, so the guard's check in every command and the follower's poll cover it.

Server settings (mlflow/environment_variables.py): webhook URLs must be `https` unless
`MLFLOW_WEBHOOK_ALLOWED_SCHEMES` allows `http`, and must resolve to public addresses unless
`MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS=true` (an in-cluster predictor has a private address); a
webhook secret is stored encrypted with `MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY` (without it the
server makes a key per process and cannot read the secret after a restart).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlsplit

import mlflow

ALIAS_EVENTS = ("model_version_alias.created", "model_version_alias.deleted")
SIGNATURE_HEADER = "X-MLflow-Signature"
DELIVERY_HEADER = "X-MLflow-Delivery-Id"
TIMESTAMP_HEADER = "X-MLflow-Timestamp"


def webhook_name(model_name: str) -> str:
    return f"churnops-guard-{model_name}"


def subscribe(client: mlflow.MlflowClient, model_name: str, url: str, secret: str = "") -> dict:
    """Create (or point at `url` again) the webhook that posts this store's alias moves; idempotent by name."""
    name = webhook_name(model_name)
    existing = [hook for hook in client.list_webhooks() if hook.name == name]
    if existing:
        hook = client.update_webhook(existing[0].webhook_id, url=url, events=list(ALIAS_EVENTS),
                                     secret=secret or None, status="ACTIVE")
    else:
        hook = client.create_webhook(name, url, list(ALIAS_EVENTS), secret=secret or None,
                                     description=f"churnops: alias moves of {model_name} to the guard / serving follower")
    parts = urlsplit(url)
    return {"name": name, "webhook_id": hook.webhook_id, "events": list(ALIAS_EVENTS),
            "url_label": f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}/..."}


def signature_ok(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Whether MLflow signed this delivery with `secret` (its `_generate_hmac_signature` scheme)."""
    lowered = {key.lower(): value for key, value in headers.items()}
    delivery, timestamp = lowered.get(DELIVERY_HEADER.lower(), ""), lowered.get(TIMESTAMP_HEADER.lower(), "")
    given = lowered.get(SIGNATURE_HEADER.lower(), "")
    content = f"{delivery}.{timestamp}.{body.decode('utf-8', 'replace')}".encode()
    expected = "v1," + base64.b64encode(hmac.new(secret.encode(), content, hashlib.sha256).digest()).decode()
    return bool(given) and hmac.compare_digest(given, expected)


def alias_event(body: dict) -> tuple[str, str] | None:
    """(model name, alias) of an MLflow alias webhook body, else None."""
    if body.get("entity") != "model_version_alias" or not isinstance(body.get("data"), dict):
        return None
    data = body["data"]
    return (str(data.get("name", "")), str(data.get("alias", ""))) if data.get("name") else None
