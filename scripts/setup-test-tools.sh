#!/usr/bin/env sh
# Installs the Debian packages some tests use, each only when it is missing (no downloads from outside the
# package mirrors):
# - chromium: the report rendering test (test/report/report.browser.test.ts) drives it through playwright-core;
# - python3-h5py: an independent HDF5 reader; the round-trip tests (test/scan/writtenFiles.test.ts,
#   test/scan/interop.test.ts) read every file ptyxrf writes back through /usr/bin/python3's h5py too.
set -eu
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
missing=""
if [ -x /usr/bin/chromium ]; then echo "chromium present: /usr/bin/chromium"; else missing="$missing chromium"; fi
if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import h5py" 2>/dev/null; then
  echo "h5py present: /usr/bin/python3"
else
  missing="$missing python3-h5py"
fi
if [ -z "$missing" ]; then exit 0; fi
$SUDO apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
echo "installed:$missing"
