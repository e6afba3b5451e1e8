"""Value pools and mutations for the fuzz suite (pure NumPy; no corenn import).

A mutation replaces one argument of an otherwise valid call. Each mutation returns
``(new_value, must_reject)``: ``must_reject`` says the op has no correct way to accept the
value (a read-only or non-contiguous output, a dtype corenn cannot hold, an unrepresentable
size...). Mutations that may legitimately be accepted (NaN values, a Python list of the right
shape, a read-only *input*) return False and the call's invariants are checked instead.
"""
from __future__ import annotations

import math

import numpy as np

HUGE_INTS = [2**31, 2**31 - 1, 2**32 + 1, 2**62 + 1, 2**63 - 1, 2**63, 2**64 + 3, -1, -2**31,
             -2**63]
HUGE_SHAPES = [[2**31], [2**62 + 1], [2**63 - 1], [-1], [2**32, 2**32], [2**31, 2**31, 4],
               [3, -1], [2**62, 4], [0, 2**63 - 1], [2**63 - 1, 0], [-2, -3], [2**40, 2**40, 0],
               [2**33, 2**33, 2**33], [1] * 40, [2**16] * 4]
BAD_STRINGS = ["", "RELU", "gpu", "cuda:99", "cuda:-1", "cuda:", "cuda:0x1", "cpu:0", "relu ",
               "same ", "full", "causal", "\x00", "relu\x00", "x" * 300, "nan", "None", "é"]
BAD_DEVICES = ["cuda:99", "gpu", "cuda:-1", "cuda:", "cuda:99999999999999999999", "cpu:1",
               "CPU", "", "cuda:1 ", "mps", "cuda:0\x00"]
NASTY_FLOATS = [float("nan"), float("inf"), -float("inf"), -1.0, 0.0, 1.0, 1.5, 1e30, -1e30,
                1e-45, 2.0**63, -0.0]
NASTY_INTS = [0, -1, 1, 2**31, 2**62 + 1, 2**63 - 1, 2**64, -2**63, 10**6]
ODD_DTYPES = [np.float64, np.float16, np.int8, np.uint8, np.int16, np.uint64, np.bool_, object,
              np.complex64, np.int32, np.int64]


def describe(v, depth=0) -> str:
    """A short, exact-enough description of an argument for the reproducer line."""
    if isinstance(v, np.ndarray):
        flags = []
        if not v.flags.writeable:
            flags.append("readonly")
        if not v.flags.c_contiguous:
            flags.append(f"strides={v.strides}")
        if v.dtype.kind == "f" and v.size and not np.isfinite(v).all():
            flags.append("nonfinite")
        return f"ndarray{tuple(v.shape)}:{v.dtype}" + (f"[{','.join(flags)}]" if flags else "")
    name = type(v).__name__
    if name == "Tensor":
        return f"Tensor{tuple(v.shape)}:{v.dtype}"
    if isinstance(v, (list, tuple)) and depth < 2:
        if len(v) > 6:
            return f"{name}[{len(v)}]({describe(v[0], depth + 1)}, ...)"
        inner = ", ".join(describe(x, depth + 1) for x in v)
        return f"[{inner}]" if isinstance(v, list) else f"({inner})"
    r = repr(v)
    return r if len(r) <= 60 else r[:57] + "..."


def f32(r, *shape, lo=None, hi=None):
    if lo is not None:
        return r.uniform(lo, hi, size=shape).astype(np.float32)
    return r.standard_normal(shape).astype(np.float32)


def with_nonfinite(r, a, which=None):
    a = np.array(a, copy=True)
    if a.size == 0 or a.dtype.kind != "f":
        return a
    vals = [np.nan, np.inf, -np.inf] if which is None else [which]
    flat = a.reshape(-1)
    for _ in range(int(r.integers(1, 3))):
        flat[int(r.integers(flat.size))] = vals[int(r.integers(len(vals)))]
    return a


def noncontiguous(r, a):
    """Same shape and values, not C-contiguous (negative stride, transpose-like, step 2)."""
    a = np.asarray(a)
    kind = int(r.integers(3))
    if a.ndim == 0 or a.size <= 1:
        kind = 2
    if kind == 0:
        base = np.ascontiguousarray(a[::-1])
        return base[::-1]
    if kind == 1 and a.ndim >= 2:
        return np.asfortranarray(a)
    big = np.repeat(a[..., None], 2, axis=-1) if a.ndim else np.array([a, a])
    out = big[..., 0] if a.ndim else big[::2].reshape(())
    if out.flags.c_contiguous:  # a 0-d or one-element array: step through a bigger buffer
        flat = np.zeros(2 * max(a.size, 1), a.dtype)
        out = flat[::2][: a.size].reshape(a.shape) if a.size else flat[:0:2].reshape(a.shape)
    return out


def readonly(a):
    a = np.array(a, copy=True)
    a.flags.writeable = False
    return a


