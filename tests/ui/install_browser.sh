#!/usr/bin/env bash
# Debian's Chromium (and its WebDriver) for the browser test, tests/ui/test_ui_browser.py. Idempotent: does
# nothing when /usr/bin/chromium is there. Playwright's own browser downloads are not used (that CDN is not
# reachable from these machines); the test drives this installed browser. Called by `make browser`, .ci/run and
# the test itself; needs root or password-less sudo for apt-get.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install_browser: $CHROMIUM is missing and this machine has no apt-get: install Chromium by hand." >&2
  exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "install_browser: $CHROMIUM is missing; run as root (or with password-less sudo):" >&2
  echo "  apt-get update && apt-get install -y chromium chromium-driver" >&2
  exit 1
fi
echo "install_browser: installing Debian's chromium and chromium-driver (apt-get)..."
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
"$CHROMIUM" --version
