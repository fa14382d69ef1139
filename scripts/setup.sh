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
