"""Dropout: exact mask from the counter-based RNG, keep statistics, thread-count independence."""
import numpy as np
import pytest

import corenn
from corenn import _C, kernels
from reference import dropout_mask, uniform01

from conftest import ISAS


@pytest.mark.parametrize("shape", [(1,), (7,), (3, 5), (128, 512)])
@pytest.mark.parametrize("rate", [0.0, 0.25, 0.5, 0.9])
def test_forward_matches_reference_mask(shape, rate, isa, rng):
    x = rng.standard_normal(shape).astype(np.float32)
    y, mask = kernels.dropout_forward(x, rate, seed=1234)
    want = dropout_mask(shape, rate, 1234)
    np.testing.assert_allclose(mask.numpy(), want, rtol=1e-6)
    np.testing.assert_allclose(y.numpy(), x * want, rtol=1e-6)


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_mask_statistics(rate):
    x = np.ones((200, 500), np.float32)
    _, mask = kernels.dropout_forward(x, rate, seed=7)
    m = mask.numpy()
    values = np.unique(m)
    np.testing.assert_allclose(values, [0.0, 1.0 / (1.0 - rate)], rtol=1e-6)
    kept = (m > 0).mean()
    assert abs(kept - (1.0 - rate)) < 0.01
    assert abs(m.mean() - 1.0) < 0.03  # inverted dropout keeps the expectation


def test_seeds_differ_and_repeat():
    x = np.ones(1000, np.float32)
    a = kernels.dropout_forward(x, 0.5, seed=1)[1].numpy().copy()
    b = kernels.dropout_forward(x, 0.5, seed=1)[1].numpy().copy()
    c = kernels.dropout_forward(x, 0.5, seed=2)[1].numpy().copy()
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()


def test_backward_multiplies_by_mask(rng):
    x = rng.standard_normal((9, 13)).astype(np.float32)
    dy = rng.standard_normal((9, 13)).astype(np.float32)
    _, mask = kernels.dropout_forward(x, 0.3, seed=5)
    dx = kernels.dropout_backward(dy, mask).numpy()
    np.testing.assert_allclose(dx, dy * mask.numpy(), rtol=1e-6)


@pytest.mark.parametrize("n", list(range(1, 18)) + [31, 32, 33])
def test_lengths_1_to_17_on_every_isa(n, isa, rng):
    """Every length of a vector kernel's masked tail: the exact mask, then backward."""
    x = rng.standard_normal(n).astype(np.float32)
    y, mask = kernels.dropout_forward(x, 0.4, seed=99)
    want = dropout_mask((n,), 0.4, 99)
    np.testing.assert_array_equal(mask.numpy(), want.astype(np.float32))
    np.testing.assert_allclose(y.numpy(), x.astype(np.float64) * want, rtol=1e-6)
    dy = rng.standard_normal(n).astype(np.float32)
    np.testing.assert_allclose(kernels.dropout_backward(dy, mask).numpy(),
                               dy.astype(np.float64) * want, rtol=1e-6)


def test_in_place(rng):
    x = rng.standard_normal((4, 6)).astype(np.float32)
    buf = x.copy()
    _, mask = kernels.dropout_forward(buf, 0.5, seed=3, out=buf)
    np.testing.assert_allclose(buf, x * mask.numpy(), rtol=1e-6)


def test_mask_is_bit_exact_for_every_isa_and_split(isa):
    # odd length: with 2 threads the second chunk starts at an odd index, off the 8-lane grid
    n = 100_003
    x = np.ones(n, np.float32)
    old = corenn.get_num_threads()
    try:
        for threads in (1, 2):
            corenn.set_num_threads(threads)
            mask = kernels.dropout_forward(x, 0.3, seed=2**63 + 12345)[1].numpy()
            keep = uniform01(2**63 + 12345, n) >= np.float32(0.3)
            np.testing.assert_array_equal(mask > 0, keep)
    finally:
        corenn.set_num_threads(old)


def test_deterministic_across_thread_counts(isa):
    x = np.ones((300, 700), np.float32)
    old = corenn.get_num_threads()
    try:
        corenn.set_num_threads(1)
        one = kernels.dropout_forward(x, 0.4, seed=99)[1].numpy().copy()
        corenn.set_num_threads(2)
        two = kernels.dropout_forward(x, 0.4, seed=99)[1].numpy().copy()
    finally:
        corenn.set_num_threads(old)
    np.testing.assert_array_equal(one, two)


def test_bad_inputs_raise():
    x = np.zeros((2, 3), np.float32)
    for rate in (1.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match=r"dropout_forward: rate must be in \[0, 1\)"):
            kernels.dropout_forward(x, rate, seed=0)
    with pytest.raises(ValueError, match="dropout_forward: x and mask must have the same shape"):
        kernels.dropout_forward(x, 0.5, seed=0, mask=np.zeros((3, 2), np.float32))
    with pytest.raises(ValueError, match="dropout_backward: dy and mask must have the same shape"):
        kernels.dropout_backward(x, np.zeros(6, np.float32))
    with pytest.raises(TypeError, match="dropout_backward: mask must be float32"):
        kernels.dropout_backward(x, np.zeros((2, 3), np.int32))
