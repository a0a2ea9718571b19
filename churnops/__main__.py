"""`python -m churnops ...`: the same as the `churnops` command."""

from churnops.app.cli import run

run()
