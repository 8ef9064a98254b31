#!/usr/bin/env python3
"""Writes test/fixtures/performance/reference.json: seeded predictions, actuals and realised returns with the
metrics the real libraries compute from them, the reference that src/monitoring/performance's
batchPerformance and PerformanceTracker are tested against (1e-12 relative).

Classifier metrics come from scikit-learn (accuracy_score; precision_recall_fscore_support with
labels = the model's classes and zero_division=0, per class and macro); regressor metrics from
mean_absolute_error and the square root of mean_squared_error, directional accuracy from numpy.sign. The
sign-following strategy's equity metrics (hit rate, cumulative return, max drawdown, per-label Sharpe) are
computed with numpy as defined in performance-metrics.ts.

Usage: /usr/bin/python3 scripts/make-performance-reference.py [out.json]
Needs Debian's python3-sklearn and python3-numpy (apt-get install -y python3-sklearn python3-numpy).
Deterministic: fixed seeds, so an unchanged rerun rewrites the same file.
"""

import json
import os
import sys

import numpy as np
import sklearn
from sklearn.metrics import (
    accuracy_score,
    mean_absolute_error,
    mean_squared_error,
    precision_recall_fscore_support,
)


def positions_of_classes(predicted, classes):
    """+1 for the up class, -1 for the down class, 0 otherwise (the rule of performance-metrics.ts)."""
    if len(classes) == 2 and set(classes) == {"down", "up"}:
        up, down = "up", "down"
    else:
        up, down = classes[-1], classes[0]
    return np.array([1.0 if p == up else -1.0 if p == down else 0.0 for p in predicted])


def equity_metrics(positions, returns):
    x = positions * returns
    equity = np.cumprod(1.0 + x)
    curve = np.concatenate([[1.0], equity])
    peak = np.maximum.accumulate(curve)
    drawdown = 1.0 - curve / peak
    traded = positions != 0
    std = x.std()
    return {
        "hit_rate": float(np.mean(x[traded] > 0)) if traded.any() else 0.0,
        "cumulative_return": float(equity[-1] - 1.0),
        "max_drawdown": float(drawdown.max()),
        "sharpe": float(x.mean() / std) if std > 0 else 0.0,
    }


def classifier_case(name, seed, n, classes, accuracy, flat_band=0.0, predict_never=()):
    rng = np.random.default_rng(seed)
    returns = rng.normal(0.0, 0.01, n)
    returns[rng.random(n) < 0.02] = 0.0  # unchanged closes: the down side of "up when close[t+h] > close[t]"
    if len(classes) == 2:
        actual = [classes[-1] if r > 0 else classes[0] for r in returns]
    else:
        actual = [
            classes[-1] if r > flat_band else classes[0] if r <= -flat_band else classes[1] for r in returns
        ]
    allowed = [c for c in classes if c not in predict_never]
    predicted = [
        a if (rng.random() < accuracy and a in allowed) else allowed[rng.integers(len(allowed))] for a in actual
    ]
    accuracy_value = accuracy_score(actual, predicted)
    precision, recall, f1, _ = precision_recall_fscore_support(
        actual, predicted, labels=classes, zero_division=0
    )
    macro_p, macro_r, macro_f1, _ = precision_recall_fscore_support(
        actual, predicted, labels=classes, average="macro", zero_division=0
    )
    expected = {"accuracy": float(accuracy_value)}
    for i, c in enumerate(classes):
        expected[f"precision_{c}"] = float(precision[i])
        expected[f"recall_{c}"] = float(recall[i])
        expected[f"f1_{c}"] = float(f1[i])
    expected["macro_precision"] = float(macro_p)
    expected["macro_recall"] = float(macro_r)
    expected["macro_f1"] = float(macro_f1)
    expected.update(equity_metrics(positions_of_classes(predicted, classes), returns))
    return {
        "name": name,
        "kind": "classifier",
        "classes": classes,
        "labels": [
            {"predicted": p, "actual": a, "realisedReturn": float(r)} for p, a, r in zip(predicted, actual, returns)
        ],
        "expected": expected,
    }


def regressor_case(name, seed, n, unit, zero_share=0.05):
    rng = np.random.default_rng(seed)
    returns = rng.normal(0.0, 0.01, n)
    returns[rng.random(n) < 0.02] = 0.0
    predicted_return = 0.3 * returns + rng.normal(0.0, 0.008, n)
    predicted_return[rng.random(n) < zero_share] = 0.0  # flat predictions: position 0, sign 0
    actual = returns * unit
    predicted = predicted_return * unit
    expected = {
        "mae": float(mean_absolute_error(actual, predicted)),
        "rmse": float(np.sqrt(mean_squared_error(actual, predicted))),
        "directional_accuracy": float(np.mean(np.sign(predicted) == np.sign(actual))),
    }
    expected.update(equity_metrics(np.sign(predicted), returns))
    return {
        "name": name,
        "kind": "regressor",
        "labels": [
            {"predicted": float(p), "actual": float(a), "realisedReturn": float(r)}
            for p, a, r in zip(predicted, actual, returns)
        ],
        "expected": expected,
    }


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "test", "fixtures", "performance", "reference.json")
    cases = [
        classifier_case("binary down/up, 500 labels", 1, 500, ["down", "up"], 0.15),
        classifier_case("binary up/down in reverse order, 257 labels", 2, 257, ["up", "down"], 0.4),
        classifier_case("three classes, one never predicted", 3, 300, ["down", "flat", "up"], 0.3, 0.004, ("flat",)),
        classifier_case("three classes, unnamed", 4, 129, ["sell", "hold", "buy"], 0.5, 0.006),
        classifier_case("binary, 7 labels", 5, 7, ["down", "up"], 0.5),
        regressor_case("return, 500 labels", 11, 500, 1.0),
        regressor_case("return_percent, 333 labels", 12, 333, 100.0, 0.2),
        regressor_case("return, 9 labels", 13, 9, 1.0),
    ]
    document = {
        "generator": "scripts/make-performance-reference.py",
        "versions": {"sklearn": sklearn.__version__, "numpy": np.__version__},
        "cases": cases,
    }
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        json.dump(document, f, indent=1)
        f.write("\n")
    print(f"wrote {out}: {len(cases)} cases", file=sys.stderr)


if __name__ == "__main__":
    main()
