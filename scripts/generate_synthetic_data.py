"""Generate data/churn_synthetic.csv: a synthetic churn dataset with the IBM Telco schema.

The real Telco file is not ours to commit, so the repository ships this stand-in: the same 21
columns and value sets, the same quirk (TotalCharges is a single space for customers with zero
tenure), distributions close to the original's, and a churn signal from the drivers known in
the original (contract type, tenure, fibre internet, electronic checks, support add-ons).
Same seed and row count -> the same bytes (values are rounded and written by this script, not
by a float formatter that could change between library versions).

    python scripts/generate_synthetic_data.py --output data/churn_synthetic.csv
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import sys

import numpy as np

COLUMNS = [
    "customerID", "gender", "SeniorCitizen", "Partner", "Dependents", "tenure", "PhoneService",
    "MultipleLines", "InternetService", "OnlineSecurity", "OnlineBackup", "DeviceProtection",
    "TechSupport", "StreamingTV", "StreamingMovies", "Contract", "PaperlessBilling",
    "PaymentMethod", "MonthlyCharges", "TotalCharges", "Churn",
]
ADDONS = ["OnlineSecurity", "OnlineBackup", "DeviceProtection", "TechSupport", "StreamingTV", "StreamingMovies"]
# Share of internet customers with each add-on (close to the original file).
ADDON_RATES = {"OnlineSecurity": 0.37, "OnlineBackup": 0.44, "DeviceProtection": 0.44,
               "TechSupport": 0.37, "StreamingTV": 0.49, "StreamingMovies": 0.50}
ADDON_PRICE = {"OnlineSecurity": 4.0, "OnlineBackup": 5.0, "DeviceProtection": 5.0,
               "TechSupport": 4.5, "StreamingTV": 9.5, "StreamingMovies": 9.5}
PAYMENT = ["Electronic check", "Mailed check", "Bank transfer (automatic)", "Credit card (automatic)"]
LETTERS = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))


def money(value: float) -> str:
    """Two decimals without trailing zeros, as the original file writes its charges."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text


def yes_no(flag: bool) -> str:
    return "Yes" if flag else "No"


def generate_rows(rows: int, seed: int) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    out: list[list[str]] = []
    seen_ids: set[str] = set()
    for _ in range(rows):
        while True:
            customer_id = f"{rng.integers(0, 10000):04d}-{''.join(rng.choice(LETTERS, 5))}"
            if customer_id not in seen_ids:
                seen_ids.add(customer_id)
                break
        senior = rng.random() < 0.16
        partner = rng.random() < 0.48
        dependents = rng.random() < (0.5 if partner else 0.1)
        # Tenure in the original is bimodal: many new customers and many long-standing ones.
        mode = rng.random()
        if rng.random() < 0.0016:
            tenure = 0
        elif mode < 0.35:
            tenure = int(rng.integers(1, 13))
        elif mode < 0.75:
            tenure = int(rng.integers(1, 73))
        else:
            tenure = int(rng.integers(55, 73))
        contract_draw = rng.random() - (tenure - 36) / 150
        contract = "Month-to-month" if contract_draw > 0.45 else ("One year" if contract_draw > 0.22 else "Two year")
        phone = rng.random() < 0.90
        multiple = ("Yes" if rng.random() < 0.47 else "No") if phone else "No phone service"
        internet_draw = rng.random()
        internet = "Fiber optic" if internet_draw < 0.44 else ("DSL" if internet_draw < 0.78 else "No")
        addons = {}
        for name in ADDONS:
            if internet == "No":
                addons[name] = "No internet service"
            else:
                addons[name] = yes_no(rng.random() < ADDON_RATES[name] + (tenure - 32) / 250)
        paperless = rng.random() < (0.67 if internet != "No" else 0.29)
        payment = PAYMENT[int(rng.choice(4, p=[0.34, 0.23, 0.22, 0.21]))]
        monthly = (20.0 if phone else 0.0) + (5.0 if multiple == "Yes" else 0.0)
        monthly += {"Fiber optic": 50.0, "DSL": 25.0, "No": 0.0}[internet]
        monthly += sum(ADDON_PRICE[name] for name in ADDONS if addons[name] == "Yes")
        monthly = max(18.25, min(118.75, monthly + rng.normal(0.0, 2.0)))
        if tenure == 0:
            total = " "
        else:
            total = money(monthly * tenure * rng.uniform(0.97, 1.03))
        logit = (
            -1.75
            + {"Month-to-month": 1.4, "One year": 0.0, "Two year": -1.3}[contract]
            - 0.035 * tenure
            + (0.9 if internet == "Fiber optic" else (-0.6 if internet == "No" else 0.0))
            + (0.55 if payment == "Electronic check" else 0.0)
            + (0.35 if senior else 0.0)
            + (0.3 if paperless else 0.0)
            - (0.45 if addons["TechSupport"] == "Yes" else 0.0)
            - (0.4 if addons["OnlineSecurity"] == "Yes" else 0.0)
            + (0.2 if addons["StreamingMovies"] == "Yes" else 0.0)
            - (0.2 if dependents else 0.0)
            + 0.012 * (monthly - 65.0)
        )
        churn = rng.random() < 1.0 / (1.0 + math.exp(-logit))
        out.append([
            customer_id, "Male" if rng.random() < 0.505 else "Female", "1" if senior else "0",
            yes_no(partner), yes_no(dependents), str(tenure), yes_no(phone), multiple, internet,
            *(addons[name] for name in ADDONS), contract, yes_no(paperless), payment,
            money(monthly), total, yes_no(churn),
        ])
    return out


def render_csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="data/churn_synthetic.csv", help="where to write the CSV ('-' for stdout)")
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=20250301)
    args = parser.parse_args(argv)
    content = render_csv(generate_rows(args.rows, args.seed))
    if args.output == "-":
        sys.stdout.buffer.write(content)
    else:
        with open(args.output, "wb") as handle:
            handle.write(content)
    return 0


if __name__ == "__main__":
    sys.exit(main())
