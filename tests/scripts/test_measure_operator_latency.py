"""scripts/measure_operator_latency.py measures what it says: the first output byte, the exit, CPU seconds."""

from __future__ import annotations

import sys

from support.scripts import load_script as load


def load_script():
    return load("measure_operator_latency")


def test_first_line_and_exit_of_a_command_that_prints_then_works():
    script = load_script()
    work = "import sys, time; print('first', file=sys.stderr, flush=True); t = time.process_time()\n" \
           "while time.process_time() - t < 0.3: pass\ntime.sleep(0.5)"
    result = script.timed([sys.executable, "-c", work], {}, stop_after_first_line=False)
    assert result["exit"] == 0 and result["first_text"] == "first"
    assert result["first_line"] < result["done"] and result["done"] - result["first_line"] >= 0.7
    assert 0.3 <= result["cpu"] < result["done"]


def test_a_long_command_is_stopped_after_its_first_line():
    script = load_script()
    work = "import time; print('ready', flush=True); time.sleep(120)"
    result = script.timed([sys.executable, "-c", work], {}, stop_after_first_line=True)
    assert result["first_text"] == "ready" and result["done"] is None and result["exit"] != 0
