"""spatial_dropout ops: one draw per (sample, channel) from the dropout stream, broadcast over the
middle axes; backward reuses the mask; input checks."""
import numpy as np
import pytest

from corenn import kernels
from reference import spatial_dropout_mask


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (3, 7), (1, 1, 1, 1), (4, 6, 6, 33)])
@pytest.mark.parametrize("rate", [0.0, 0.3, 0.75])
def test_forward_backward_match_reference(shape, rate, rng):
    n, c = shape[0], shape[-1]
    x = rng.normal(size=shape).astype(np.float32)
    y, mask = kernels.spatial_dropout_forward(x, rate, seed=99)
    want = spatial_dropout_mask(n, c, rate, 99)
    np.testing.assert_allclose(np.asarray(mask), want, rtol=1e-6)
    bshape = (n,) + (1,) * (len(shape) - 2) + (c,)
    np.testing.assert_allclose(np.asarray(y), x * want.reshape(bshape), rtol=1e-6)
    dy = rng.normal(size=shape).astype(np.float32)
    dx = kernels.spatial_dropout_backward(dy, mask)
    np.testing.assert_allclose(np.asarray(dx), dy * want.reshape(bshape), rtol=1e-6)


def test_bad_inputs_raise():
    x = np.ones((2, 3, 3, 4), np.float32)
    with pytest.raises(ValueError, match="spatial_dropout_forward.*rate"):
        kernels.spatial_dropout_forward(x, 1.0, seed=1)
    with pytest.raises(ValueError, match="spatial_dropout_forward.*mask"):
        kernels.spatial_dropout_forward(x, 0.5, seed=1, mask=np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match="spatial_dropout_forward"):
        kernels.spatial_dropout_forward(np.ones(4, np.float32), 0.5, seed=1)
    with pytest.raises(ValueError, match="spatial_dropout_backward.*mask"):
        kernels.spatial_dropout_backward(x, np.ones((3, 4), np.float32))
