"""One retrain trigger, as the `trigger_retrain` step runs it, in its own process.

`python tests/support/trigger_run.py PLAN.json`: PLAN holds the step's inputs (drift result, KFP
host, recurring run, window, grace) and `now`, the double's virtual clock. With CHURNOPS_CRASH_AT
naming a boundary (e.g. `trigger:after-claim`) the process kills itself there
(churnops.registry.journal.boundary). Prints the decision as JSON on the last line.
"""

from __future__ import annotations

import json
import sys


def main(argv: list[str]) -> int:
    from churnops.steps import trigger_retrain

    plan = json.loads(open(argv[0], encoding="utf-8").read())
    decision = trigger_retrain.run(plan["drift"], enabled=True, kfp_host=plan["kfp_host"], namespace=plan["namespace"],
                                   recurring_run=plan["recurring_run"], window_seconds=plan["window_seconds"],
                                   grace_seconds=plan["grace_seconds"], now=lambda: plan["now"])
    print(json.dumps(decision))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
