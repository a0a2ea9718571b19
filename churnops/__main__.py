"""`python -m churnops ...`: the same as the `churnops` command."""

from churnops.app.cli import run

if __name__ == "__main__":  # not when multiprocessing re-imports the main module in a child
    run()
