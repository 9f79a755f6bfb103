#!/usr/bin/env sh
# Installs Debian's Chromium for the report rendering test (test/report.browser.test.ts) when it is missing.
# Playwright drives it through playwright-core; no browser is downloaded from outside the package mirrors.
set -eu
if [ -x /usr/bin/chromium ]; then
  echo "chromium present: /usr/bin/chromium"
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
echo "chromium installed: /usr/bin/chromium"
