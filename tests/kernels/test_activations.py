"""Activations: every kind forward and backward against tests/reference.py (float64 NumPy), the
reference backward against finite differences, both ISA paths, in-place use, bad inputs."""
import numpy as np
import pytest

import corenn
from corenn import _C, kernels
from reference import activation, activation_grad, numerical_grad

KINDS = kernels.ACTIVATIONS
ALPHA = {"leaky_relu": 0.2, "elu": 1.0, "relu6": 6.0, "celu": 1.0, "soft_shrink": 0.5, "hard_shrink": 0.5,
         "squareplus": 4.0}
SHAPES = [(1,), (1, 1), (7,), (3, 5), (4, 33), (2, 3, 17), (128, 512)]
from conftest import ISAS


def _inputs(rng, shape, scale=3.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def _close(got, want, rtol=1e-4, atol=1e-6):
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64), want, rtol=rtol, atol=atol)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape", SHAPES)
def test_forward_backward_match_reference(kind, shape, isa, rng):
    alpha = ALPHA.get(kind, 0.0)
    x = _inputs(rng, shape)
    dy = _inputs(rng, shape, 1.0)
    y = kernels.activation_forward(kind, x, alpha=alpha).numpy()
    _close(y, activation(kind, x, alpha))
    dx = kernels.activation_backward(kind, x, y, dy, alpha=alpha).numpy()
    _close(dx, activation_grad(kind, x, dy, alpha), atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_large_inputs_are_stable(kind, isa):
    x = np.array([[-100.0, -30.0, -1e-4, 0.0, 1e-4, 30.0, 100.0, 88.0, -88.0]], np.float32)
    if kind == "exponential":   # e^x overflows float32 above 88.7: its true value, not instability
        x = np.minimum(x, 80.0)
    alpha = ALPHA.get(kind, 0.0)
    y = kernels.activation_forward(kind, x, alpha=alpha).numpy()
    assert np.all(np.isfinite(y))
    _close(y, activation(kind, x, alpha), atol=1e-5)
    dy = np.ones_like(x)
    dx = kernels.activation_backward(kind, x, y, dy, alpha=alpha).numpy()
    assert np.all(np.isfinite(dx))
    _close(dx, activation_grad(kind, x, dy, alpha), atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_reference_backward_matches_finite_differences(kind, rng):
    alpha = ALPHA.get(kind, 0.0)
    x = rng.standard_normal((3, 5)) * 2.0
    x[np.abs(x) < 1e-3] = 0.5  # keep away from the kinks of relu-like functions (and relu6's at 6)
    x[np.abs(x - alpha) < 1e-3] = 0.5
    for kink in (1.0, 3.0, alpha):   # hard_tanh / sparse_plus at +-1, hard_sigmoid / hard_silu at +-3, the shrinks
        x[np.abs(np.abs(x) - kink) < 1e-3] = 0.5
    dy = rng.standard_normal((3, 5))
    num = numerical_grad(lambda v: float((activation(kind, v, alpha) * dy).sum()), x)
    np.testing.assert_allclose(activation_grad(kind, x, dy, alpha), num, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("kind", ["relu", "elu", "selu", "sigmoid", "tanh", "softmax", "log_softmax",
                                  "leaky_relu", "gelu", "swish", "softplus", "linear"])
def test_in_place_forward_and_backward(kind, rng):
    alpha = ALPHA.get(kind, 0.0)
    x = _inputs(rng, (5, 9))
    want_y = activation(kind, x, alpha)
    dy = _inputs(rng, (5, 9), 1.0)
    want_dx = activation_grad(kind, x, dy, alpha)
    buf = x.copy()
    kernels.activation_forward(kind, buf, out=buf, alpha=alpha)
    _close(buf, want_y)
    # dx written over dy; x is the saved input (kinds that need it read x, the rest read y)
    kernels.activation_backward(kind, x, buf, dy, out=dy, alpha=alpha)
    _close(dy, want_dx, atol=1e-5)


@pytest.mark.parametrize("kind", ["sigmoid", "tanh", "gelu", "swish", "softplus", "elu", "selu", "softmax"])
def test_exp_based_kernels_within_1e6_relative(kind, isa, rng):
    # wide range plus tiny |x|, where tanh and expm1 switch to their series
    x = np.concatenate([rng.standard_normal(4000) * 6, rng.standard_normal(1000) * 1e-3,
                        np.linspace(-20, 20, 1000)]).astype(np.float32).reshape(-1, 15)
    y = kernels.activation_forward(kind, x, alpha=1.0).numpy()
    want = activation(kind, x, 1.0)
    rel = np.abs(y - want) / np.maximum(np.abs(want), 1e-30)
    # softmax: rounding x - max(x) in float32 alone costs up to ~2e-6 relative for |x| ~ 20
    assert rel.max() < (5e-6 if kind == "softmax" else 1e-6), (kind, isa, rel.max())


def test_softmax_rows_sum_to_one(rng):
    y = kernels.activation_forward("softmax", _inputs(rng, (6, 1000), 10.0)).numpy()
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=1e-5)


def test_unknown_kind_lists_valid_kinds():
    x = np.zeros((2, 2), np.float32)
    with pytest.raises(ValueError, match="unknown activation 'sigmoidd'.*relu.*softmax"):
        kernels.activation_forward("sigmoidd", x)
    with pytest.raises(ValueError, match="unknown activation"):
        kernels.activation_backward("nope", x, x, x)


def test_bad_inputs_raise():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"relu: x and y must have the same shape.*\(2, 3\).*\(3, 2\)"):
        kernels.activation_forward("relu", x, out=np.zeros((3, 2), np.float32))
    with pytest.raises(TypeError, match="sigmoid: .*float32"):
        kernels.activation_forward("sigmoid", np.zeros((2, 3), np.int32))
    with pytest.raises(ValueError, match="tanh: .*same shape"):
        kernels.activation_backward("tanh", x, x, np.zeros((2, 4), np.float32))
    big = np.zeros(10, np.float32)
    with pytest.raises(ValueError, match="relu: x and y share memory"):
        _C.activation_forward("relu", kernels.as_tensor(big[:6]), kernels.as_tensor(big[2:8]), 0.0)


def test_empty_tensor_is_a_no_op():
    y = kernels.activation_forward("softmax", np.zeros((0, 4), np.float32))
    assert y.shape == (0, 4)


def test_deterministic_across_thread_counts(rng):
    x = _inputs(rng, (256, 300))
    old = corenn.get_num_threads()
    try:
        corenn.set_num_threads(1)
        one = [kernels.activation_forward(k, x).numpy().copy() for k in ("gelu", "softmax")]
        corenn.set_num_threads(2)
        two = [kernels.activation_forward(k, x).numpy().copy() for k in ("gelu", "softmax")]
    finally:
        corenn.set_num_threads(old)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)
