"""One registration + promotion, as the training pipeline's last two steps run it, in its own process.

`python tests/support/crash_run.py PLAN.json`: PLAN holds the step inputs (a logged, evaluated
model and this run's test split). With CHURNOPS_CRASH_AT naming a boundary the process kills itself
there (churnops.registry.journal.boundary); the kill-matrix test then runs it again without.
Prints the promotion step's result as JSON on the last line.
"""

from __future__ import annotations

import json
import sys


def main(argv: list[str]) -> int:
    from churnops.steps import promote_model, register_model

    plan = json.loads(open(argv[0]).read())
    registered = register_model.run(plan["model_uri"], plan["run_id"], plan["tracking_uri"], plan["model_name"],
                                    plan["test_metrics"], fingerprint=plan["fingerprint"])
    decided = promote_model.run(plan["x_test"], plan["y_test"], plan["run_id"], plan["tracking_uri"],
                                plan["model_name"], str(registered["model_version"]), plan["thresholds"],
                                plan["primary_metric"], plan["tolerance"], plan["threshold"])
    print(json.dumps({"registered": registered, "decided": decided}, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
