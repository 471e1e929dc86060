#!/usr/bin/env bash
# Audits the GitHub workflows and actions under .github/ with zizmor, at its default settings,
# offline (no GitHub API). Installs zizmor from crates.io when it is missing. Any finding fails.
#
# ZIZMOR_VERSION pins the version: 1.26.1 is the newest that builds with Rust 1.95 (later ones
# need 1.97). Set ZIZMOR_VERSION= (empty) to take the newest.
set -euo pipefail

ZIZMOR_VERSION="${ZIZMOR_VERSION-1.26.1}"
cd "$(dirname "$0")/.."

if ! command -v zizmor > /dev/null 2>&1; then
    if [ -x "$HOME/.cargo/bin/zizmor" ]; then
        PATH="$HOME/.cargo/bin:$PATH"
    else
        echo "zizmor.sh: installing zizmor ${ZIZMOR_VERSION:-(newest)} from crates.io (takes a while)" >&2
        nice -n 10 cargo install --locked "zizmor${ZIZMOR_VERSION:+@$ZIZMOR_VERSION}" >&2
        PATH="$HOME/.cargo/bin:$PATH"
    fi
fi

mapfile -t inputs < <(find .github -type f \( -path '.github/workflows/*.yml' -o -path '.github/workflows/*.yaml' -o -name action.yml -o -name action.yaml \) | sort)
if [ "${#inputs[@]}" -eq 0 ]; then
    echo "zizmor.sh: nothing to audit under .github/" >&2
    exit 1
fi

zizmor --version
# Offline: this must not reach the GitHub API (and a token in the environment would make it try).
env -u GH_TOKEN -u GITHUB_TOKEN -u ZIZMOR_GITHUB_TOKEN ZIZMOR_OFFLINE=1 \
    zizmor --offline --no-progress "${inputs[@]}"
