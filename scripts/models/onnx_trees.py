#!/usr/bin/env python3
"""Rewrites a LightGBM text model as an ONNX TreeEnsembleRegressor graph and an XGBoost JSON binary
classifier as an ONNX TreeEnsembleClassifier graph (ai.onnx.ml), with Debian's python3-onnx helper.
The benchmark scores these beside the native TypeScript evaluators.

Usage: python3 onnx_trees.py <lightgbm model.txt> <xgboost model.json> <out dir>
Writes lightgbm-regressor.onnx (double input, thresholds and leaf values as double tensors) and
xgboost-classifier.onnx (float input). Numerical splits only (categorical splits are refused).
LightGBM's missing type None sends NaN where 0.0 goes, which the graph expresses through
nodes_missing_value_tracks_true; missing type Zero has no ONNX equivalent and is refused.
"""
import json
import os
import sys

import onnx
from onnx import TensorProto, helper


def lightgbm_trees(path):
    trees, cur = [], None
    with open(path) as f:
        for line in f:
            line = line.rstrip('\n')
            if line.startswith('Tree='):
                cur = {}
                trees.append(cur)
            elif line == 'end of trees':
                break
            elif cur is not None and '=' in line:
                k, v = line.split('=', 1)
                cur[k] = v.split()
            elif line.startswith('max_feature_idx='):
                width = int(line.split('=')[1]) + 1
    return trees, width


def lightgbm_graph(path):
    trees, width = lightgbm_trees(path)
    a = {k: [] for k in ('treeids', 'nodeids', 'featureids', 'modes', 'values', 'true', 'false', 'missing')}
    t_tree, t_node, t_w = [], [], []
    for tid, t in enumerate(trees):
        leaves = int(t['num_leaves'][0])
        if leaves == 1:
            a['treeids'].append(tid); a['nodeids'].append(0); a['featureids'].append(0)
            a['modes'].append('LEAF'); a['values'].append(0.0); a['true'].append(0); a['false'].append(0)
            a['missing'].append(0)
            t_tree.append(tid); t_node.append(0); t_w.append(float(t['leaf_value'][0]))
            continue
        inner = leaves - 1
        node_id = lambda c: int(c) if int(c) >= 0 else inner + ~int(c)
        for n in range(inner):
            dt = int(t['decision_type'][n])
            th = float(t['threshold'][n])
            if dt & 1:
                raise SystemExit('categorical split: not expressible here')
            missing_type = (dt >> 2) & 3
            if missing_type == 1:
                raise SystemExit('missing type Zero: not expressible here')
            goes_left = bool(dt & 2) if missing_type == 2 else 0.0 <= th
            a['treeids'].append(tid); a['nodeids'].append(n)
            a['featureids'].append(int(t['split_feature'][n])); a['modes'].append('BRANCH_LEQ')
            a['values'].append(th); a['true'].append(node_id(t['left_child'][n]))
            a['false'].append(node_id(t['right_child'][n])); a['missing'].append(int(goes_left))
        for leaf in range(leaves):
            a['treeids'].append(tid); a['nodeids'].append(inner + leaf); a['featureids'].append(0)
            a['modes'].append('LEAF'); a['values'].append(0.0); a['true'].append(0); a['false'].append(0)
            a['missing'].append(0)
            t_tree.append(tid); t_node.append(inner + leaf); t_w.append(float(t['leaf_value'][leaf]))
    node = helper.make_node(
        'TreeEnsembleRegressor', ['input'], ['prediction'], domain='ai.onnx.ml', n_targets=1,
        aggregate_function='SUM', post_transform='NONE', nodes_treeids=a['treeids'],
        nodes_nodeids=a['nodeids'], nodes_featureids=a['featureids'], nodes_modes=a['modes'],
        nodes_values_as_tensor=helper.make_tensor('v', TensorProto.DOUBLE, [len(a['values'])], a['values']),
        nodes_truenodeids=a['true'], nodes_falsenodeids=a['false'],
        nodes_missing_value_tracks_true=a['missing'], target_treeids=t_tree, target_nodeids=t_node,
        target_ids=[0] * len(t_tree),
        target_weights_as_tensor=helper.make_tensor('w', TensorProto.DOUBLE, [len(t_w)], t_w),
        base_values_as_tensor=helper.make_tensor('b', TensorProto.DOUBLE, [1], [0.0]))
    graph = helper.make_graph(
        [node], 'lightgbm_regressor',
        [helper.make_tensor_value_info('input', TensorProto.DOUBLE, ['batch', width])],
        [helper.make_tensor_value_info('prediction', TensorProto.FLOAT, ['batch', 1])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13),
                                                   helper.make_opsetid('ai.onnx.ml', 3)])


def xgboost_graph(path):
    with open(path) as f:
        m = json.load(f)['learner']
    if m['objective']['name'] != 'binary:logistic':
        raise SystemExit('only binary:logistic here')
    import math
    base = float(m['learner_model_param']['base_score'])
    margin = -math.log(1.0 / base - 1.0)
    width = int(m['learner_model_param']['num_feature'])
    a = {k: [] for k in ('treeids', 'nodeids', 'featureids', 'modes', 'values', 'true', 'false', 'missing')}
    c_tree, c_node, c_w = [], [], []
    for tid, t in enumerate(m['gradient_booster']['model']['trees']):
        for n, left in enumerate(t['left_children']):
            a['treeids'].append(tid); a['nodeids'].append(n)
            if left == -1:
                a['featureids'].append(0); a['modes'].append('LEAF'); a['values'].append(0.0)
                a['true'].append(0); a['false'].append(0); a['missing'].append(0)
                c_tree.append(tid); c_node.append(n); c_w.append(float(t['split_conditions'][n]))
            else:
                a['featureids'].append(int(t['split_indices'][n])); a['modes'].append('BRANCH_LT')
                a['values'].append(float(t['split_conditions'][n])); a['true'].append(left)
                a['false'].append(t['right_children'][n]); a['missing'].append(int(t['default_left'][n]))
    node = helper.make_node(
        'TreeEnsembleClassifier', ['input'], ['label', 'probabilities'], domain='ai.onnx.ml',
        post_transform='LOGISTIC', classlabels_int64s=[0, 1], nodes_treeids=a['treeids'],
        nodes_nodeids=a['nodeids'], nodes_featureids=a['featureids'], nodes_modes=a['modes'],
        nodes_values=a['values'], nodes_truenodeids=a['true'], nodes_falsenodeids=a['false'],
        nodes_missing_value_tracks_true=a['missing'], class_treeids=c_tree, class_nodeids=c_node,
        class_ids=[0] * len(c_tree), class_weights=c_w, base_values=[margin])
    graph = helper.make_graph(
        [node], 'xgboost_classifier',
        [helper.make_tensor_value_info('input', TensorProto.FLOAT, ['batch', width])],
        [helper.make_tensor_value_info('label', TensorProto.INT64, ['batch']),
         helper.make_tensor_value_info('probabilities', TensorProto.FLOAT, ['batch', 2])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13),
                                                   helper.make_opsetid('ai.onnx.ml', 3)])


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    os.makedirs(sys.argv[3], exist_ok=True)
    for model, name in ((lightgbm_graph(sys.argv[1]), 'lightgbm-regressor.onnx'),
                        (xgboost_graph(sys.argv[2]), 'xgboost-classifier.onnx')):
        model.ir_version = 8
        onnx.checker.check_model(model)
        onnx.save(model, os.path.join(sys.argv[3], name))
        print(name)


if __name__ == '__main__':
    main()
