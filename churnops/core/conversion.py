"""Compile a fitted churn pipeline to ONNX, and check the compiled form against scikit-learn.

The graph is written here, one converter per pipeline step, with the onnx package's helpers (no
generic converter: skl2onnx 1.20 writes the imputer with the float32-only ai.onnx.ml Imputer and
trees with TreeEnsembleClassifier, whose output is float32; and its ColumnTransformer concatenates
the string columns into one tensor to split them again, two thirds of its run time on our
pipeline). Every value is double from the inputs to the output:

- NumericCoercer and CategoryText (churnops' own steps): their work (text -> float, None ->
  "missing") is done where the typed columns are built (churnops.core.scoring for numbers,
  churnops.core.compiled.category_tensor for categories); in the graph they pass values on.
- SimpleImputer(median): Where(IsNaN(x), medians, x). StandardScaler: Sub(mean), Div(scale), as
  scikit-learn computes it. OneHotEncoder(handle_unknown="ignore"): ai.onnx.ml OneHotEncoder per
  column (an unseen category is all zeros).
- Logistic regression: MatMul + Add + Sigmoid (scikit-learn: expit(X @ coef.T + intercept)).
- Random forest and hist gradient boosting: ai.onnx.ml 5 TreeEnsemble, double splits and leaf
  weights, summed in scikit-learn's order. A forest's trees compare float32 features
  (scikit-learn casts X to float32 before walking them), so its input is cast to float and back
  first: the same comparisons, not merely close ones.
A step without a converter here (a family added later) raises NotImplementedError: the model is
then logged without a compiled form and served by scikit-learn, saying so.

`compile_checked` is the parity gate at training time: the compiled form must give the same
decisions and probabilities within PARITY_TOLERANCE on the holdout and on edge rows (blank
numbers and categories, unseen categories, extreme numbers), or the model is logged without it.
"""

from __future__ import annotations

import importlib.metadata
from typing import Any, Callable

import numpy as np
import pandas as pd

from churnops.core.compiled import FORM_COMPILED, FORM_SKLEARN, MAIN_OPSET, ML_OPSET, PROBABILITY_OUTPUT, CompiledModel
from churnops.core.features import CategoryText, FeatureSpec, NumericCoercer

# Largest |compiled - scikit-learn| probability accepted. Double precision end to end leaves
# differences of a few 1e-16 (summation order, exp); anything in float32 (a threshold, a leaf
# weight, the output) moves probabilities by 1e-8 or more, and one split decided differently by
# 1e-4 or more. 1e-9 separates the two by orders of magnitude either way, and stays 1000x below
# the 1e-6 resolution of a reported probability (PROBABILITY_DECIMALS).
PARITY_TOLERANCE = 1e-9
# What edge rows put in each numeric column (one row per column and value, the rest a holdout row).
EXTREME_NUMBERS = (0.0, -0.0, -1.0, 5e-324, 1e-300, 1e9, -1e9, 1e30, -1e30, 1e300, -1e300, 1.7976931348623157e308)
UNSEEN_CATEGORY = "churnops: a category never seen in training"
# The ONNX IR version written (onnxruntime 1.32 reads IR <= 11; 10 is what opset 21 came with).
IR_VERSION = 10


class Graph:
    """The nodes and constants of the graph being written; names are unique by a counter."""

    def __init__(self) -> None:
        self.nodes: list = []
        self.initializers: list = []
        self._count = 0

    def name(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}_{self._count}"

    def constant(self, prefix: str, values: np.ndarray) -> str:
        from onnx import numpy_helper

        name = self.name(prefix)
        self.initializers.append(numpy_helper.from_array(np.asarray(values), name))
        return name

    def node(self, op: str, inputs: list[str], domain: str = "", **attributes) -> str:
        from onnx import helper

        output = self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, domain=domain, **attributes))
        return output


# ---- converters: each takes the graph and the step's input, returns its output ------------------
# Numbers travel as one double tensor [rows, columns]; categories as a list of string tensors [rows, 1].

