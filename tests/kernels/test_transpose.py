"""transpose vs numpy.transpose: every permutation of small ranks, odd sizes across the 32x32
tiles, unit axes, every dtype, the inverse permutation as gradient, bad calls."""
import itertools

import numpy as np
import pytest

from corenn import kernels


@pytest.mark.parametrize("shape", [(5,), (3, 7), (2, 3, 4), (2, 3, 4, 5), (1, 3, 1, 4), (2, 1, 3, 1, 2)])
def test_every_permutation_matches_numpy(shape, rng):
    x = rng.normal(size=shape).astype(np.float32)
    for perm in itertools.permutations(range(len(shape))):
        np.testing.assert_array_equal(np.asarray(kernels.transpose(x, perm)), x.transpose(perm))


@pytest.mark.parametrize("shape,perm", [((67, 45), (1, 0)), ((3, 33, 65), (0, 2, 1)),
                                        ((40, 3, 37), (2, 1, 0)), ((31, 5, 70, 2), (2, 0, 3, 1)),
                                        ((4, 129, 130), (2, 0, 1))])
def test_sizes_across_tiles(shape, perm, rng):
    x = rng.normal(size=shape).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(kernels.transpose(x, perm)), x.transpose(perm))


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64])
def test_dtypes_default_perm_and_negative_axes(dtype, rng):
    x = rng.integers(-1000, 1000, size=(3, 4, 5)).astype(dtype)
    y = kernels.transpose(x)
    assert y.dtype == np.dtype(dtype).name
    np.testing.assert_array_equal(np.asarray(y), x.T)
    np.testing.assert_array_equal(np.asarray(kernels.transpose(x, (-1, 0, -2))), x.transpose(2, 0, 1))


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.float16, np.float64, np.bool_])
@pytest.mark.parametrize("shape,perm", [((67, 45), (1, 0)), ((3, 33, 65), (0, 2, 1)), ((40, 3, 37), (2, 1, 0))])
def test_storage_dtypes_of_every_element_size(dtype, shape, perm, rng):
    """1- and 2-byte elements (an int8-quantized kernel, uint8 images) through the tiled copy,
    which once copied them 8 bytes at a time, past the ends of both buffers (a heap corruption
    that aborted the process a few calls later)."""
    for _ in range(3):
        x = rng.integers(-100, 100, size=shape).astype(dtype)
        y = kernels.transpose(x, perm)
        assert y.dtype == np.dtype(dtype).name and tuple(y.shape) == x.transpose(perm).shape
        np.testing.assert_array_equal(np.asarray(y), x.transpose(perm))


def test_inverse_permutation_is_the_gradient(rng):
    x = rng.normal(size=(2, 3, 4, 5)).astype(np.float32)
    perm = (2, 0, 3, 1)
    inv = kernels.inverse_permutation(perm)
    assert inv == list(np.argsort(perm))
    y = kernels.transpose(x, perm)
    np.testing.assert_array_equal(np.asarray(kernels.transpose(y, inv)), x)
    dy = rng.normal(size=y.shape).astype(np.float32)  # adjoint: <T x, dy> == <x, T^-1 dy>
    dx = np.asarray(kernels.transpose(dy, inv))
    np.testing.assert_allclose((np.asarray(y, np.float64) * dy).sum(), (x.astype(np.float64) * dx).sum(), rtol=1e-10)


def test_out_empty_and_scalar(rng):
    x = rng.normal(size=(3, 4)).astype(np.float32)
    out = kernels.empty((4, 3))
    assert kernels.transpose(x, (1, 0), out=out) is out
    np.testing.assert_array_equal(np.asarray(out), x.T)
    assert kernels.transpose(np.zeros((0, 3), np.float32)).shape == (3, 0)
    s = kernels.transpose(np.float32(2.5).reshape(()))
    assert s.shape == () and float(np.asarray(s)) == 2.5


def test_torch_parity(rng):
    torch = pytest.importorskip("torch")
    x = rng.normal(size=(3, 5, 7, 2)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(kernels.transpose(x, (3, 1, 0, 2))),
                                  torch.tensor(x).permute(3, 1, 0, 2).contiguous().numpy())


def test_bad_calls_name_the_op():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="transpose.*permutation"):
        kernels.transpose(x, (0, 0))
    with pytest.raises(ValueError, match="transpose.*permutation"):
        kernels.transpose(x, (0, 2))
    with pytest.raises(ValueError, match="transpose.*2 entries"):
        kernels.transpose(x, (0, 1, 2))
    with pytest.raises(TypeError, match="transpose.*perm"):
        kernels.transpose(x, "ab")
    with pytest.raises(TypeError, match="transpose.*perm"):
        kernels.transpose(x, (0.0, 1))
    with pytest.raises(ValueError, match="transpose.*y must have shape"):
        kernels.transpose(x, (1, 0), out=kernels.empty((2, 3)))
    with pytest.raises(TypeError, match="transpose.*int32"):
        kernels.transpose(x, (1, 0), out=kernels.empty((3, 2), "int32"))
    with pytest.raises(ValueError, match="transpose.*share memory"):
        xt = kernels.as_tensor(np.zeros((3, 3), np.float32))
        kernels.transpose(xt, (1, 0), out=xt)
    ro = np.zeros((3, 2), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="transpose.*read-only"):
        kernels.transpose(x, (1, 0), out=ro)
    with pytest.raises(ValueError, match="inverse_permutation"):
        kernels.inverse_permutation((1, 1))
