"""The child process of the fuzz suite: builds and runs calls, one JSON result line per call.

Protocol: the parent writes one JSON list of case keys per line on stdin; for each case the child
writes ``@@FUZZ {json}`` on stdout (flushed) once the call has returned or raised. A child that
dies (SIGSEGV, SIGABRT from a sanitizer...) leaves the first case of the batch without a result:
that is the crashing call. A case key is ``op:seed`` or ``op:seed:param:mutation`` and fully
determines the call (see :func:`build`).

Run ``python -m fuzz.worker --repro KEY`` (from tests/) to make one call in this process, so a
debugger or a sanitizer sees it.
"""
from __future__ import annotations

import inspect
import json
import os
import sys
import warnings

import numpy as np

# Keep a runaway size from taking the (shared) machine down: MemoryError instead. A sanitizer
# reserves terabytes of shadow memory, so its runs use ASAN_OPTIONS limits instead.
if "asan" not in os.environ.get("LD_PRELOAD", "") and os.environ.get("CORENN_FUZZ_NO_RLIMIT") != "1":
    import resource
    _limit = int(os.environ.get("CORENN_FUZZ_MEM_MB", "4096")) << 20
    resource.setrlimit(resource.RLIMIT_AS, (_limit, _limit))

from corenn import kernels  # noqa: E402

from . import values as V  # noqa: E402
from .specs import SPECS  # noqa: E402

# Exceptions a bad call may raise. Their message must name the op (one of Call.names), except
# MemoryError (an allocation the process cannot get is not an input check; its text comes from
# the allocator). RuntimeError is corenn's mapping for a device that cannot be used (check.h).
ACCEPTED = (ValueError, TypeError, NotImplementedError, OverflowError, IndexError, RuntimeError,
            MemoryError)
MAX_THREADS = 64  # set_num_threads(10**6) would start a million OpenMP threads: not fuzzed
BAD_INDEX_VALUES = [-1, -2**31, 2**31, 2**63 - 1, 1.5, float("nan"), float("inf"), 10**6]


def _mutate_index(r, a):
    """An index array with one bad value (negative, out of range, not whole)."""
    v = BAD_INDEX_VALUES[int(r.integers(len(BAD_INDEX_VALUES)))]
    a = np.array(a, copy=True)
    if a.size == 0:
        return a, False
    if isinstance(v, float) or (isinstance(v, int) and abs(v) >= 2**31 and a.dtype != np.int64):
        a = a.astype(np.float64 if not isinstance(v, int) else np.int64)
    a.reshape(-1)[int(r.integers(a.size))] = v
    return a, True


def _mutate(r, op, call, param, kind=None):
    """Replace ``call.kw[param]`` by a bad value. Returns (mutation name, must_reject)."""
    role = call.roles.get(param, "param")
    cur = call.kw.get(param)
    if role in ("list_in", "list_out"):
        cur = list(cur) if cur is not None else []
        options = ["elem", "drop", "alias", "none", "array", "tuple"]
        kind = kind or options[int(r.integers(len(options)))]
        if kind == "elem" and cur:
            i = int(r.integers(len(cur)))
            sub, val, must = V.mutate_array(r, cur[i], "out" if role == "list_out" else "in")
            cur[i] = val
            call.kw[param] = cur
            return f"elem:{sub}", must
        if kind == "drop" and cur:
            call.kw[param] = cur[:-1]
            return kind, False
        if kind == "alias" and cur and role == "list_out":
            call.kw[param] = cur + [cur[0]]
            return kind, False
        call.kw[param] = {"none": None, "array": cur[0] if cur else None,
                          "tuple": tuple(cur)}.get(kind, None)
        return kind, False
    if role in ("in", "out", "out?", "target", "index", "any"):
        placeholder = cur is None  # an absent out: its right dtype and shape are not known here
        if placeholder:
            cur = V.f32(r, 2, 3)
        if role == "index" and (kind == "bad_index" or (kind is None and r.random() < 0.4)):
            call.kw[param], must = _mutate_index(r, cur)
            return "bad_index", must and op != "accuracy_count"
        if kind and kind != "bad_index":
            val, must = V.mutate_array_kind(r, np.asarray(cur), role, kind, role == "out")
        else:
            kind, val, must = V.mutate_array(r, cur, role)
        call.kw[param] = val
        # A placeholder turned into another dtype may have become the right one (an int32
        # argmax of a matching shape), so it proves nothing either way.
        return kind, must and not (placeholder and kind == "dtype")
    if cur is None:
        cur = 1.0
    kind, val, must = V.mutate_scalar(r, cur)
    if op == "set_num_threads" and isinstance(val, int) and val > MAX_THREADS:
        val = MAX_THREADS
    call.kw[param] = val
    return kind, must


def _params(op, call):
    """Mutable parameters: those the spec set plus every other argument in the signature."""
    # 'fixed' arguments select what the harness probes and 'op' only names the caller in
    # messages: neither is user input.
    names = [n for n in call.kw if call.roles.get(n) != "fixed" and n != "op"]
    try:
        sig = inspect.signature(call.fn)
        names += [p for p in sig.parameters if p not in call.kw and p != "op" and
                  sig.parameters[p].kind not in (inspect.Parameter.VAR_KEYWORD,
                                                 inspect.Parameter.VAR_POSITIONAL)]
    except (TypeError, ValueError):
        pass
    return names