def _passes_on(graph: Graph, step, value):
    return value


def _imputer(graph: Graph, imputer, value: str) -> str:
    statistics = np.asarray(imputer.statistics_, dtype=np.float64)
    missing = imputer.missing_values
    if imputer.strategy != "median" or np.isnan(statistics).any() or not (isinstance(missing, float) and missing != missing):
        raise NotImplementedError(f"SimpleImputer(strategy={imputer.strategy!r}) that drops or fills other values")
    return graph.node("Where", [graph.node("IsNaN", [value]), graph.constant("medians", statistics.reshape(1, -1)), value])


def _scaler(graph: Graph, scaler, value: str) -> str:
    if scaler.with_mean:
        value = graph.node("Sub", [value, graph.constant("mean", np.asarray(scaler.mean_, dtype=np.float64).reshape(1, -1))])
    if scaler.with_std:
        value = graph.node("Div", [value, graph.constant("scale", np.asarray(scaler.scale_, dtype=np.float64).reshape(1, -1))])
    return value


def _one_hot(graph: Graph, encoder, columns: list[str]) -> str:
    from onnx import TensorProto

    if encoder.drop_idx_ is not None or getattr(encoder, "_infrequent_enabled", False) or encoder.handle_unknown != "ignore":
        raise NotImplementedError("OneHotEncoder with drop, infrequent categories or handle_unknown other than 'ignore'")
    encoded = []
    for column, categories in zip(columns, encoder.categories_, strict=True):
        if not all(isinstance(category, str) for category in categories):
            raise NotImplementedError("OneHotEncoder over categories that are not text")
        hot = graph.node("OneHotEncoder", [column], domain="ai.onnx.ml", cats_strings=[str(c) for c in categories], zeros=1)
        encoded.append(graph.node("Reshape", [hot, graph.constant("shape", np.array([-1, len(categories)], dtype=np.int64))]))
    joined = encoded[0] if len(encoded) == 1 else graph.node("Concat", encoded, axis=1)
    return graph.node("Cast", [joined], to=TensorProto.DOUBLE)


def _logistic_regression(graph: Graph, model, features: str) -> str:
    _check_binary(model)
    weights = graph.constant("coef", np.asarray(model.coef_, dtype=np.float64).T)
    raw = graph.node("Add", [graph.node("MatMul", [features, weights]),
                             graph.constant("intercept", np.asarray(model.intercept_, dtype=np.float64))])
    return graph.node("Sigmoid", [raw])


def _sklearn_tree(tree) -> dict[str, np.ndarray]:
    """A scikit-learn tree_: children (-1 at a leaf), split, P(class 1) at the leaf, where NaN goes."""
    return {"left": tree.children_left.astype(np.int64), "right": tree.children_right.astype(np.int64),
            "feature": tree.feature, "threshold": tree.threshold, "weight": tree.value[:, 0, 1],
            "missing_left": getattr(tree, "missing_go_to_left", np.zeros(tree.node_count, dtype=np.uint8))}


def _hist_tree(predictor) -> dict[str, np.ndarray]:
    nodes = predictor.nodes
    if nodes["is_categorical"].any():
        raise NotImplementedError("hist gradient boosting with categorical splits")
    leaf = nodes["is_leaf"].astype(bool)
    return {"left": np.where(leaf, -1, nodes["left"].astype(np.int64)),
            "right": np.where(leaf, -1, nodes["right"].astype(np.int64)),
            "feature": nodes["feature_idx"], "threshold": nodes["num_threshold"], "weight": nodes["value"],
            "missing_left": nodes["missing_go_to_left"]}


def _constant_tree(weight: float) -> dict[str, np.ndarray]:
    """One leaf (hist gradient boosting's baseline, summed first: scikit-learn starts from it)."""
    return {"left": np.array([-1]), "right": np.array([-1]), "feature": np.array([0]), "threshold": np.array([0.0]),
            "weight": np.array([weight], dtype=np.float64), "missing_left": np.array([0])}


