"""regularizer_penalty: value and in-place gradient accumulation vs reference and finite differences."""
import numpy as np
import pytest

import corenn
from corenn import kernels
from reference import numerical_grad, regularizer_grad, regularizer_penalty


@pytest.mark.parametrize("shape", [(1,), (5,), (3, 7), (300, 257)])
@pytest.mark.parametrize("l1,l2", [(0.01, 0.0), (0.0, 0.01), (0.003, 0.02)])
def test_matches_reference(shape, l1, l2, rng):
    w = rng.standard_normal(shape).astype(np.float32)
    w.reshape(-1)[0] = 0.0  # sign(0) = 0
    g0 = rng.standard_normal(shape).astype(np.float32)
    grad = g0.copy()
    value = kernels.regularizer_penalty(w, grad, l1=l1, l2=l2)
    assert value == pytest.approx(regularizer_penalty(w, l1, l2), rel=1e-5)
    np.testing.assert_allclose(grad, g0 + regularizer_grad(w, l1, l2), rtol=1e-5, atol=1e-7)


def test_without_grad_and_zero_coefficients(rng):
    w = rng.standard_normal(10).astype(np.float32)
    assert kernels.regularizer_penalty(w, l1=0.1) == pytest.approx(0.1 * np.abs(w.astype(np.float64)).sum(), rel=1e-6)
    assert kernels.regularizer_penalty(w) == 0.0


def test_reference_grad_matches_finite_differences(rng):
    w = rng.standard_normal((4, 3)) + 0.1
    num = numerical_grad(lambda v: regularizer_penalty(v, 0.03, 0.2), w)
    np.testing.assert_allclose(regularizer_grad(w, 0.03, 0.2), num, rtol=1e-6, atol=1e-8)


def test_deterministic_across_thread_counts(rng):
    w = rng.standard_normal(200_000).astype(np.float32)
    old = corenn.get_num_threads()
    try:
        corenn.set_num_threads(1)
        one = kernels.regularizer_penalty(w, l1=0.01, l2=0.01)
        corenn.set_num_threads(2)
        two = kernels.regularizer_penalty(w, l1=0.01, l2=0.01)
    finally:
        corenn.set_num_threads(old)
    assert one == two


def test_bad_inputs_raise():
    w = np.zeros((3, 2), np.float32)
    with pytest.raises(ValueError, match="regularizer: w and grad must have the same shape"):
        kernels.regularizer_penalty(w, np.zeros(6, np.float32), l2=0.1)
    with pytest.raises(TypeError, match="regularizer: w must be float32"):
        kernels.regularizer_penalty(np.zeros(3, np.int32), l2=0.1)
    with pytest.raises(ValueError, match="regularizer: l1 and l2 must be finite and >= 0"):
        kernels.regularizer_penalty(w, l1=-1.0)
    with pytest.raises(ValueError, match="regularizer: w and grad share memory"):
        kernels.regularizer_penalty(w, w, l2=0.1)
