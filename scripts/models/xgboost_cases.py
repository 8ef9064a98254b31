#!/usr/bin/env python3
"""XGBoost fixtures for the TypeScript evaluator, made by XGBoost itself (Debian's python3-xgboost 1.7).

Usage: python3 xgboost_cases.py <features train.csv> <features test.csv> <out dir>
The CSVs are `mlfp features` output (or the shared LightGBM fixture's train.csv/test.csv, which have the
same 16 columns): a `row`/`symbol`/`ts` key, the 16 feature columns, and optionally `target` (next bar's
return). Without `target`, the next row's `returns` is used. Writes, per case, model.json
(`save_model('model.json')`), rows.csv and expected.csv (XGBoost's own margins and outputs). The
`classifier` case is the demo direction classifier. Deterministic.
"""
import csv
import math
import os
import sys

import numpy as np
import xgboost as xgb

FEATURES = ['returns', 'log_returns', 'rsi_14', 'macd_12_26_9', 'macd_signal_12_26_9',
            'macd_hist_12_26_9', 'mom_14', 'sma_20', 'ema_50', 'bbands_upper_20_2',
            'bbands_middle_20_2', 'bbands_lower_20_2', 'atr_14', 'historical_vol_21', 'volume_ma_20', 'obv']


def fmt(x):
    x = float(x)
    return '' if math.isnan(x) else repr(x)


def read_features(path):
    with open(path, newline='') as f:
        rows = list(csv.DictReader(f))
    X = np.array([[math.nan if r[c] == '' else float(r[c]) for c in FEATURES] for r in rows])
    if rows and 'target' in rows[0]:
        y = np.array([math.nan if r['target'] == '' else float(r['target']) for r in rows])
    else:
        y = np.append(X[1:, 0], math.nan)
    return X, y


def split_conditions(booster):
    """(feature index, threshold) of every split, from XGBoost's own JSON dump."""
    import json
    model = json.loads(booster.save_raw('json'))
    found = []
    for tree in model['learner']['gradient_booster']['model']['trees']:
        for left, feat, cond in zip(tree['left_children'], tree['split_indices'], tree['split_conditions']):
            if left != -1:
                found.append((feat, cond))
    return found


def edge_rows(rng, base, booster):
    """Values exactly on split thresholds (as float32), and float64 values just below a threshold that
    round to it in float32 (XGBoost reads inputs as float32), plus NaN in every column."""
    rows = []
    for feat, cond in split_conditions(booster)[:150]:
        t = float(np.float32(cond))
        below32 = float(np.nextafter(np.float32(t), np.float32(-np.inf)))
        below64 = float(np.nextafter(t, -np.inf))   # rounds to t in float32: XGBoost sees t, goes right
        for v in (t, below32, below64):
            r = base[rng.randint(len(base))].copy()
            r[feat] = v
            rows.append(r)
    for f in range(base.shape[1]):
        for v in (math.nan, 0.0, -0.0, 1e30, -1e30):
            r = base[rng.randint(len(base))].copy()
            r[f] = v
            rows.append(r)
    rows.append(np.full(base.shape[1], math.nan))
    return np.array(rows)


