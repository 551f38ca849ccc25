#!/bin/sh
# Installs the system packages the test suite needs when they are missing (idempotent, quiet).
# redis-server: the gateway's shared rate-limit tests start their own on a loopback port.
set -e
missing=""
command -v redis-server >/dev/null 2>&1 || missing="$missing redis-server"
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if command -v apt-get >/dev/null 2>&1; then
    $SUDO apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
else
    echo "install_system_packages: please install:$missing" >&2
    exit 1
fi
