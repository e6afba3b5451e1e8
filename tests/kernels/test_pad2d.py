"""zero_pad2d forward (pad) and backward (crop) vs NumPy."""
import numpy as np
import pytest

from corenn import kernels
import reference as ref


@pytest.mark.parametrize("shape,padding,tblr", [
    ((2, 3, 4, 5), 1, (1, 1, 1, 1)),
    ((1, 5, 2, 3), (2, 0), (2, 2, 0, 0)),
    ((3, 4, 4, 9), ((0, 2), (3, 1)), (0, 2, 3, 1)),
    ((1, 1, 1, 1), ((1, 0), (0, 1)), (1, 0, 0, 1)),
    ((2, 3, 3, 4), 0, (0, 0, 0, 0)),
])
def test_zero_pad2d_forward_backward(shape, padding, tblr, rng):
    x = rng.normal(size=shape).astype(np.float32)
    y = kernels.zero_pad2d_forward(x, padding)
    np.testing.assert_array_equal(np.asarray(y), ref.zero_pad2d(x, *tblr).astype(np.float32))
    dy = rng.normal(size=y.shape).astype(np.float32)
    dx = kernels.zero_pad2d_backward(dy, padding)
    t, b, l, r = tblr
    np.testing.assert_array_equal(np.asarray(dx), dy[:, t:dy.shape[1] - b, l:dy.shape[2] - r])
    # adjoint: <pad(x), dy> == <x, crop(dy)>
    np.testing.assert_allclose((ref.f64(y) * dy).sum(), (ref.f64(x) * np.asarray(dx)).sum(), rtol=1e-6)


def test_zero_pad2d_reuses_out_and_overwrites_it(rng):
    x = rng.normal(size=(2, 2, 2, 3)).astype(np.float32)
    out = kernels.as_tensor(np.full((2, 4, 4, 3), 7.0, np.float32))
    kernels.zero_pad2d_forward(x, 1, out=out)
    np.testing.assert_array_equal(np.asarray(out), ref.zero_pad2d(x, 1, 1, 1, 1))


def test_zero_pad2d_bad_inputs_name_the_op():
    x = np.zeros((1, 2, 2, 1), np.float32)
    with pytest.raises(ValueError, match="zero_pad2d_forward.*rank 4"):
        kernels.zero_pad2d_forward(np.zeros((2, 2, 1), np.float32), 1)
    with pytest.raises(ValueError, match="zero_pad2d_forward.*non-negative"):
        kernels.zero_pad2d_forward(x, -1)
    with pytest.raises(ValueError, match="zero_pad2d_forward.*padding"):
        kernels.zero_pad2d_forward(x, (1, 2, 3))
    with pytest.raises(ValueError, match="zero_pad2d_forward.*y"):
        kernels.zero_pad2d_forward(x, 1, out=kernels.empty((1, 3, 4, 1)))
    with pytest.raises(ValueError, match="zero_pad2d_backward.*does not fit"):
        kernels.zero_pad2d_backward(x, 2)
