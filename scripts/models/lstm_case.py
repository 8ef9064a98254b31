#!/usr/bin/env python3
"""LSTM fixture: torch trains a small LSTM + Dense head on windows of scaled feature vectors, exports it
to ONNX, and writes the same weights as a TensorFlow.js LayersModel (model.json + weights.bin).

Usage: python3 lstm_case.py <features train.csv> <features test.csv> <out dir>
Needs Debian's python3-torch (1.13) and python3-onnx. Inputs are the 16 feature columns; each is
standardised with the training mean and std (float64), a missing value becomes the mean (0 after
scaling), then the window is cast to float32. The target is the next bar's return in percent.

Writes: model.onnx, tfjs/model.json, tfjs/weights.bin, scaling.json (mean, std), rows.csv (raw feature
rows in time order, one symbol) and expected.csv (torch's own output for the window ending at each row
from row SEQ-1 on). Keras and PyTorch both order the LSTM gates input, forget, cell, output; Keras has
one bias where PyTorch has two (b_ih + b_hh). Deterministic (seeded, one thread).
"""
import csv
import json
import math
import os
import sys

import numpy as np
import torch

FEATURES = ['returns', 'log_returns', 'rsi_14', 'macd_12_26_9', 'macd_signal_12_26_9',
            'macd_hist_12_26_9', 'mom_14', 'sma_20', 'ema_50', 'bbands_upper_20_2',
            'bbands_middle_20_2', 'bbands_lower_20_2', 'atr_14', 'historical_vol_21', 'volume_ma_20', 'obv']
SEQ, HIDDEN, WIDTH = 16, 12, len(FEATURES)


def read_features(path):
    with open(path, newline='') as f:
        rows = list(csv.DictReader(f))
    X = np.array([[math.nan if r[c] == '' else float(r[c]) for c in FEATURES] for r in rows])
    if rows and 'target' in rows[0]:
        y = np.array([math.nan if r['target'] == '' else float(r['target']) for r in rows])
    else:
        y = np.append(X[1:, 0], math.nan)
    return X, y


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(WIDTH, HIDDEN, batch_first=True)
        self.head = torch.nn.Linear(HIDDEN, 1)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1, :])


def scale(X, mean, std):
    Z = (X - mean) / std
    Z[np.isnan(Z)] = 0.0
    return Z


def windows(Z):
    return np.stack([Z[i - SEQ + 1:i + 1] for i in range(SEQ - 1, len(Z))])


def keras_topology():
    lstm = {'class_name': 'LSTM', 'config': {
        'name': 'lstm', 'trainable': True, 'batch_input_shape': [None, SEQ, WIDTH], 'dtype': 'float32',
        'units': HIDDEN, 'activation': 'tanh', 'recurrent_activation': 'sigmoid', 'use_bias': True,
        'return_sequences': False, 'return_state': False, 'go_backwards': False, 'stateful': False,
        'unroll': False, 'dropout': 0.0, 'recurrent_dropout': 0.0,
        'kernel_initializer': {'class_name': 'Zeros', 'config': {}},
        'recurrent_initializer': {'class_name': 'Zeros', 'config': {}},
        'bias_initializer': {'class_name': 'Zeros', 'config': {}}}}
    dense = {'class_name': 'Dense', 'config': {
        'name': 'dense', 'trainable': True, 'units': 1, 'activation': 'linear', 'use_bias': True,
        'kernel_initializer': {'class_name': 'Zeros', 'config': {}},
        'bias_initializer': {'class_name': 'Zeros', 'config': {}}}}
    return {'class_name': 'Sequential', 'config': {'name': 'lstm_return', 'layers': [lstm, dense]},
            'keras_version': '2.11.0', 'backend': 'tensorflow'}


def write_tfjs(net, folder):
    os.makedirs(folder, exist_ok=True)
    sd = {k: v.detach().numpy().astype(np.float32) for k, v in net.state_dict().items()}
    weights = [
        ('lstm/kernel', sd['lstm.weight_ih_l0'].T),           # [in, 4h], gates i f g o
        ('lstm/recurrent_kernel', sd['lstm.weight_hh_l0'].T),  # [h, 4h]
        ('lstm/bias', sd['lstm.bias_ih_l0'] + sd['lstm.bias_hh_l0']),
        ('dense/kernel', sd['head.weight'].T),                 # [h, 1]
        ('dense/bias', sd['head.bias']),
    ]
    blob = b''.join(np.ascontiguousarray(w, dtype='<f4').tobytes() for _, w in weights)
    with open(os.path.join(folder, 'weights.bin'), 'wb') as f:
        f.write(blob)
    model = {'format': 'layers-model', 'generatedBy': 'scripts/models/lstm_case.py',
             'convertedBy': None, 'modelTopology': keras_topology(),
             'weightsManifest': [{'paths': ['weights.bin'], 'weights': [
                 {'name': n, 'shape': list(w.shape), 'dtype': 'float32'} for n, w in weights]}]}
    with open(os.path.join(folder, 'model.json'), 'w') as f:
        json.dump(model, f, indent=1)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    torch.manual_seed(5)
    torch.set_num_threads(1)
    Xtr, ytr = read_features(sys.argv[1])
    Xte, _ = read_features(sys.argv[2])
    out = sys.argv[3]
    os.makedirs(out, exist_ok=True)

    mean = np.nanmean(Xtr, axis=0)
    std = np.nanstd(Xtr, axis=0)
    std[std == 0] = 1.0
    Ztr = scale(Xtr, mean, std)
    W = windows(Ztr)
    y = ytr[SEQ - 1:] * 100
    keep = ~np.isnan(y)
    W, y = W[keep], y[keep]
    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    xb = torch.tensor(W, dtype=torch.float32)
    yb = torch.tensor(y, dtype=torch.float32).reshape(-1, 1)
    for _ in range(40):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(net(xb), yb)
        loss.backward()
        opt.step()
    print(f'train mse {loss.item():.4f}')
    net.eval()

    # fixture rows: the last 100 training rows then the test rows (with their missing cells), in order
    rows = np.vstack([Xtr[-100:], Xte])
    Wf = torch.tensor(windows(scale(rows, mean, std)), dtype=torch.float32)
    with torch.no_grad():
        expected = net(Wf).numpy()[:, 0]
        train_out = net(xb).numpy()[:, 0]

    torch.onnx.export(net, Wf[:2], os.path.join(out, 'model.onnx'), input_names=['input'],
                      output_names=['return_pct'], dynamic_axes={'input': {0: 'batch'},
                                                                 'return_pct': {0: 'batch'}},
                      opset_version=13)
    write_tfjs(net, os.path.join(out, 'tfjs'))
    with open(os.path.join(out, 'scaling.json'), 'w') as f:
        json.dump({'mean': [float(v) for v in mean], 'std': [float(v) for v in std]}, f)
    np.savetxt(os.path.join(out, 'train-outputs.txt'), train_out, fmt='%.9g')
    with open(os.path.join(out, 'rows.csv'), 'w', newline='') as f:
        w = csv.writer(f, lineterminator='\n')
        w.writerow(['row'] + FEATURES)
        for i, r in enumerate(rows):
            w.writerow([i] + ['' if math.isnan(v) else repr(float(v)) for v in r])
    with open(os.path.join(out, 'expected.csv'), 'w', newline='') as f:
        w = csv.writer(f, lineterminator='\n')
        w.writerow(['row', 'return_pct'])
        for i, v in enumerate(expected):
            w.writerow([i + SEQ - 1, repr(float(v))])
    print(f'{len(expected)} fixture windows')


if __name__ == '__main__':
    main()