def mutate_array(r, a, role):
    """A bad version of array ``a``; role is 'in', 'out' (written), 'target' (converted by the
    wrapper), 'index'. Returns (kind, value, must_reject)."""
    a = np.asarray(a)
    is_out = role == "out"
    choices = ["dtype", "rank_up", "rank_down", "shape", "zero", "noncontig", "readonly",
               "nonfinite", "none", "list", "scalar", "huge_zero_size", "nan_only"]
    kind = choices[int(r.integers(len(choices)))]
    return (kind,) + mutate_array_kind(r, a, role, kind, is_out)


def mutate_array_kind(r, a, role, kind, is_out):
    if kind == "dtype":
        dt = ODD_DTYPES[int(r.integers(len(ODD_DTYPES)))]
        if dt is object:
            v = np.empty(a.shape, object)
            v.reshape(-1)[:] = [float(x) for x in np.asarray(a, np.float64).reshape(-1)]
        elif np.dtype(dt).kind == "c":
            v = a.astype(dt) + 1j
        else:
            with np.errstate(all="ignore"):
                v = a.astype(dt)
        same = np.dtype(dt) == a.dtype
        # ints where float32 is required, or any dtype corenn does not compute in (a Tensor may
        # hold float64 / uint8 ..., but no kernel takes them), must be refused for strict
        # arguments; targets/indices are converted by the wrapper (documented) instead.
        strict = role in ("in", "out") and a.dtype == np.float32
        computable = np.dtype(dt) in (np.dtype(np.float32), np.dtype(np.int32), np.dtype(np.int64))
        return v, (not same) and (is_out or (strict and not computable) or
                                  (role == "in" and strict and np.dtype(dt).kind in "iu"))
    if kind == "rank_up":
        return a[..., None].copy(), False
    if kind == "rank_down":
        return (a.reshape(-1)[:1].reshape(()).copy() if a.ndim <= 1 else a.reshape(-1).copy()), False
    if kind == "shape":
        shape = list(a.shape) or [1]
        ax = int(r.integers(len(shape)))
        shape[ax] = max(0, shape[ax] + int(r.choice([-1, 1, 2, 5])))
        return f32(r, *shape).astype(a.dtype) if a.dtype != object else np.zeros(shape), False
    if kind == "zero":
        shape = list(a.shape) or [0]
        shape[int(r.integers(len(shape)))] = 0
        return np.zeros(shape, a.dtype), False
    if kind == "huge_zero_size":
        shape = list(a.shape) or [0]
        shape[int(r.integers(len(shape)))] = 0
        shape[int(r.integers(len(shape)))] = int(r.choice([2**31, 2**40, 2**62]))
        if 0 not in shape:
            shape[0] = 0
        return np.zeros(shape, a.dtype), False
    if kind == "noncontig":
        v = noncontiguous(r, a)
        return v, (is_out and not v.flags.c_contiguous)
    if kind == "readonly":
        return readonly(a), is_out
    if kind == "nonfinite":
        return with_nonfinite(r, a), False
    if kind == "nan_only":
        return with_nonfinite(r, a, np.nan), False
    if kind == "none":
        return None, False
    if kind == "list":
        return a.tolist(), False
    if kind == "scalar":
        return [3.0, 0, True, np.float32(2.0), "x", b"\x00", 1 + 2j][int(r.integers(7))], False
    raise ValueError(kind)


def mutate_scalar(r, v):
    """A bad version of a non-array argument (str, bool, int, float, shape tuple, list)."""
    if isinstance(v, str):
        pool = BAD_STRINGS + [None, 3, v.upper(), v + "_"]
        return "bad_string", pool[int(r.integers(len(pool)))], False
    if isinstance(v, bool):
        pool = [None, "yes", 2, float("nan")]
        return "bad_bool", pool[int(r.integers(len(pool)))], False
    if isinstance(v, int):
        pool = NASTY_INTS + [None, 1.5, float("nan"), "3", True, np.int64(-5)]
        return "bad_int", pool[int(r.integers(len(pool)))], False
    if isinstance(v, float):
        pool = NASTY_FLOATS + [None, "0.1", 1j, np.float64("nan")]
        return "bad_float", pool[int(r.integers(len(pool)))], False
    if isinstance(v, (tuple, list)) and all(isinstance(x, (int, np.integer)) for x in v):
        pool = HUGE_SHAPES + [[], [1.5, 2], None, "3", [None], list(v) + [1], list(v)[:-1]]
        shape = pool[int(r.integers(len(pool)))]
        return "bad_shape", (tuple(shape) if isinstance(v, tuple) and isinstance(shape, list)
                             else shape), False
    pool = [None, 0, "x", [], [None], float("nan")]
    return "bad_value", pool[int(r.integers(len(pool)))], False


def huge_shape_of_rank(r, rank):
    """A shape of ``rank`` whose element count overflows int64 or size_t, or is negative."""
    kind = int(r.integers(4))
    if kind == 0:
        return [2**62 + 1] + [1] * (rank - 1)
    if kind == 1:
        return [2**32] * rank if rank >= 2 else [2**63 - 1]
    if kind == 2:
        return [-1] + [2] * (rank - 1)
    return [2**31] + [2**31] * (rank - 1) if rank >= 2 else [2**31]


def prod(shape):
    return math.prod(int(d) for d in shape)
