#!/usr/bin/env bash
# Build corenn for aarch64 and run its test suite there, under qemu-user emulation, in an arm64
# Debian bookworm chroot. Proves the portable build: no x86 file is compiled, the reference kernels
# pass the same tests as on x86.
#
#   sudo tools/test_aarch64.sh                      # the whole suite (about 2 min under qemu)
#   sudo tools/test_aarch64.sh tests/kernels tests/core # a subset; any pytest arguments
#   sudo tools/test_aarch64.sh tests/kernels/test_gemm.py -k sizes
#
# Environment:
#   CORENN_ARM64_ROOT   the chroot, created once (debootstrap, ~8 min) and reused
#                       (default /var/cache/corenn/arm64-bookworm)
#   CORENN_ARM64_BUILD  cross (default): cross-compile on the host with g++-aarch64-linux-gnu
#                       against the chroot's Python headers (host python3 must be the chroot's
#                       3.11); native: cmake + g++ inside the chroot, under emulation (about 9x
#                       slower, but needs neither the cross toolchain nor a matching host Python)
#   CORENN_ARM64_MIRROR Debian mirror (default: the first one in /etc/apt/sources.list*)
#
# Needs root (debootstrap, chroot, binfmt_misc), a Debian/Ubuntu host with apt, and network access
# to the Debian mirror the first time. Works in containers where binfmt_misc can be mounted.
set -euo pipefail
. "$(dirname "$0")/chroot_lib.sh"

REPO=$(cd "$(dirname "$0")/.." && pwd)
ROOT=${CORENN_ARM64_ROOT:-/var/cache/corenn/arm64-bookworm}
MODE=${CORENN_ARM64_BUILD:-cross}
# Host-side build tree (cross mode), one per checkout: CMake refuses a cache made for another source.
BUILD=${ROOT}.build/$(printf %s "$REPO" | md5sum | cut -c1-12)
DEST=/opt/corenn               # where the package and tests go inside the chroot
if [ $# -eq 0 ]; then set -- tests; fi

[ "$(id -u)" -eq 0 ] || { echo "test_aarch64.sh: run as root (debootstrap, chroot)" >&2; exit 1; }
log() { printf '\n== %s [%s]\n' "$*" "$(date +%T)"; }
t_start=$(date +%s)

# ---- host tools -----------------------------------------------------------------------------
need=()
for p in qemu-user-static debootstrap binfmt-support; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ "$MODE" = cross ]; then
  for p in g++-aarch64-linux-gnu binutils-aarch64-linux-gnu cmake make file; do
    # the cross packages by dpkg alone (the host's own g++ is not the cross compiler); cmake,
    # make and file may also come from elsewhere (pip's cmake), so a command on PATH will do
    if [ "$p" != "${p%-aarch64-linux-gnu}" ]; then
      dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
    else
      dpkg -s "$p" >/dev/null 2>&1 || command -v "$p" >/dev/null 2>&1 || need+=("$p")
    fi
  done
