"""Valid-call builders for every public corenn.kernels function and corenn.Tensor entry.

``SPECS[name](r)`` returns a :class:`Call`: keyword arguments for a *valid* call drawn with the
NumPy generator ``r``, the role of each argument (what a mutation of it must do), the names the
error message may use for the op, and an optional ``check(result, kw)`` that returns a list of
invariant violations (output shapes, float64 references from tests/reference.py) for calls whose
arguments keep their valid shapes. Sizes stay tiny: the fuzzer wants many calls, not big ones.

Roles: 'in' (float32 input, read only), 'out' (written; must be writable, contiguous, float32 or
the documented index dtype), 'target' (dense target / weight, converted by the wrapper), 'index'
(class labels / embedding indices), 'param' (non-array argument), 'list_in' / 'list_out' (lists of
arrays: optimizer parameters and state).
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

import reference as ref
from corenn import kernels
from corenn.kernels import Tensor

from .values import f32


@dataclass
class Call:
    fn: Callable
    kw: dict
    roles: dict
    names: tuple
    check: Callable | None = None
    written: tuple = ()          # argument names the op writes (beyond 'out' roles)


def _close(got, want, what, rtol=1e-4, atol=1e-5):
    got = np.asarray(got, np.float64)
    want = np.asarray(want, np.float64)
    if got.shape != want.shape:
        return [f"{what}: shape {got.shape}, expected {want.shape}"]
    nan_w, nan_g = np.isnan(want), np.isnan(got)
    if (nan_w & ~nan_g).any():
        i = int(np.flatnonzero((nan_w & ~nan_g).reshape(-1))[0])
        return [f"{what}: NaN not propagated (element {i} is {got.reshape(-1)[i]!r}, "
                f"reference NaN)"]
    fin = np.isfinite(want) & ~nan_g
    if fin.any() and not np.allclose(got[fin], want[fin], rtol=rtol, atol=atol):
        err = np.abs(got[fin] - want[fin]) / (atol + rtol * np.abs(want[fin]))
        i = int(np.argmax(err))
        return [f"{what}: differs from the float64 reference (got {got[fin][i]!r}, "
                f"want {want[fin][i]!r})"]
    return []


def _shape(result, shape, what="result"):
    got = tuple(np.asarray(result).shape) if result is not None else None
    return [] if got == tuple(shape) else [f"{what}: shape {got}, expected {tuple(shape)}"]


def _opt_out(r, shape, p=0.4):
    return f32(r, *shape) if r.random() < p else None


def _dims(r, rank, lo=1, hi=5):
    return [int(r.integers(lo, hi + 1)) for _ in range(rank)]


# ---- tensors and runtime -------------------------------------------------------------------

def tensor_empty(r):
    shape = _dims(r, int(r.integers(0, 4)), 0, 4)
    dtype = str(r.choice(["float32", "int32", "int64"]))
    fn = Tensor.empty if r.random() < 0.5 else Tensor.zeros
    name = "empty" if fn is Tensor.empty else "zeros"

    def check(t, kw):
        return _tensor_invariants(t, kw["shape"], kw["dtype"], zeros=name == "zeros")
    return Call(lambda shape, dtype, device: fn(shape, dtype, device),
                dict(shape=shape, dtype=dtype, device="cpu"),
                dict(shape="param", dtype="param", device="param"), (name, "Tensor"), check)


def _tensor_invariants(t, shape, dtype, zeros=False):
    """A returned Tensor must describe exactly the memory it owns: no wrapped sizes."""
    if not isinstance(t, Tensor):
        return [f"returned {type(t).__name__}, not a Tensor"]
    try:
        want = [int(d) for d in shape]
    except Exception:
        return []
    n = 1
    for d in want:
        n *= d
    item = np.dtype(str(dtype)).itemsize
    bad = []
    if list(t.shape) != want:
        bad.append(f"shape {tuple(t.shape)} != requested {tuple(want)}")
    if t.size != n or t.nbytes != n * item:
        bad.append(f"size/nbytes overflow: size {t.size} nbytes {t.nbytes} for shape "
                   f"{tuple(want)} (true size {n})")
    if not bad and t.nbytes <= 1 << 26:
        a = np.asarray(t.numpy())   # a 0-d Tensor's numpy() is a NumPy scalar (TensorFlow's)
        if zeros and a.size and a.any():
            bad.append("zeros() returned non-zero memory")
        t.fill_(1)
        a = np.asarray(t.numpy())
        if a.size and not (a == 1).all():
            bad.append("fill_(1) did not reach every element")
    return bad


def tensor_from_numpy(r):
    dt = r.choice([np.float32, np.int32, np.int64])
    a = (f32(r, *_dims(r, int(r.integers(0, 4)), 0, 4)) * 10).astype(dt)

    def check(t, kw):
        bad = _tensor_invariants(t, kw["array"].shape, kw["array"].dtype.name)
        return bad
    return Call(lambda array: Tensor.from_numpy(array), dict(array=a), dict(array="any"),
                ("from_numpy", "Tensor"), check)


def tensor_from_dlpack(r):
    dt = r.choice([np.float32, np.int32, np.int64])
    a = (f32(r, *_dims(r, int(r.integers(0, 4)), 0, 4)) * 10).astype(dt)

    def check(t, kw):
        src = kw["obj"]
        if isinstance(src, np.ndarray) and t.size and not np.array_equal(t.numpy(), src,
                                                                       equal_nan=src.dtype.kind == "f"):
            return ["from_dlpack: values differ from the source array"]
        return []
    return Call(lambda obj: Tensor.from_dlpack(obj), dict(obj=a), dict(obj="any"),
                ("from_dlpack", "dlpack", "Tensor"), check)


def _a_tensor(r):
    shape = _dims(r, int(r.integers(1, 4)), 1, 4)
    dtype = str(r.choice(["float32", "int32", "int64"]))
    t = Tensor.zeros(shape, dtype, "cpu")
    return t


def tensor_reshape(r):
    t = _a_tensor(r)
    n = t.size
    shape = [n] if r.random() < 0.3 else ([-1, 1] if r.random() < 0.5 else [1, n])

    def check(v, kw):
        return [] if v.size == n and v.numpy().size == n else ["reshape changed the size"]
    return Call(lambda shape: t.reshape(shape), dict(shape=shape), dict(shape="param"),
                ("reshape", "Tensor"), check)


def tensor_fill(r):
    t = _a_tensor(r)
    value = float(r.choice([0.0, 1.0, -3.0, 2.5]))

    def check(res, kw):
        v = kw["value"]
        a = t.numpy()
        if t.dtype == "float32":
            want = np.float32(v) if isinstance(v, (int, float)) else None
            if want is not None and not (np.array_equal(a, np.full_like(a, want), equal_nan=True)):
                return ["fill_ float32: values differ"]
            return []
        if isinstance(v, float) and (not np.isfinite(v) or not
                                     (np.iinfo(t.dtype).min <= v <= np.iinfo(t.dtype).max)):
            return [f"fill_({v!r}) on an {t.dtype} tensor was accepted (unrepresentable value; "
                    f"got {a.reshape(-1)[0] if a.size else 'empty'})"]
        return []
    return Call(lambda value: t.fill_(value), dict(value=value), dict(value="param"),
                ("fill_", "Tensor"), check)


def tensor_to(r):
    t = _a_tensor(r)
    dev = str(r.choice(["cpu", "cpu"]))
    return Call(lambda device: t.to(device), dict(device=dev), dict(device="param"),
                ("Tensor.to", "to(", "cuda", "device", "Tensor"),
                lambda v, kw: [] if v.device == "cpu" and list(v.shape) == list(t.shape) else
                ["to('cpu') changed the tensor"])


def tensor_cuda(r):
    t = _a_tensor(r)
    return Call(lambda index: t.cuda(index), dict(index=int(r.integers(0, 2))), dict(index="param"),
                ("cuda", "Tensor"))


def tensor_copy(r):
    t = _a_tensor(r)
    src = Tensor.zeros(list(t.shape), t.dtype, "cpu")
    return Call(lambda src: t.copy_(src), dict(src=src), dict(src="in"), ("copy_", "Tensor"))


def tensor_numpy(r):
    t = _a_tensor(r)
    how = int(r.integers(4))

    def call(how):
        if how == 0:
            return t.numpy()
        if how == 1:
            return np.asarray(t)
        if how == 2:
            return np.from_dlpack(t)
        return len(t)

    def check(v, kw):
        if kw["how"] == 3:
            return [] if v == t.shape[0] else ["len() wrong"]
        return _shape(v, t.shape, "numpy()")
    return Call(call, dict(how=how), dict(how="fixed"), ("numpy", "Tensor", "len", "dlpack"),
                check)


def tensor_getitem(r):
    t = _a_tensor(r)
    return Call(lambda key: t[key], dict(key=int(r.integers(-2, 2))), dict(key="param"),
                ("Tensor", "subscript"))


def tensor_ctor(r):
    return Call(lambda arg: Tensor(arg), dict(arg=[1.0, 2.0]), dict(arg="param"), ("Tensor",))


def as_tensor(r):
    a = f32(r, *_dims(r, int(r.integers(0, 3)), 0, 4))
    return Call(lambda x: kernels.as_tensor(x, "as_tensor_probe"), dict(x=a), dict(x="any"),
                ("as_tensor_probe", "Tensor"),
                lambda t, kw: _shape(t.numpy(), np.shape(kw["x"])))


def empty_zeros(r, which):
    fn = getattr(kernels, which)
    shape = tuple(_dims(r, int(r.integers(0, 4)), 0, 4))
    dtype = str(r.choice(["float32", "int32", "int64"]))
    return Call(lambda shape, dtype, device: fn(shape, dtype, device),
                dict(shape=shape, dtype=dtype, device="cpu"),
                dict(shape="param", dtype="param", device="param"), (which, "Tensor"),
                lambda t, kw: _tensor_invariants(t, kw["shape"], kw["dtype"], which == "zeros"))


def empty_like(r):
    t = _a_tensor(r)
    return Call(lambda t: kernels.empty_like(t), dict(t=t), dict(t="in"), ("empty_like", "Tensor"),
                lambda v, kw: _shape(v.numpy(), t.shape))


def set_num_threads(r):
    return Call(lambda n: kernels.set_num_threads(n), dict(n=int(r.integers(0, 3))), dict(n="param"),
                ("set_num_threads",))


def get_num_threads(r):
    return Call(lambda: kernels.get_num_threads(), {}, {}, ("get_num_threads",),
                lambda v, kw: [] if isinstance(v, int) and v >= 1 else [f"bad thread count {v}"])


def device_fn(r, name):
    fn = getattr(kernels, name)
    params = list(inspect.signature(fn).parameters)
    kw, roles = {}, {}
    if "device" in params:
        kw["device"] = "cpu"
        roles["device"] = "param"
    if "x" in params:
        kw["x"] = f32(r, 2, 3)
        roles["x"] = "any"
    if "index" in params:
        kw["index"] = 0
        roles["index"] = "param"
    return Call(lambda **k: fn(**k), kw, roles, (name, "cuda", "device", "corenn.cuda"))


# ---- GEMM and elementwise ------------------------------------------------------------------

def gemm(r):
    m, k, n = _dims(r, 3, 1, 6)
    ta, tb = bool(r.integers(2)), bool(r.integers(2))
    a = f32(r, *((k, m) if ta else (m, k)))
    b = f32(r, *((n, k) if tb else (k, n)))
    c = f32(r, m, n) if r.random() < 0.5 else None
    beta = float(r.choice([0.0, 0.5])) if c is not None else 0.0
    bias = f32(r, n) if r.random() < 0.4 else None
    act = str(r.choice(["none", "relu"]))
    c0 = None if c is None else c.copy()

    def check(res, kw):
        if kw["c"] is not c:  # a mutated c: its values before the in-place call are not kept
            return []
        want = ref.gemm(kw["a"], kw["b"], c0, bool(kw["trans_a"]), bool(kw["trans_b"]),
                        kw["alpha"], kw["beta"], kw["bias"], kw["activation"] or "none")
        return _close(res.numpy() if isinstance(res, Tensor) else res, want, "gemm", 1e-4, 1e-4)
    return Call(kernels.gemm, dict(a=a, b=b, c=c, trans_a=ta, trans_b=tb, alpha=1.0, beta=beta,
                               bias=bias, activation=act),
                dict(a="in", b="in", c="out", trans_a="param", trans_b="param", alpha="param",
                     beta="param", bias="in", activation="param"), ("gemm",), check)


def matmul(r):
    m, k, n = _dims(r, 3, 1, 6)
    a, b = f32(r, m, k), f32(r, k, n)
    return Call(kernels.matmul, dict(a=a, b=b), dict(a="in", b="in"), ("matmul", "gemm"),
                lambda res, kw: _close(res, ref.f64(kw["a"]) @ ref.f64(kw["b"]), "matmul",
                                       1e-4, 1e-4))


def activation_forward(r):
    kind = str(r.choice(kernels.ACTIVATIONS))
    x = f32(r, *_dims(r, int(r.integers(1, 4)), 1, 6)) * 3
    alpha = float(r.choice([0.0, 0.1, 1.0]))
    out = _opt_out(r, x.shape)
    return Call(kernels.activation_forward, dict(kind=kind, x=x, out=out, alpha=alpha),
                dict(kind="param", x="in", out="out", alpha="param"),
                ("activation", kind),
                lambda y, kw: _close(y.numpy(), ref.activation(kw["kind"], kw["x"], kw["alpha"]),
                                     f"activation_forward({kw['kind']})"))


def activation_backward(r):
    kind = str(r.choice(kernels.ACTIVATIONS))
    x = f32(r, *_dims(r, int(r.integers(1, 4)), 1, 6)) * 3
    alpha = float(r.choice([0.0, 0.1, 1.0]))
    y = ref.activation(kind, x, alpha).astype(np.float32)
    dy = f32(r, *x.shape)
    out = _opt_out(r, x.shape)

    def check(dx, kw):
        # the kernel may read y instead of x: only a consistent (x, y, alpha) has one answer
        if kw["kind"] != kind or np.asarray(kw["x"]).shape != x.shape or kw["alpha"] != alpha \
                or not np.array_equal(kw["y"], y, equal_nan=True) or \
                not np.isfinite(kw["dy"]).all():
            return []
        return _close(dx.numpy(), ref.activation_grad(kind, kw["x"], kw["dy"], kw["alpha"]),
                      f"activation_backward({kind})", 1e-3, 1e-4) if \
            np.isfinite(kw["x"]).all() else []
    return Call(kernels.activation_backward, dict(kind=kind, x=x, y=y, dy=dy, out=out, alpha=alpha),
                dict(kind="param", x="in", y="in", dy="in", out="out", alpha="param"),
                ("activation", kind), check)


def bias_grad(r):
    dy = f32(r, *_dims(r, int(r.integers(1, 4)), 1, 6))
    out = _opt_out(r, dy.shape[-1:])
    return Call(kernels.bias_grad, dict(dy=dy, out=out), dict(dy="in", out="out"), ("bias_grad",),
                lambda db, kw: _close(db.numpy(), ref.bias_grad(kw["dy"]), "bias_grad", 1e-4, 1e-4))


def dropout_forward(r):
    x = f32(r, *_dims(r, int(r.integers(1, 4)), 1, 6))
    return Call(kernels.dropout_forward, dict(x=x, rate=float(r.choice([0.0, 0.3, 0.9])),
                                         seed=int(r.integers(0, 2**40)), out=_opt_out(r, x.shape),
                                         mask=_opt_out(r, x.shape)),
                dict(x="in", rate="param", seed="param", out="out", mask="out"),
                ("dropout_forward", "dropout"),
                lambda res, kw: _shape(res[0], np.shape(kw["x"])) + _shape(res[1], np.shape(kw["x"])))


def dropout_backward(r):
    dy = f32(r, *_dims(r, int(r.integers(1, 4)), 1, 6))
    mask = (r.random(dy.shape) > 0.5).astype(np.float32) * 2
    return Call(kernels.dropout_backward, dict(dy=dy, mask=mask, out=_opt_out(r, dy.shape)),
                dict(dy="in", mask="in", out="out"), ("dropout_backward", "dropout"),
                lambda dx, kw: _close(dx.numpy(), ref.f64(kw["dy"]) * ref.f64(kw["mask"]),
                                      "dropout_backward"))


def regularizer_penalty(r):
    w = f32(r, *_dims(r, int(r.integers(1, 3)), 1, 6))
    grad = f32(r, *w.shape) if r.random() < 0.5 else None
    l1, l2 = float(r.choice([0.0, 0.01])), float(r.choice([0.0, 0.1]))
    return Call(kernels.regularizer_penalty, dict(w=w, grad=grad, l1=l1, l2=l2),
                dict(w="in", grad="out", l1="param", l2="param"), ("regularizer",),
                lambda p, kw: _close(p, ref.regularizer_penalty(kw["w"], kw["l1"], kw["l2"]),
                                     "regularizer_penalty", 1e-4, 1e-5)
                if kw["l1"] or kw["l2"] else [])  # 0 * sum(NaN): either answer is defensible


# ---- losses, metrics, optimizers -----------------------------------------------------------

def loss_forward(r):
    kind = str(r.choice(kernels.LOSSES))
    n, c = _dims(r, 2, 1, 5)
    logits = bool(r.integers(2))
    if kind in ("binary_crossentropy", "categorical_crossentropy") and not logits:
        y_pred = f32(r, n, c, lo=0.05, hi=0.95)
    else:
        y_pred = f32(r, n, c)
    if kind == "sparse_categorical_crossentropy":
        y_true = r.integers(0, c, size=n).astype(r.choice([np.int32, np.int64]))
    elif kind == "categorical_crossentropy":
        y_true = np.eye(c, dtype=np.float32)[r.integers(0, c, size=n)]
    else:
        y_true = f32(r, n, c, lo=0.0, hi=1.0)
    sw = f32(r, n, lo=0.0, hi=2.0) if r.random() < 0.3 else None
    grad = f32(r, n, c) if r.random() < 0.4 else None

    def check(v, kw):
        if not isinstance(v, float):
            return [f"loss returned {type(v).__name__}, not float"]
        if np.shape(kw["y_pred"]) != (n, c) or not np.isfinite(kw["y_pred"]).all() or \
                np.shape(kw["y_true"]) != np.shape(y_true):
            return []
        if kind in ref.KERAS_EXTRA_LOSSES:
            want = ref.extra_loss(kind, kw["y_pred"], kw["y_true"], kw["sample_weight"])
        else:
            want = ref.loss(kind, kw["y_pred"], kw["y_true"], kw["from_logits"], kw.get("delta", 1.0),
                            kw["sample_weight"])
        return _close(v, want, f"loss_forward({kind})", 1e-3, 1e-5)
    return Call(kernels.loss_forward, dict(kind=kind, y_pred=y_pred, y_true=y_true, grad=grad,
                                       from_logits=logits, sample_weight=sw),
                dict(kind="param", y_pred="in", y_true="index" if "sparse" in kind else "target",
                     grad="out", from_logits="param", sample_weight="target"),
                ("loss", kind), check)


def accuracy_count(r):
    kind = str(r.choice(["sparse_categorical", "categorical", "binary", "top_k", "sparse_top_k"]))
    n, c = _dims(r, 2, 1, 5)
    y_pred = f32(r, n, c)
    if kind in ("sparse_categorical", "sparse_top_k"):
        y_true = r.integers(0, c, size=n).astype(np.int64)
    elif kind in ("categorical", "top_k"):
        y_true = np.eye(c, dtype=np.float32)[r.integers(0, c, size=n)]
    else:
        y_true = (r.random((n, c)) > 0.5).astype(np.float32)
    k = int(r.integers(1, 4))
    per_row = f32(r, n) if r.random() < 0.3 else None

    def check(v, kw):
        if not isinstance(v, int):
            return [f"accuracy_count returned {type(v).__name__}"]
        if np.shape(kw["y_pred"]) != (n, c) or not np.isfinite(kw["y_pred"]).all() or \
                np.shape(kw["y_true"]) != np.shape(y_true):
            return []
        if "top_k" in kind:
            labels = kw["y_true"] if kind == "sparse_top_k" else np.asarray(kw["y_true"]).argmax(-1)
            want = int(ref.top_k_hits(kw["y_pred"], labels, kw["k"]).sum())
        else:
            want = ref.accuracy_count(kind, kw["y_pred"], kw["y_true"], kw["threshold"])
        return [] if v == want else [f"accuracy_count({kind}) = {v}, reference {want}"]
    return Call(kernels.accuracy_count, dict(kind=kind, y_pred=y_pred, y_true=y_true, threshold=0.5, k=k,
                                             per_row=per_row),
                dict(kind="param", y_pred="in", y_true="index" if "sparse" in kind else "target",
                     threshold="param", k="param", per_row="out"), ("accuracy",), check)


def confusion_counts(r):
    n, c = _dims(r, 2, 1, 5)
    y_pred = f32(r, n, c, lo=0.0, hi=1.0)
    y_true = (r.random((n, c)) > 0.5).astype(np.float32)
    thresholds = np.sort(r.random(int(r.integers(1, 6)))).astype(np.float32)
    soft = bool(r.integers(2))
    sw = f32(r, n, lo=0.0, hi=2.0) if r.random() < 0.3 else None

    def check(v, kw):
        if np.shape(kw["y_pred"]) != (n, c) or np.shape(kw["y_true"]) != (n, c) or \
                not np.isfinite(kw["y_pred"]).all() or not np.isfinite(kw["y_true"]).all() or \
                np.shape(kw["thresholds"]) != thresholds.shape:
            return _shape(v, (len(np.atleast_1d(kw["thresholds"])), 4)) if v is not None else []
        want = ref.confusion_counts(kw["y_pred"], kw["y_true"], kw["thresholds"], kw["soft_labels"],
                                    kw["sample_weight"])
        return _close(v, want, "confusion_counts", 1e-5, 1e-5)
    return Call(kernels.confusion_counts, dict(y_pred=y_pred, y_true=y_true, thresholds=thresholds,
                                               soft_labels=soft, sample_weight=sw),
                dict(y_pred="in", y_true="target", thresholds="param", soft_labels="param",
                     sample_weight="target"), ("confusion_counts",), check)


def ctc_loss(r):
    b, t, k = int(r.integers(1, 4)), int(r.integers(1, 7)), int(r.integers(2, 5))
    max_label = int(r.integers(1, 4))
    logits = f32(r, b, t, k)
    blank = int(r.integers(k))
    labels = r.integers(0, k, size=(b, max_label)).astype(np.int64)
    # full label lengths: a bad value anywhere in labels is then read, so it must be refused
    label_lengths = np.full(b, max_label, np.int64)
    logit_lengths = r.integers(0, t + 1, size=b).astype(np.int64)

    def check(v, kw):
        loss, grad = v
        if any(np.shape(kw[a]) != np.shape(w) for a, w in (("logits", logits), ("labels", labels),
                                                          ("label_lengths", label_lengths),
                                                          ("logit_lengths", logit_lengths))):
            return _shape(loss, (np.shape(kw["logits"])[0],), "loss")
        want_loss, want_grad = ref.ctc_loss(kw["logits"], kw["labels"], kw["label_lengths"], kw["logit_lengths"],
                                            kw["blank"])
        return _close(loss.numpy(), want_loss, "ctc_loss", 1e-4, 1e-5) + \
            _close(grad.numpy(), want_grad, "ctc_loss grad", 1e-4, 1e-5)
    return Call(kernels.ctc_loss, dict(logits=logits, labels=labels, label_lengths=label_lengths,
                                       logit_lengths=logit_lengths, blank=blank),
                dict(logits="in", labels="index", label_lengths="index", logit_lengths="index", blank="param"),
                ("ctc_loss",), check)


def _plist(r):
    return [f32(r, *_dims(r, int(r.integers(1, 3)), 1, 4)) for _ in range(int(r.integers(1, 4)))]


def _like(r, ps, positive=False):
    return [np.abs(f32(r, *p.shape)) if positive else f32(r, *p.shape) for p in ps]


def sgd_update(r):
    ps = _plist(r)
    mom = float(r.choice([0.0, 0.9]))
    return Call(kernels.sgd_update, dict(params=ps, grads=_like(r, ps),
                                     momentums=_like(r, ps) if mom else [], lr=0.01, momentum=mom,
                                     nesterov=bool(r.integers(2)), clipnorm=float(r.choice([0.0, 1.0]))),
                dict(params="list_out", grads="list_in", momentums="list_out", lr="param",
                     momentum="param", nesterov="param", clipnorm="param"), ("sgd_update",))


def adam_update(r):
    ps = _plist(r)
    ams = bool(r.integers(2))
    return Call(kernels.adam_update, dict(params=ps, grads=_like(r, ps), m=_like(r, ps),
                                      v=_like(r, ps, True), vhat=_like(r, ps, True) if ams else [],
                                      lr=0.001, step=int(r.integers(0, 5)), amsgrad=ams,
                                      weight_decay=float(r.choice([0.0, 0.01]))),
                dict(params="list_out", grads="list_in", m="list_out", v="list_out",
                     vhat="list_out", lr="param", step="param", amsgrad="param",
                     weight_decay="param"), ("adam_update",))


def rmsprop_update(r):
    ps = _plist(r)
    mom, cen = float(r.choice([0.0, 0.9])), bool(r.integers(2))
    return Call(kernels.rmsprop_update, dict(params=ps, grads=_like(r, ps),
                                         velocities=_like(r, ps, True),
                                         momentums=_like(r, ps) if mom else [],
                                         average_grads=_like(r, ps) if cen else [], lr=0.001,
                                         momentum=mom, centered=cen),
                dict(params="list_out", grads="list_in", velocities="list_out",
                     momentums="list_out", average_grads="list_out", lr="param",
                     momentum="param", centered="param"), ("rmsprop_update",))


def adagrad_update(r):
    ps = _plist(r)
    return Call(kernels.adagrad_update, dict(params=ps, grads=_like(r, ps),
                                         accumulators=_like(r, ps, True), lr=0.01,
                                         global_clipnorm=float(r.choice([0.0, 1.0]))),
                dict(params="list_out", grads="list_in", accumulators="list_out", lr="param",
                     global_clipnorm="param"), ("adagrad_update",))


def adamax_update(r):
    ps = _plist(r)
    return Call(kernels.adamax_update, dict(params=ps, grads=_like(r, ps), m=_like(r, ps), u=_like(r, ps, True),
                                        lr=0.002, step=int(r.integers(0, 5)),
                                        clipvalue=float(r.choice([0.0, 0.5]))),
                dict(params="list_out", grads="list_in", m="list_out", u="list_out", lr="param",
                     step="param", clipvalue="param"), ("adamax_update",))


def nadam_update(r):
    ps = _plist(r)
    return Call(kernels.nadam_update, dict(params=ps, grads=_like(r, ps), m=_like(r, ps), v=_like(r, ps, True),
                                       lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, coef_m=9.5,
                                       coef_g=0.7, coef_v=1000.0, weight_decay=float(r.choice([0.0, 0.01]))),
                dict(params="list_out", grads="list_in", m="list_out", v="list_out", lr="param",
                     beta_1="param", beta_2="param", epsilon="param", coef_m="param", coef_g="param",
                     coef_v="param", weight_decay="param"), ("nadam_update",))


def lion_update(r):
    ps = _plist(r)
    return Call(kernels.lion_update, dict(params=ps, grads=_like(r, ps), m=_like(r, ps), lr=0.001,
                                      clipnorm=float(r.choice([0.0, 1.0]))),
                dict(params="list_out", grads="list_in", m="list_out", lr="param", clipnorm="param"),
                ("lion_update",))


def adadelta_update(r):
    ps = _plist(r)
    return Call(kernels.adadelta_update, dict(params=ps, grads=_like(r, ps), acc_grad=_like(r, ps, True),
                                          acc_delta=_like(r, ps, True), lr=1.0,
                                          global_clipnorm=float(r.choice([0.0, 1.0]))),
                dict(params="list_out", grads="list_in", acc_grad="list_out", acc_delta="list_out",
                     lr="param", global_clipnorm="param"), ("adadelta_update",))


def ftrl_update(r):
    ps = _plist(r)
    return Call(kernels.ftrl_update, dict(params=ps, grads=_like(r, ps), accumulators=_like(r, ps, True),
                                      linears=_like(r, ps), lr=0.1, l1=float(r.choice([0.0, 0.01])),
                                      clipnorm=float(r.choice([0.0, 1.0]))),
                dict(params="list_out", grads="list_in", accumulators="list_out", linears="list_out",
                     lr="param", l1="param", clipnorm="param"), ("ftrl_update",))


def lamb_update(r):
    ps = _plist(r)
    return Call(kernels.lamb_update, dict(params=ps, grads=_like(r, ps), m=_like(r, ps), v=_like(r, ps, True),
                                      lr=0.01, step=int(r.integers(0, 5)),
                                      weight_decay=float(r.choice([0.0, 0.01]))),
                dict(params="list_out", grads="list_in", m="list_out", v="list_out", lr="param",
                     step="param", weight_decay="param"), ("lamb_update",))


def adafactor_update(r):
    ps = _plist(r)
    factored = [p.ndim >= 2 for p in ps]
    empty = np.zeros((0,), np.float32)
    rows = [np.abs(f32(r, *p.shape[:-1])) if f else empty.copy() for p, f in zip(ps, factored)]
    cols = [np.abs(f32(r, *(p.shape[:-2] + p.shape[-1:]))) if f else empty.copy()
            for p, f in zip(ps, factored)]
    velocities = [empty.copy() if f else np.abs(f32(r, *p.shape)) for p, f in zip(ps, factored)]
    return Call(kernels.adafactor_update, dict(params=ps, grads=_like(r, ps), rows=rows, cols=cols,
                                           velocities=velocities, lr=0.01, step=int(r.integers(0, 5)),
                                           clipvalue=float(r.choice([0.0, 0.5]))),
                dict(params="list_out", grads="list_in", rows="list_out", cols="list_out",
                     velocities="list_out", lr="param", step="param", clipvalue="param"),
                ("adafactor_update",))


# ---- normalization ---------------------------------------------------------------------------

def batch_norm_forward_train(r):
    x = f32(r, *_dims(r, int(r.integers(2, 4)), 1, 5))
    c = x.shape[-1]
    mm = f32(r, c) if r.random() < 0.5 else None
    mv = np.abs(f32(r, c)) if mm is not None else None
    kw = dict(x=x, gamma=f32(r, c) if r.random() < 0.7 else None,
              beta=f32(r, c) if r.random() < 0.7 else None, moving_mean=mm, moving_variance=mv,
              out=_opt_out(r, x.shape), mean=_opt_out(r, (c,)), inv_std=_opt_out(r, (c,)))

    def check(res, k):
        if np.shape(k["x"]) != x.shape:
            return []
        y, _, _ = ref.batch_norm_train(k["x"], k["gamma"], k["beta"], k.get("epsilon", 1e-3))
        return _close(res[0].numpy(), y, "batch_norm_forward_train", 1e-3, 1e-3)
    return Call(kernels.batch_norm_forward_train, kw,
                dict(x="in", gamma="in", beta="in", moving_mean="out", moving_variance="out",
                     out="out", mean="out", inv_std="out", momentum="param", epsilon="param"),
                ("batch_norm",), check)


def batch_norm_forward_infer(r):
    x = f32(r, *_dims(r, int(r.integers(2, 4)), 1, 5))
    c = x.shape[-1]
    kw = dict(x=x, gamma=f32(r, c), beta=f32(r, c), moving_mean=f32(r, c),
              moving_variance=np.abs(f32(r, c)), out=_opt_out(r, x.shape))
    return Call(kernels.batch_norm_forward_infer, kw,
                dict(x="in", gamma="in", beta="in", moving_mean="in", moving_variance="in",
                     out="out", epsilon="param"), ("batch_norm",),
                lambda y, k: _close(y.numpy(), ref.batch_norm_infer(k["x"], k["gamma"], k["beta"],
                                    k["moving_mean"], k["moving_variance"], k.get("epsilon", 1e-3)),
                                    "batch_norm_forward_infer", 1e-3, 1e-4))


def batch_norm_backward(r):
    x = f32(r, *_dims(r, int(r.integers(2, 4)), 1, 5))
    c = x.shape[-1]
    rows = x.reshape(-1, c)
    mean = rows.mean(0).astype(np.float32)
    inv = (1 / np.sqrt(rows.var(0) + 1e-3)).astype(np.float32)
    kw = dict(dy=f32(r, *x.shape), x=x, gamma=f32(r, c), mean=mean, inv_std=inv,
              dx=_opt_out(r, x.shape), dgamma=_opt_out(r, (c,)), dbeta=_opt_out(r, (c,)),
              training=bool(r.integers(2)))
    return Call(kernels.batch_norm_backward, kw,
                dict(dy="in", x="in", gamma="in", mean="in", inv_std="in", dx="out?",
                     dgamma="out", dbeta="out", training="param"), ("batch_norm",),
                lambda dx, k: _shape(dx, np.shape(k["dy"])) if k.get("need_dx", True) else [])


def spatial_dropout_forward(r):
    x = f32(r, *_dims(r, int(r.integers(2, 5)), 1, 4))
    return Call(kernels.spatial_dropout_forward, dict(x=x, rate=float(r.choice([0.0, 0.5])),
                                                 seed=int(r.integers(0, 99)),
                                                 out=_opt_out(r, x.shape),
                                                 mask=_opt_out(r, (x.shape[0], x.shape[-1]))),
                dict(x="in", rate="param", seed="param", out="out", mask="out"),
                ("spatial_dropout",),
                lambda res, k: _shape(res[0], np.shape(k["x"])))


def spatial_dropout_backward(r):
    dy = f32(r, *_dims(r, int(r.integers(2, 5)), 1, 4))
    mask = (r.random((dy.shape[0], dy.shape[-1])) > 0.5).astype(np.float32) * 2
    return Call(kernels.spatial_dropout_backward, dict(dy=dy, mask=mask, out=_opt_out(r, dy.shape)),
                dict(dy="in", mask="in", out="out"), ("spatial_dropout",),
                lambda dx, k: _shape(dx, np.shape(k["dy"])))


# ---- convolution, pooling, padding -----------------------------------------------------------

def _conv_setup(r, stride1=False):
    n, h, w = int(r.integers(1, 3)), int(r.integers(2, 7)), int(r.integers(2, 7))
    cin, cout = _dims(r, 2, 1, 3)
    kh, kw = int(r.integers(1, min(h, 3) + 1)), int(r.integers(1, min(w, 3) + 1))
    strides = 1 if stride1 else int(r.integers(1, 3))
    padding = str(r.choice(["valid", "same"]))
    return f32(r, n, h, w, cin), f32(r, kh, kw, cin, cout), strides, padding


def conv2d(r):
    x, w, s, p = _conv_setup(r)
    bias = f32(r, w.shape[3]) if r.random() < 0.5 else None
    act = str(r.choice(["none", "relu"]))
    (shape, _) = kernels.conv2d_output_shape(x.shape, w.shape[:2], w.shape[3], s, p)

    def check(y, k):
        if k["strides"] != s or k["padding"] != p or k["dilation_rate"] != 1 or \
                np.shape(k["x"]) != x.shape or \
                np.shape(k["w"]) != w.shape:
            return []
        want = ref.conv2d_forward(k["x"], k["w"], k["bias"], (s, s), p)
        if act == "relu":
            want = np.maximum(want, 0)
        return _close(y.numpy(), want, "conv2d", 1e-3, 1e-4)
    return Call(kernels.conv2d, dict(x=x, w=w, bias=bias, out=_opt_out(r, shape), strides=s,
                                 padding=p, dilation_rate=1, activation=act),
                dict(x="in", w="in", bias="in", out="out", strides="param", padding="param",
                     dilation_rate="param", activation="param"), ("conv2d",), check)


def conv2d_backward_data(r):
    x, w, s, p = _conv_setup(r)
    (shape, _) = kernels.conv2d_output_shape(x.shape, w.shape[:2], w.shape[3], s, p)
    return Call(kernels.conv2d_backward_data, dict(dy=f32(r, *shape), w=w, input_shape=x.shape,
                                               out=_opt_out(r, x.shape), strides=s, padding=p),
                dict(dy="in", w="in", input_shape="param", out="out", strides="param",
                     padding="param"), ("conv2d",),
                lambda dx, k: _shape(dx, k["input_shape"]) if isinstance(k["input_shape"], tuple)
                else [])


def conv2d_backward_weights(r):
    x, w, s, p = _conv_setup(r)
    (shape, _) = kernels.conv2d_output_shape(x.shape, w.shape[:2], w.shape[3], s, p)
    return Call(kernels.conv2d_backward_weights, dict(x=x, dy=f32(r, *shape), kernel_shape=w.shape,
                                                  out=_opt_out(r, w.shape), strides=s, padding=p,
                                                  bias=bool(r.integers(2))),
                dict(x="in", dy="in", kernel_shape="param", out="out", strides="param",
                     padding="param", bias="param"), ("conv2d",))


def conv2d_relu_max_pool2d(r):
    x, w, _, p = _conv_setup(r, stride1=True)
    return Call(kernels.conv2d_relu_max_pool2d, dict(x=x, w=w, bias=f32(r, w.shape[3]), padding=p),
                dict(x="in", w="in", bias="in", out="out", argmax="out", padding="param"),
                ("conv2d",))


def conv2d_relu_max_pool2d_backward_weights(r):
    x, w, _, p = _conv_setup(r, stride1=True)
    if min(x.shape[1] - w.shape[0], x.shape[2] - w.shape[1]) < 1:
        p = "same"  # the valid conv output is smaller than the 2x2 pool: the builder's forward fails
    y, am = kernels.conv2d_relu_max_pool2d(x, w, None, padding=p)
    y, am = y.numpy().copy(), am.numpy().copy()
    return Call(kernels.conv2d_relu_max_pool2d_backward_weights,
                dict(x=x, dy=f32(r, *y.shape), y=y, argmax=am, kernel_shape=w.shape,
                     bias=bool(r.integers(2)), padding=p),
                dict(x="in", dy="in", y="in", argmax="index", kernel_shape="param", out="out",
                     bias_out="out", bias="param", padding="param"), ("conv2d",))


def conv2d_output_shape(r):
    x, w, s, p = _conv_setup(r)
    return Call(kernels.conv2d_output_shape, dict(input_shape=x.shape, kernel_size=w.shape[:2],
                                              filters=w.shape[3], strides=s, padding=p),
                dict(input_shape="param", kernel_size="param", filters="param", strides="param",
                     padding="param"), ("conv2d",))


def conv_output_length(r):
    return Call(kernels.conv_output_length, dict(size=int(r.integers(1, 9)), kernel=1, stride=1,
                                             padding=str(r.choice(["valid", "same"])), dilation=1),
                dict(size="param", kernel="param", stride="param", padding="param",
                     dilation="param"), ("conv2d",))


def conv2d_algorithms(r):
    x, w, s, p = _conv_setup(r)
    return Call(kernels.conv2d_algorithms, dict(input_shape=x.shape, kernel_shape=w.shape, strides=s,
                                            padding=p),
                dict(input_shape="param", kernel_shape="param", strides="param", padding="param"),
                ("conv2d",))


def _pool_setup(r):
    x = f32(r, int(r.integers(1, 3)), int(r.integers(2, 7)), int(r.integers(2, 7)),
            int(r.integers(1, 4)))
    return x, int(r.integers(1, 3)), int(r.integers(1, 3)), str(r.choice(["valid", "same"]))


def max_pool2d_forward(r):
    x, ps, st, p = _pool_setup(r)
    return Call(kernels.max_pool2d_forward, dict(x=x, pool_size=ps, strides=st, padding=p),
                dict(x="in", pool_size="param", strides="param", padding="param", out="out",
                     argmax="out"), ("max_pool2d", "pool2d"),
                lambda res, k: _close(res[0].numpy(), ref.max_pool2d(k["x"], (ps, ps), (st, st), p)[0],
                                      "max_pool2d_forward") if k["padding"] == p and
                k["pool_size"] == ps and k["strides"] == st and np.shape(k["x"]) == x.shape else [])


def max_pool2d_backward(r):
    x, ps, st, p = _pool_setup(r)
    y, am = kernels.max_pool2d_forward(x, ps, st, p)
    return Call(kernels.max_pool2d_backward, dict(dy=f32(r, *y.shape), argmax=am.numpy().copy(),
                                              x_shape=x.shape, pool_size=ps, strides=st, padding=p),
                dict(dy="in", argmax="index", x_shape="param", pool_size="param",
                     strides="param", padding="param", out="out"), ("max_pool2d", "pool2d"))


def avg_pool2d_forward(r):
    x, ps, st, p = _pool_setup(r)
    return Call(kernels.avg_pool2d_forward, dict(x=x, pool_size=ps, strides=st, padding=p),
                dict(x="in", pool_size="param", strides="param", padding="param", out="out"),
                ("avg_pool2d", "pool2d"),
                lambda y, k: _close(y.numpy(), ref.avg_pool2d(k["x"], (ps, ps), (st, st), p),
                                    "avg_pool2d_forward") if k["padding"] == p and
                k["pool_size"] == ps and k["strides"] == st and np.shape(k["x"]) == x.shape else [])


def avg_pool2d_backward(r):
    x, ps, st, p = _pool_setup(r)
    shape = kernels.pool2d_output_shape(x.shape, ps, st, p)
    return Call(kernels.avg_pool2d_backward, dict(dy=f32(r, *shape), x_shape=x.shape, pool_size=ps,
                                              strides=st, padding=p),
                dict(dy="in", x_shape="param", pool_size="param", strides="param",
                     padding="param", out="out"), ("avg_pool2d", "pool2d"))


def pool2d_output_shape(r):
    x, ps, st, p = _pool_setup(r)
    return Call(kernels.pool2d_output_shape, dict(x_shape=x.shape, pool_size=ps, strides=st, padding=p),
                dict(x_shape="param", pool_size="param", strides="param", padding="param"),
                ("pool2d",))


def global_pool(r, which):
    x, _, _, _ = _pool_setup(r)
    fn = getattr(kernels, f"global_{which}_pool2d_forward")
    rf = ref.global_avg_pool2d if which == "avg" else (lambda a: ref.global_max_pool2d(a)[0])

    def check(res, k):
        y = res if which == "avg" else res[0]
        return _close(y.numpy(), rf(k["x"]), f"global_{which}_pool2d_forward") \
            if np.shape(k["x"]) == x.shape else []
    roles = dict(x="in", out="out")
    if which == "max":
        roles["argmax"] = "out"
    return Call(fn, dict(x=x), roles, (f"global_{which}_pool2d",), check)


def global_avg_pool2d_backward(r):
    x, _, _, _ = _pool_setup(r)
    return Call(kernels.global_avg_pool2d_backward, dict(dy=f32(r, x.shape[0], x.shape[3]),
                                                     x_shape=x.shape),
                dict(dy="in", x_shape="param", out="out"), ("global_avg_pool2d",))


def global_max_pool2d_backward(r):
    x, _, _, _ = _pool_setup(r)
    _, am = kernels.global_max_pool2d_forward(x)
    return Call(kernels.global_max_pool2d_backward, dict(dy=f32(r, x.shape[0], x.shape[3]),
                                                     argmax=am.numpy().copy(), x_shape=x.shape),
                dict(dy="in", argmax="index", x_shape="param", out="out"),
                ("global_max_pool2d",))


def zero_pad2d(r, direction):
    x, _, _, _ = _pool_setup(r)
    pad = int(r.integers(0, 2)) if r.random() < 0.5 else ((0, 1), (1, 0))
    fn = getattr(kernels, f"zero_pad2d_{direction}")
    arg = "x" if direction == "forward" else "dy"
    if direction == "backward":
        x = np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)))
    return Call(fn, {arg: x, "padding": pad}, {arg: "in", "padding": "param", "out": "out"},
                ("zero_pad2d",))



# ---- layer normalization and data movement ---------------------------------------------------

def _norm_setup(r):
    x = f32(r, *_dims(r, int(r.integers(1, 4)), 1, 5))
    k = int(r.integers(1, x.ndim + 1))
    return x, k, x.shape[x.ndim - k:], (int(np.prod(x.shape[:x.ndim - k])),)


def layer_norm_forward(r):
    x, k, tshape, rows = _norm_setup(r)
    kw = dict(x=x, gamma=f32(r, *tshape) if r.random() < 0.7 else None,
              beta=f32(r, *tshape) if r.random() < 0.7 else None, norm_ndim=k,
              out=_opt_out(r, x.shape), mean=_opt_out(r, rows), inv_std=_opt_out(r, rows))

    def check(res, kw2):
        if np.shape(kw2["x"]) != x.shape or kw2.get("norm_ndim") != k:
            return []
        y, _, _ = ref.layer_norm(kw2["x"], kw2["gamma"], kw2["beta"], k, kw2.get("epsilon", 1e-3))
        return _close(res[0].numpy(), y, "layer_norm_forward", 1e-3, 1e-3)
    return Call(kernels.layer_norm_forward, kw,
                dict(x="in", gamma="in", beta="in", norm_ndim="param", epsilon="param", out="out",
                     mean="out", inv_std="out"), ("layer_norm",), check)


def layer_norm_backward(r):
    x, k, tshape, rows = _norm_setup(r)
    gamma = f32(r, *tshape) if r.random() < 0.7 else None
    _, mean, inv = ref.layer_norm(x, None, None, k)
    kw = dict(dy=f32(r, *x.shape), x=x, gamma=gamma, mean=mean.astype(np.float32),
              inv_std=inv.astype(np.float32), norm_ndim=k, dx=_opt_out(r, x.shape),
              dgamma=_opt_out(r, tshape), dbeta=_opt_out(r, tshape))
    return Call(kernels.layer_norm_backward, kw,
                dict(dy="in", x="in", gamma="in", mean="in", inv_std="in", norm_ndim="param",
                     dx="out?", dgamma="out", dbeta="out", need_dx="param"), ("layer_norm",),
                lambda dx, k2: _shape(dx, np.shape(k2["dy"])) if k2.get("need_dx", True) else [])


def rms_norm_forward(r):
    x, k, tshape, rows = _norm_setup(r)
    kw = dict(x=x, gamma=f32(r, *tshape) if r.random() < 0.7 else None, norm_ndim=k,
              out=_opt_out(r, x.shape), inv_rms=_opt_out(r, rows))

    def check(res, kw2):
        if np.shape(kw2["x"]) != x.shape or kw2.get("norm_ndim") != k:
            return []
        g = kw2["gamma"] if kw2["gamma"] is not None else np.ones(tshape)
        y = ref.rms_norm(kw2["x"], g, k, kw2.get("epsilon", 1e-3))
        return _close(res[0].numpy(), y, "rms_norm_forward", 1e-3, 1e-3)
    return Call(kernels.rms_norm_forward, kw,
                dict(x="in", gamma="in", norm_ndim="param", epsilon="param", out="out", inv_rms="out"),
                ("rms_norm",), check)


def rms_norm_backward(r):
    x, k, tshape, rows = _norm_setup(r)
    gamma = f32(r, *tshape) if r.random() < 0.7 else None
    axes = tuple(range(x.ndim - k, x.ndim))
    inv = (1.0 / np.sqrt((np.asarray(x, np.float64) ** 2).mean(axis=axes) + 1e-3)).reshape(-1)
    kw = dict(dy=f32(r, *x.shape), x=x, gamma=gamma, inv_rms=inv.astype(np.float32), norm_ndim=k,
              dx=_opt_out(r, x.shape), dgamma=_opt_out(r, tshape))
    return Call(kernels.rms_norm_backward, kw,
                dict(dy="in", x="in", gamma="in", inv_rms="in", norm_ndim="param", dx="out?",
                     dgamma="out", need_dx="param"), ("rms_norm",),
                lambda dx, k2: _shape(dx, np.shape(k2["dy"])) if k2.get("need_dx", True) else [])


def transpose(r):
    x = f32(r, *_dims(r, int(r.integers(0, 5)), 1, 5))
    x = x.astype(r.choice([np.float32, np.float32, np.int32, np.int64]))
    perm = [int(p) for p in r.permutation(x.ndim)]
    kw = dict(x=x, perm=perm if r.random() < 0.8 else None)

    def check(y, k):
        if np.shape(k["x"]) != x.shape or np.asarray(k["x"]).dtype != x.dtype or k["perm"] not in (perm, None):
            return []
        want = np.transpose(np.asarray(k["x"]), k["perm"])
        got = y.numpy()
        same = got.shape == want.shape and np.array_equal(got, want, equal_nan=got.dtype.kind == "f")
        return [] if same else [f"transpose: differs from numpy.transpose {k['perm']}"]
    # out is left to the op: x may be an int array, so no dtype of a given out is right for sure
    return Call(kernels.transpose, kw, dict(x="any", perm="param", out="out"), ("transpose",), check)


def inverse_permutation(r):
    perm = [int(p) for p in r.permutation(int(r.integers(0, 6)))]
    return Call(kernels.inverse_permutation, dict(perm=perm), dict(perm="param"),
                ("inverse_permutation",),
                lambda inv, k: [] if k["perm"] != perm or list(np.argsort(perm)) == list(inv)
                else [f"inverse_permutation({perm}) -> {inv}"])


def repeat_vector_forward(r):
    x = f32(r, *_dims(r, 2, 1, 5))
    n = int(r.integers(0, 4))
    kw = dict(x=x, n=n, out=_opt_out(r, (x.shape[0], n, x.shape[1])))
    return Call(kernels.repeat_vector_forward, kw, dict(x="in", n="param", out="out"),
                ("repeat_vector",),
                lambda y, k: _close(y.numpy(), ref.repeat_vector(k["x"], n), "repeat_vector_forward")
                if np.shape(k["x"]) == x.shape and k["n"] == n else [])


def repeat_vector_backward(r):
    dy = f32(r, *_dims(r, 3, 1, 4))
    kw = dict(dy=dy, out=_opt_out(r, (dy.shape[0], dy.shape[2])))
    return Call(kernels.repeat_vector_backward, kw, dict(dy="in", out="out"), ("repeat_vector",),
                lambda dx, k: _close(dx.numpy(), ref.repeat_vector_grad(k["dy"]), "repeat_vector_backward")
                if np.shape(k["dy"]) == dy.shape else [])


def upsample2d(r, direction):
    x, _, _, _ = _pool_setup(r)
    size = int(r.integers(1, 4)) if r.random() < 0.4 else (int(r.integers(1, 4)), int(r.integers(1, 4)))
    sh, sw = (size, size) if isinstance(size, int) else size
    mode = str(r.choice(["nearest", "bilinear"]))
    fn = getattr(kernels, f"upsample2d_{direction}")
    big = (x.shape[0], x.shape[1] * sh, x.shape[2] * sw, x.shape[3])
    arg, a = ("x", x) if direction == "forward" else ("dy", f32(r, *big))
    want_fn, want_shape = ((ref.upsample2d, big) if direction == "forward" else
                           (ref.upsample2d_grad, x.shape))

    def check(res, k):
        v = k[arg]
        if (np.shape(v) != a.shape or k["size"] != size or k.get("interpolation", "nearest") != mode
                or not np.isfinite(np.asarray(v, np.float64)).all()):
            return []  # the einsum reference spreads NaN through zero weights: finite inputs only
        return _close(res.numpy(), want_fn(v, sh, sw, mode), f"upsample2d_{direction}")
    return Call(fn, {arg: a, "size": size, "interpolation": mode,
                     "out": _opt_out(r, want_shape)},
                {arg: "in", "size": "param", "interpolation": "param", "out": "out"},
                ("upsample2d",), check)

# ---- embedding and recurrent -----------------------------------------------------------------

def embedding_forward(r):
    v, d = _dims(r, 2, 1, 6)
    idx = r.integers(0, v, size=_dims(r, int(r.integers(1, 3)), 1, 4))
    idx = idx.astype(r.choice([np.int32, np.int64, np.float32, np.float64, np.uint8, np.int16]))
    w = f32(r, v, d)
    # weight: float32 or int8 (an int8-quantized table), so not a strict float32 input; the other
    # dtypes' refusal is tests/kernels/test_embedding.py's
    return Call(kernels.embedding_forward, dict(indices=idx, weight=w, out=_opt_out(r, idx.shape + (d,))),
                dict(indices="index", weight="target", out="out"), ("embedding",),
                lambda y, k: _close(y.numpy(), ref.embedding(k["indices"], k["weight"]),
                                    "embedding_forward") if np.shape(k["weight"]) == (v, d) and
                np.shape(k["indices"]) == idx.shape else [])


def embedding_backward(r):
    v, d = _dims(r, 2, 1, 6)
    idx = r.integers(0, v, size=_dims(r, int(r.integers(1, 3)), 1, 4)).astype(np.int64)
    dy = f32(r, *idx.shape, d)
    use_out = r.random() < 0.5
    return Call(kernels.embedding_backward, dict(indices=idx, dy=dy, input_dim=None if use_out else v,
                                             out=f32(r, v, d) if use_out else None),
                dict(indices="index", dy="in", input_dim="param", out="out"), ("embedding",),
                lambda dw, k: _close(dw.numpy(), ref.embedding_grad(k["indices"], k["dy"], v),
                                     "embedding_backward", 1e-4, 1e-4)
                if np.shape(k["dy"]) == dy.shape and np.shape(k["indices"]) == idx.shape and
                np.shape(dw.numpy()) == (v, d) else [])


_GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}


def _rnn_setup(r, cell):
    n, t, f, u = _dims(r, 4, 1, 3)
    g = _GATES[cell]
    bias = f32(r, 2, g * u) if cell == "gru" else f32(r, g * u)
    return f32(r, n, t, f), f32(r, f, g * u), f32(r, u, g * u), bias, u


def rnn_forward_spec(r, cell, generic):
    x, k, rk, b, u = _rnn_setup(r, cell)
    kw = dict(x=x, kernel=k, recurrent_kernel=rk, bias=b if r.random() < 0.7 else None,
              return_sequences=bool(r.integers(2)), go_backwards=bool(r.integers(2)))
    roles = dict(x="in", kernel="in", recurrent_kernel="in", bias="in",
                 return_sequences="param", go_backwards="param", out="out", h_n="out?", c_n="out?",
                 activation="param", recurrent_activation="param")
    if generic:
        fn, kw = kernels.rnn_forward, dict(cell=cell, **kw)
        roles["cell"] = "param"
    else:
        fn = getattr(kernels, f"{cell}_forward")
    return Call(fn, kw, roles, (cell, "rnn"))


def rnn_backward_spec(r, cell, generic):
    x, k, rk, b, u = _rnn_setup(r, cell)
    rs = bool(r.integers(2))
    y, _, _, stash = kernels.rnn_forward(cell, x, k, rk, b, return_sequences=rs)
    kw = dict(dy=f32(r, *y.shape), x=x, kernel=k, recurrent_kernel=rk, stash=stash,
              input_grad=bool(r.integers(2)) or True, weight_grads=bool(r.integers(2)))
    roles = dict(dy="in", x="in", kernel="in", recurrent_kernel="in", stash="param",
                 input_grad="param", weight_grads="param", dx="out?", dkernel="out?",
                 drecurrent_kernel="out?", dbias="out?", activation="param")
    if generic:
        fn, kw = kernels.rnn_backward, dict(cell=cell, **kw)
        roles["cell"] = "param"
    else:
        fn = getattr(kernels, f"{cell}_backward")
    return Call(fn, kw, roles, (cell, "rnn"))


def lstm_cell_forward(r):
    rows, u = _dims(r, 2, 1, 5)
    kw = dict(z=f32(r, rows, 4 * u), c_prev=f32(r, rows, u) if r.random() < 0.7 else None,
              activation=str(r.choice(["tanh", "relu"])), recurrent_activation="sigmoid")
    roles = dict(z="in", c_prev="in", c="out?", h="out?", activation="param", recurrent_activation="param")
    return Call(kernels.lstm_cell_forward, kw, roles, ("lstm_cell", "rnn"), written=("z",))


def lstm_cell_backward(r):
    rows, u = _dims(r, 2, 1, 5)
    gates = f32(r, rows, 4 * u)
    c_prev = f32(r, rows, u) if r.random() < 0.7 else None
    c, _ = kernels.lstm_cell_forward(gates, c_prev)
    kw = dict(gates=gates, c=c.numpy(), c_prev=c_prev, dh=f32(r, rows, u), dc=f32(r, rows, u))
    roles = dict(gates="in", c="in", c_prev="in", dh="in", dc="in", dz="out?", activation="param",
                 recurrent_activation="param")
    return Call(kernels.lstm_cell_backward, kw, roles, ("lstm_cell", "rnn"), written=("dc",))


def parse_device(r):
    return Call(kernels.parse_device, dict(device=str(r.choice(["cpu", "cuda", "cuda:0"]))),
                dict(device="param"), ("device", "parse_device"),
                lambda v, k: [] if v == {"cpu": "cpu", "cuda": "cuda:0"}.get(k["device"], k["device"])
                else [f"parse_device({k['device']!r}) -> {v!r}"])


# ---- tensor math -----------------------------------------------------------------------------

def _broadcast_pair(r):
    """Two shapes that broadcast: equal, scalar, trailing vector or size-1 axes."""
    shape = _dims(r, int(r.integers(1, 4)), 1, 4)
    other = [d if r.random() < 0.5 else 1 for d in shape][int(r.integers(len(shape) + 1)):]
    return (shape, other) if r.random() < 0.5 else (other, shape)


def broadcast_shape(r):
    sa, sb = _broadcast_pair(r)
    return Call(kernels.broadcast_shape, dict(a_shape=tuple(sa), b_shape=tuple(sb)),
                dict(a_shape="param", b_shape="param"), ("broadcast_shape",),
                lambda v, k: [] if v == np.broadcast_shapes(tuple(k["a_shape"]), tuple(k["b_shape"]))
                else [f"broadcast_shape -> {v}"])


def binary_forward(r):
    kind = str(r.choice(kernels.BINARY_OPS))
    sa, sb = _broadcast_pair(r)
    a, b = f32(r, *sa), f32(r, *sb)
    y_shape = np.broadcast_shapes(a.shape, b.shape)
    return Call(kernels.binary_forward, dict(kind=kind, a=a, b=b, out=_opt_out(r, y_shape)),
                dict(kind="param", a="in", b="in", out="out"), ("binary_forward",),
                lambda y, k: _close(y.numpy(), ref.binary(k["kind"], k["a"], k["b"]),
                                    f"binary_forward({k['kind']})", 1e-4, 1e-5))


def binary_backward(r):
    kind = str(r.choice(kernels.BINARY_OPS))
    sa, sb = _broadcast_pair(r)
    a, b = f32(r, *sa), f32(r, *sb)
    if kind == "power":
        a = np.abs(a) + 0.5
    dy = f32(r, *np.broadcast_shapes(a.shape, b.shape))

    def check(res, k):
        if any(np.shape(k[n]) != v.shape for n, v in (("a", a), ("b", b), ("dy", dy))):
            return []
        ra, rb = ref.binary_grads(k["kind"], k["a"], k["b"], k["dy"])
        bad = _close(res[0].numpy(), ra, "binary_backward da", 1e-3, 1e-4) if res[0] is not None else []
        return bad + (_close(res[1].numpy(), rb, "binary_backward db", 1e-3, 1e-4)
                      if res[1] is not None else [])
    return Call(kernels.binary_backward,
                dict(kind=kind, a=a, b=b, dy=dy, da_out=_opt_out(r, a.shape),
                     db_out=_opt_out(r, b.shape), need_a=bool(r.integers(2)) or True,
                     need_b=bool(r.integers(2))),
                dict(kind="param", a="in", b="in", dy="in", da_out="out", db_out="out",
                     need_a="param", need_b="param"), ("binary_backward",), check)


def sum_n(r):
    shape = _dims(r, int(r.integers(1, 3)), 1, 4)
    xs = [f32(r, *shape) for _ in range(int(r.integers(1, 4)))]
    return Call(kernels.sum_n, dict(tensors=xs, out=_opt_out(r, shape)),
                dict(tensors="list_in", out="out"), ("sum_n",),
                lambda y, k: _close(y.numpy(), np.sum([ref.f64(x) for x in k["tensors"]], axis=0),
                                    "sum_n") if all(np.shape(x) == tuple(shape) for x in k["tensors"])
                else [])


def scale(r):
    x = f32(r, *_dims(r, int(r.integers(1, 3)), 1, 5))
    return Call(kernels.scale, dict(x=x, alpha=float(r.choice([0.5, -2.0])), out=_opt_out(r, x.shape)),
                dict(x="in", alpha="param", out="out"), ("scale",),
                lambda y, k: _close(y.numpy(), ref.f64(k["x"]) * k["alpha"], "scale")
                if isinstance(k["alpha"], float) else [])


def unary_forward(r):
    kind = str(r.choice(kernels.UNARY_OPS))
    x = f32(r, *_dims(r, int(r.integers(1, 3)), 1, 5))
    return Call(kernels.unary_forward, dict(kind=kind, x=x, out=_opt_out(r, x.shape)),
                dict(kind="param", x="in", out="out"), ("unary_forward",),
                lambda y, k: _close(y.numpy(), ref.unary(k["kind"], k["x"]),
                                    f"unary_forward({k['kind']})"))


def unary_backward(r):
    kind = str(r.choice(kernels.UNARY_OPS))
    x = np.abs(f32(r, *_dims(r, int(r.integers(1, 3)), 1, 5))) + 0.5
    y = ref.unary(kind, x).astype(np.float32)
    dy = f32(r, *x.shape)

    def check(dx, k):  # kinds read x or y: only a consistent (x, y) has one answer
        if k["kind"] != kind or not np.array_equal(k["x"], x) or not np.array_equal(k["y"], y):
            return []
        return _close(dx.numpy(), ref.unary_grad(kind, x, k["dy"]), f"unary_backward({kind})", 1e-3)
    return Call(kernels.unary_backward, dict(kind=kind, x=x, y=y, dy=dy, out=_opt_out(r, x.shape)),
                dict(kind="param", x="in", y="in", dy="in", out="out"), ("unary_backward",), check)


def _reduce_setup(r):
    x = f32(r, *_dims(r, int(r.integers(1, 4)), 1, 4))
    u = r.random()
    axes = None if u < 0.2 else (int(r.integers(-x.ndim, x.ndim)) if u < 0.6 else
                                 tuple(sorted(set(int(a) for a in r.integers(0, x.ndim, size=2)))))
    return x, axes, bool(r.integers(2))


def reduce_output_shape(r):
    x, axes, keep = _reduce_setup(r)
    return Call(kernels.reduce_output_shape, dict(x_shape=x.shape, axes=axes, keepdims=keep),
                dict(x_shape="param", axes="param", keepdims="param"), ("reduce_output_shape",))


def reduce_forward(r):
    kind = str(r.choice(kernels.REDUCTIONS))
    x, axes, keep = _reduce_setup(r)
    want = ref.reduce(kind, x, axes, keep)
    return Call(kernels.reduce_forward, dict(kind=kind, x=x, axes=axes, keepdims=keep,
                                             out=_opt_out(r, np.shape(want))),
                dict(kind="param", x="in", axes="param", keepdims="param", out="out"),
                ("reduce_forward",),
                lambda y, k: _close(y.numpy(), ref.reduce(k["kind"], k["x"], k["axes"], k["keepdims"]),
                                    f"reduce_forward({k['kind']})")
                if np.shape(k["x"]) == x.shape and k["axes"] == axes and k["keepdims"] == keep else [])


def reduce_backward(r):
    kind = str(r.choice(kernels.REDUCTIONS))
    x, axes, keep = _reduce_setup(r)
    y = np.asarray(ref.reduce(kind, x, axes, keep), np.float32)
    dy = f32(r, *y.shape)

    def check(dx, k):
        if kind != k["kind"] or not np.array_equal(k["x"], x) or not np.array_equal(k["y"], y) \
                or k["axes"] != axes or k["keepdims"] != keep or np.shape(k["dy"]) != y.shape:
            return []
        return _close(dx.numpy(), ref.reduce_grad(kind, x, k["dy"], axes, keep),
                      f"reduce_backward({kind})")
    return Call(kernels.reduce_backward, dict(kind=kind, x=x, y=y, dy=dy, axes=axes, keepdims=keep,
                                              out=_opt_out(r, x.shape)),
                dict(kind="param", x="in", y="in", dy="in", axes="param", keepdims="param",
                     out="out"), ("reduce_backward",), check)


def concat(r):
    shape = _dims(r, int(r.integers(1, 4)), 1, 4)
    axis = int(r.integers(-len(shape), len(shape)))
    xs = []
    for _ in range(int(r.integers(1, 4))):
        s = list(shape)
        s[axis] = int(r.integers(0, 4))
        xs.append(f32(r, *s))
    out_shape = list(shape)
    out_shape[axis] = sum(x.shape[axis] for x in xs)
    return Call(kernels.concat, dict(tensors=xs, axis=axis, out=_opt_out(r, out_shape)),
                dict(tensors="list_in", axis="param", out="out"), ("concat",),
                lambda y, k: _close(y.numpy(), ref.concat(k["tensors"], k["axis"]), "concat")
                if k["axis"] == axis and all(np.shape(a) == b.shape for a, b in zip(k["tensors"], xs))
                and len(k["tensors"]) == len(xs) else [])


def split(r):
    x = f32(r, *_dims(r, int(r.integers(1, 4)), 1, 5))
    axis = int(r.integers(-x.ndim, x.ndim))
    cut = sorted(int(c) for c in r.integers(0, x.shape[axis] + 1, size=int(r.integers(0, 3))))
    edges = [0] + cut + [x.shape[axis]]
    sizes = [b - a for a, b in zip(edges, edges[1:])]
    outs = None
    if r.random() < 0.4:
        outs = []
        for s in sizes:
            shape = list(x.shape)
            shape[axis] = s
            outs.append(f32(r, *shape))

    def check(ys, k):
        if k["axis"] != axis or k["sizes"] != sizes or np.shape(k["x"]) != x.shape:
            return []
        want = np.split(ref.f64(k["x"]), np.cumsum(sizes)[:-1], axis=axis)
        return sum((_close(np.asarray(y), w, "split") for y, w in zip(ys, want)), [])
    return Call(kernels.split, dict(x=x, axis=axis, sizes=sizes, outs=outs),
                dict(x="in", axis="param", sizes="param", outs="list_out"), ("split",), check)


def batched_matmul(r):
    m, k, n = _dims(r, 3, 1, 4)
    batch = _dims(r, int(r.integers(0, 3)), 1, 3)
    ta, tb = bool(r.integers(2)), bool(r.integers(2))
    b_batch = batch[int(r.integers(len(batch) + 1)):] if r.random() < 0.5 else batch
    a = f32(r, *batch, *((k, m) if ta else (m, k)))
    b = f32(r, *b_batch, *((n, k) if tb else (k, n)))
    return Call(kernels.batched_matmul, dict(a=a, b=b, trans_a=ta, trans_b=tb,
                                             out=_opt_out(r, (*batch, m, n))),
                dict(a="in", b="in", trans_a="param", trans_b="param", out="out"),
                ("batched_matmul",),
                lambda y, kw: _close(y.numpy(), ref.batched_matmul(kw["a"], kw["b"], ta, tb),
                                     "batched_matmul", 1e-4, 1e-4)
                if kw["trans_a"] is ta and kw["trans_b"] is tb and np.shape(kw["a"]) == a.shape
                and np.shape(kw["b"]) == b.shape else [])


def _softmax_masks(r, b, tq, tk):
    def flags(*shape):
        return (r.random(shape) > 0.3).astype(np.float32) if r.random() < 0.5 else None
    return flags(b, tq, tk), flags(b, tq), flags(b, tk), bool(r.integers(2))


def masked_softmax_forward(r):
    b, h, tq, tk = _dims(r, 4, 1, 4)
    s = f32(r, b, h, tq, tk)
    am, qm, km, causal = _softmax_masks(r, b, tq, tk)
    rate = float(r.choice([0.0, 0.0, 0.3]))
    scale = float(r.uniform(0.1, 2.0))
    kw = dict(scores=s, attention_mask=am, query_mask=qm, key_mask=km, causal=causal, scale=scale,
              dropout_rate=rate, seed=int(r.integers(1 << 30)), out=_opt_out(r, s.shape),
              dropped=_opt_out(r, s.shape))

    def check(res, k):
        if any(np.shape(k[n]) != np.shape(v) for n, v in (("scores", s), ("attention_mask", am),
                                                           ("query_mask", qm), ("key_mask", km))) \
                or k["causal"] is not causal or k["scale"] != scale:
            return []
        allowed = ref.attention_allowed(b, tq, tk, k["attention_mask"], k["query_mask"], k["key_mask"], causal)
        return _close(res[0].numpy(), ref.masked_softmax(k["scores"], allowed, scale),
                      "masked_softmax_forward", 1e-4, 1e-5)
    return Call(kernels.masked_softmax_forward, kw,
                dict(scores="in", attention_mask="target", query_mask="target", key_mask="target",
                     causal="param", scale="param", dropout_rate="param", seed="param", out="out",
                     dropped="out"), ("masked_softmax",), check)


def masked_softmax_backward(r):
    b, h, tq, tk = _dims(r, 4, 1, 4)
    p = ref.masked_softmax(f32(r, b, h, tq, tk), np.ones((b, tq, tk), bool), 1.0).astype(np.float32)
    scale = float(r.uniform(0.1, 2.0))
    kw = dict(probs=p, dprobs=f32(r, *p.shape), scale=scale, out=_opt_out(r, p.shape))

    def check(res, k):
        if np.shape(k["probs"]) != p.shape or np.shape(k["dprobs"]) != p.shape or k["scale"] != scale \
                or k.get("dropout_rate", 0.0) != 0.0:
            return []
        return _close(res.numpy(), ref.masked_softmax_grad(k["probs"], k["dprobs"], scale),
                      "masked_softmax_backward", 1e-4, 1e-5)
    return Call(kernels.masked_softmax_backward, kw,
                dict(probs="in", dprobs="in", scale="param", dropout_rate="param", dropped="in",
                     out="out"), ("masked_softmax",), check)


# ---- the registry ----------------------------------------------------------------------------

def _registry():
    s = {}
    for name in ("gemm", "matmul", "activation_forward", "activation_backward", "bias_grad",
                 "dropout_forward", "dropout_backward", "regularizer_penalty", "loss_forward",
                 "accuracy_count", "confusion_counts", "ctc_loss", "sgd_update", "adam_update",
                 "rmsprop_update", "adagrad_update", "adamax_update", "nadam_update", "lion_update",
                 "adadelta_update", "ftrl_update", "lamb_update", "adafactor_update",
                 "batch_norm_forward_train", "batch_norm_forward_infer",
                 "batch_norm_backward", "spatial_dropout_forward", "spatial_dropout_backward",
                 "conv2d", "conv2d_backward_data", "conv2d_backward_weights",
                 "conv2d_relu_max_pool2d", "conv2d_relu_max_pool2d_backward_weights",
                 "conv2d_output_shape", "conv_output_length", "conv2d_algorithms",
                 "max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward",
                 "avg_pool2d_backward", "pool2d_output_shape", "global_avg_pool2d_backward",
                 "global_max_pool2d_backward", "embedding_forward", "embedding_backward",
                 "parse_device", "as_tensor", "empty_like", "set_num_threads",
                 "get_num_threads", "broadcast_shape", "binary_forward", "binary_backward",
                 "sum_n", "scale", "unary_forward", "unary_backward", "reduce_output_shape",
                 "reduce_forward", "reduce_backward", "concat", "split", "batched_matmul",
                 "masked_softmax_forward", "masked_softmax_backward"):
        s[name] = globals()[name]
    s["empty"] = lambda r: empty_zeros(r, "empty")
    s["zeros"] = lambda r: empty_zeros(r, "zeros")
    s["global_avg_pool2d_forward"] = lambda r: global_pool(r, "avg")
    s["global_max_pool2d_forward"] = lambda r: global_pool(r, "max")
    s["zero_pad2d_forward"] = lambda r: zero_pad2d(r, "forward")
    s["zero_pad2d_backward"] = lambda r: zero_pad2d(r, "backward")
    for name in ("layer_norm_forward", "layer_norm_backward", "rms_norm_forward", "rms_norm_backward",
                 "transpose", "inverse_permutation",
                 "repeat_vector_forward", "repeat_vector_backward"):
        s[name] = globals()[name]
    s["upsample2d_forward"] = lambda r: upsample2d(r, "forward")
    s["upsample2d_backward"] = lambda r: upsample2d(r, "backward")
    for cell in _GATES:
        s[f"{cell}_forward"] = lambda r, c=cell: rnn_forward_spec(r, c, False)
        s[f"{cell}_backward"] = lambda r, c=cell: rnn_backward_spec(r, c, False)
    s["rnn_forward"] = lambda r: rnn_forward_spec(r, str(r.choice(list(_GATES))), True)
    s["rnn_backward"] = lambda r: rnn_backward_spec(r, str(r.choice(list(_GATES))), True)
    s["lstm_cell_forward"], s["lstm_cell_backward"] = lstm_cell_forward, lstm_cell_backward
    for name in ("cuda_built", "cuda_is_available", "cuda_device_count", "cuda_synchronize",
                 "cuda_empty_cache", "cuda_memory_stats", "to_device"):
        s[name] = lambda r, n=name: device_fn(r, n)
    s["Tensor.empty/zeros"] = tensor_empty
    s["Tensor.from_numpy"] = tensor_from_numpy
    s["Tensor.from_dlpack"] = tensor_from_dlpack
    s["Tensor.reshape"] = tensor_reshape
    s["Tensor.fill_"] = tensor_fill
    s["Tensor.to"] = tensor_to
    s["Tensor.cuda"] = tensor_cuda
    s["Tensor.copy_"] = tensor_copy
    s["Tensor.numpy"] = tensor_numpy
    s["Tensor.__getitem__"] = tensor_getitem
    s["Tensor()"] = tensor_ctor
    return s


SPECS = _registry()


def public_ops():
    """Every public function of corenn.kernels (its __all__ minus the Tensor class)."""
    return sorted(n for n in kernels.__all__ if n != "Tensor" and callable(getattr(kernels, n)))

# The issue-13 kernels' builders live in their own module (specs_issue13.py).
from .specs_issue13 import issue13_specs  # noqa: E402

SPECS.update(issue13_specs())

# The image preprocessing kernels' builders (specs_image.py).
from .specs_image import image_specs  # noqa: E402

SPECS.update(image_specs())
# Issue 13, part A (GroupNormalization, UnitNormalization, the noise layers): specs_layers_a.py.
from .specs_layers_a import layers_a_specs  # noqa: E402

SPECS.update(layers_a_specs())
# The volume kernels (Conv3D, Conv3DTranspose, 3-D pooling): specs_volumes.py.
from .specs_volumes import volume_specs  # noqa: E402

SPECS.update(volume_specs())
# The int8 kernels (int8_gemm, quantized_matmul): specs_int8.py.
from .specs_int8 import int8_specs  # noqa: E402

SPECS.update(int8_specs())
