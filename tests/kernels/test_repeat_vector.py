"""repeat_vector forward / backward vs NumPy, torch parity, bad calls."""
import numpy as np
import pytest

from corenn import kernels
import reference as ref


@pytest.mark.parametrize("n,d,repeats", [(1, 1, 1), (3, 5, 4), (7, 33, 1), (2, 1, 9), (64, 130, 3)])
def test_forward_backward_vs_reference(n, d, repeats, rng):
    x = rng.normal(size=(n, d)).astype(np.float32)
    y = kernels.repeat_vector_forward(x, repeats)
    np.testing.assert_array_equal(np.asarray(y), ref.repeat_vector(x, repeats))
    dy = rng.normal(size=(n, repeats, d)).astype(np.float32)
    dx = kernels.repeat_vector_backward(dy)
    np.testing.assert_allclose(np.asarray(dx), ref.repeat_vector_grad(dy), rtol=1e-5, atol=1e-6)


def test_out_buffers_and_empty(rng):
    x = rng.normal(size=(2, 3)).astype(np.float32)
    out = kernels.as_tensor(np.full((2, 4, 3), 9.0, np.float32))
    assert kernels.repeat_vector_forward(x, 4, out=out) is out
    np.testing.assert_array_equal(np.asarray(out), ref.repeat_vector(x, 4))
    assert kernels.repeat_vector_forward(x, 0).shape == (2, 0, 3)
    np.testing.assert_array_equal(np.asarray(kernels.repeat_vector_backward(np.zeros((2, 0, 3), np.float32))),
                                  np.zeros((2, 3)))


def test_torch_parity(rng):
    torch = pytest.importorskip("torch")
    x = rng.normal(size=(3, 5)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(kernels.repeat_vector_forward(x, 3)),
                                  torch.tensor(x)[:, None, :].expand(3, 3, 5).numpy())


def test_bad_calls_name_the_op():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="repeat_vector_forward.*n must be"):
        kernels.repeat_vector_forward(x, -1)
    with pytest.raises(TypeError, match="repeat_vector_forward.*n must be an int"):
        kernels.repeat_vector_forward(x, 2.0)
    with pytest.raises(ValueError, match="repeat_vector_forward.*rank 2|repeat_vector_forward.*x must"):
        kernels.repeat_vector_forward(np.zeros((2, 3, 4), np.float32), 2)
    with pytest.raises(ValueError, match="repeat_vector_forward.*y"):
        kernels.repeat_vector_forward(x, 2, out=kernels.empty((2, 2, 4)))
    with pytest.raises(ValueError, match="repeat_vector_forward.*shape argument"):  # n disagrees with out
        kernels.repeat_vector_forward(x, 1, out=kernels.empty((2, 2, 3)))
    with pytest.raises(ValueError, match="repeat_vector_backward.*rank 3"):
        kernels.repeat_vector_backward(x)
    with pytest.raises(ValueError, match="repeat_vector_backward.*dy"):
        kernels.repeat_vector_backward(np.zeros((2, 2, 3), np.float32), out=kernels.empty((2, 4)))
