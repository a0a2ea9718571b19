"""Build every pinned upstream component from source through the Go module proxy.

For each component of versions.toml: a go.mod is generated in its cache entry (`module
churnops.local/build/<name>`, the upstream `go` line, `require <module> <version>`, and the upstream
go.mod's `replace` lines, which Go ignores in a dependency: a replacement by a version is kept, one
by a local path becomes the same module at `local_replace_version`), `go mod tidy` resolves the
rest, `go build -trimpath` links the binaries into <entry>/bin. The entry's `.complete` holds the
key of the pins it was built from; a changed pin rebuilds it. The Go caches are shared with every
other Go build of the project (~/.cache/churnops/go), so a rebuild after a pin change compiles only
what changed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from scripts.cluster import pins

# rough wall times on 2 idle cores with an empty Go cache (measured; they print before each build)
COLD_MINUTES = {"kubernetes": 7, "etcd": 1, "kwok": 2, "argocd": 8, "helm": 2, "kustomize": 1,
                "knative-serving": 3, "kserve": 4}
REPLACE_LINE = re.compile(r"^\s*(?:replace\s+)?(\S+)(?:\s+(v\S+))?\s+=>\s+(\S+)(?:\s+(v\S+))?\s*(?://.*)?$")


def say(text: str) -> None:
    print(f"churnops cluster: {text}", flush=True)


def go_env(component: pins.Component) -> dict[str, str]:
    cache = pins.cache_root()
    env = {**os.environ, "GOMODCACHE": str(cache / "go" / "mod"), "GOCACHE": str(cache / "go" / "build"),
           "GOFLAGS": "-mod=mod"}
    env["GOTOOLCHAIN"] = pins.toolchain() if component.toolchain else "local"
    return env


def upstream_gomod(component: pins.Component, env: dict[str, str]) -> str:
    found = subprocess.run(["go", "mod", "download", "-json", f"{component.module}@{component.version}"],
                           capture_output=True, text=True, env=env, cwd=component.home)
    info = json.loads(found.stdout or "{}")
    if found.returncode != 0 or info.get("Error") or not info.get("GoMod"):
        raise SystemExit(f"churnops cluster: go mod download {component.module}@{component.version} failed: "
                         f"{info.get('Error') or found.stderr.strip()}")
    return Path(info["GoMod"]).read_text()


def replaces(gomod: str, component: pins.Component) -> list[str]:
    """The upstream go.mod's replace directives, as lines for ours (local paths -> local_replace_version)."""
    lines, block = [], False
    for raw in gomod.splitlines():
        line = raw.strip()
        if line.startswith("replace ("):
            block = True
            continue
        if block and line == ")":
            block = False
            continue
        if not (block or line.startswith("replace ")) or "=>" not in line:
            continue
        match = REPLACE_LINE.match(line)
        if not match:
            raise SystemExit(f"churnops cluster: cannot read this replace line of {component.module}: {raw!r}")
        old, old_version, new, new_version = match.groups()
        if new.startswith((".", "/")):
            if "FORBIDDEN" in new:  # a guard against a module the project must never import
                continue
            if not component.local_replace_version:
                raise SystemExit(f"churnops cluster: {component.module} replaces {old} by the local path {new}: "
                                 "set local_replace_version for it in scripts/cluster/versions.toml")
            new, new_version = old, component.local_replace_version
        lines.append(f"replace {old}{' ' + old_version if old_version else ''} => {new} {new_version}")
    return lines


def gomod(component: pins.Component, upstream: str) -> str:
    go_line = next((line for line in upstream.splitlines() if line.startswith("go ")), "go 1.24")
    return "\n".join([f"module churnops.local/build/{component.name}", "", go_line, "",
                      f"require {component.module} {component.version}", "", *replaces(upstream, component), ""])


def tools_go(component: pins.Component) -> str:
    imports = sorted({f"{component.module}/{package}".rstrip("/") for package in component.binaries.values()})
    return "//go:build tools\n\npackage tools\n\nimport (\n" + "".join(f'\t_ "{p}"\n' for p in imports) + ")\n"


def ldflags(component: pins.Component) -> str:
    flags = ["-s", "-w"]
    match = re.match(r"v(\d+)\.(\d+)", component.version)
    for package in component.version_ldflags:
        flags += [f"-X {package}.gitVersion={component.version}", f"-X {package}.gitMajor={match.group(1)}",
                  f"-X {package}.gitMinor={match.group(2)}", f"-X {package}.gitTreeState=clean"]
    return " ".join(flags)


