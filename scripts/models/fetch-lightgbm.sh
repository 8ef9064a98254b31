#!/usr/bin/env bash
# Fetches LightGBM's native library from the two Maven Central jars that ship it and unpacks it under
# .cache/lightgbm/<version>/lib_lightgbm.so (used by the fixture generators and the benchmark's C peer).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
dest="$root/.cache/lightgbm"
fetch() { # artifact, jar path in ~/.m2, entry inside the jar, folder name
  local artifact="$1" jar="$2" entry="$3" name="$4"
  if [[ -f "$dest/$name/lib_lightgbm.so" ]]; then return 0; fi
  mvn -q dependency:get -Dartifact="$artifact" >/dev/null
  mkdir -p "$dest/$name"
  unzip -o -q -j "$HOME/.m2/repository/$jar" "$entry" -d "$dest/$name"
}
fetch com.microsoft.ml.lightgbm:lightgbmlib:3.3.510 \
  com/microsoft/ml/lightgbm/lightgbmlib/3.3.510/lightgbmlib-3.3.510.jar \
  'com/microsoft/ml/lightgbm/linux/x86_64/lib_lightgbm.so' 3.3.510
fetch io.github.metarank:lightgbm4j:3.3.2-4 \
  io/github/metarank/lightgbm4j/3.3.2-4/lightgbm4j-3.3.2-4.jar \
  'linux/x86_64/lib_lightgbm.so' 3.3.2
echo "$dest/3.3.510/lib_lightgbm.so"
echo "$dest/3.3.2/lib_lightgbm.so"
