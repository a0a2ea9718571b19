"""Load a file of scripts/ as a module (scripts/ is not a package): its functions, tested without a process."""

from __future__ import annotations

import importlib.util
from types import ModuleType

from support.paths import REPO


def load_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
