"""Run a rendered container locally the way the kubelet would start it, with only local swaps.

`resolve()` takes a container of a rendered pod template and returns the argv and environment the
kubelet would give the process: `command` + `args` with `$(VAR)` expanded from the container's env
(Kubernetes' dependent-variable rule), env values read from the rendered Secrets and ConfigMaps
(or from `external`, test values for Secrets created out of band), and every volume mount
materialised under a local directory (Secret/ConfigMap items written as files, emptyDirs as empty
folders) with each path that starts with a mount path rewritten to the local folder.

What the caller may swap is explicit (`swaps`: exact argv/env values to replace), so a test that
runs this says exactly what differs from the pod: host, port, worker count, store locations.
Image paths (`/opt/mlflow/db_upgrade.py`) map to the repository files the Dockerfile COPYs.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVER_IMAGE_DIR = ROOT / "docker" / "mlflow-server"
REQUIREMENTS = SERVER_IMAGE_DIR / "requirements.txt"
VAR_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


class MissingObjectError(LookupError):
    pass


def object_data(objects: list[dict], kind: str, namespace: str, name: str) -> dict[str, str]:
    for obj in objects:
        meta = obj["metadata"]
        if obj["kind"] == kind and meta["name"] == name and meta.get("namespace") == namespace:
            data = {k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()} \
                if kind == "Secret" else dict(obj.get("data") or {})
            return {**data, **(obj.get("stringData") or {})}
    raise MissingObjectError(f"{kind} {namespace}/{name}")


def lookup(objects: list[dict], external: dict[tuple[str, str], dict[str, str]], kind: str, namespace: str,
           name: str) -> dict[str, str]:
    try:
        return object_data(objects, kind, namespace, name)
    except MissingObjectError:
        if (kind, name) in external:
            return external[(kind, name)]
        raise MissingObjectError(f"{kind} {namespace}/{name} is neither rendered nor given a test value") from None


def image_files(dockerfile: Path = SERVER_IMAGE_DIR / "Dockerfile") -> dict[str, Path]:
    """{path in the image: repository file} from the Dockerfile's `COPY src dest` lines."""
    files = {}
    for line in dockerfile.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "COPY":
            files[parts[2]] = dockerfile.parent / parts[1]
    return files


@dataclass
class Process:
    argv: list[str]
    env: dict[str, str]


def expand(value: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion: a defined variable is replaced, an undefined one kept as written."""
    return VAR_REF.sub(lambda m: env.get(m.group(1), m.group(0)), value)


def resolve(pod_spec: dict, container: dict, objects: list[dict], namespace: str, local_root: Path,
            external: dict[tuple[str, str], dict[str, str]], venv: Path,
            swaps: dict[str, str] | None = None) -> Process:
    swaps = swaps or {}
    mounts: dict[str, Path] = {}
    volumes = {v["name"]: v for v in pod_spec.get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        local = local_root / mount["mountPath"].lstrip("/")
        local.mkdir(parents=True, exist_ok=True)
        volume = volumes[mount["name"]]
        if "secret" in volume or "configMap" in volume:
            kind, ref = ("Secret", volume["secret"]) if "secret" in volume else ("ConfigMap", volume["configMap"])
            data = lookup(objects, external, kind, namespace, ref.get("secretName") or ref.get("name"))
            for item in ref.get("items") or [{"key": k, "path": k} for k in data]:
                (local / item["path"]).write_text(data[item["key"]], encoding="utf-8")
        mounts[mount["mountPath"]] = local
    env: dict[str, str] = {}
    for var in container.get("env", []):
        if "value" in var:
            value = expand(var["value"], env)
        else:
            source = var["valueFrom"]
            kind, ref = ("Secret", source["secretKeyRef"]) if "secretKeyRef" in source \
                else ("ConfigMap", source["configMapKeyRef"])
            value = lookup(objects, external, kind, namespace, ref["name"])[ref["key"]]
        env[var["name"]] = value
    for source in container.get("envFrom", []):
        kind, ref = ("Secret", source["secretRef"]) if "secretRef" in source else ("ConfigMap", source["configMapRef"])
        env.update(lookup(objects, external, kind, namespace, ref["name"]))

    def local(value: str) -> str:
        value = swaps.get(value, value)
        for mount_path, path in sorted(mounts.items(), key=lambda m: -len(m[0])):
            if value.startswith(mount_path + "/") or value == mount_path:
                return str(path) + value[len(mount_path):]
            if "=" in value and value.split("=", 1)[1].startswith(mount_path):
                flag, rest = value.split("=", 1)
                return f"{flag}={path}{rest[len(mount_path):]}"
        return value

    env = {name: local(value) for name, value in env.items()}
    argv = [expand(a, env) for a in [*container.get("command", []), *container.get("args", [])]]
    argv = [local(a) for a in argv]
    copied = image_files()
    argv = [str(copied[a]) if a in copied else a for a in argv]
    if argv and argv[0] in ("mlflow", "python"):
        argv[0] = str(venv / "bin" / argv[0])
    base = {"PATH": f"{venv / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}", "LANG": "C.UTF-8"}
    return Process(argv, {**base, **env})


def server_venv(requirements: Path = REQUIREMENTS) -> Path:
    """A venv made from exactly the image's requirements.txt: `scripts/bootstrap.py tool-venv` builds it
    once in the cache outside the checkout, keyed by the file's hash (and the Python version), under a
    lock, so parallel workers and later clones share it.

    The image runs `pip install -r requirements.txt`; bootstrap uses uv (pinned) with the same
    resolution rule (the newest versions the pins allow), because pip took ~6 minutes on a cold CI
    machine and uv well under one.
    """
    built = subprocess.run([sys.executable, str(ROOT / "scripts" / "bootstrap.py"), "tool-venv", "mlflow-server",
                            str(requirements)], capture_output=True, text=True, timeout=1200)
    if built.returncode != 0:
        raise RuntimeError(f"building the MLflow server venv failed:\n{built.stdout[-3000:]}{built.stderr[-3000:]}")
    return (ROOT / ".tools" / "mlflow-server").resolve()