def _tree_ensemble(graph: Graph, features: str, trees: list[dict[str, np.ndarray]], average: bool) -> str:
    """ai.onnx.ml 5 TreeEnsemble: interior nodes in `nodes_*`, leaves in `leaf_*`, x <= split goes true (left)."""
    from onnx import numpy_helper

    columns: dict[str, list] = {key: [] for key in ("feature", "split", "true", "true_leaf", "false", "false_leaf", "nan_true")}
    roots: list[int] = []
    weights: list[float] = []
    for tree in trees:
        left, right = tree["left"], tree["right"]
        interior = np.flatnonzero(left != -1)
        leaves = np.flatnonzero(left == -1)
        node_index = {int(node): len(columns["feature"]) + position for position, node in enumerate(interior)}
        leaf_index = {int(node): len(weights) + position for position, node in enumerate(leaves)}
        weights.extend(float(tree["weight"][node]) for node in leaves)
        roots.append(len(columns["feature"]))
        if not len(interior):  # a single leaf: one node whose both branches are that leaf
            for key, value in (("feature", 0), ("split", 0.0), ("true", leaf_index[0]), ("true_leaf", 1),
                               ("false", leaf_index[0]), ("false_leaf", 1), ("nan_true", 0)):
                columns[key].append(value)
            continue
        for node in interior:  # interior[0] is node 0, the root
            for child, side in ((int(left[node]), "true"), (int(right[node]), "false")):
                columns[side].append(leaf_index[child] if child in leaf_index else node_index[child])
                columns[f"{side}_leaf"].append(int(child in leaf_index))
            columns["feature"].append(int(tree["feature"][node]))
            columns["split"].append(float(tree["threshold"][node]))
            columns["nan_true"].append(int(tree["missing_left"][node]))
    return graph.node(
        "TreeEnsemble", [features], domain="ai.onnx.ml", n_targets=1, aggregate_function=0 if average else 1,
        post_transform=0, tree_roots=roots, nodes_featureids=columns["feature"],
        nodes_modes=numpy_helper.from_array(np.zeros(len(columns["feature"]), dtype=np.uint8)),
        nodes_splits=numpy_helper.from_array(np.asarray(columns["split"], dtype=np.float64)),
        nodes_truenodeids=columns["true"], nodes_trueleafs=columns["true_leaf"],
        nodes_falsenodeids=columns["false"], nodes_falseleafs=columns["false_leaf"],
        nodes_missing_value_tracks_true=columns["nan_true"], leaf_targetids=[0] * len(weights),
        leaf_weights=numpy_helper.from_array(np.asarray(weights, dtype=np.float64)),
    )


def _random_forest(graph: Graph, forest, features: str) -> str:
    from onnx import TensorProto

    _check_binary(forest)
    if forest.n_outputs_ != 1:
        raise NotImplementedError("a multi-output forest")
    # scikit-learn walks a tree with X as float32 (DecisionTreeClassifier._validate_X_predict) and
    # compares it with float64 thresholds: the same cast here, then the double thresholds.
    as_float32 = graph.node("Cast", [graph.node("Cast", [features], to=TensorProto.FLOAT)], to=TensorProto.DOUBLE)
    # AVERAGE: the sum in tree order, then / n_trees, as predict_proba accumulates and divides.
    return _tree_ensemble(graph, as_float32, [_sklearn_tree(tree.tree_) for tree in forest.estimators_], average=True)


def _hist_gradient_boosting(graph: Graph, model, features: str) -> str:
    _check_binary(model)
    if model.n_trees_per_iteration_ != 1:
        raise NotImplementedError("hist gradient boosting with more than one tree per iteration")
    trees = [_constant_tree(float(np.ravel(model._baseline_prediction)[0]))]
    trees += [_hist_tree(predictors[0]) for predictors in model._predictors]
    return graph.node("Sigmoid", [_tree_ensemble(graph, features, trees, average=False)])  # the binomial loss's expit


