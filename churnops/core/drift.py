"""Drift of a scoring batch against a version's reference profile: PSI + KS per feature, a verdict (pure).

Why plain PSI/KS and not `evidently`: evidently is not in our pins (constraints.txt) and would
bring its own pandas/plotly/nltk ranges into the one image every step runs in; PSI and a KS
statistic are a few lines over numpy and scipy (already pinned through scikit-learn), and they
can be computed chunk by chunk, so the check streams like batch_predict (flat memory).

Per feature (numeric): PSI over the reference's decile bins plus `missing`, and the KS statistic
D = max |F_batch - F_reference| on the reference's percentile grid with its p-value
(scipy.stats.kstwo). Per feature (categorical): PSI over the reference categories plus `other`
(values training never saw) and `missing`, and the share of rows with a new value. The scores
are checked like a numeric feature. Rules (thresholds in churnops.defaults.DRIFT_THRESHOLDS):

    drifted  PSI >= psi_drift, or D >= ks_drift with p < ks_p_value, or new values >= new_category_drift
    warn     PSI >= psi_warn,  or D >= ks_warn  with p < ks_p_value, or any new value (> new_category_warn)
    ok       otherwise
    overall  the worst feature or score status; `drifted` needs at least `min_rows` rows (fewer: warn)
"""

from __future__ import annotations

import html
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from churnops.core.profile import MISSING, OTHER, SCORE, numeric_bin_counts
from churnops.errors import ChurnopsError

OK, WARN, DRIFTED = "ok", "warn", "drifted"
VERDICTS = (OK, WARN, DRIFTED)  # in order of severity
VERDICT_CODES = {OK: 0, WARN: 1, DRIFTED: 2}  # what KFP Metrics show (numbers only)
PSI_EPSILON = 1e-4  # an empty bin's share in the PSI sum (the usual smoothing)


@dataclass(frozen=True)
class Thresholds:
    psi_warn: float
    psi_drift: float
    ks_warn: float
    ks_drift: float
    ks_p_value: float
    new_category_warn: float
    new_category_drift: float
    min_rows: int

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "Thresholds":
        """Checked: every key known and given, numbers, warn <= drift. Lists every problem at once."""
        names = list(cls.__dataclass_fields__)
        problems = [f"unknown key {key!r}" for key in values if key not in names]
        problems += [f"missing key {key!r}" for key in names if key not in values]
        for key, value in values.items():
            if key in names and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
                problems.append(f"{key}={value!r} is not a number >= 0")
        if not problems:
            for low, high in (("psi_warn", "psi_drift"), ("ks_warn", "ks_drift"), ("new_category_warn", "new_category_drift")):
                if values[low] > values[high]:
                    problems.append(f"{low}={values[low]} is above {high}={values[high]}")
        if problems:
            raise ChurnopsError(f"Invalid drift thresholds: {'; '.join(problems)}. Known keys: {', '.join(names)}.")
        return cls(**{key: (int(values[key]) if key == "min_rows" else float(values[key])) for key in names})


@dataclass
class FeatureDrift:
    name: str
    kind: str  # numeric | categorical | score
    status: str
    psi: float
    ks: float | None = None
    ks_p_value: float | None = None
    new_share: float | None = None
    new_values: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    rows: int = 0


@dataclass
class DriftReport:
    verdict: str
    rows: int
    drifted: list[str]  # features (and `churn_probability`) whose status is drifted
    warned: list[str]
    features: list[FeatureDrift]
    score: FeatureDrift | None
    thresholds: dict[str, Any]
    reasons: list[str]
    model: dict[str, Any] = field(default_factory=dict)  # model_name, model_version of the reference

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def metrics(self) -> dict[str, float]:
        """Numbers for MLflow and KFP Metrics: the verdict as a code, counts, PSI/KS per feature."""
        out = {"drift_verdict_code": float(VERDICT_CODES[self.verdict]), "drift_rows": float(self.rows),
               "drift_features_drifted": float(len([f for f in self.features if f.status == DRIFTED])),
               "drift_features_warned": float(len([f for f in self.features if f.status == WARN]))}
        for item in self.features + ([self.score] if self.score else []):
            out[f"psi_{item.name}"] = round(item.psi, 6)
            if item.ks is not None:
                out[f"ks_{item.name}"] = round(item.ks, 6)
            if item.new_share is not None:
                out[f"new_share_{item.name}"] = round(item.new_share, 6)
        return out


