#!/usr/bin/env bash
# ThreadSanitizer on the kernels' thread pool alone (csrc/core/thread_pool.cpp, parallel.cpp):
# tools/tsan_pool.cpp runs thousands of small jobs from three caller threads at once, with nested
# jobs, exceptions and thread-count changes, and checks every index ran exactly once. The Python
# extension is not involved (TSan and an uninstrumented interpreter do not mix). ~15 s build + run.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${TMPDIR:-/tmp}/corenn_tsan_pool
${CXX:-g++} -std=c++17 -O1 -g -fsanitize=thread -I"$ROOT/csrc" "$ROOT/tools/tsan_pool.cpp" \
  "$ROOT/csrc/core/thread_pool.cpp" "$ROOT/csrc/core/parallel.cpp" -o "$OUT" -pthread
TSAN_OPTIONS=halt_on_error=1 "$OUT"