def _check_binary(classifier) -> None:
    if len(classifier.classes_) != 2:
        raise NotImplementedError(f"{type(classifier).__name__} with {len(classifier.classes_)} classes")


def converters() -> dict[type, Callable]:
    """Pipeline step type -> its converter (scikit-learn is imported here, not at module import)."""
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    return {NumericCoercer: _passes_on, CategoryText: _passes_on, SimpleImputer: _imputer, StandardScaler: _scaler,
            OneHotEncoder: _one_hot, LogisticRegression: _logistic_regression, RandomForestClassifier: _random_forest,
            HistGradientBoostingClassifier: _hist_gradient_boosting}


def _convert(graph: Graph, step, value, table: dict[type, Callable]):
    converter = table.get(type(step))
    if converter is None:
        raise NotImplementedError(f"no converter for {type(step).__name__}")
    return converter(graph, step, value)


def _preprocess(graph: Graph, transformer, spec: FeatureSpec, table: dict[type, Callable]) -> str:
    """The ColumnTransformer: each transformer on its columns, outputs side by side in its order."""
    if type(transformer).__name__ != "ColumnTransformer":
        raise NotImplementedError(f"no converter for a {type(transformer).__name__} before the estimator")
    outputs = []
    for _, steps, columns in transformer.transformers_:
        if isinstance(steps, str) or not len(columns):  # "drop" (the remainder), or no columns of that kind
            if steps not in ("drop",) and len(columns):
                raise NotImplementedError(f"a ColumnTransformer remainder {steps!r}")
            continue
        columns = list(columns)
        if set(columns) <= set(spec.numeric):
            value = columns[0] if len(columns) == 1 else graph.node("Concat", columns, axis=1)
        elif set(columns) <= set(spec.categorical):
            value = columns
        else:
            raise NotImplementedError(f"a transformer over numeric and category columns at once: {columns}")
        for step in (steps.named_steps.values() if hasattr(steps, "named_steps") else [steps]):
            value = _convert(graph, step, value, table)
        outputs.append(value)
    return outputs[0] if len(outputs) == 1 else graph.node("Concat", outputs, axis=1)


def to_onnx(pipeline, spec: FeatureSpec) -> bytes:
    """The fitted pipeline as an ONNX graph: one input per feature column (double or string, [rows, 1]),
    PROBABILITY_OUTPUT [rows, 2] (double) out."""
    import onnx
    from onnx import TensorProto, helper

    table = converters()
    graph = Graph()
    (_, preprocess), (_, classifier) = pipeline.steps
    churn = _convert(graph, classifier, _preprocess(graph, preprocess, spec, table), table)
    stay = graph.node("Sub", [graph.constant("one", np.array(1.0)), churn])
    graph.nodes.append(helper.make_node("Concat", [stay, churn], [PROBABILITY_OUTPUT], axis=1, name=PROBABILITY_OUTPUT))
    inputs = [helper.make_tensor_value_info(name, TensorProto.DOUBLE, [None, 1]) for name in spec.numeric]
    inputs += [helper.make_tensor_value_info(name, TensorProto.STRING, [None, 1]) for name in spec.categorical]
    output = helper.make_tensor_value_info(PROBABILITY_OUTPUT, TensorProto.DOUBLE, [None, 2])
    model = helper.make_model(helper.make_graph(graph.nodes, "churn_model", inputs, [output], graph.initializers),
                              opset_imports=[helper.make_opsetid("", MAIN_OPSET), helper.make_opsetid("ai.onnx.ml", ML_OPSET)],
                              producer_name="churnops")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)  # types and shapes, before anything runs it
    return model.SerializeToString()


# ---- the parity gate ----------------------------------------------------------------------------

