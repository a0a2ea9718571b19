"""The compiled form (churnops.core.conversion + compiled): equal to the scikit-learn pipeline, or refused.

Each model family the search can choose is fitted on the synthetic Telco-schema data (and the messy
other-schema set: blanks, an id column, a 0/1-free target) and compiled; the parity gate must pass
with the probabilities equal to 1e-15 (a forest: exactly). Then converters are broken on purpose
and the gate must refuse the compiled form, naming why. ~25 s.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from onnx import TensorProto

from churnops.core import conversion
from churnops.core.compiled import FORM_COMPILED, FORM_SKLEARN, CompiledModel, category_tensor
from churnops.core.data import split_dataset
from churnops.core.estimators import ESTIMATORS
from churnops.core.features import CategoryText, FeatureSpec
from churnops.core.fitting import fit_model, typed_features

SMALL = {"logistic_regression": {}, "random_forest": {"n_estimators": 30, "min_samples_leaf": 5},
         "hist_gradient_boosting": {"max_iter": 40, "max_depth": 4}}


@pytest.fixture(scope="module")
def synthetic_split(synthetic_csv):
    frame = pd.read_csv(synthetic_csv, dtype=str, keep_default_na=False, na_values=[""])
    return split_dataset(frame.head(3000), "Churn", 0.3)


@pytest.fixture(scope="module")
def fitted(synthetic_split):
    return {family: fit_model(synthetic_split.x_train, synthetic_split.y_train, family, SMALL[family]) for family in SMALL}


def holdout(split, model):
    return typed_features(split.x_test, model.spec)


def test_every_family_the_search_can_choose_has_a_converter():
    assert set(SMALL) == set(ESTIMATORS)  # a new family needs a converter (or is served by scikit-learn, saying so)


@pytest.mark.parametrize("family", sorted(SMALL))
def test_the_compiled_form_equals_the_pipeline_on_holdout_and_edge_rows(fitted, synthetic_split, family):
    model = fitted[family]
    graph, record = conversion.compile_checked(model.pipeline, model.spec, holdout(synthetic_split, model), 0.5)
    assert graph is not None and record["form"] == FORM_COMPILED and record["passed"], record
    assert record["holdout_rows"] == len(synthetic_split.x_test) and record["edge_rows"] >= 40
    assert record["holdout_max_difference"] <= 1e-15 and record["edge_rows_max_difference"] <= 1e-15, record
    compiled = CompiledModel(graph, model.spec.numeric, model.spec.categorical)
    rows = conversion.edge_rows(holdout(synthetic_split, model), model.spec)
    answered = compiled.churn_probability(rows)
    assert np.isfinite(answered).all() and ((answered >= 0) & (answered <= 1)).all()
    if family == "random_forest":  # float32 features, double thresholds and leaves, tree order: identical
        expected = model.pipeline.predict_proba(holdout(synthetic_split, model))[:, 1]
        assert np.array_equal(compiled.churn_probability(holdout(synthetic_split, model)), expected)


def test_other_schemas_compile_too(make_churn_dataset):
    frame, target = make_churn_dataset("messy", 800)
    split = split_dataset(frame.astype(object).where(frame.notna(), None), target, 0.25)
    model = fit_model(split.x_train, split.y_train, "random_forest", SMALL["random_forest"])
    graph, record = conversion.compile_checked(model.pipeline, model.spec, typed_features(split.x_test, model.spec), 0.5)
    assert record["passed"], record
    assert record["edge_rows_refused_by_sklearn"] > 0  # 1e300 scaled is beyond float32: scikit-learn raises there


ORIGINAL_TREES = conversion._tree_ensemble


def _wrong_fill_imputer(graph, imputer, value):
    """Fills blanks with 1.0 instead of the medians (only rows with a blank number can tell)."""
    ones = np.ones((1, len(imputer.statistics_)))
    return graph.node("Where", [graph.node("IsNaN", [value]), graph.constant("ones", ones), value])


def _float32_thresholds(graph, forest, features):
    """skl2onnx's float path: the splits rounded to float32 (a training value equal to a rounded split flips)."""
    trees = [conversion._sklearn_tree(tree.tree_) for tree in forest.estimators_]
    for tree in trees:
        tree["threshold"] = tree["threshold"].astype(np.float32).astype(np.float64)
    as_float32 = graph.node("Cast", [graph.node("Cast", [features], to=TensorProto.FLOAT)], to=TensorProto.DOUBLE)
    return ORIGINAL_TREES(graph, as_float32, trees, True)


def _strict_one_hot(graph, encoder, columns):
    """zeros=0: an unseen category is an error instead of all zeros."""
    encoded = [graph.node("Reshape", [graph.node("OneHotEncoder", [column], domain="ai.onnx.ml",
                                                  cats_strings=[str(c) for c in categories], zeros=0),
                                      graph.constant("shape", np.array([-1, len(categories)], dtype=np.int64))])
               for column, categories in zip(columns, encoder.categories_, strict=True)]
    return graph.node("Cast", [graph.node("Concat", encoded, axis=1)], to=TensorProto.DOUBLE)


