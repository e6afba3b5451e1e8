#!/usr/bin/env bash
# CUDA compile check: builds the extension with the CUDA backend (CORENN_CUDA=ON) for one
# architecture, then imports it on this machine, which may have no GPU and no driver: the CUDA
# runtime is linked statically, so the import must work and corenn.cuda.is_built() must be True.
# Run by .ci/run when nvcc is present, so that csrc/cuda cannot rot unseen on CPU-only machines.
#
# Usage: tools/check_cuda_build.sh [ARCH]     ARCH: CMAKE_CUDA_ARCHITECTURES, default 90-real
# Needs: nvcc on PATH (or /usr/local/cuda/bin), a Python with pip (the active venv).
set -euo pipefail
cd "$(dirname "$0")/.."
arch="${1:-90-real}"
export PATH="$PATH:/usr/local/cuda/bin"
if ! command -v nvcc >/dev/null; then
  echo "check_cuda_build: nvcc not found; nothing to check"
  exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
start=$SECONDS
# -Werror=all-warnings: a new nvcc warning in csrc/cuda fails the check.
pip wheel -q --no-deps -w "$work/dist" . \
  -Ccmake.define.CORENN_CUDA=ON \
  -Ccmake.define.CMAKE_CUDA_ARCHITECTURES="$arch" \
  -Ccmake.define.CMAKE_CUDA_FLAGS="-Werror=all-warnings" \
  -Cbuild-dir="$work/build"
python - "$work" <<'PY'
# Load the built extension by its path: an editable install of corenn in this environment would
# otherwise answer the import instead of the wheel just built.
import glob, importlib.util, sys, zipfile
work = sys.argv[1]
wheel, = glob.glob(f"{work}/dist/*.whl")
zipfile.ZipFile(wheel).extractall(f"{work}/site")
so, = glob.glob(f"{work}/site/corenn/_C*.so")
spec = importlib.util.spec_from_file_location("corenn._C", so)
_C = importlib.util.module_from_spec(spec)
spec.loader.exec_module(_C)
assert _C.cuda_built, "the CUDA build does not report the CUDA backend"
print(f"check_cuda_build: {so} loads without a GPU; cuda_built={_C.cuda_built}")
PY
echo "check_cuda_build: OK (arch $arch, $((SECONDS - start)) s)"
