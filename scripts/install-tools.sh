#!/usr/bin/env bash
# System tools the tests need beyond Node: promtool (Debian's `prometheus` package) lints the engine's
# /metrics in test/integration/metrics-live.test.ts. Idempotent: touches apt only when promtool is missing
# (CI runs it as root before `npm ci`; elsewhere it uses sudo).
set -euo pipefail
if ! command -v promtool >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus
fi
echo "promtool: $(command -v promtool)"
