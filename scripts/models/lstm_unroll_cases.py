#!/usr/bin/env python3
"""ONNX LSTM graphs for the LSTM-unrolling rewrite (src/models/formats/onnx-unroll.ts), made with the onnx helper.

Usage: python3 lstm_unroll_cases.py <out dir>
Needs Debian's python3-onnx and numpy. Each case is one small graph over random (seeded) weights; the
tests run it with onnxruntime's own LSTM kernel and with the rewritten graph and compare every output.
Writes <case>.onnx and cases.json: per case the sequence length to unroll, the graph inputs' shapes (a
batch of 3) and what the rewrite must do (`unroll`: LSTM node names; or `keep`: a word of the reason).
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(20261127)
BATCH = 3
cases = {}


def weights(prefix, hidden, width, directions=1, bias=True, peepholes=False):
    inits = [
        numpy_helper.from_array(rng.normal(0, 0.5, (directions, 4 * hidden, width)).astype(np.float32), f'{prefix}W'),
        numpy_helper.from_array(rng.normal(0, 0.5, (directions, 4 * hidden, hidden)).astype(np.float32), f'{prefix}R'),
    ]
    if bias:
        inits.append(numpy_helper.from_array(rng.normal(0, 0.5, (directions, 8 * hidden)).astype(np.float32), f'{prefix}B'))
    if peepholes:
        inits.append(numpy_helper.from_array(rng.normal(0, 0.5, (directions, 3 * hidden)).astype(np.float32), f'{prefix}P'))
    return inits


def save(name, nodes, inputs, outputs, inits, steps, expect, opset=13):
    graph = helper.make_graph(nodes, name, inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', opset)], producer_name='lstm_unroll_cases.py')
    model.ir_version = 7
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(out, f'{name}.onnx'))
    shapes = {i.name: [d.dim_value if d.dim_value else BATCH for d in i.type.tensor_type.shape.dim] for i in inputs}
    cases[name] = {'steps': steps, 'inputs': shapes, **expect}


def f32(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


# every input and output: bias, initial states (graph inputs), Y, Y_h and Y_c
S, H, I = 7, 5, 3
save('full', [helper.make_node('LSTM', ['X', 'W', 'R', 'B', '', 'h0', 'c0'], ['Y', 'Y_h', 'Y_c'], name='lstm', hidden_size=H)],
     [f32('X', [S, 'batch', I]), f32('h0', [1, 'batch', H]), f32('c0', [1, 'batch', H])],
     [f32('Y', [S, 1, 'batch', H]), f32('Y_h', [1, 'batch', H]), f32('Y_c', [1, 'batch', H])],
     weights('', H, I), S, {'unroll': ['lstm']})

# no bias, zero initial states, only Y_h; the default attributes written out
S, H, I = 5, 4, 6
save('minimal', [helper.make_node('LSTM', ['X', 'W', 'R'], ['', 'Y_h'], hidden_size=H, direction='forward',
                                  activations=['Sigmoid', 'Tanh', 'Tanh'], input_forget=0)],
     [f32('X', [S, 'batch', I])], [f32('Y_h', [1, 'batch', H])], weights('', H, I, bias=False), S,
     {'unroll': ['Y_h']})

# two stacked LSTMs (the second reads the first's Y), names that the rewrite must not reuse
S, H1, H2, I = 6, 4, 3, 2
save('stacked', [
    helper.make_node('LSTM', ['X', 'a/W', 'a/R', 'a/B'], ['a/Y'], name='a', hidden_size=H1),
    helper.make_node('Squeeze', ['a/Y', 'one'], ['a/Y3']),
    helper.make_node('LSTM', ['a/Y3', 'b/W', 'b/R', 'b/B'], ['b/Y', 'b/Y_h', 'b/Y_c'], name='b', hidden_size=H2),
    helper.make_node('Identity', ['b/Y_c'], ['a/unrolled/W']),
], [f32('X', [S, 'batch', I])], [f32('b/Y', [S, 1, 'batch', H2]), f32('b/Y_h', [1, 'batch', H2]), f32('a/unrolled/W', [1, 'batch', H2])],
    weights('a/', H1, I) + weights('b/', H2, H1) + [numpy_helper.from_array(np.array([1], dtype=np.int64), 'one')],
    S, {'unroll': ['a', 'b']})

# initial states made in the graph, as torch's export does (ConstantOfShape of the batch size): zeros (the
# rewrite drops the first step's recurrent and forget terms) and a non-zero fill (it must not)
S, H, I = 5, 4, 3
for name, fill in (('zero-states', None), ('constant-states', 0.25)):
    attrs = {} if fill is None else {'value': helper.make_tensor('fill', TensorProto.FLOAT, [1], [fill])}
    save(name, [
        helper.make_node('Shape', ['X'], ['shape']),
        helper.make_node('Gather', ['shape', 'one'], ['batch'], axis=0),
        helper.make_node('Concat', ['one', 'batch', 'hidden'], ['state_shape'], axis=0),
        helper.make_node('ConstantOfShape', ['state_shape'], ['state'], **attrs),
        helper.make_node('LSTM', ['X', 'W', 'R', 'B', '', 'state', 'state'], ['Y', 'Y_h', 'Y_c'], name='lstm', hidden_size=H),
    ], [f32('X', [S, 'batch', I])],
        [f32('Y', [S, 1, 'batch', H]), f32('Y_h', [1, 'batch', H]), f32('Y_c', [1, 'batch', H])],
        weights('', H, I) + [numpy_helper.from_array(np.array(v, dtype=np.int64), n) for n, v in (('one', [1]), ('hidden', [H]))],
        S, {'unroll': ['lstm']})

# the cases the rewrite leaves to the LSTM op
S, H, I = 4, 3, 2
x = [f32('X', [S, 'batch', I])]
y_h = [f32('Y_h', [1, 'batch', H])]
save('bidirectional', [helper.make_node('LSTM', ['X', 'W', 'R', 'B'], ['', 'Y_h'], hidden_size=H, direction='bidirectional')],
     x, [f32('Y_h', [2, 'batch', H])], weights('', H, I, directions=2), S, {'keep': 'direction bidirectional'})
save('peepholes', [helper.make_node('LSTM', ['X', 'W', 'R', 'B', '', '', '', 'P'], ['', 'Y_h'], hidden_size=H)],
     x, y_h, weights('', H, I, peepholes=True), S, {'keep': 'peepholes'})
save('clip', [helper.make_node('LSTM', ['X', 'W', 'R', 'B'], ['', 'Y_h'], hidden_size=H, clip=0.5)],
     x, y_h, weights('', H, I), S, {'keep': 'attribute clip'})
save('relu', [helper.make_node('LSTM', ['X', 'W', 'R', 'B'], ['', 'Y_h'], hidden_size=H, activations=['Sigmoid', 'Relu', 'Tanh'])],
     x, y_h, weights('', H, I), S, {'keep': 'activations'})
save('sequence-lens', [helper.make_node('LSTM', ['X', 'W', 'R', 'B', 'lens'], ['', 'Y_h'], hidden_size=H)],
     x + [helper.make_tensor_value_info('lens', TensorProto.INT32, ['batch'])], y_h, weights('', H, I), S,
     {'keep': 'sequence_lens'})
save('layout-1', [helper.make_node('LSTM', ['X', 'W', 'R', 'B'], ['', 'Y_h'], hidden_size=H, layout=1)],
     [f32('X', ['batch', S, I])], [f32('Y_h', ['batch', 1, H])], weights('', H, I), S, {'keep': 'layout'}, opset=14)
save('opset-11', [helper.make_node('LSTM', ['X', 'W', 'R', 'B'], ['', 'Y_h'], hidden_size=H)],
     x, y_h, weights('', H, I), S, {'keep': 'opset 11'}, opset=11)

# a sequence model whose LSTM reads 8 of its 16 input steps: unrolling 16 steps gives a graph that fails,
# so the runtime keeps the op (the check after the rewrite)
H, I = 4, 3
save('eight-of-sixteen', [
    helper.make_node('Transpose', ['input'], ['steps_first'], perm=[1, 0, 2]),
    helper.make_node('Slice', ['steps_first', 'start', 'end', 'axis'], ['last8']),
    helper.make_node('LSTM', ['last8', 'W', 'R', 'B'], ['', 'Y_h'], name='lstm', hidden_size=H),
    helper.make_node('Squeeze', ['Y_h', 'axis'], ['h']),
    helper.make_node('ReduceSum', ['h', 'one'], ['value'], keepdims=1),
], [f32('input', ['batch', 16, I])], [f32('value', ['batch', 1])],
    weights('', H, I) + [numpy_helper.from_array(np.array(v, dtype=np.int64), n)
                         for n, v in (('start', [8]), ('end', [16]), ('axis', [0]), ('one', [1]))],
    16, {'unroll': ['lstm'], 'runtime': 'keeps the op'})

with open(os.path.join(out, 'cases.json'), 'w') as f:
    json.dump(cases, f, indent=2)
    f.write('\n')
print(f'{len(cases)} cases in {out}')
