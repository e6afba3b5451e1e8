"""Valid-call builders (see specs.py) for the kernels of issue 13, part A: group_norm_*,
unit_norm_*, gaussian_noise_forward, gaussian_dropout_forward, alpha_dropout_forward,
additive_attention_scores_*. specs.py
merges them into SPECS."""
from __future__ import annotations

import numpy as np

import reference as ref
from corenn import kernels

from .specs import Call, _close, _dims, _opt_out, _shape
from .values import f32


def _group_setup(r):
    ndim = int(r.integers(2, 5))
    shape = _dims(r, ndim, 1, 5)
    axis = int(r.integers(1, ndim))
    c = shape[axis]
    groups = int(r.choice([g for g in range(1, c + 1) if c % g == 0]))
    return f32(r, *shape), axis, groups, c, (shape[0], groups)


def group_norm_forward(r):
    x, axis, groups, c, stats = _group_setup(r)
    kw = dict(x=x, gamma=f32(r, c) if r.random() < 0.7 else None,
              beta=f32(r, c) if r.random() < 0.7 else None, axis=axis, groups=groups,
              out=_opt_out(r, x.shape), mean=_opt_out(r, stats), inv_std=_opt_out(r, stats))

    def check(res, kw2):
        if np.shape(kw2["x"]) != x.shape or (kw2.get("axis"), kw2.get("groups")) != (axis, groups):
            return []
        y, _, _ = ref.group_norm(kw2["x"], kw2["gamma"], kw2["beta"], axis, groups,
                                 kw2.get("epsilon", 1e-3))
        return _close(res[0].numpy(), y, "group_norm_forward", 1e-3, 1e-3)
    return Call(kernels.group_norm_forward, kw,
                dict(x="in", gamma="in", beta="in", axis="param", groups="param", epsilon="param",
                     out="out", mean="out", inv_std="out"), ("group_norm",), check)


def group_norm_backward(r):
    x, axis, groups, c, _ = _group_setup(r)
    _, mean, inv = ref.group_norm(x, None, None, axis, groups)
    kw = dict(dy=f32(r, *x.shape), x=x, gamma=f32(r, c) if r.random() < 0.7 else None,
              mean=mean.astype(np.float32), inv_std=inv.astype(np.float32), axis=axis,
              groups=groups, dx=_opt_out(r, x.shape), dgamma=_opt_out(r, (c,)),
              dbeta=_opt_out(r, (c,)))
    return Call(kernels.group_norm_backward, kw,
                dict(dy="in", x="in", gamma="in", mean="in", inv_std="in", axis="param",
                     groups="param", dx="out?", dgamma="out", dbeta="out", need_dx="param"),
                ("group_norm",),
                lambda dx, k2: _shape(dx, np.shape(k2["dy"])) if k2.get("need_dx", True) else [])


def _unit_setup(r):
    ndim = int(r.integers(1, 5))
    x = f32(r, *_dims(r, ndim, 1, 5))
    first = int(r.integers(0, ndim))
    count = int(r.integers(1, ndim - first + 1))
    axes = list(range(first, first + count))
    return x, (axes[0] if count == 1 and r.random() < 0.5 else axes)


def unit_norm_forward(r):
    x, axis = _unit_setup(r)

    def check(y, k):
        if np.shape(k["x"]) != x.shape or k.get("axis") != axis:
            return []
        return _close(y.numpy(), ref.unit_norm(k["x"], axis), "unit_norm_forward", 1e-4, 1e-5)
    return Call(kernels.unit_norm_forward, dict(x=x, axis=axis, out=_opt_out(r, x.shape)),
                dict(x="in", axis="param", out="out"), ("unit_norm",), check)


