#!/usr/bin/env bash
# System tools the tests need beyond Node: promtool (Debian's `prometheus` package) lints the engine's
# /metrics in test/integration/metrics-live.test.ts; Debian's `chromium` runs the dashboard in headless mode for
# test/integration/dashboard/dashboard.test.ts (driven by playwright-core, which downloads no browser).
# Idempotent: touches apt only when one is missing (CI runs it as root before `npm ci`; elsewhere it uses sudo).
set -euo pipefail
packages=()
command -v promtool >/dev/null 2>&1 || packages+=(prometheus)
[ -x /usr/bin/chromium ] || packages+=(chromium)
if [ ${#packages[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${packages[@]}"
fi
echo "promtool: $(command -v promtool)"
echo "chromium: $(/usr/bin/chromium --version 2>/dev/null)"
