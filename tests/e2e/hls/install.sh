#!/usr/bin/env bash
# Installs the HLS e2e tooling's npm dependencies (hls.js, hls-parser, playwright-core)
# into tests/e2e/hls/node_modules from package-lock.json. Idempotent and quick when done:
# `npm ci` runs only when node_modules is missing or package-lock.json is newer than the
# last install. Needs node >= 20 with npm (the machine image's nodejs 20 package bundles
# npm; Debian 12's own nodejs is 18, too old for playwright-core); the tools also need
# Debian's chromium and ffmpeg. No browser is downloaded: playwright-core drives
# /usr/bin/chromium.
set -euo pipefail
cd "$(dirname "$0")"

stamp=node_modules/.shoal-install-stamp
if [ -d node_modules ] && [ -f "$stamp" ] && [ ! package-lock.json -nt "$stamp" ]; then
  exit 0
fi

for tool in node npm; do
  command -v "$tool" >/dev/null 2>&1 || { echo "install.sh: $tool not found (needs nodejs >= 20 with npm)" >&2; exit 1; }
done
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "install.sh: node $(node --version) is too old: playwright-core needs node >= 20" >&2
  exit 1
fi
echo "install.sh: npm ci in $(pwd)"
npm ci --no-audit --no-fund
touch "$stamp"
