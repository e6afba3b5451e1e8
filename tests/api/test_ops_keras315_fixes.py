"""keras.ops answers that differed from Keras 3.15 side by side: lstsq's minimum-norm solution,
ctc_decode's output layout (and beam search), integer dtypes kept by elementwise ops, the
singular-value matrix norms. References are float64 NumPy written from the math here (a brute
force over all CTC paths for the decoder); gradients against central finite differences."""
import itertools

import numpy as np
import pytest

import corenn
from corenn import ops
from reference import f64, numerical_grad


def _grad_check(call, ref, xs, rng, rtol=2e-3, atol=2e-4):
    """The tape's d sum(w * call(xs)) / d xs against central differences of ref."""
    w = rng.normal(size=np.shape(ref(*xs)))
    ts = [ops.convert_to_tensor(x.astype(np.float32)) for x in xs]
    with corenn.GradientTape() as tape:
        tape.watch(ts)
        loss = ops.sum(ops.multiply(call(*ts), w.astype(np.float32)))
    grads = tape.gradient(loss, ts)
    for i, (x, g) in enumerate(zip(xs, grads)):
        def f(v, i=i):
            args = list(xs)
            args[i] = v
            return float((f64(ref(*args)) * w).sum())
        np.testing.assert_allclose(np.asarray(g), numerical_grad(f, x), rtol=rtol, atol=atol, err_msg=f"input {i}")


def _min_norm_lstsq(a, b):
    """The minimum-norm least-squares solution from the SVD: V diag(1/s) U^T b over s > tol."""
    u, s, vh = np.linalg.svd(f64(a), full_matrices=False)
    keep = s > s.max() * max(a.shape) * np.finfo(np.float32).eps
    return vh[keep].T @ ((u[:, keep].T @ f64(b)) / (s[keep][:, None] if np.ndim(b) == 2 else s[keep]))


@pytest.mark.parametrize("shape_a, shape_b", [((2, 4), (2,)), ((3, 5), (3, 2)), ((5, 3), (5,)), ((4, 4), (4, 2))])
def test_lstsq_is_the_minimum_norm_least_squares_solution(shape_a, shape_b, rng):
    a, b = rng.normal(size=shape_a), rng.normal(size=shape_b)
    a, b = a.astype(np.float32).astype(np.float64), b.astype(np.float32).astype(np.float64)
    got = np.asarray(ops.lstsq(a, b))
    np.testing.assert_allclose(got, _min_norm_lstsq(a, b), rtol=2e-4, atol=2e-5)
    _grad_check(ops.lstsq, _min_norm_lstsq, [a, b], rng)


def test_lstsq_rank_deficient_and_pinv(rng):
    a = rng.normal(size=(5, 3))
    a[:, 2] = a[:, 0] + a[:, 1]                          # rank 2
    a = a.astype(np.float32).astype(np.float64)
    b = rng.normal(size=(5,)).astype(np.float32).astype(np.float64)
    x = np.asarray(ops.lstsq(a, b), np.float64)
    np.testing.assert_allclose(x, _min_norm_lstsq(a, b), rtol=1e-3, atol=1e-4)
    assert int(np.asarray(ops.matrix_rank(a))) == 2
    np.testing.assert_allclose(np.asarray(ops.pinv(a)), np.linalg.pinv(a, rcond=1e-5), rtol=1e-3, atol=1e-4)
    with pytest.raises(ValueError, match=r"ops.lstsq: needs a \(m, n\) and b"):
        ops.lstsq(np.ones((3, 2)), np.ones((4,)))


def _ctc_exact(logits, blank):
    """log P(labelling) of every labelling: all paths enumerated, collapsed, summed."""
    z = f64(logits)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    T, C = logp.shape
    out = {}
    for path in itertools.product(range(C), repeat=T):
        lab = tuple(c for k, c in enumerate(path) if c != blank and (k == 0 or path[k - 1] != c))
        out[lab] = np.logaddexp(out.get(lab, -np.inf), sum(logp[t, c] for t, c in enumerate(path)))
    return out


def test_ctc_decode_beam_search_matches_the_exact_labelling_probabilities(rng):
    x = rng.normal(size=(2, 4, 3)) * 1.5
    decoded, scores = ops.ctc_decode(x, [4, 3], strategy="beam_search", beam_width=100, top_paths=3)
    assert decoded.dtype == "int32" and tuple(decoded.shape) == (3, 2, 4) and tuple(scores.shape) == (2, 3)
    for b, length in enumerate([4, 3]):
        exact = sorted(_ctc_exact(x[b, :length], blank=0).items(), key=lambda kv: -kv[1])[:3]
        for k, (lab, logp) in enumerate(exact):
            row = np.asarray(decoded)[k, b]
            assert tuple(row[row >= 0]) == lab and (row[len(lab):] == -1).all()
            np.testing.assert_allclose(np.asarray(scores)[b, k], logp, rtol=1e-5, atol=1e-5)


def test_ctc_decode_greedy_pads_to_the_time_length():
    x = np.full((2, 6, 4), -1.0)
    for b, path in enumerate([[1, 1, 0, 2, 0, 2], [3, 3, 3, 3, 0, 1]]):
        x[b, np.arange(6), path] = 1.0
    decoded, scores = ops.ctc_decode(x, [6, 4])
    assert decoded.dtype == "int32"
    np.testing.assert_array_equal(np.asarray(decoded), [[[1, 2, 2, -1, -1, -1], [3, -1, -1, -1, -1, -1]]])
    np.testing.assert_allclose(np.asarray(scores), [[-6.0], [-4.0]])
    np.testing.assert_array_equal(np.asarray(ops.ctc_decode(x, [6, 4], merge_repeated=False)[0])[0, 1],
                                  [3, 3, 3, 3, -1, -1])
    with pytest.raises(ValueError, match="ops.ctc_decode: strategy must be"):
        ops.ctc_decode(x, [6, 4], strategy="best")
    with pytest.raises(ValueError, match="top_paths <= beam_width"):
        ops.ctc_decode(x, [6, 4], strategy="beam_search", beam_width=2, top_paths=3)