def _float32_scaler(graph, scaler, value):
    value = graph.node("Cast", [value], to=TensorProto.FLOAT)
    value = graph.node("Sub", [value, graph.constant("mean", np.asarray(scaler.mean_, np.float32).reshape(1, -1))])
    value = graph.node("Div", [value, graph.constant("scale", np.asarray(scaler.scale_, np.float32).reshape(1, -1))])
    return graph.node("Cast", [value], to=TensorProto.DOUBLE)


BROKEN = [  # (family, step whose converter is replaced, the broken converter, what the gate says)
    ("random_forest", "RandomForestClassifier", _float32_thresholds, "on the holdout"),
    ("random_forest", "SimpleImputer", _wrong_fill_imputer, "on the edge rows"),
    ("hist_gradient_boosting", "SimpleImputer", _wrong_fill_imputer, "on the edge rows"),
    ("random_forest", "OneHotEncoder", _strict_one_hot, "could not be compiled"),
    ("logistic_regression", "StandardScaler", _float32_scaler, "largest probability difference"),
    ("hist_gradient_boosting", "OneHotEncoder", _strict_one_hot, "could not be compiled"),
]


@pytest.mark.parametrize(("family", "step", "broken", "said"), BROKEN, ids=[f"{f}-{s}-{b.__name__}" for f, s, b, _ in BROKEN])
def test_a_converter_broken_on_purpose_is_refused_by_the_gate(fitted, synthetic_split, monkeypatch, family, step,
                                                              broken, said):
    table = {kind: converter for kind, converter in conversion.converters().items() if kind.__name__ != step}
    table.update({kind: broken for kind in conversion.converters() if kind.__name__ == step})
    monkeypatch.setattr(conversion, "converters", lambda: table)
    model = fitted[family]
    graph, record = conversion.compile_checked(model.pipeline, model.spec, holdout(synthetic_split, model), 0.5)
    assert graph is None and record["form"] == FORM_SKLEARN and not record["passed"]
    assert said in record["reason"], record["reason"]


def test_a_step_without_a_converter_is_served_by_sklearn_saying_why(fitted, synthetic_split):
    from sklearn.pipeline import Pipeline
    from sklearn.svm import SVC

    model = fitted["logistic_regression"]
    pipeline = Pipeline([model.pipeline.steps[0], ("classifier", SVC(probability=True, random_state=0))])
    pipeline.fit(typed_features(synthetic_split.x_train, model.spec), synthetic_split.y_train)
    graph, record = conversion.compile_checked(pipeline, model.spec, holdout(synthetic_split, model), 0.5)
    assert graph is None and record["form"] == FORM_SKLEARN
    assert record["reason"] == "the pipeline could not be compiled: NotImplementedError: no converter for SVC"


def test_edge_rows_hold_blanks_unseen_categories_and_extreme_numbers(fitted, synthetic_split):
    spec = fitted["random_forest"].spec
    rows = conversion.edge_rows(holdout(synthetic_split, fitted["random_forest"]), spec)
    assert rows[spec.numeric].isna().all(axis=1).any() and rows[spec.categorical].isna().all(axis=1).any()
    assert (rows[spec.categorical] == conversion.UNSEEN_CATEGORY).all(axis=1).any()
    for column in spec.numeric:
        assert set(conversion.EXTREME_NUMBERS) <= set(rows[column])


@pytest.mark.parametrize("values", [
    ["Yes", None, np.nan, pd.NA, "", " ", "missing"],
    [1, 2.5, True, "x", None],
])
def test_category_tensor_is_category_text(values):
    expected = CategoryText().fit(pd.DataFrame({"c": values})).transform(pd.DataFrame({"c": values}))
    assert category_tensor(np.array(values, dtype=object)).ravel().tolist() == expected.ravel().tolist()


def test_feature_spec_columns_with_any_name_are_graph_inputs(make_churn_dataset):
    frame, target = make_churn_dataset("numeric_only", 400)
    frame = frame.rename(columns={"x0": "Total Charges ($)", "x1": "a.b/c", "x2": "Ünïcode"})
    frame["plan name"] = np.where(frame["x3"] > 0, "a", "b")
    split = split_dataset(frame.astype(str), target, 0.25)
    model = fit_model(split.x_train, split.y_train, "logistic_regression", {})
    assert isinstance(model.spec, FeatureSpec) and "Total Charges ($)" in model.spec.numeric
    _, record = conversion.compile_checked(model.pipeline, model.spec, typed_features(split.x_test, model.spec), 0.5)
    assert record["passed"], record
