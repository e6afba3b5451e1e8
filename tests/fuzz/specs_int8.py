"""Valid-call builders (see specs.py) for the int8 kernels: int8_gemm and quantized_matmul
(csrc/ops/int8_gemm.h). specs.py merges them into SPECS."""
from __future__ import annotations

import numpy as np

from corenn import kernels

from .specs import Call, _close, _dims
from .values import f32


def _i8(r, *shape):
    return r.integers(-128, 128, size=shape).astype(np.int8)


def int8_gemm(r):
    m, k, n = _dims(r, 3, 1, 6)
    a, b = _i8(r, m, k), _i8(r, k, n)
    out = np.zeros((m, n), np.int32) if r.random() < 0.4 else None

    def check(c, kw):
        if np.shape(kw["a"]) != a.shape or np.shape(kw["b"]) != b.shape:
            return []
        want = np.asarray(kw["a"], np.int64) @ np.asarray(kw["b"], np.int64)
        return [] if np.array_equal(np.asarray(c), want) else ["int8_gemm: differs from the int64 product"]
    return Call(kernels.int8_gemm, dict(a=a, b=b, out=out), dict(a="target", b="target", out="out"),
                ("int8_gemm",), check)


def quantized_matmul(r):
    m, k, n = _dims(r, 3, 1, 6)
    x = f32(r, m, k)
    q = r.integers(-127, 128, size=(k, n)).astype(np.int8)   # a quantized layer's int8 kernel
    scale = (np.abs(f32(r, n)) + 1).astype(np.float32)
    bias = f32(r, n) if r.random() < 0.6 else None
    relu = bool(r.random() < 0.3)

    def check(y, kw):
        if any(np.shape(kw[name]) != v.shape for name, v in (("x", x), ("kernel", q), ("kernel_scale", scale))):
            return []
        xx = np.asarray(kw["x"], np.float32)
        if not np.isfinite(xx).all():
            return []
        sx = np.float32(127) / (np.abs(xx).max(-1, keepdims=True) + np.float32(1e-7))
        qx = np.clip(np.rint(xx * sx), -127, 127)
        want = (qx @ np.asarray(kw["kernel"], np.float64)) / (sx.astype(np.float64) * np.asarray(kw["kernel_scale"], np.float64))
        if kw.get("bias") is not None:
            want = want + np.asarray(kw["bias"], np.float64)
        if kw.get("relu") is True:
            want = np.maximum(want, 0.0)
        return _close(np.asarray(y), want, "quantized_matmul", 1e-5, 1e-5)
    return Call(kernels.quantized_matmul, dict(x=x, kernel=q, kernel_scale=scale, bias=bias, out=None, relu=relu),
                dict(x="in", kernel="target", kernel_scale="in", bias="in", out="out"),
                ("quantized_matmul",), check)


def int8_specs():
    return {"int8_gemm": int8_gemm, "quantized_matmul": quantized_matmul}