def psi(reference: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two share vectors over the same bins (empty bins smoothed)."""
    ref = np.maximum(np.asarray(reference, dtype="float64"), PSI_EPSILON)
    act = np.maximum(np.asarray(actual, dtype="float64"), PSI_EPSILON)
    both_empty = (np.asarray(reference) == 0) & (np.asarray(actual) == 0)
    terms = (act - ref) * np.log(act / ref)
    return float(terms[~both_empty].sum())


class _Numeric:
    def __init__(self, reference: dict[str, Any]) -> None:
        self.reference = reference
        self.bins = np.zeros(len(reference["edges"]) + 2)
        self.grid = np.asarray(reference["grid"], dtype="float64")
        self.at_or_below = np.zeros(len(self.grid))
        self.present = 0

    def add(self, values: np.ndarray) -> None:
        values = np.asarray(values, dtype="float64")
        self.bins += numeric_bin_counts(self.reference["edges"], values)
        present = np.sort(values[~np.isnan(values)])
        self.present += present.size
        self.at_or_below += np.searchsorted(present, self.grid, side="right")

    def result(self, name: str, kind: str, limits: Thresholds) -> FeatureDrift:
        rows = int(self.bins.sum())
        shares = self.bins / rows if rows else self.bins
        value = psi(self.reference["shares"], shares)
        ks = p_value = None
        if self.present and len(self.grid):
            ks = float(np.max(np.abs(self.at_or_below / self.present - np.asarray(self.reference["cdf"]))))
            p_value = float(stats.kstwo.sf(ks, self.present))
        status, reasons = _status(value, ks, p_value, None, limits)
        return FeatureDrift(name, kind, status, value, ks, p_value, reasons=reasons, rows=rows)


class _Categorical:
    def __init__(self, reference: dict[str, Any]) -> None:
        self.reference = reference
        self.counts: dict[str, int] = {}
        self.missing = 0
        self.rows = 0

    def add(self, values: pd.Series) -> None:
        self.rows += len(values)
        self.missing += int(values.isna().sum())
        for value, count in values.dropna().astype(str).value_counts().items():
            self.counts[value] = self.counts.get(value, 0) + int(count)

    def result(self, name: str, limits: Thresholds) -> FeatureDrift:
        known = self.reference["categories"]
        new = {value: count for value, count in self.counts.items() if value not in known}
        rows = self.rows or 1
        bins = list(known)
        actual = [self.counts.get(value, 0) / rows for value in bins] + [sum(new.values()) / rows, self.missing / rows]
        expected = [known[value] for value in bins] + [self.reference.get("other_share", 0.0),
                                                       self.reference.get("missing_share", 0.0)]
        value = psi(expected, actual)
        new_share = sum(new.values()) / rows
        status, reasons = _status(value, None, None, new_share, limits)
        shown = sorted(new, key=lambda item: (-new[item], item))
        if new:
            reasons.append(f"new values: {', '.join(repr(v) for v in shown[:5])}{' ...' if len(shown) > 5 else ''}")
        return FeatureDrift(name, "categorical", status, value, new_share=new_share, new_values=shown[:20],
                            reasons=reasons, rows=self.rows)


def _status(value: float, ks: float | None, p_value: float | None, new_share: float | None,
            limits: Thresholds) -> tuple[str, list[str]]:
    drifted, warned = [], []
    if value >= limits.psi_drift:
        drifted.append(f"PSI {value:.3f} >= {limits.psi_drift}")
    elif value >= limits.psi_warn:
        warned.append(f"PSI {value:.3f} >= {limits.psi_warn}")
    if ks is not None and p_value is not None and p_value < limits.ks_p_value:
        if ks >= limits.ks_drift:
            drifted.append(f"KS {ks:.3f} >= {limits.ks_drift} (p={p_value:.2g})")
        elif ks >= limits.ks_warn:
            warned.append(f"KS {ks:.3f} >= {limits.ks_warn} (p={p_value:.2g})")
    if new_share is not None:
        if new_share >= limits.new_category_drift and new_share > 0:
            drifted.append(f"{new_share:.1%} of rows have a value training never saw (>= {limits.new_category_drift:.1%})")
        elif new_share > limits.new_category_warn:
            warned.append(f"{new_share:.2%} of rows have a value training never saw")
    if drifted:
        return DRIFTED, drifted + warned
    return (WARN, warned) if warned else (OK, [])


class DriftCheck:
    """Accumulates a scoring batch chunk by chunk (typed features, and scores), then reports."""

    def __init__(self, profile: dict[str, Any], thresholds: Thresholds) -> None:
        self.profile = profile
        self.thresholds = thresholds
        self.features: dict[str, _Numeric | _Categorical] = {
            name: (_Numeric(ref) if ref["kind"] == "numeric" else _Categorical(ref))
            for name, ref in profile["features"].items()
        }
        self.score = _Numeric(profile["score"])
        self.score_rows = 0

    def add_features(self, typed: pd.DataFrame) -> None:
        for name, state in self.features.items():
            if name not in typed.columns:
                raise ChurnopsError(f"The scoring input has no column {name!r}, which the reference profile has.")
            if isinstance(state, _Numeric):
                state.add(typed[name].to_numpy(dtype="float64", na_value=np.nan))
            else:
                state.add(typed[name])

    def add_scores(self, scores: np.ndarray) -> None:
        self.score.add(scores)
        self.score_rows += len(scores)

    def report(self, model: dict[str, Any] | None = None) -> DriftReport:
        limits = self.thresholds
        results = [state.result(name, "numeric", limits) if isinstance(state, _Numeric) else state.result(name, limits)
                   for name, state in self.features.items()]
        score = self.score.result(SCORE, "score", limits) if self.score_rows else None
        rows = max((item.rows for item in results), default=0)
        checked = results + ([score] if score else [])
        worst = max((VERDICTS.index(item.status) for item in checked), default=0)
        verdict, reasons = VERDICTS[worst], []
        if verdict == DRIFTED and rows < limits.min_rows:
            verdict = WARN
            reasons.append(f"only {rows} rows (< min_rows {limits.min_rows}): too few to call drift")
        drifted = [item.name for item in checked if item.status == DRIFTED]
        warned = [item.name for item in checked if item.status == WARN]
        if drifted:
            reasons.append(f"drifted: {', '.join(drifted)}")
        if warned:
            reasons.append(f"warn: {', '.join(warned)}")
        return DriftReport(verdict, rows, drifted, warned, sorted(results, key=_severity), score,
                           asdict(limits), reasons or ["every feature and the scores within the thresholds"],
                           dict(model or {}))


def _severity(item: FeatureDrift) -> tuple[int, float, str]:
    return (-VERDICTS.index(item.status), -item.psi, item.name)


def _cell(value: float | None, digits: int = 3) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def to_markdown(report: DriftReport) -> str:
    """The report as Markdown (KFP's Markdown visualization)."""
    model = report.model
    lines = [f"# Drift: **{report.verdict}**", "",
             f"{report.rows} rows scored by {model.get('model_name', '?')} v{model.get('model_version', '?')}, "
             "compared with the version's reference profile (training data and holdout scores).", "",
             *[f"- {reason}" for reason in report.reasons], "",
             "| feature | kind | status | PSI | KS | KS p | new values | why |", "|---|---|---|---|---|---|---|---|"]
    for item in ([report.score] if report.score else []) + report.features:
        new = "" if item.new_share is None else f"{item.new_share:.2%}" + (f" ({', '.join(item.new_values[:3])})"
                                                                           if item.new_values else "")
        lines.append(f"| {item.name} | {item.kind} | {item.status} | {_cell(item.psi)} | {_cell(item.ks)} | "
                     f"{_cell(item.ks_p_value, 4)} | {new} | {'; '.join(item.reasons)} |")
    limits = report.thresholds
    lines += ["", f"Rules: drifted when PSI >= {limits['psi_drift']}, KS >= {limits['ks_drift']} (p < {limits['ks_p_value']}) "
              f"or new values >= {limits['new_category_drift']:.0%} of rows; warn at PSI >= {limits['psi_warn']}, "
              f"KS >= {limits['ks_warn']} or any new value; drifted needs >= {limits['min_rows']} rows."]
    return "\n".join(lines) + "\n"


COLOURS = {OK: "#1e7b34", WARN: "#b26a00", DRIFTED: "#b00020"}


def to_html(report: DriftReport) -> str:
    """A self-contained HTML page (no scripts, no external assets): opens anywhere, KFP's HTML viewer too."""
    esc = html.escape
    model = report.model
    rows = []
    for item in ([report.score] if report.score else []) + report.features:
        new = "" if item.new_share is None else f"{item.new_share:.2%} {esc(', '.join(item.new_values[:5]))}"
        rows.append(
            f"<tr><td>{esc(item.name)}</td><td>{item.kind}</td>"
            f"<td style='color:{COLOURS[item.status]};font-weight:bold'>{item.status}</td>"
            f"<td>{_cell(item.psi)}</td><td>{_cell(item.ks)}</td><td>{_cell(item.ks_p_value, 4)}</td>"
            f"<td>{new}</td><td>{esc('; '.join(item.reasons))}</td></tr>")
    limits = report.thresholds
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Drift report: {report.verdict}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}th{{background:#eee}}</style></head>
<body><h1>Drift: <span style="color:{COLOURS[report.verdict]}">{report.verdict}</span></h1>
<p>{report.rows} rows scored by {esc(str(model.get('model_name', '?')))} v{esc(str(model.get('model_version', '?')))},
compared with the version's reference profile (training data and holdout scores).</p>
<ul>{''.join(f'<li>{esc(reason)}</li>' for reason in report.reasons)}</ul>
<table><tr><th>feature</th><th>kind</th><th>status</th><th>PSI</th><th>KS</th><th>KS p</th><th>new values</th><th>why</th></tr>
{''.join(rows)}
</table>
<p>Rules: drifted when PSI &ge; {limits['psi_drift']}, KS &ge; {limits['ks_drift']} (p &lt; {limits['ks_p_value']}) or new values
&ge; {limits['new_category_drift']:.0%} of rows; warn at PSI &ge; {limits['psi_warn']}, KS &ge; {limits['ks_warn']} or any new
value; drifted needs at least {limits['min_rows']} rows. Bins: the reference's deciles plus {MISSING}; categories plus
{OTHER} (never seen in training).</p>
</body></html>
"""
