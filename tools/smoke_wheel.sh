#!/usr/bin/env bash
# Install a corenn wheel on a machine with no compiler and train with it: a clean Debian bookworm
# minbase chroot with only python3, python3-venv and python3-pip (no gcc, g++, cc), a venv, the
# wheel plus numpy from PyPI, then tools/smoke_wheel.py with CORENN_ISA=ref and with the default.
#
#   sudo tools/smoke_wheel.sh [dist/corenn-*.whl]    # default: the newest wheel in dist/
#
# Environment: CORENN_SMOKE_ROOT (the chroot, created once and reused; default
# /var/cache/corenn/smoke-bookworm), CORENN_SMOKE_MIRROR (default: the host's Debian mirror).
# Needs root, debootstrap (installed with apt if missing) and network access to the mirror and PyPI
# (a PIP_CERT set on the host is passed into the chroot).
set -euo pipefail
. "$(dirname "$0")/chroot_lib.sh"
REPO=$(cd "$(dirname "$0")/.." && pwd)
WHEEL=${1:-$(ls -t "$REPO"/dist/corenn-*manylinux*.whl | head -1)}
ROOT=${CORENN_SMOKE_ROOT:-/var/cache/corenn/smoke-bookworm}
ARCH=$(dpkg --print-architecture)
[ "$(id -u)" -eq 0 ] || { echo "smoke_wheel.sh: run as root (debootstrap, chroot)" >&2; exit 1; }
t0=$(date +%s)

dpkg -s debootstrap >/dev/null 2>&1 || { apt-get update -qq; apt-get install -y -qq debootstrap; }
if [ ! -e "$ROOT/.corenn-complete" ]; then
  MIRROR=${CORENN_SMOKE_MIRROR:-$(host_debian_mirror)}
  echo "== debootstrap $ARCH bookworm minbase into $ROOT"
  rm -rf "$ROOT.tmp"
  debootstrap --arch="$ARCH" --variant=minbase --include=python3,python3-venv,python3-pip \
    bookworm "$ROOT.tmp" "$MIRROR"
  touch "$ROOT.tmp/.corenn-complete"
  rm -rf "$ROOT" && mv "$ROOT.tmp" "$ROOT"
fi
t1=$(date +%s)

mount_chroot_fs "$ROOT"
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"   # pip reaches PyPI from inside
rm -rf "$ROOT/smoke" && mkdir -p "$ROOT/smoke"
cp "$WHEEL" "$REPO/tools/smoke_wheel.py" "$ROOT/smoke/"
# Behind a TLS-intercepting proxy the host's pip trusts an extra CA (PIP_CERT): pass it on.
cert_env=()
if [ -n "${PIP_CERT:-}" ] && [ -f "$PIP_CERT" ]; then
  cp "$PIP_CERT" "$ROOT/smoke/ca.crt" && cert_env=(PIP_CERT=/smoke/ca.crt)
fi

echo "== smoke test of $(basename "$WHEEL") in $ROOT"
chroot "$ROOT" env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 "${cert_env[@]}" sh -euc '
  cd /smoke
  for c in gcc g++ cc c++ clang; do
    if command -v $c >/dev/null; then echo "a compiler is installed: $c" >&2; exit 1; fi
  done
  echo "no compiler: gcc, g++, cc, c++, clang all absent"
  rm -rf venv && python3 -m venv venv
  venv/bin/pip install -q --only-binary=:all: ./corenn-*.whl
  venv/bin/pip list 2>/dev/null | grep -iE "^(corenn|numpy) "
  cd /
  CORENN_ISA=ref /smoke/venv/bin/python /smoke/smoke_wheel.py
  /smoke/venv/bin/python /smoke/smoke_wheel.py
'
echo "== smoke test passed (chroot $((t1 - t0)) s, install + runs $(($(date +%s) - t1)) s)"
