"""bias_grad: column sums over all leading axes, accurate for long batches, deterministic."""
import numpy as np
import pytest

import corenn
from corenn import kernels
from reference import bias_grad


@pytest.mark.parametrize("shape", [(1,), (1, 1), (5, 3), (128, 512), (3, 4, 7), (2500, 300), (1, 1000)])
def test_matches_reference(shape, rng):
    dy = rng.standard_normal(shape).astype(np.float32)
    np.testing.assert_allclose(kernels.bias_grad(dy).numpy(), bias_grad(dy), rtol=1e-4, atol=1e-4)


def test_long_batch_is_accurate(rng):
    dy = (rng.standard_normal((100_000, 7)) + 1.0).astype(np.float32)
    np.testing.assert_allclose(kernels.bias_grad(dy).numpy(), bias_grad(dy), rtol=1e-6)


def test_writes_into_out_and_empty_batch_gives_zeros(rng):
    db = np.full(4, 7.0, np.float32)
    kernels.bias_grad(np.zeros((0, 4), np.float32), out=db)
    np.testing.assert_array_equal(db, 0.0)


def test_deterministic_across_thread_counts(rng):
    dy = rng.standard_normal((5000, 600)).astype(np.float32)
    old = corenn.get_num_threads()
    try:
        corenn.set_num_threads(1)
        one = kernels.bias_grad(dy).numpy().copy()
        corenn.set_num_threads(2)
        two = kernels.bias_grad(dy).numpy().copy()
    finally:
        corenn.set_num_threads(old)
    np.testing.assert_array_equal(one, two)


def test_bad_inputs_raise():
    dy = np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match=r"bias_grad: db must have shape \(3,\).*\(4, 3\).*\(4,\)"):
        kernels.bias_grad(dy, out=np.zeros(4, np.float32))
    with pytest.raises(TypeError, match="bias_grad: dy must be float32"):
        kernels.bias_grad(np.zeros((4, 3), np.int64))
    with pytest.raises(ValueError, match="bias_grad: dy must have at least 1 dimension"):
        kernels.bias_grad(np.float32(1.0).reshape(()), out=np.zeros(1, np.float32))
