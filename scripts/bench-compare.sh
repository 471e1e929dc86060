#!/usr/bin/env bash
# Times `manifesto check` beside testssl.sh and sslyze against the same local Prosody.
# Installs testssl.sh (Debian) and sslyze (PyPI, in a venv) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
venv="${SSLYZE_VENV:-/opt/sslyze-venv}"
if [ ! -x "$venv/bin/sslyze" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q sslyze
fi
SSLYZE="$venv/bin/sslyze" cargo bench --bench compare
