#!/usr/bin/env python3
"""LightGBM fixture cases for the TypeScript evaluator, made by LightGBM's own library.

Usage: python3 lightgbm_cases.py <lib_lightgbm.so (3.3.510, writes version=v4)> \
           <lib_lightgbm.so (3.3.2, writes version=v3)> <out dir>
For each case it trains a small booster through LightGBM's C API (ctypes), saves model.txt, builds
prediction rows that hit every format feature (NaN, zeros, tiny values below kZeroThreshold, values
exactly on thresholds, categories outside the bitset, negative and fractional categories, infinities),
and writes LightGBM's own raw and transformed predictions. Cases that the engine must refuse (linear
trees, dart) only get model.txt. Needs numpy. Deterministic: a rerun gives the same files.
"""
import csv
import ctypes as C
import math
import os
import sys

import numpy as np

F64, F32, ROW_MAJOR = 1, 0, 1
PREDICT_NORMAL, PREDICT_RAW = 0, 1
K_ZERO = float(np.float32(1e-35))


def fmt(x):
    x = float(x)
    return '' if math.isnan(x) else repr(x)


class Lib:
    def __init__(self, path):
        self.lib = C.CDLL(path)
        self.lib.LGBM_GetLastError.restype = C.c_char_p

    def check(self, rc):
        if rc != 0:
            raise RuntimeError('LightGBM: ' + self.lib.LGBM_GetLastError().decode())

    def train(self, X, y, params, names, iterations):
        X = np.ascontiguousarray(X, dtype=np.float64)
        label = np.ascontiguousarray(y, dtype=np.float32)
        ds, booster = C.c_void_p(), C.c_void_p()
        self.check(self.lib.LGBM_DatasetCreateFromMat(
            X.ctypes.data_as(C.c_void_p), F64, C.c_int32(len(X)), C.c_int32(X.shape[1]), ROW_MAJOR,
            params.encode(), None, C.byref(ds)))
        self.check(self.lib.LGBM_DatasetSetField(ds, b'label', label.ctypes.data_as(C.c_void_p),
                                                 len(label), F32))
        arr = (C.c_char_p * len(names))(*[n.encode() for n in names])
        self.check(self.lib.LGBM_DatasetSetFeatureNames(ds, arr, len(names)))
        self.check(self.lib.LGBM_BoosterCreate(ds, params.encode(), C.byref(booster)))
        for _ in range(iterations):
            finished = C.c_int(0)
            self.check(self.lib.LGBM_BoosterUpdateOneIter(booster, C.byref(finished)))
            if finished.value:
                break
        return booster, ds

    def save(self, booster, path):
        self.check(self.lib.LGBM_BoosterSaveModel(booster, 0, -1, 0, path.encode()))

    def load(self, path):
        booster, iters = C.c_void_p(), C.c_int(0)
        self.check(self.lib.LGBM_BoosterCreateFromModelfile(path.encode(), C.byref(iters),
                                                            C.byref(booster)))
        return booster

    def num_classes(self, booster):
        n = C.c_int(0)
        self.check(self.lib.LGBM_BoosterGetNumClasses(booster, C.byref(n)))
        return n.value

    def predict(self, booster, X, kind):
        X = np.ascontiguousarray(X, dtype=np.float64)
        k = self.num_classes(booster)
        out, out_len = np.zeros(len(X) * k, dtype=np.float64), C.c_int64(0)
        self.check(self.lib.LGBM_BoosterPredictForMat(
            booster, X.ctypes.data_as(C.c_void_p), F64, C.c_int32(len(X)), C.c_int32(X.shape[1]),
            ROW_MAJOR, kind, 0, -1, b'num_threads=1', C.byref(out_len), out.ctypes.data_as(C.c_void_p)))
        assert out_len.value == len(X) * k
        return out.reshape(len(X), k)

    def free(self, booster, ds=None):
        self.check(self.lib.LGBM_BoosterFree(booster))
        if ds is not None:
            self.check(self.lib.LGBM_DatasetFree(ds))


def synthetic(rng, n):
    """Columns: cat_wide (0..39, categorical), cat_small (0..4, categorical), num_zero (many exact
    zeros), num_nan (some NaN), num_plain."""
    cat_wide = rng.randint(0, 40, n).astype(np.float64)
    cat_small = rng.randint(0, 5, n).astype(np.float64)
    num_zero = np.where(rng.rand(n) < 0.3, 0.0, rng.randn(n))
    num_nan = np.where(rng.rand(n) < 0.15, np.nan, rng.randn(n) * 10)
    num_plain = rng.rand(n) * 100 - 50
    cat_wide[rng.rand(n) < 0.05] = np.nan
    X = np.column_stack([cat_wide, cat_small, num_zero, num_nan, num_plain])
    effect = np.sin(cat_wide * 1.7)
    effect[np.isnan(effect)] = 0.8
    score = (effect + (cat_small - 2) * 0.5 + np.where(num_zero == 0, 1.0, num_zero)
             + np.where(np.isnan(num_nan), -1.5, num_nan / 10) + num_plain / 50)
    return X, score + rng.randn(n) * 0.2


NAMES = ['cat_wide', 'cat_small', 'num_zero', 'num_nan', 'num_plain']


def thresholds(model_text):
    """(feature, threshold) of every numerical split in model.txt."""
    found = []
    feats, ths, dts = None, None, None
    for line in model_text.splitlines():
        if line.startswith('split_feature='):
            feats = [int(v) for v in line.split('=', 1)[1].split()]
        elif line.startswith('threshold='):
            ths = [float(v) for v in line.split('=', 1)[1].split()]
        elif line.startswith('decision_type='):
            dts = [int(v) for v in line.split('=', 1)[1].split()]
            for f, t, d in zip(feats, ths, dts):
                if d & 1 == 0:
                    found.append((f, t))
    return found


