#!/usr/bin/env bash
# Audits the GitHub workflows and actions under .github/ with zizmor, offline (no GitHub API),
# at its default settings and at --pedantic. Any finding fails. The only inline ignores are the
# two privileged triggers the design needs (comment.yml's workflow_run, label.yml's
# pull_request_target), each with its reason beside it.
#
# zizmor comes from PyPI's prebuilt wheel (seconds, instead of minutes of cargo install).
# ZIZMOR_VERSION pins the version.
set -euo pipefail

ZIZMOR_VERSION="${ZIZMOR_VERSION-1.32.0}"
cd "$(dirname "$0")/.."

have_version() {
    command -v zizmor > /dev/null 2>&1 && [ "$(zizmor --version | awk '{print $2}')" = "$ZIZMOR_VERSION" ]
}

if ! have_version; then
    echo "zizmor.sh: installing zizmor $ZIZMOR_VERSION from PyPI" >&2
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
        "zizmor==$ZIZMOR_VERSION" >&2
    hash -r
    if ! have_version; then
        bin="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')"
        PATH="$bin:$PATH"
    fi
    have_version || { echo "zizmor.sh: zizmor $ZIZMOR_VERSION is not on PATH after pip install" >&2; exit 1; }
fi

mapfile -t inputs < <(find .github -type f \( -path '.github/workflows/*.yml' -o -path '.github/workflows/*.yaml' -o -name action.yml -o -name action.yaml \) | sort)
if [ "${#inputs[@]}" -eq 0 ]; then
    echo "zizmor.sh: nothing to audit under .github/" >&2
    exit 1
fi

zizmor --version
# Offline: this must not reach the GitHub API (and a token in the environment would make it try).
for mode in "" --pedantic; do
    env -u GH_TOKEN -u GITHUB_TOKEN -u ZIZMOR_GITHUB_TOKEN ZIZMOR_OFFLINE=1 \
        zizmor --offline --no-progress $mode "${inputs[@]}"
done