def write_case(out, name, booster, X_rows, names, outputs):
    folder = os.path.join(out, name)
    os.makedirs(folder, exist_ok=True)
    booster.save_model(os.path.join(folder, 'model.json'))
    d = xgb.DMatrix(X_rows, missing=math.nan, feature_names=names)
    margin = booster.predict(d, output_margin=True).reshape(len(X_rows), -1)
    pred = booster.predict(d).reshape(len(X_rows), -1)
    with open(os.path.join(folder, 'rows.csv'), 'w', newline='') as f:
        w = csv.writer(f, lineterminator='\n')
        w.writerow(['row'] + names)
        for i, r in enumerate(X_rows):
            w.writerow([i] + [fmt(v) for v in r])
    with open(os.path.join(folder, 'expected.csv'), 'w', newline='') as f:
        w = csv.writer(f, lineterminator='\n')
        k = margin.shape[1]
        w.writerow(['row'] + [f'margin_{j}' for j in range(k)] + [f'output_{j}' for j in range(pred.shape[1])])
        for i in range(len(X_rows)):
            w.writerow([i] + [repr(float(v)) for v in margin[i]] + [repr(float(v)) for v in pred[i]])
    # reload check: the saved JSON alone reproduces the predictions
    again = xgb.Booster(model_file=os.path.join(folder, 'model.json'))
    assert np.array_equal(again.predict(d).reshape(len(X_rows), -1), pred), f'{name}: reload differs'
    print(f'{name}: {len(X_rows)} rows, outputs {pred.shape[1]}')
    return pred


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    Xtr, ytr = read_features(sys.argv[1])
    Xte, yte = read_features(sys.argv[2])
    out = sys.argv[3]
    keep = ~np.isnan(ytr)
    Xtr, ytr = Xtr[keep], ytr[keep]
    rng = np.random.RandomState(11)
    common = {'seed': 3, 'nthread': 1, 'tree_method': 'exact'}

    # the demo direction classifier: P(next bar's return > 0)
    up = (ytr > 0).astype(np.float64)
    dtrain = xgb.DMatrix(Xtr, label=up, missing=math.nan, feature_names=FEATURES)
    clf = xgb.train({**common, 'objective': 'binary:logistic', 'max_depth': 4, 'eta': 0.1,
                     'min_child_weight': 5, 'subsample': 1.0}, dtrain, num_boost_round=60)
    rows = np.vstack([Xtr[:120], Xte, edge_rows(rng, Xte, clf)])
    pred = write_case(out, 'classifier', clf, rows, FEATURES, 1)
    # training-set probabilities, for the manifest's reference output distribution
    np.savetxt(os.path.join(out, 'classifier', 'train-probabilities.txt'),
               clf.predict(xgb.DMatrix(Xtr, missing=math.nan, feature_names=FEATURES)), fmt='%.9g')
    del pred

    # regression with a non-default base_score
    dreg = xgb.DMatrix(Xtr, label=ytr, missing=math.nan, feature_names=FEATURES)
    reg = xgb.train({**common, 'objective': 'reg:squarederror', 'max_depth': 5, 'eta': 0.3,
                     'base_score': 0.001}, dreg, num_boost_round=30)
    write_case(out, 'regressor', reg, np.vstack([Xtr[:60], Xte[:300], edge_rows(rng, Xte, reg)]),
               FEATURES, 1)

    # three-class softprob: down / flat / up by training terciles
    cuts = np.quantile(ytr, [1 / 3, 2 / 3])
    klass = np.digitize(ytr, cuts).astype(np.float64)
    dmc = xgb.DMatrix(Xtr, label=klass, missing=math.nan, feature_names=FEATURES)
    mc = xgb.train({**common, 'objective': 'multi:softprob', 'num_class': 3, 'max_depth': 3,
                    'eta': 0.2}, dmc, num_boost_round=20)
    write_case(out, 'multiclass', mc, np.vstack([Xtr[:60], Xte[:300], edge_rows(rng, Xte, mc)]),
               FEATURES, 3)

    # a model without feature names (bare arrays): features are f0..f15
    anon = xgb.train({**common, 'objective': 'binary:logistic', 'max_depth': 2},
                     xgb.DMatrix(Xtr, label=up, missing=math.nan), num_boost_round=5)
    folder = os.path.join(out, 'unnamed')
    os.makedirs(folder, exist_ok=True)
    anon.save_model(os.path.join(folder, 'model.json'))

    # the engine refuses these: only model.json
    for name, params in (('refused-gblinear', {'booster': 'gblinear', 'objective': 'binary:logistic'}),
                         ('refused-dart', {'booster': 'dart', 'objective': 'binary:logistic',
                                           'max_depth': 2, 'rate_drop': 0.1}),
                         ('refused-poisson', {'objective': 'count:poisson', 'max_depth': 2})):
        folder = os.path.join(out, name)
        os.makedirs(folder, exist_ok=True)
        label = np.abs(ytr) * 100 if 'poisson' in name else up
        m = xgb.train({**common, **params}, xgb.DMatrix(Xtr, label=label, missing=math.nan,
                                                        feature_names=FEATURES), num_boost_round=3)
        m.save_model(os.path.join(folder, 'model.json'))
        print(f'{name}: model only')


if __name__ == '__main__':
    main()