def edge_rows(base: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """Typed rows a user may send that a holdout rarely has: every number blank and every category
    missing, unseen and blank categories, and each numeric column at EXTREME_NUMBERS (the rest `base`'s first row)."""
    first = base[spec.features].iloc[[0]].reset_index(drop=True)
    rows = [first.assign(**{name: np.nan for name in spec.numeric}, **{name: None for name in spec.categorical}),
            first.assign(**{name: UNSEEN_CATEGORY for name in spec.categorical}),
            first.assign(**{name: "" for name in spec.categorical})]
    rows += [first.assign(**{name: value}) for name in spec.numeric for value in EXTREME_NUMBERS]
    frame = pd.concat(rows, ignore_index=True)
    for name in spec.numeric:
        frame[name] = frame[name].astype("float64")
    for name in spec.categorical:
        frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
    return frame


def _sklearn_answers(pipeline, typed: pd.DataFrame) -> np.ndarray:
    """scikit-learn's P(churn) per row, NaN where it refuses the row (a forest refuses a scaled number
    beyond float32's range: "Input X contains infinity or a value too large for dtype('float32')")."""
    try:
        return pipeline.predict_proba(typed)[:, 1]
    except ValueError:
        answers = np.full(len(typed), np.nan)
        for position in range(len(typed)):
            try:
                answers[position] = pipeline.predict_proba(typed.iloc[[position]])[0, 1]
            except ValueError:
                pass
        return answers


def parity(pipeline, compiled: CompiledModel, holdout: pd.DataFrame, spec: FeatureSpec,
           decision_threshold: float, tolerance: float = PARITY_TOLERANCE) -> dict[str, Any]:
    """Compare the compiled form with the pipeline on the holdout and the edge rows built from it."""
    edges = edge_rows(holdout, spec)
    report: dict[str, Any] = {"tolerance": tolerance, "holdout_rows": len(holdout), "edge_rows": len(edges)}
    problems = []
    for label, typed in (("holdout", holdout[spec.features]), ("edge rows", edges)):
        expected = _sklearn_answers(pipeline, typed)
        answered = compiled.churn_probability(typed)
        compared = ~np.isnan(expected)
        difference = np.abs(answered[compared] - expected[compared])
        largest = float(difference.max()) if difference.size else 0.0
        flipped = int(((answered[compared] >= decision_threshold) != (expected[compared] >= decision_threshold)).sum())
        key = label.replace(" ", "_")
        report[f"{key}_max_difference"] = largest
        report[f"{key}_decisions_differ"] = flipped
        report[f"{key}_refused_by_sklearn"] = int((~compared).sum())
        if not np.isfinite(answered[compared]).all() or largest > tolerance or flipped:
            problems.append(f"on the {label} the largest probability difference is {largest:.3g} "
                            f"(tolerance {tolerance:g}) and {flipped} decision(s) differ")
    report["passed"] = not problems
    report["reason"] = "; ".join(problems)
    return report


def versions() -> dict[str, str]:
    """What built and what runs the compiled form (recorded with the model)."""
    return {package: importlib.metadata.version(package) for package in ("onnx", "onnxruntime")}


def compile_checked(pipeline, spec: FeatureSpec, holdout: pd.DataFrame,
                    decision_threshold: float) -> tuple[bytes | None, dict[str, Any]]:
    """(the ONNX graph or None, the record of why): the graph only when it passed the parity gate.

    `holdout`: typed rows the pipeline did not train on (the training split's holdout).
    """
    record: dict[str, Any] = {"opset": MAIN_OPSET, "ml_opset": ML_OPSET, **versions()}
    try:
        graph = to_onnx(pipeline, spec)
        compiled = CompiledModel(graph, spec.numeric, spec.categorical)
        record.update(parity(pipeline, compiled, holdout, spec, decision_threshold))
    except Exception as exc:  # noqa: BLE001 - no compiled form is a supported outcome, said and recorded
        text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        record.update(passed=False, reason=f"the pipeline could not be compiled: {type(exc).__name__}: {text}")
    record["form"] = FORM_COMPILED if record["passed"] else FORM_SKLEARN
    return (graph if record["passed"] else None), record
