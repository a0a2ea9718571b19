"""Where things are, for every test: the repository root and the shared data beside it."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SYNTHETIC_CSV = REPO / "data" / "churn_synthetic.csv"
TELCO_CSV = REPO.parent / "shared" / "data" / "telco_customer_churn.csv"
