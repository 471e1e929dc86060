#!/usr/bin/env bash
# Installs what the test suite needs on a Debian machine: real XMPP servers (Prosody, ejabberd)
# as test peers, OpenSSL, a headless browser for the page tests (and axe-core from npm for their
# accessibility check), and the comparison tools.
# Idempotent; safe to run on every test run. Needs root (or sudo) for apt-get.
set -euo pipefail

# lua-unbound (Prosody resolving through the test DNS) and lua-event are only Recommends of
# prosody: named here so that a fresh machine gets the same Prosody as a developer's.
debs=(prosody lua-unbound lua-event ejabberd openssl chromium testssl.sh ca-certificates git procps iproute2 util-linux nftables)

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

missing=()
for p in "${debs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  # The packaged services would start and take *:5222/*:5269; keep them from starting.
  created_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${sudo_cmd[@]}" chmod +x /usr/sbin/policy-rc.d
    created_policy=1
  fi
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ "$created_policy" = 1 ]; then "${sudo_cmd[@]}" rm -f /usr/sbin/policy-rc.d; fi
fi

# A packaged service may have been started by an earlier install: it would hold the ports.
for svc in prosody ejabberd; do
  if command -v systemctl >/dev/null 2>&1; then "${sudo_cmd[@]}" systemctl stop "$svc" >/dev/null 2>&1 || true; fi
  "${sudo_cmd[@]}" service "$svc" stop >/dev/null 2>&1 || true
done

# axe-core (accessibility rules) for the page tests of `manifesto serve`
# (tests/site/serve_pages.rs), from npm, into the user's cache: no root needed, and nothing is
# fetched when it is already there. The test finds it there, or at AXE_CORE.
axe_prefix="$HOME/.cache/xmpp-manifesto/npm"
if [ ! -f "$axe_prefix/node_modules/axe-core/axe.min.js" ]; then
  # Debian's npm only when there is no npm at all (a Node.js from elsewhere brings its own, and
  # Debian's package would conflict with it).
  if ! command -v npm >/dev/null 2>&1; then
    echo "installing Debian package: npm"
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends npm >/dev/null
  fi
  echo "installing axe-core@4 from npm into $axe_prefix"
  npm install --prefix "$axe_prefix" --no-audit --no-fund --silent axe-core@4
fi
