#!/usr/bin/env python3
"""Assembles the shipped demo models (models/) from the committed fixtures: copies each model file and
writes its manifest, with reference distributions (decile histograms) of every input over the training
rows and of every output over the model's own training-set outputs.

Usage: python3 demo_models.py <fixtures dir (test/fixtures/models)> <features train.csv> <models dir>
Needs numpy only. The training data are daily bars; the manifests say timeframe 5m so that the embedded
run (5-minute synthetic bars) scores them: a demo, not a trading model.
"""
import csv
import json
import math
import os
import shutil
import sys

import numpy as np

FEATURES = ['returns', 'log_returns', 'rsi_14', 'macd_12_26_9', 'macd_signal_12_26_9',
            'macd_hist_12_26_9', 'mom_14', 'sma_20', 'ema_50', 'bbands_upper_20_2',
            'bbands_middle_20_2', 'bbands_lower_20_2', 'atr_14', 'historical_vol_21', 'volume_ma_20', 'obv']
DEMO_NOTE = ('Demo model trained on the golden daily series (4,000 bars); the manifest says 5m so the '
             'embedded synthetic run scores it. Not a trading model.')


def histogram(values, bins=10):
    values = np.asarray(values, dtype=np.float64)
    missing = float(np.isnan(values).mean())
    finite = values[~np.isnan(values)]
    edges = np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1)))
    if len(edges) < 2:
        edges = np.array([finite[0] - 0.5, finite[0] + 0.5])
    counts, _ = np.histogram(finite, bins=edges)
    proportions = counts / len(values)
    # exact sum to 1 after rounding: give the rounding remainder to the largest bin
    proportions = [float(p) for p in proportions]
    out = {'edges': [float(e) for e in edges], 'proportions': proportions}
    if missing > 0:
        out['missing'] = missing
    total = sum(proportions) + missing
    if abs(total - 1) > 1e-12:
        i = int(np.argmax(proportions))
        proportions[i] += 1 - total
    return out


def read_features(path):
    with open(path, newline='') as f:
        rows = list(csv.DictReader(f))
    return np.array([[math.nan if r[c] == '' else float(r[c]) for c in FEATURES] for r in rows])


def write_manifest(folder, manifest):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=2)
        f.write('\n')


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    fixtures, train_csv, out = sys.argv[1:]
    X = read_features(train_csv)
    inputs_reference = {name: histogram(X[:, j]) for j, name in enumerate(FEATURES)}

    # LightGBM regressor: the shared fixture model
    folder = os.path.join(out, 'lgbm-return')
    os.makedirs(folder, exist_ok=True)
    shutil.copy(os.path.join(fixtures, 'lightgbm-regressor', 'model.txt'), folder)
    with open(os.path.join(fixtures, 'lightgbm-regressor', 'predictions.csv'), newline='') as f:
        train_pred = [float(r['prediction']) for r in csv.DictReader(f) if r['set'] == 'train']
    write_manifest(folder, {
        'name': 'lgbm-return', 'version': '1.0.0', 'description': 'LightGBM regressor: next bar return. ' + DEMO_NOTE,
        'kind': 'regressor', 'format': 'lightgbm-txt', 'file': 'model.txt', 'timeframe': '5m',
        'inputs': {'features': FEATURES, 'sequenceLength': 1, 'scaling': {'kind': 'none'}, 'missing': 'native'},
        'output': {'type': 'value', 'names': ['value']},
        'label': {'kind': 'return', 'horizonBars': 1, 'description': 'close[t+1] / close[t] - 1'},
        'reference': {'inputs': inputs_reference, 'outputs': {'value': histogram(train_pred)}},
    })

    # XGBoost direction classifier
    folder = os.path.join(out, 'xgb-direction')
    os.makedirs(folder, exist_ok=True)
    shutil.copy(os.path.join(fixtures, 'xgboost', 'classifier', 'model.json'), folder)
    p_up = np.loadtxt(os.path.join(fixtures, 'xgboost', 'classifier', 'train-probabilities.txt'))
    write_manifest(folder, {
        'name': 'xgb-direction', 'version': '1.0.0',
        'description': 'XGBoost classifier: direction of the next bar return. ' + DEMO_NOTE,
        'kind': 'classifier', 'format': 'xgboost-json', 'file': 'model.json', 'timeframe': '5m',
        'inputs': {'features': FEATURES, 'sequenceLength': 1, 'scaling': {'kind': 'none'}, 'missing': 'native'},
        'output': {'type': 'classes', 'labels': ['down', 'up']},
        'label': {'kind': 'return_sign', 'horizonBars': 1, 'description': 'up when close[t+1] > close[t]'},
        'reference': {'inputs': inputs_reference,
                      'outputs': {'p_down': histogram(1 - p_up), 'p_up': histogram(p_up)}},
    })

    # LSTM sequence model: ONNX (live) and the same weights as a TF.js LayersModel (second version)
    lstm = os.path.join(fixtures, 'lstm')
    with open(os.path.join(lstm, 'scaling.json')) as f:
        scaling = json.load(f)
    train_out = np.loadtxt(os.path.join(lstm, 'train-outputs.txt'))
    common = {
        'name': 'lstm-return', 'kind': 'sequence', 'timeframe': '5m',
        'inputs': {'features': FEATURES, 'sequenceLength': 16,
                   'scaling': {'kind': 'standard', 'mean': scaling['mean'], 'std': scaling['std']},
                   'missing': 'zero'},
        'output': {'type': 'value', 'names': ['return_pct']},
        'label': {'kind': 'return_percent', 'horizonBars': 1,
                  'description': '100 * (close[t+1] / close[t] - 1)'},
        'reference': {'inputs': inputs_reference, 'outputs': {'return_pct': histogram(train_out)}},
    }
    folder = os.path.join(out, 'lstm-return')
    os.makedirs(folder, exist_ok=True)
    shutil.copy(os.path.join(lstm, 'model.onnx'), folder)
    write_manifest(folder, {**common, 'version': '1.0.0', 'format': 'onnx', 'file': 'model.onnx',
                            'description': 'LSTM(16 -> 12) + Dense over the last 16 feature vectors '
                                           '(torch 1.13, exported to ONNX). ' + DEMO_NOTE,
                            'runtime': {'executionProvider': 'cpu', 'threads': 1, 'worker': True}})
    folder = os.path.join(out, 'lstm-return-tfjs')
    os.makedirs(folder, exist_ok=True)
    for name in ('model.json', 'weights.bin'):
        shutil.copy(os.path.join(lstm, 'tfjs', name), folder)
    write_manifest(folder, {**common, 'version': '1.0.0-tfjs', 'format': 'tfjs-layers', 'file': 'model.json',
                            'description': 'The same LSTM weights as a TF.js LayersModel. ' + DEMO_NOTE})
    with open(os.path.join(out, 'registry.json'), 'w') as f:
        json.dump({'version': 1, 'models': {
            'lgbm-return': {'live': '1.0.0', 'shadow': None, 'history': []},
            'xgb-direction': {'live': '1.0.0', 'shadow': None, 'history': []},
            'lstm-return': {'live': '1.0.0', 'shadow': None, 'history': []},
        }}, f, indent=2)
        f.write('\n')
    print('wrote', out)


if __name__ == '__main__':
    main()
