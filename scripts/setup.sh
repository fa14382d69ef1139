#!/bin/sh
# Installs the Debian packages the build needs (idempotent). Run as root or with sudo.
set -e
PKGS="build-essential pkg-config libjson-c-dev libpcre2-dev libsqlite3-dev"
missing=""
for p in $PKGS; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    echo "setup: installing$missing" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi
# Optional test dependency: headless Chromium, used by tests/report/test_report
# to check that the HTML report renders (the test is skipped without it).
# BD_SKIP_CHROMIUM=1 skips this; a failure here does not fail the setup.
if [ -z "$BD_SKIP_CHROMIUM" ] && ! command -v chromium >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    echo "setup: installing chromium (optional, for the report render test)" >&2
    { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium; } ||
        echo "setup: chromium not installed; tests/report will skip its render check" >&2
fi