def build(key):
    """Key -> (Call, description of the mutation, must_reject)."""
    parts = key.split(":")
    op, seed = parts[0], int(parts[1])
    want_param = parts[2] if len(parts) > 2 and parts[2] else None
    want_kind = parts[3] if len(parts) > 3 and parts[3] else None
    r = np.random.default_rng(seed)
    call = SPECS[op](r)
    params = _params(op, call)
    if want_param is not None:
        chosen = [(want_param, want_kind)]
    else:
        u = r.random()
        n = 0 if u < 0.2 or not params else (1 if u < 0.9 else 2)
        picks = r.choice(len(params), size=min(n, len(params)), replace=False) if n else []
        chosen = [(params[int(i)], None) for i in picks]
    muts, must = [], False
    if not chosen and r.random() < 0.5:
        # NaN / Inf in a float input is a *valid* call: the result must propagate NaN
        floats = [n for n in call.kw if call.roles.get(n) in ("in", "any") and
                  isinstance(call.kw[n], np.ndarray) and call.kw[n].dtype == np.float32]
        if floats:
            name = floats[int(r.integers(len(floats)))]
            which = np.nan if r.random() < 0.7 else None
            call.kw[name] = V.with_nonfinite(r, call.kw[name], which)
            muts.append(f"{name}={'nan_values' if which is not None else 'nonfinite_values'}")
    for param, kind in chosen:
        if param not in call.roles and param not in call.kw:
            call.roles[param] = "param"
        name, m = _mutate(r, op, call, param, kind)
        muts.append(f"{param}={name}")
        must = must or m
    return call, muts, must


def _snapshot(call):
    """Copies of every array the op must not write."""
    snap = {}
    for name, v in call.kw.items():
        role = call.roles.get(name, "param")
        items = v if role in ("list_in", "list_out") and isinstance(v, (list, tuple)) else [v]
        for j, a in enumerate(items):
            if isinstance(a, np.ndarray) and a.dtype != object:
                writable_role = role in ("out", "out?", "list_out") or name in call.written
                if not writable_role or not a.flags.writeable:
                    snap[(name, j)] = (a, a.copy())
    return snap


def run_case(key):
    res = {"key": key}
    try:
        call, muts, must = build(key)
    except Exception as exc:  # the builder itself failed (harness bug or a crash in a helper op)
        res.update(status="harness_error", type=type(exc).__name__, msg=str(exc)[:300])
        return res
    res["op"] = key.split(":")[0]
    res["mutations"] = muts
    res["must_reject"] = must
    res["args"] = ", ".join(f"{k}={V.describe(v)}" for k, v in call.kw.items())
    snap = _snapshot(call)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with np.errstate(all="ignore"):
                out = call.fn(**call.kw)
    except BaseException as exc:  # noqa: BLE001 - SystemExit etc. are findings too
        res.update(status="exc", type=type(exc).__name__, msg=str(exc)[:400])
        res["bad"] = _classify_exc(res, exc, call)
        return res
    finally:
        if res["op"] == "set_num_threads":
            kernels.set_num_threads(0)
    res["status"] = "ok"
    bad = []
    for (name, j), (a, before) in snap.items():
        same = a.shape == before.shape and (np.array_equal(a, before, equal_nan=a.dtype.kind in "fc")
                                            if a.dtype.kind in "fc" else np.array_equal(a, before))
        if not same:
            what = "read-only array" if not a.flags.writeable else "input array"
            bad.append(f"wrote-{'readonly' if not a.flags.writeable else 'input'}: {what} "
                       f"'{name}' was modified")
    if must:
        bad.insert(0, f"accepted-invalid: {'; '.join(muts)} was accepted")
    # References judge finite and NaN inputs; with +-Inf several answers are defensible (inf - inf
    # in a batch mean, 0 * inf in a masked gradient), so only the safety invariants apply there.
    has_inf = any(isinstance(v, np.ndarray) and v.dtype.kind == "f" and np.isinf(v).any()
                  for n, v in call.kw.items() if call.roles.get(n) in ("in", "target"))
    if call.check is not None and not (has_inf and not res["op"].startswith("Tensor.")):
        try:
            with np.errstate(all="ignore"):
                bad += [f"invariant: {v}" for v in call.check(out, call.kw)]
        except Exception:  # the oracle cannot handle this (mutated) input: no verdict
            pass
    res["bad"] = bad
    return res


def _classify_exc(res, exc, call):
    if not isinstance(exc, Exception):
        return [f"exception-type: {type(exc).__name__} (BaseException)"]
    if isinstance(exc, BufferError) and res["op"] == "Tensor.from_dlpack":
        return []  # the producer (NumPy) refuses to export, e.g. a read-only array
    if not isinstance(exc, ACCEPTED):
        return [f"exception-type: {type(exc).__name__}"]
    if isinstance(exc, MemoryError):
        return []
    msg = str(exc).lower()
    if not any(n.lower() in msg for n in call.names):
        return [f"no-op-name: {type(exc).__name__} without any of {list(call.names)}"]
    return []


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--repro":
        res = run_case(sys.argv[2])
        print(json.dumps(res, indent=1, default=str))
        return
    if len(sys.argv) > 2 and sys.argv[1] == "--describe":
        call, muts, must = build(sys.argv[2])
        print(json.dumps({"mutations": muts, "must_reject": must, "args": ", ".join(
            f"{k}={V.describe(v)}" for k, v in call.kw.items())}))
        return
    kernels.set_num_threads(int(os.environ.get("CORENN_FUZZ_THREADS", "0")))
    out = sys.stdout
    for line in sys.stdin:
        for key in json.loads(line):
            out.write("@@FUZZ " + json.dumps(run_case(key), default=str) + "\n")
            out.flush()
        out.write("@@DONE\n")
        out.flush()


if __name__ == "__main__":
    main()
