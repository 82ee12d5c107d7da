#!/usr/bin/env bash
# Headless Chromium and its driver for the browser smoke test (tests/test_browser.py).
# Installed from Debian's packages when missing; does nothing when both are there.
# Without root (and so without apt) it only warns: the test then fails under CI=true and
# skips, saying why, elsewhere.
set -euo pipefail

if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "ensure-browser: chromium/chromedriver missing and not root; the browser test cannot run" >&2
  exit 0
fi
echo "ensure-browser: installing chromium and chromium-driver with apt" >&2
# Another apt run on the same machine holds the lock for a while: wait for it, not fail.
apt-get -o DPkg::Lock::Timeout=300 update -qq
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
  --no-install-recommends chromium chromium-driver >/dev/null
