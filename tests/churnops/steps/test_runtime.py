"""Exiting without teardown keeps output and exit status; it is off outside step processes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from churnops.steps.runtime import in_kfp_step

# Runs as `python -m kfp.dsl.executor_main` would: the guard looks at __main__'s module spec.
STEP = """
import sys, types
sys.modules["__main__"].__spec__ = types.SimpleNamespace(name="kfp.dsl.executor_main")
from churnops.steps.runtime import skip_teardown_at_exit
skip_teardown_at_exit()
import logging
logging.basicConfig(level=logging.INFO, stream=sys.stderr)
logging.info("logged before exit")
print("printed before exit")
{ending}
"""
COMMAND = """
import sys
from churnops.steps.runtime import run_and_exit
def main():
    print("printed before exit")
    return {code}
run_and_exit(main)
"""


@pytest.mark.parametrize(
    ("ending", "status", "stderr_has"),
    [
        ("", 0, "logged before exit"),
        ("raise RuntimeError('step failed')", 1, "RuntimeError: step failed"),
        ("sys.exit(3)", 3, "logged before exit"),
        ("sys.exit('fatal')", 1, "fatal"),
    ],
)
def test_step_process_exit_keeps_output_and_status(ending, status, stderr_has):
    done = subprocess.run([sys.executable, "-c", STEP.format(ending=ending)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == status
    assert "printed before exit" in done.stdout
    assert stderr_has in done.stderr


@pytest.mark.parametrize("code", [0, 1, 130])
def test_command_exit_keeps_the_status_main_returned(code):
    done = subprocess.run([sys.executable, "-c", COMMAND.format(code=code)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == code and done.stdout == "printed before exit\n"


def test_tests_are_not_step_processes():
    assert not in_kfp_step()