def run(argv: list[str], what: str, env: dict[str, str], cwd: Path, log: Path) -> None:
    """Run a long go command with a progress line at least every 10 s (scripts/bootstrap.py watch):
    `go build -v` names each package it compiles, counted into the progress line and kept in the log."""
    sys.path.insert(0, str(pins.ROOT / "scripts"))
    import bootstrap  # stdlib-only, the project's one progress printer

    compiled = [0]

    def show(line: str) -> bool:
        if line.startswith(("go: downloading go1", "go: ", "# ")) or " error" in line or ".go:" in line:
            return True
        compiled[0] += 1
        return False

    with open(log, "a") as handle:
        handle.write(f"$ {' '.join(argv)}\n")
    bootstrap.watch(["bash", "-c", 'exec "$@" 2>&1 | tee -a "$LOG"; exit "${PIPESTATUS[0]}"', "-", *argv], what,
                    env={**env, "LOG": str(log)}, cwd=cwd, show=show,
                    detail=lambda: f"{compiled[0]} packages compiled (go -v)" if compiled[0] else "")


def built(component: pins.Component) -> bool:
    marker = component.home / ".complete"
    return marker.exists() and marker.read_text().strip() == component.key and all(
        component.binary(name).exists() for name in component.binaries)


def build(component: pins.Component) -> float:
    """Build one component into its cache entry (two checkouts building it wait for each other);
    returns the wall seconds (0 if it was already built)."""
    sys.path.insert(0, str(pins.ROOT / "scripts"))
    import bootstrap

    with bootstrap.locked(component.home):
        return _build(component)


def _build(component: pins.Component) -> float:
    if built(component):
        return 0.0
    started = time.monotonic()
    home = component.home
    shutil.rmtree(home, ignore_errors=True)
    (home / "src").mkdir(parents=True)
    log = home / "build.log"
    env = go_env(component)
    toolchain = f" with Go {pins.toolchain()} (GOTOOLCHAIN)" if component.toolchain else ""
    say(f"building {component.module}@{component.version}{toolchain}: {', '.join(component.binaries)} "
        f"(cold Go cache: ~{COLD_MINUTES.get(component.name, 3)} min on 2 idle cores; warm: under a minute) "
        f"into {home}")
    home.mkdir(exist_ok=True)
    src = home / "src"
    (src / "go.mod").write_text(gomod(component, upstream_gomod(component, {**env, "GOFLAGS": ""})))
    (src / "tools.go").write_text(tools_go(component))
    run(["go", "mod", "tidy"], f"{component.name}: go mod tidy", env, src, log)
    for name, package in component.binaries.items():
        target = f"{component.module}/{package}".rstrip("/")
        run(["go", "build", "-v", "-trimpath", f"-ldflags={ldflags(component)}", "-o", str(component.binary(name)), target],
            f"{component.name}: go build {name}", env, src, log)
    (home / ".complete").write_text(component.key)
    seconds = time.monotonic() - started
    say(f"built {component.name} {component.version} in {seconds:.0f} s")
    return seconds


def download_crd_modules() -> None:
    """The modules only CRDs come from: `go mod download` into the shared module cache."""
    for name, spec in pins.crd_modules().items():
        if all((pins.module_dir(spec["module"], spec["version"]) / f).exists() for f in spec["files"]):
            continue
        say(f"downloading {spec['module']}@{spec['version']} for its CRDs ({name})")
        env = {**go_env(pins.Component(name=name, module=spec["module"], version=spec["version"], binaries={})),
               "GOFLAGS": ""}
        found = subprocess.run(["go", "mod", "download", f"{spec['module']}@{spec['version']}"], env=env,
                               capture_output=True, text=True, cwd=pins.cache_root())
        if found.returncode != 0:
            raise SystemExit(f"churnops cluster: the module proxy did not serve {spec['module']}@{spec['version']}: "
                             f"{found.stderr.strip()}")


def build_all(names: list[str] | None = None) -> None:
    download_crd_modules()
    wanted = pins.components()
    missing = [c for name, c in wanted.items() if (not names or name in names) and not built(c)]
    if not missing:
        return
    say(f"{len(missing)} of {len(wanted)} components to build from source: {', '.join(c.name for c in missing)} "
        f"(with a cold Go cache: ~{sum(COLD_MINUTES.get(c.name, 3) for c in missing)} min on 2 idle cores; "
        "much longer on a busy machine)")
    started = time.monotonic()
    for component in missing:
        build(component)
    say(f"built {len(missing)} components in {time.monotonic() - started:.0f} s")