fi
if [ ${#need[@]} -gt 0 ]; then
  log "apt-get install ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi

# ---- binfmt_misc: run aarch64 ELF files through qemu ---------------------------------------
BINFMT=/proc/sys/fs/binfmt_misc
[ -e $BINFMT/register ] || mount -t binfmt_misc binfmt_misc $BINFMT
if [ ! -e $BINFMT/qemu-aarch64 ]; then
  # The F flag opens the interpreter now, so the chroot needs no qemu binary of its own.
  cat /usr/lib/binfmt.d/qemu-aarch64.conf > $BINFMT/register
fi
grep -q enabled $BINFMT/qemu-aarch64

# ---- the arm64 chroot (cached) --------------------------------------------------------------
if [ ! -e "$ROOT/.corenn-complete" ]; then
  MIRROR=${CORENN_ARM64_MIRROR:-$(host_debian_mirror)}
  log "debootstrap arm64 bookworm into $ROOT from $MIRROR"
  rm -rf "$ROOT.tmp"
  debootstrap --arch=arm64 --variant=minbase \
    --include=python3-dev,python3-venv,python3-numpy,python3-pytest,python3-hypothesis,g++,cmake,make,libgomp1 \
    bookworm "$ROOT.tmp" "$MIRROR"
  touch "$ROOT.tmp/.corenn-complete"
  rm -rf "$ROOT"
  mv "$ROOT.tmp" "$ROOT"
fi
[ "$(chroot "$ROOT" uname -m)" = aarch64 ]

mount_chroot_fs "$ROOT"

# ---- pybind11 (pure headers + CMake config) from PyPI, in a tool venv ------------------------
TOOLS=${ROOT}.tools
if [ ! -e "$TOOLS/bin/python" ]; then
  log "tool venv with pybind11 at $TOOLS"
  python3 -m venv "$TOOLS"
fi
"$TOOLS/bin/python" -c "import pybind11" 2>/dev/null ||
  "$TOOLS/bin/pip" install -q "pybind11>=2.12"
PYBIND11_SRC=$("$TOOLS/bin/python" -c "import pybind11, os; print(os.path.dirname(pybind11.__file__))")

# ---- sources into the chroot ----------------------------------------------------------------
log "copy the working tree into $ROOT$DEST"
rm -rf "$ROOT$DEST"
mkdir -p "$ROOT$DEST"
(cd "$REPO" && git ls-files -z --cached --others --exclude-standard |
   tar --null -T - -cf - 2>/dev/null) | tar -xf - -C "$ROOT$DEST"
rm -rf "$ROOT/opt/pybind11" && cp -a "$PYBIND11_SRC" "$ROOT/opt/pybind11"
# Debian's dataset-fashion-mnist on the host (apt-get install dataset-fashion-mnist): the tests
# that train on real data run too.
FMNIST=/usr/share/datasets/fashion-mnist
if [ -d $FMNIST ] && [ ! -d "$ROOT$FMNIST" ]; then
  mkdir -p "$ROOT$FMNIST" && cp -a $FMNIST/. "$ROOT$FMNIST/"
fi

EXT_SUFFIX=$(chroot "$ROOT" python3 -c "import sysconfig; print(sysconfig.get_config_var('EXT_SUFFIX'))")
PYVER=$(chroot "$ROOT" python3 -c "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')")
t_build=$(date +%s)

# ---- build ----------------------------------------------------------------------------------
if [ "$MODE" = cross ]; then
  log "cross-compile with aarch64-linux-gnu-g++ (Python $PYVER headers from the chroot)"
  # CMake's FindPython pairs the host interpreter with the target's headers: same X.Y needed.
  HOSTVER=$("$TOOLS/bin/python" -c "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')")
  if [ "$HOSTVER" != "$PYVER" ]; then
    echo "host python3 is $HOSTVER, the chroot's is $PYVER: use CORENN_ARM64_BUILD=native" >&2
    exit 1
  fi
  # Only the target's Python headers are needed (an extension module links no libpython). The
  # multiarch pyconfig.h includes <aarch64-linux-gnu/python3.X/pyconfig.h>: stage both.
  INC=$BUILD/pyinclude
  rm -rf "$INC" && mkdir -p "$INC/aarch64-linux-gnu"
  cp -a "$ROOT/usr/include/python$PYVER" "$INC/"
  cp -a "$ROOT/usr/include/aarch64-linux-gnu/python$PYVER" "$INC/aarch64-linux-gnu/"
  cmake -S "$REPO" -B "$BUILD/cmake" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_SYSTEM_NAME=Linux -DCMAKE_SYSTEM_PROCESSOR=aarch64 \
    -DCMAKE_CXX_COMPILER=aarch64-linux-gnu-g++ -DCMAKE_STRIP="$(command -v aarch64-linux-gnu-strip)" \
    -DCMAKE_FIND_ROOT_PATH_MODE_PACKAGE=NEVER \
    -DPython_EXECUTABLE="$TOOLS/bin/python" -DPython_INCLUDE_DIR="$INC/python$PYVER" \
    -DCMAKE_CXX_FLAGS="-idirafter $INC" \
    -DPYBIND11_USE_CROSSCOMPILING=ON -DPYTHON_IS_DEBUG=0 \
    -DPYTHON_MODULE_EXTENSION="$EXT_SUFFIX" -DPYTHON_MODULE_DEBUG_POSTFIX= \
    -Dpybind11_DIR="$("$TOOLS/bin/python" -m pybind11 --cmakedir)" >"$BUILD.cmake.log"
  grep "corenn:" "$BUILD.cmake.log" || true
  cmake --build "$BUILD/cmake" -j"$(nproc)"
  SO=$(ls "$BUILD"/cmake/_C*"$EXT_SUFFIX")
else
  log "build inside the chroot (cmake + g++ under emulation)"
  if ! chroot "$ROOT" sh -c 'command -v make && command -v cmake && command -v g++' >/dev/null; then
    cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
    chroot "$ROOT" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq make cmake g++'
  fi
  chroot "$ROOT" sh -c "cd $DEST && cmake -S . -B /tmp/build -DCMAKE_BUILD_TYPE=Release \
      -Dpybind11_DIR=\$(python3 -c 'import sys; sys.path.insert(0, \"/opt\"); import pybind11; print(pybind11.get_cmake_dir())') \
      | grep corenn: ; cmake --build /tmp/build -j$(nproc)"
  SO=$ROOT/tmp/build/_C$EXT_SUFFIX
fi
file "$SO" | grep -q "ARM aarch64" || { file "$SO"; echo "not an aarch64 module" >&2; exit 1; }
if aarch64-linux-gnu-nm -DC "$SO" 2>/dev/null | grep -qi avx; then
  echo "aarch64 module references AVX symbols" >&2; exit 1
fi
# Install like pip would (tests start subprocesses with their own PYTHONPATH): the package and the
# extension into the chroot's site directory.
SITE=$ROOT/usr/local/lib/python$PYVER/dist-packages
rm -rf "$SITE/corenn" && mkdir -p "$SITE"
cp -a "$ROOT$DEST/python/corenn" "$SITE/corenn"
cp "$SO" "$SITE/corenn/"
t_tests=$(date +%s)

# ---- tests ----------------------------------------------------------------------------------
log "pytest $* (aarch64, qemu-user)"
set +e
chroot "$ROOT" env -i PATH=/usr/bin:/bin HOME=/root LANG=C.UTF-8 \
  sh -c "cd $DEST && python3 -c 'import corenn, platform; from corenn import _C; \
print(\"corenn on\", platform.machine(), \"isa\", _C.get_isa(), \"built\", _C.isas_built)' && \
python3 -m pytest -q -p no:cacheprovider $*"
rc=$?
set -e
t_end=$(date +%s)
log "timings: setup $((t_build - t_start)) s, build ($MODE) $((t_tests - t_build)) s, tests $((t_end - t_tests)) s"
exit $rc