def unit_norm_backward(r):
    x, axis = _unit_setup(r)

    def check(dx, k):
        if np.shape(k["x"]) != x.shape or np.shape(k["dy"]) != x.shape or k.get("axis") != axis:
            return []
        return _close(dx.numpy(), ref.unit_norm_grad(k["dy"], k["x"], axis), "unit_norm_backward",
                      1e-3, 1e-3)
    return Call(kernels.unit_norm_backward,
                dict(dy=f32(r, *x.shape), x=x, axis=axis, out=_opt_out(r, x.shape)),
                dict(dy="in", x="in", axis="param", out="out"), ("unit_norm",), check)


def gaussian_noise_forward(r):
    x = f32(r, *_dims(r, int(r.integers(1, 4)), 1, 6))
    return Call(kernels.gaussian_noise_forward,
                dict(x=x, stddev=float(r.choice([0.0, 0.1, 1.0])), seed=int(r.integers(0, 2**40)),
                     out=_opt_out(r, x.shape)),
                dict(x="in", stddev="param", seed="param", out="out"), ("gaussian_noise",),
                lambda y, kw: _shape(y, np.shape(kw["x"])))


def _dropout_like(fn, name):
    def build(r):
        x = f32(r, *_dims(r, int(r.integers(1, 4)), 1, 6))
        return Call(fn, dict(x=x, rate=float(r.choice([0.0, 0.3, 0.9])),
                             seed=int(r.integers(0, 2**40)), out=_opt_out(r, x.shape),
                             mask=_opt_out(r, x.shape)),
                    dict(x="in", rate="param", seed="param", out="out", mask="out"), (name,),
                    lambda res, kw: _shape(res[0], np.shape(kw["x"])) + _shape(res[1], np.shape(kw["x"])))
    return build


def layers_a_specs():
    return {"group_norm_forward": group_norm_forward, "group_norm_backward": group_norm_backward,
            "unit_norm_forward": unit_norm_forward, "unit_norm_backward": unit_norm_backward,
            "gaussian_noise_forward": gaussian_noise_forward,
            "gaussian_dropout_forward": _dropout_like(kernels.gaussian_dropout_forward,
                                                      "gaussian_dropout"),
            "alpha_dropout_forward": _dropout_like(kernels.alpha_dropout_forward, "alpha_dropout"),
            # defined below (the module is read whole before SPECS calls this)
            "additive_attention_scores_forward": additive_attention_scores_forward,
            "additive_attention_scores_backward": additive_attention_scores_backward}


def _additive_setup(r):
    n, tq, tv = (int(r.integers(1, 4)) for _ in range(3))
    d = int(r.integers(1, 5))
    return f32(r, n, tq, d), f32(r, n, tv, d), f32(r, d), float(r.choice([1.0, 0.5])), (n, tq, tv)


def additive_attention_scores_forward(r):
    q, k, w, alpha, shape = _additive_setup(r)

    def check(s, kw):
        if np.shape(kw["query"]) != q.shape or np.shape(kw["key"]) != k.shape or \
                np.shape(kw["w"]) != w.shape or kw.get("alpha") != alpha:
            return []
        return _close(s.numpy(), ref.additive_scores(kw["query"], kw["key"], kw["w"], alpha),
                      "additive_attention_scores_forward", 1e-4, 1e-4)
    return Call(kernels.additive_attention_scores_forward,
                dict(query=q, key=k, w=w, alpha=alpha, out=_opt_out(r, shape)),
                dict(query="in", key="in", w="in", alpha="param", out="out"),
                ("additive_attention",), check)


def additive_attention_scores_backward(r):
    q, k, w, alpha, shape = _additive_setup(r)
    return Call(kernels.additive_attention_scores_backward,
                dict(dscores=f32(r, *shape), query=q, key=k, w=w, alpha=alpha,
                     dquery=_opt_out(r, q.shape), dkey=_opt_out(r, k.shape), dw=_opt_out(r, w.shape),
                     dalpha=_opt_out(r, ())),
                dict(dscores="in", query="in", key="in", w="in", alpha="param", dquery="out",
                     dkey="out", dw="out", dalpha="out"), ("additive_attention",))
