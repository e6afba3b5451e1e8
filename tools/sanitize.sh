#!/usr/bin/env bash
# Build corenn._C with AddressSanitizer + UndefinedBehaviorSanitizer (CMake option
# CORENN_SANITIZE=ON) into its own venv and build dir, then run tests/core, tests/kernels and the fuzz
# suite (tests/fuzz) under it. Any ASan/UBSan report is fatal (halt_on_error, no UBSan recovery)
# and fails the run; inside the fuzz suite it is a "crash" BAD call with the report's first line.
#
#   tools/sanitize.sh            full: tests/core + tests/kernels + fuzz (6000 calls + hypothesis)
#   tools/sanitize.sh --fast     CI subset: tests/core + a few op files + fuzz (1500 calls)
#   tools/sanitize.sh --no-build reuse the last sanitized build
#   tools/sanitize.sh --fuzz N   no pytest: the fuzz CLI (python -m tests.fuzz.run) for N calls,
#                                printing every BAD category with its sanitizer report line
#   extra arguments after "--" go to pytest.
#
# Why the preloads: the interpreter is not instrumented, so libasan must be the first library
# loaded (LD_PRELOAD) or it refuses to start; libstdc++ must be preloaded with it, otherwise ASan's
# interceptor of __cxa_throw is resolved before libstdc++ is loaded and every C++ exception (each
# rejected call: corenn::Error -> ValueError) aborts. The thread pool needs nothing special: its
# threads are created through the intercepted pthread_create.
# ASAN_OPTIONS: detect_leaks=0 (CPython's arenas and interned objects look like leaks),
# allocator_may_return_null=1 + max_allocation_size_mb so a huge size is a MemoryError instead of
# an ASan abort (the fuzz suite asks for 2**62-element tensors on purpose).
#
# Timings measured on the 2-core dev box, shared with 4 other engineers' builds and tests:
#   sanitized build from scratch: 203 s at load ~4-5 (619 s while 5 builds ran at once); the 11
#     bindings files dominate (~13 s each at -O0: pybind11 templates + ASan), kernels are ~3-5 s
#   rebuild with nothing changed: 5 s
#   --fast tests: 53-63 s (fuzz fast tier 1500 calls ~38 s of it on today's main, where ~2% of
#     calls crash and each crash restarts and re-runs an ASan child); --fast total ~4.5 min from
#     scratch, ~1 min incremental
#   full tests (tests/core + tests/kernels + 6000-call fuzz + hypothesis): 129 s
#   --fuzz 10000: 400 s at load ~8 (mostly child restarts after the sanitizer aborts on main)
# Environment: CORENN_SAN_DIR (default ~/.cache/corenn-sanitize/<repo name>) holds venv + build.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SAN_DIR=${CORENN_SAN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/corenn-sanitize/$(basename "$ROOT")}
VENV=$SAN_DIR/venv
BUILD=$SAN_DIR/build
FAST=0
BUILD_IT=1
FUZZ_CALLS=0
PYTEST_EXTRA=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --fast) FAST=1 ;;
    --no-build) BUILD_IT=0 ;;
    --fuzz) FUZZ_CALLS=$2; shift ;;
    --) shift; PYTEST_EXTRA=("$@"); break ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "sanitize.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done

t0=$(date +%s)
if [[ ! -x $VENV/bin/python ]]; then
  python3 -m venv --system-site-packages "$VENV"
fi
if [[ $BUILD_IT == 1 ]]; then
  echo "== building the sanitized extension into $BUILD"
  CORENN_SANITIZE=ON "$VENV/bin/pip" install -q --no-build-isolation --no-deps \
    -Cbuild-dir="$BUILD" -Ccmake.define.CORENN_SANITIZE=ON \
    -Ccmake.build-type=RelWithDebInfo "$ROOT"
fi
t1=$(date +%s)

CXX=${CXX:-g++}
LIBASAN=$(realpath "$($CXX -print-file-name=libasan.so)")
LIBSTDCXX=$(realpath "$($CXX -print-file-name=libstdc++.so)")
[[ -f $LIBASAN ]] || { echo "sanitize.sh: libasan not found ($LIBASAN)" >&2; exit 2; }

export LD_PRELOAD="$LIBASAN $LIBSTDCXX"
export ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:allocator_may_return_null=1:max_allocation_size_mb=4096:detect_stack_use_after_return=0:print_summary=1:symbolize=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export PYTHONFAULTHANDLER=1
export CORENN_NUM_THREADS=${CORENN_NUM_THREADS:-2}  # the thread pool on, under ASan

cd "$ROOT"
# Check that the build really is instrumented before trusting a green run.
"$VENV/bin/python" - <<'EOF'
import subprocess, corenn._C as C
out = subprocess.run(["nm", "-D", "--undefined-only", C.__file__], capture_output=True, text=True).stdout
assert "__asan_" in out and "__ubsan_" in out, f"{C.__file__} is not a sanitized build"
print("sanitized extension:", C.__file__)
EOF

if [[ $FUZZ_CALLS != 0 ]]; then
  set +e
  "$VENV/bin/python" -m tests.fuzz.run --calls "$FUZZ_CALLS" --json "$SAN_DIR/fuzz-bad.json"
  rc=$?
  set -e
  echo "== sanitize.sh: build $((t1 - t0)) s, fuzz $(($(date +%s) - t1)) s, exit $rc (BAD calls: $SAN_DIR/fuzz-bad.json)"
  exit $rc
fi

if [[ $FAST == 1 ]]; then
  TESTS=(tests/core tests/kernels/test_activations.py tests/kernels/test_embedding.py
         tests/kernels/test_losses.py tests/kernels/test_pool2d.py tests/kernels/test_gemm.py tests/fuzz)
  export CORENN_FUZZ_CALLS=${CORENN_FUZZ_CALLS:-1500}
  export CORENN_FUZZ_HYPOTHESIS=${CORENN_FUZZ_HYPOTHESIS:-40}
else
  TESTS=(tests/core tests/kernels tests/fuzz)
fi
set +e
"$VENV/bin/python" -m pytest -q -p no:cacheprovider --no-header "${TESTS[@]}" "${PYTEST_EXTRA[@]}"
rc=$?
set -e
t2=$(date +%s)
echo "== sanitize.sh: build $((t1 - t0)) s, tests $((t2 - t1)) s, exit $rc"
exit $rc