INT_CASES = [
    ("clip", lambda v: ops.clip(v, 1, 3), lambda a: np.clip(a, 1, 3)),
    ("power", lambda v: ops.power(v, 2), lambda a: a ** 2),
    ("pow operator", lambda v: v ** 2, lambda a: a ** 2),
    ("abs", ops.abs, np.abs), ("negative", ops.negative, np.negative), ("-x", lambda v: -v, np.negative),
    ("square", ops.square, np.square), ("sign", ops.sign, np.sign),
    ("maximum", lambda v: ops.maximum(v, 2), lambda a: np.maximum(a, 2)),
    ("minimum", lambda v: ops.minimum(v, v[::-1]), lambda a: np.minimum(a, a[::-1])),
    ("add", lambda v: ops.add(v, v), lambda a: a + a), ("subtract", lambda v: ops.subtract(v, 1), lambda a: a - 1),
    ("multiply", lambda v: ops.multiply(v, 3), lambda a: a * 3),
    ("where", lambda v: ops.where(v > 1, v, 0), lambda a: np.where(a > 1, a, 0)),
    ("mod", lambda v: ops.mod(v, 2), lambda a: a % 2), ("floor_divide", lambda v: ops.floor_divide(v, 2), lambda a: a // 2),
    ("relu", ops.relu, lambda a: np.maximum(a, 0)), ("relu6", ops.relu6, lambda a: np.clip(a, 0, 6)),
    ("sum", ops.sum, np.sum), ("max", ops.max, np.max), ("min", ops.min, np.min), ("prod", ops.prod, np.prod),
    ("cumsum", ops.cumsum, np.cumsum), ("cumprod", ops.cumprod, np.cumprod),
    ("matmul", lambda v: ops.matmul(v, v), lambda a: a @ a), ("fmax", lambda v: ops.fmax(v, 0), lambda a: np.fmax(a, 0)),
    ("fmod", lambda v: ops.fmod(v, 2), lambda a: np.fmod(a, 2)), ("trunc", ops.trunc, np.trunc),
    ("diff", ops.diff, np.diff), ("ptp", ops.ptp, np.ptp),
    ("cross", lambda v: ops.cross(v[:3], v[2:]), lambda a: np.cross(a[:3], a[2:])),
    ("trace", lambda v: ops.trace(ops.outer(v, v)), lambda a: np.trace(np.outer(a, a))),
]


@pytest.mark.parametrize("dtype", ["int32", "int64"])
@pytest.mark.parametrize("as_tensor", [True, False], ids=["tensor", "array"])
@pytest.mark.parametrize("case", INT_CASES, ids=[c[0] for c in INT_CASES])
def test_integer_inputs_keep_their_dtype(case, as_tensor, dtype):
    _, call, ref = case
    a = np.array([-2, 0, 1, 3, 7], dtype)
    got = call(ops.convert_to_tensor(a) if as_tensor else a)
    assert got.dtype == dtype, (case[0], got.dtype)
    np.testing.assert_array_equal(np.asarray(got), ref(a))


def test_integer_inputs_that_become_float():
    a = np.array([-2, 0, 1, 3], np.int32)
    for out in [ops.clip(a, 0.5, 2), ops.power(a, 2.0), ops.floor(a), ops.ceil(a), ops.divide(a, 2), ops.maximum(a, 0.5),
                ops.sqrt(np.abs(a))]:
        assert out.dtype == "float32"
    np.testing.assert_array_equal(np.asarray(ops.floor(a)), a.astype(np.float32))
    with pytest.raises(ValueError, match="ops.power: integers to negative integer powers"):
        ops.power(a, -1)


def _svals(x, axes):
    return np.linalg.svd(np.moveaxis(f64(x), axes, (-2, -1)), compute_uv=False)


@pytest.mark.parametrize("ord_, red", [(2, lambda s: s.max(-1)), (-2, lambda s: s.min(-1)), ("nuc", lambda s: s.sum(-1))])
def test_norm_from_singular_values(ord_, red, rng):
    x = rng.normal(size=(4, 3))
    np.testing.assert_allclose(np.asarray(ops.norm(x, ord=ord_)), np.linalg.norm(x, ord=ord_), rtol=1e-5)
    _grad_check(lambda t: ops.norm(t, ord=ord_), lambda v: red(_svals(v, (0, 1))), [x], rng)
    y = rng.normal(size=(3, 2, 4))
    got = ops.norm(y, ord=ord_, axis=(2, 0), keepdims=True)
    want = red(_svals(y, (2, 0)))                    # (2,): the matrices y[:, j, :].T
    assert tuple(got.shape) == (1, 2, 1)
    np.testing.assert_allclose(np.asarray(got).reshape(-1), want, rtol=1e-5)
    _grad_check(lambda t: ops.norm(t, ord=ord_, axis=(2, 0)), lambda v: red(_svals(v, (2, 0))), [y], rng)
    with pytest.raises(ValueError, match="ops.norm: matrix ord=3"):
        ops.norm(x, ord=3, axis=(0, 1))
