"""Successive halving over row budgets: the rounds, who survives, and the budget's checks."""

from __future__ import annotations

import pytest

from churnops import defaults
from churnops.core import halving

BUDGET = {"strategy": "halving", "factor": 3, "max_rows": 50_000, "min_rows": 2_000}


@pytest.mark.parametrize("rows", [5_634, 56_000, 560_000])
def test_every_family_ends_on_the_same_row_budget_whatever_its_grid_size(rows):
    # Families are scored in separate tasks and compared afterwards: their last rounds must match.
    finals = {halving.schedule(n, rows, BUDGET)[-1][0] for n in (1, 2, 3, 7)}
    assert finals == {min(rows, 50_000)}
    if rows >= 3 * 3 * 2_000:  # rows enough for every round: one survivor per family
        assert {halving.schedule(n, rows, BUDGET)[-1][1] for n in (1, 2, 3, 7)} == {1}


def test_rounds_shrink_the_settings_and_grow_the_rows_by_the_factor():
    assert halving.schedule(7, 560_000, BUDGET) == [(5_555, 7), (16_666, 3), (50_000, 1)]
    assert halving.schedule(3, 5_634, {**BUDGET, "min_rows": 500}) == [(1_878, 3), (5_634, 1)]
    # max_rows 0: the last round uses every row of the split.
    assert halving.schedule(2, 560_000, {**BUDGET, "max_rows": 0}) == [(186_666, 2), (560_000, 1)]


def test_no_round_ranks_on_fewer_than_min_rows_the_first_rounds_are_left_out():
    # 7 settings want 3 rounds; 12,000 rows afford 2 (4,000 >= 2,000; 1,333 < 2,000): the last keeps 3.
    assert halving.schedule(7, 12_000, BUDGET) == [(4_000, 7), (12_000, 3)]
    # The 7k-row Telco split (5,634 training rows): 1,878 < 2,000, so every setting on every row.
    assert halving.schedule(3, 5_634, BUDGET) == [(5_634, 3)]
    assert halving.schedule(3, 400, BUDGET) == [(400, 3)]  # fewer rows than min_rows: one round on all


def test_exhaustive_scores_every_setting_on_the_final_budget():
    assert halving.schedule(7, 560_000, {**BUDGET, "strategy": "exhaustive"}) == [(50_000, 7)]
    assert halving.schedule(7, 560_000, {"strategy": "exhaustive", "max_rows": 0}) == [(560_000, 7)]


def test_survivors_are_the_best_in_their_original_order_and_ties_go_to_the_simpler():
    scores = [{"name": "a", "cv_roc_auc": 0.80}, {"name": "b", "cv_roc_auc": 0.85},
              {"name": "c", "cv_roc_auc": 0.85}, {"name": "d", "cv_roc_auc": 0.90}]
    assert [s["name"] for s in halving.survivors(scores, 2)] == ["b", "d"]
    assert [s["name"] for s in halving.survivors(scores, 1)] == ["d"]


def test_a_setting_that_failed_to_score_never_survives():
    scores = [{"name": "a", "cv_roc_auc": float("nan")}, {"name": "b", "cv_roc_auc": None},
              {"name": "c", "cv_roc_auc": 0.6}]
    assert [s["name"] for s in halving.survivors(scores, 2)] == ["c"]


def test_the_default_budget_is_valid():
    assert halving.budget_problems(defaults.SEARCH_BUDGET) == []


@pytest.mark.parametrize(("budget", "needle"), [
    ({"strategy": "grid"}, "strategy 'grid' is unknown; choose one of ['halving', 'exhaustive']"),
    ({"factor": 1}, "factor must be a whole number >= 2"),
    ({"max_rows": -5}, "max_rows must be a whole number >= 0 (0: every row"),
    ({"min_rows": 0.5}, "min_rows must be a whole number >= 1"),
    ({"rows": 10}, "unknown key(s) ['rows']"),
    ([1, 2], "search_budget must be an object"),
])
def test_a_bad_budget_is_named_with_what_is_accepted(budget, needle):
    assert any(needle in problem for problem in halving.budget_problems(budget)), halving.budget_problems(budget)


def test_a_budget_through_a_kfp_parameter_reads_the_same():
    assert halving.normalise_budget({"max_rows": 50000.0, "factor": 3.0, "strategy": "halving"}) == {
        "factor": 3, "max_rows": 50000, "strategy": "halving"}
