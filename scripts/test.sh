#!/usr/bin/env bash
# The whole test suite, from a fresh clone on a fresh Debian machine:
# installs the real test peers (Prosody, ejabberd, ...), then runs format, lint and tests.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-test-deps.sh

cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
if [ -f scripts/zizmor.sh ]; then bash scripts/zizmor.sh; fi
cargo test --locked -- --test-threads="${TEST_THREADS:-4}"
