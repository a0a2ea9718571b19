"""Fast exit of step processes keeps output and exit status; it is off outside KFP steps."""

from __future__ import annotations

import subprocess
import sys

import pytest

from churnops.process import in_kfp_step

SCRIPT = """
import sys
from churnops.process import exit_fast_after_step
exit_fast_after_step(force=True)
import logging
logging.basicConfig(level=logging.INFO, stream=sys.stderr)
logging.info("logged before exit")
print("printed before exit")
{ending}
"""


@pytest.mark.parametrize(
    ("ending", "status", "stderr_has"),
    [
        ("", 0, "logged before exit"),
        ("raise RuntimeError('step failed')", 1, "RuntimeError: step failed"),
        ("sys.exit(0)", 0, "logged before exit"),
    ],
)
def test_fast_exit_flushes_output_and_keeps_the_exit_status(ending, status, stderr_has):
    done = subprocess.run([sys.executable, "-c", SCRIPT.format(ending=ending)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == status
    assert "printed before exit" in done.stdout
    assert stderr_has in done.stderr


def test_tests_and_the_cli_are_not_step_processes():
    assert not in_kfp_step()
