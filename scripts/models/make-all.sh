#!/usr/bin/env bash
# Regenerates every model fixture and the demo models. Usage: make-all.sh [train.csv test.csv]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
here="$root/scripts/models"
fixtures="$root/test/fixtures/models"
train="${1:-$fixtures/lightgbm-regressor/train.csv}"
test="${2:-$fixtures/lightgbm-regressor/test.csv}"
python=/usr/bin/python3
libs=($("$here/fetch-lightgbm.sh"))
"$python" "$here/lightgbm_cases.py" "${libs[0]}" "${libs[1]}" "$fixtures/lightgbm-cases"
"$python" "$here/xgboost_cases.py" "$train" "$test" "$fixtures/xgboost"
"$python" "$here/lstm_case.py" "$train" "$test" "$fixtures/lstm"
"$python" "$here/lstm_unroll_cases.py" "$fixtures/lstm-unroll"
"$python" "$here/onnx_trees.py" "$fixtures/lightgbm-regressor/model.txt" "$fixtures/xgboost/classifier/model.json" "$fixtures/onnx-trees"
"$python" "$here/demo_models.py" "$fixtures" "$train" "$root/models"
