"""concat / split vs NumPy: axes (negative, first, last), empty pieces, bad calls."""
import numpy as np
import pytest

from corenn import kernels
import reference as ref


@pytest.mark.parametrize("shapes,axis", [
    ([(2, 3), (2, 5)], -1), ([(2, 3), (4, 3), (1, 3)], 0), ([(2, 3, 4), (2, 1, 4)], 1),
    ([(3,), (0,), (2,)], 0), ([(2, 0, 4), (2, 2, 4)], 1), ([(5, 2)], 1), ([(0, 3), (0, 2)], 1),
    ([(100, 300, 2), (100, 300, 3)], 2),
])
def test_concat_and_split_match_numpy(shapes, axis, rng):
    xs = [rng.normal(size=s).astype(np.float32) for s in shapes]
    y = kernels.concat(xs, axis)
    np.testing.assert_array_equal(np.asarray(y), ref.concat(xs, axis).astype(np.float32))
    sizes = [s[axis] for s in shapes]
    parts = kernels.split(y, axis, sizes)
    assert len(parts) == len(xs)
    for p, x in zip(parts, xs):
        np.testing.assert_array_equal(np.asarray(p), x)
    # adjoint: <concat(xs), dy> == sum_i <xs_i, split(dy)_i>
    dy = rng.normal(size=y.shape)
    lhs = (ref.f64(y) * dy).sum()
    rhs = sum((ref.f64(x) * np.asarray(p)).sum() for x, p in
              zip(xs, kernels.split(dy.astype(np.float32), axis, sizes)))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-4, atol=1e-4)


def test_split_into_given_outs(rng):
    x = rng.normal(size=(3, 5)).astype(np.float32)
    outs = [kernels.empty((3, 2)), kernels.empty((3, 3))]
    got = kernels.split(x, 1, [2, 3], outs=outs)
    assert got[0] is outs[0] and got[1] is outs[1]
    np.testing.assert_array_equal(np.asarray(outs[1]), x[:, 2:])


def test_bad_calls_name_the_op():
    a = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"concat: tensors\[1\] has shape \(3, 3\).*every axis but 1"):
        kernels.concat([a, np.zeros((3, 3), np.float32)], 1)
    with pytest.raises(ValueError, match="concat: axis 2 is out of range"):
        kernels.concat([a, a], 2)
    with pytest.raises(ValueError, match="concat: needs at least one"):
        kernels.concat([], 0)
    with pytest.raises(ValueError, match="concat.*add up"):
        kernels.concat([a, a], 1, out=kernels.empty((2, 7)))
    big = np.zeros((2, 6), np.float32)
    with pytest.raises(ValueError, match=r"concat: y and tensors\[1\] share memory"):
        kernels.concat([a, big.reshape(-1)[:6].reshape(2, 3)], 1, out=big)
    with pytest.raises(ValueError, match="split.*add up"):
        kernels.split(a, 1, [1, 1])
    with pytest.raises(ValueError, match="split.*outs"):
        kernels.split(a, 1, [1, 2], outs=[kernels.empty((2, 1))])
    ro = np.zeros((2, 1), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=r"split.*outs\[0\].*read-only"):
        kernels.split(a, 1, [1, 2], outs=[ro, kernels.empty((2, 2))])
