"""`mlflow db upgrade` under a PostgreSQL advisory lock, so concurrent upgrades wait instead of failing.

The chart's migration hook Job and every replica's init container may all start on a fresh
database at once; plain `mlflow db upgrade` run concurrently fails with UniqueViolation in all but
one (alembic creates `alembic_version` and the tables without a lock). Here each holds a session
advisory lock (pg_advisory_lock) on its own connection while the upgrade runs, so they run one
after the other and the later ones find the schema current (a no-op). Waits are bounded by
`lock_timeout`. Non-PostgreSQL URIs (SQLite on the data volume, one replica) upgrade directly.

    python /opt/mlflow/db_upgrade.py [BACKEND_STORE_URI]   (default: $MLFLOW_BACKEND_STORE_URI)
"""

from __future__ import annotations

import os
import subprocess
import sys

# any constant bigint works; every process that upgrades this database must use the same one
LOCK_KEY = 0x6D6C666C6F77  # "mlflow"
LOCK_TIMEOUT = os.environ.get("MLFLOW_DB_UPGRADE_LOCK_TIMEOUT", "600s")


def upgrade_argv(uri: str) -> list[str]:
    return [sys.executable, "-m", "mlflow", "db", "upgrade", uri]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    uri = args[0] if args else os.environ.get("MLFLOW_BACKEND_STORE_URI", "")
    if not uri:
        print("db_upgrade: no backend store URI; pass it or set MLFLOW_BACKEND_STORE_URI", file=sys.stderr)
        return 2
    if not uri.startswith(("postgresql", "postgres")):
        return subprocess.run(upgrade_argv(uri), check=False).returncode

    import sqlalchemy
    from sqlalchemy.pool import NullPool

    engine = sqlalchemy.create_engine(uri, poolclass=NullPool)
    with engine.connect() as conn:
        conn.execute(sqlalchemy.text(f"SET lock_timeout = '{LOCK_TIMEOUT}'"))
        conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": LOCK_KEY})
        conn.commit()  # end the transaction; the session lock stays until unlock/disconnect
        try:
            return subprocess.run(upgrade_argv(uri), check=False).returncode
        finally:
            conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
            conn.commit()


if __name__ == "__main__":
    sys.exit(main())