def edge_rows(rng, base, model_text, categorical):
    """Rows built around base rows: every numerical threshold hit exactly and by its neighbours,
    special values in every column, odd categories."""
    rows = []
    width = base.shape[1]
    for f, t in thresholds(model_text)[:120]:
        for v in (t, np.nextafter(t, -np.inf), np.nextafter(t, np.inf)):
            r = base[rng.randint(len(base))].copy()
            r[f] = v
            rows.append(r)
    specials = [np.nan, 0.0, -0.0, 1e-36, -1e-36, K_ZERO, -K_ZERO, np.inf, -np.inf, 1e300, -1e300]
    cat_specials = [-1.0, -0.5, -0.99, 0.5, 2.9, 4.0, 31.0, 32.0, 33.0, 39.0, 40.0, 64.0, 100.0, 1e10,
                    -1e10, 2147483647.0, 2147483648.0, -2147483648.0]
    for f in range(width):
        for v in specials + (cat_specials if f in categorical else []):
            r = base[rng.randint(len(base))].copy()
            r[f] = v
            rows.append(r)
    all_nan = np.full(width, np.nan)
    rows.append(all_nan)
    rows.append(np.zeros(width))
    return np.array(rows)


def write_case(out, name, lib, booster, X_rows, names):
    folder = os.path.join(out, name)
    raw = lib.predict(booster, X_rows, PREDICT_RAW)
    normal = lib.predict(booster, X_rows, PREDICT_NORMAL)
    k = raw.shape[1]
    with open(os.path.join(folder, 'rows.csv'), 'w', newline='') as f:
        w = csv.writer(f, lineterminator='\n')
        w.writerow(['row'] + names)
        for i, r in enumerate(X_rows):
            w.writerow([i] + [fmt(v) for v in r])
    with open(os.path.join(folder, 'expected.csv'), 'w', newline='') as f:
        w = csv.writer(f, lineterminator='\n')
        w.writerow(['row'] + [f'raw_{j}' for j in range(k)] + [f'output_{j}' for j in range(k)])
        for i in range(len(X_rows)):
            w.writerow([i] + [repr(float(v)) for v in raw[i]] + [repr(float(v)) for v in normal[i]])
    # reload check: model.txt alone reproduces the booster's predictions bit for bit
    reloaded = lib.load(os.path.join(folder, 'model.txt'))
    again = lib.predict(reloaded, X_rows, PREDICT_RAW)
    lib.free(reloaded)
    assert np.array_equal(again.view(np.uint64), raw.view(np.uint64)), f'{name}: reload differs'
    print(f'{name}: {len(X_rows)} rows, {k} output(s)')


def case(out, name, lib, params, iterations, X, y, categorical, rows=True, rng=None):
    folder = os.path.join(out, name)
    os.makedirs(folder, exist_ok=True)
    booster, ds = lib.train(X, y, params, NAMES, iterations)
    path = os.path.join(folder, 'model.txt')
    lib.save(booster, path)
    if rows:
        with open(path) as f:
            text = f.read()
        X_rows = np.vstack([X[:200], edge_rows(rng, X[:500], text, categorical)])
        write_case(out, name, lib, booster, X_rows, NAMES)
    else:
        print(f'{name}: model only')
    lib.free(booster, ds)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    v4, v3, out = Lib(sys.argv[1]), Lib(sys.argv[2]), sys.argv[3]
    rng = np.random.RandomState(7)
    X, score = synthetic(rng, 3000)
    common = 'num_threads=1 deterministic=true force_col_wise=true seed=1 verbose=-1 min_data_in_leaf=10 '
    cats = 'categorical_feature=0,1 min_data_per_group=5 cat_smooth=1 max_cat_to_onehot=4 '
    # regression with categorical splits (bitsets over more than one 32-bit word) and zeros as missing
    case(out, 'categorical-zero-regression', v4,
         common + cats + 'objective=regression num_leaves=15 learning_rate=0.2 zero_as_missing=true',
         20, X, score, {0, 1}, rng=rng)
    # regression, NaN missing type, default left and right
    case(out, 'nan-regression', v4, common + 'objective=regression num_leaves=31 learning_rate=0.1',
         30, X, score, set(), rng=rng)
    # binary with a non-default sigmoid, written by the 3.3.2 release (version=v3)
    label = (score > np.median(score)).astype(np.float64)
    case(out, 'binary-v3', v3,
         common + cats + 'objective=binary sigmoid=1.5 num_leaves=15 learning_rate=0.2',
         25, X, label, {0, 1}, rng=rng)
    # multiclass softmax, 3 classes
    klass = np.digitize(score, np.quantile(score, [1 / 3, 2 / 3])).astype(np.float64)
    case(out, 'multiclass', v4,
         common + cats + 'objective=multiclass num_class=3 num_leaves=7 learning_rate=0.3',
         10, X, klass, {0, 1}, rng=rng)
    # trees that cannot split (single leaf): min_gain_to_split too high to grow anything
    case(out, 'single-leaf', v4, common + 'objective=regression min_gain_to_split=1e30',
         3, X, score, set(), rng=rng)
    # the engine refuses these, so only the model file matters
    case(out, 'refused-linear-tree', v4, common + 'objective=regression linear_tree=true num_leaves=7',
         3, np.nan_to_num(X), score, set(), rows=False)
    case(out, 'refused-dart', v4, common + 'objective=regression boosting=dart num_leaves=7',
         5, X, score, set(), rows=False)
    case(out, 'refused-poisson', v4, common + 'objective=poisson num_leaves=7',
         3, X, np.abs(score), set(), rows=False)


if __name__ == '__main__':
    main()
