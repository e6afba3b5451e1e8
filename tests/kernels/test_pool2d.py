"""Pooling kernels (max / avg / global) vs the NumPy loops in reference.py, forward and backward."""
import numpy as np
import pytest

from corenn import kernels
import reference as ref

# (x shape, pool, strides, padding): odd sizes, overlapping windows (stride < pool), stride > pool,
# non-square windows, batch 1, C not a multiple of 8, 'same' with asymmetric padding.
CASES = [
    ((2, 6, 6, 8), (2, 2), (2, 2), "valid"),
    ((2, 6, 6, 8), (2, 2), (2, 2), "same"),
    ((1, 7, 5, 3), (3, 3), (1, 1), "valid"),
    ((1, 7, 5, 3), (3, 3), (1, 1), "same"),
    ((3, 9, 8, 13), (3, 3), (2, 2), "valid"),
    ((3, 9, 8, 13), (3, 3), (2, 2), "same"),
    ((2, 7, 7, 5), (2, 3), (3, 2), "valid"),
    ((2, 7, 7, 5), (2, 3), (3, 2), "same"),
    ((1, 5, 11, 1), (1, 4), (1, 3), "same"),
    ((2, 4, 4, 17), (4, 4), (1, 1), "same"),
    ((1, 1, 9, 6), (1, 2), (1, 2), "valid"),   # the 1-D pooling case, H = 1
    ((1, 3, 3, 2), (3, 3), (3, 3), "valid"),   # one window
    ((2, 7, 9, 12), (2, 2), (2, 2), "valid"),  # tiling windows: last row and column uncovered
]
IDS = [f"{s}-{p}-{st}-{pad}" for s, p, st, pad in CASES]


def _distinct(rng, shape):
    """Random values with no ties (max pooling's gradient is then well defined)."""
    n = int(np.prod(shape))
    return (rng.permutation(n).reshape(shape) / n - 0.5).astype(np.float32) * 4


@pytest.mark.parametrize("shape,pool,strides,padding", CASES, ids=IDS)
def test_max_pool2d_forward_backward(shape, pool, strides, padding, isa, rng):
    x = _distinct(rng, shape)
    y, am = kernels.max_pool2d_forward(x, pool, strides, padding)
    y_ref, am_ref = ref.max_pool2d(x, pool, strides, padding)
    assert y.shape == y_ref.shape and am.dtype == "int32"
    np.testing.assert_array_equal(np.asarray(y), y_ref.astype(np.float32))
    np.testing.assert_array_equal(np.asarray(am), am_ref)
    dy = rng.normal(size=y_ref.shape).astype(np.float32)
    dx = kernels.max_pool2d_backward(dy, am, shape, pool, strides, padding)
    np.testing.assert_allclose(np.asarray(dx), ref.max_pool2d_grad(x, dy, pool, strides, padding),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape,pool,strides,padding", CASES, ids=IDS)
def test_avg_pool2d_forward_backward(shape, pool, strides, padding, isa, rng):
    x = rng.normal(size=shape).astype(np.float32)
    y = kernels.avg_pool2d_forward(x, pool, strides, padding)
    np.testing.assert_allclose(np.asarray(y), ref.avg_pool2d(x, pool, strides, padding),
                               rtol=1e-4, atol=1e-6)
    dy = rng.normal(size=y.shape).astype(np.float32)
    dx = kernels.avg_pool2d_backward(dy, shape, pool, strides, padding)
    np.testing.assert_allclose(np.asarray(dx), ref.avg_pool2d_grad(shape, dy, pool, strides, padding),
                               rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("c", list(range(1, 18)) + [31, 32, 33])
def test_channel_tails_on_every_isa(c, isa, rng):
    """Every channel count 1..17 (a vector kernel's masked tail) and around two 16-lane blocks, at
    batch 1: max (overlapping and tiling windows, with a NaN), average and global pooling."""
    shape = (1, 5, 6, c)
    x = _distinct(rng, shape)
    for pool, strides, padding in (((3, 3), (2, 2), "same"), ((2, 2), (2, 2), "valid")):
        y, am = kernels.max_pool2d_forward(x, pool, strides, padding)
        y_ref, am_ref = ref.max_pool2d(x, pool, strides, padding)
        np.testing.assert_array_equal(np.asarray(y), y_ref.astype(np.float32))
        np.testing.assert_array_equal(np.asarray(am), am_ref)
        dy = rng.normal(size=y_ref.shape).astype(np.float32)
        np.testing.assert_allclose(np.asarray(kernels.max_pool2d_backward(dy, am, shape, pool, strides, padding)),
                                   ref.max_pool2d_grad(x, dy, pool, strides, padding), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.asarray(kernels.avg_pool2d_forward(x, pool, strides, padding)),
                                   ref.avg_pool2d(x, pool, strides, padding), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.asarray(kernels.avg_pool2d_backward(dy, shape, pool, strides, padding)),
                                   ref.avg_pool2d_grad(shape, dy, pool, strides, padding), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(kernels.global_avg_pool2d_forward(x)), ref.global_avg_pool2d(x),
                               rtol=1e-5, atol=1e-6)
    dy = rng.normal(size=(1, c)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(kernels.global_avg_pool2d_backward(dy, shape)),
                               np.broadcast_to(dy[:, None, None, :] / 30.0, shape), rtol=1e-6)
    y, am = kernels.global_max_pool2d_forward(x)
    np.testing.assert_array_equal(np.asarray(am), ref.global_max_pool2d(x)[1])
    # a NaN in the last channel's last window cell: it becomes that window's max and argmax
    xn = x.copy()
    xn[0, 1, 1, c - 1] = np.nan
    y, am = kernels.max_pool2d_forward(xn, (2, 2), (2, 2), "valid")
    y = np.asarray(y)
    assert np.isnan(y[0, 0, 0, c - 1]) and np.asarray(am)[0, 0, 0, c - 1] == 1 * 6 + 1
    np.testing.assert_array_equal(y[..., :c - 1], ref.max_pool2d(x, (2, 2), (2, 2), "valid")[0][..., :c - 1])


def test_reference_gradients_match_finite_differences(rng):
    shape, pool, strides = (1, 5, 4, 2), (3, 2), (1, 2)
    x = _distinct(rng, shape).astype(np.float64)
    for padding in ("valid", "same"):
        r = rng.normal(size=ref.avg_pool2d(x, pool, strides, padding).shape)
        num = ref.numerical_grad(lambda v: float((ref.avg_pool2d(v, pool, strides, padding) * r).sum()), x)
        np.testing.assert_allclose(ref.avg_pool2d_grad(shape, r, pool, strides, padding), num, atol=1e-6)
        num = ref.numerical_grad(lambda v: float((ref.max_pool2d(v, pool, strides, padding)[0] * r).sum()), x)
        np.testing.assert_allclose(ref.max_pool2d_grad(x, r, pool, strides, padding), num, atol=1e-6)


def test_max_pool2d_ties_pick_first_and_padding_never_wins(isa):
    # all-negative constant input: with 'same' a padded zero would win if padding took part
    x = np.full((1, 3, 3, 2), -1.0, np.float32)
    y, am = kernels.max_pool2d_forward(x, 2, 2, "same")
    np.testing.assert_array_equal(np.asarray(y), -1.0)
    np.testing.assert_array_equal(np.asarray(am)[0, :, :, 0], [[0, 2], [6, 8]])
    dx = kernels.max_pool2d_backward(np.ones((1, 2, 2, 2), np.float32), am, x.shape, 2, 2, "same")
    np.testing.assert_array_equal(np.asarray(dx)[0, :, :, 1], [[1, 0, 1], [0, 0, 0], [1, 0, 1]])


def test_overlapping_windows_accumulate_gradient(isa):
    # the centre of a 3x3 image is the max of all four 2x2 stride-1 windows: it gets all of dy
    x = np.zeros((1, 3, 3, 1), np.float32)
    x[0, 1, 1, 0] = 5
    y, am = kernels.max_pool2d_forward(x, 2, 1, "valid")
    dy = np.arange(1, 5, dtype=np.float32).reshape(1, 2, 2, 1)
    dx = np.asarray(kernels.max_pool2d_backward(dy, am, x.shape, 2, 1, "valid"))
    assert dx[0, 1, 1, 0] == 10 and dx.sum() == 10


def test_avg_pool2d_same_divides_by_real_cells():
    x = np.ones((1, 3, 3, 1), np.float32)
    np.testing.assert_array_equal(np.asarray(kernels.avg_pool2d_forward(x, 2, 2, "same")), 1.0)


@pytest.mark.parametrize("shape", [(2, 5, 3, 7), (1, 1, 1, 3), (3, 4, 4, 70)])
def test_global_pooling(shape, isa, rng):
    x = _distinct(rng, shape)
    y = kernels.global_avg_pool2d_forward(x)
    np.testing.assert_allclose(np.asarray(y), ref.global_avg_pool2d(x), rtol=1e-5, atol=1e-6)
    dy = rng.normal(size=(shape[0], shape[3])).astype(np.float32)
    dx = kernels.global_avg_pool2d_backward(dy, shape)
    np.testing.assert_allclose(np.asarray(dx), np.broadcast_to(dy[:, None, None, :] / (shape[1] * shape[2]), shape),
                               rtol=1e-6)
    y, am = kernels.global_max_pool2d_forward(x)
    y_ref, am_ref = ref.global_max_pool2d(x)
    np.testing.assert_array_equal(np.asarray(y), y_ref.astype(np.float32))
    np.testing.assert_array_equal(np.asarray(am), am_ref)
    dx = np.asarray(kernels.global_max_pool2d_backward(dy, am, shape))
    expected = np.zeros(shape).reshape(shape[0], -1, shape[3])
    for b in range(shape[0]):
        expected[b, am_ref[b], np.arange(shape[3])] = dy[b]
    np.testing.assert_array_equal(dx, expected.reshape(shape))


def test_results_independent_of_thread_count(rng):
    x = rng.normal(size=(4, 9, 9, 24)).astype(np.float32)
    old = kernels.get_num_threads()
    outs = []
    for n in (1, 2):
        kernels.set_num_threads(n)
        y, am = kernels.max_pool2d_forward(x, 3, 2, "same")
        dx = kernels.avg_pool2d_backward(np.asarray(y), x.shape, 3, 2, "same")
        outs.append((np.asarray(y).copy(), np.asarray(am).copy(), np.asarray(dx).copy()))
    kernels.set_num_threads(old)
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)


def test_bad_inputs_raise_naming_the_op():
    x = np.zeros((1, 4, 4, 2), np.float32)
    with pytest.raises(ValueError, match="max_pool2d_forward.*rank 4"):
        kernels.max_pool2d_forward(np.zeros((4, 4, 2), np.float32), 2, 2)
    with pytest.raises(ValueError, match="avg_pool2d_forward.*larger than the input"):
        kernels.avg_pool2d_forward(x, 5, 1, "valid")
    with pytest.raises(ValueError, match="max_pool2d_forward.*padding"):
        kernels.max_pool2d_forward(x, 2, 2, "full")
    with pytest.raises(ValueError, match="avg_pool2d_forward.*strides"):
        kernels.avg_pool2d_forward(x, 2, 0)
    with pytest.raises(ValueError, match="max_pool2d_backward"):
        _, am = kernels.max_pool2d_forward(x, 2, 2)
        kernels.max_pool2d_backward(np.zeros((1, 3, 3, 2), np.float32), am, x.shape, 2, 2)
    with pytest.raises(TypeError, match="max_pool2d_backward.*argmax"):
        kernels.max_pool2d_backward(np.zeros((1, 2, 2, 2), np.float32), np.zeros((1, 2, 2, 2), np.float32),
                                x.shape, 2, 2)
    with pytest.raises(ValueError, match="max_pool2d_forward.*y"):
        kernels.max_pool2d_forward(x, 2, 2, out=kernels.empty((1, 3, 3, 2)))
    with pytest.raises(ValueError, match="global_max_pool2d_forward.*rank 4"):
        kernels.global_max_pool2d_forward(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="global_avg_pool2d_backward.*dy"):
        kernels.global_avg_pool2d_backward(np.zeros((2, 3), np.float32), (1, 2, 2, 3))


def test_max_pool_backward_refuses_an_argmax_outside_its_window(isa, rng):
    # avx2: the tiled kernel counts what it routes; ref: the entry's own check.
    # The gather would drop such an entry's gradient silently; the entry says so instead.
    x = rng.standard_normal((2, 6, 6, 5)).astype(np.float32)
    y, argmax = kernels.max_pool2d_forward(x, (2, 2), (2, 2), "valid")
    dy = np.ones(y.shape, np.float32)
    kernels.max_pool2d_backward(dy, argmax, x.shape, (2, 2), (2, 2), "valid")  # the real one passes
    for bad in (-1, 36, 2**31 - 1, 14):  # 14 = (2, 2): inside the image, outside window (0, 0)
        am = np.array(argmax, copy=True)
        am[1, 0, 0, 3] = bad
        with pytest.raises(ValueError, match=r"max_pool2d_backward: argmax .* holds "
                                             f"{bad} at flat position {am[:1].size + 3}, which is not a cell"):
            kernels.max_pool2d_backward(dy, am, x.shape, (2, 2), (2, 2), "valid")
    # 'same' padding clips the last windows: a cell past the image edge is refused too.
    x = rng.standard_normal((1, 5, 5, 3)).astype(np.float32)
    y, argmax = kernels.max_pool2d_forward(x, (2, 2), (2, 2), "same")
    am = np.array(argmax, copy=True)
    am[0, 2, 2, 0] = 5 * 5  # window (2, 2) covers only cell (4, 4) = 24
    with pytest.raises(ValueError, match="not a cell of that output's pooling window"):
        kernels.max_pool2d_backward(np.ones(y.shape, np.float32), am, x.shape, (2, 2), (2, 2), "same")


def test_global_max_pool_backward_refuses_an_argmax_outside_the_image(isa, rng):
    x = rng.standard_normal((3, 4, 4, 70)).astype(np.float32)  # 70 channels: past one 64-block
    y, argmax = kernels.global_max_pool2d_forward(x)
    dy = np.ones(y.shape, np.float32)
    kernels.global_max_pool2d_backward(dy, argmax, x.shape)
    for bad in (-3, 16):
        am = np.array(argmax, copy=True)
        am[2, 66] = bad
        with pytest.raises(ValueError, match=f"global_max_pool2d_backward: argmax .* holds {bad}"):
            kernels.global_max_pool2d_backward(dy, am, x.shape)


@pytest.mark.parametrize("cin, cout", [(3, 4), (1, 8)])  # the dz fallback; the direct AVX2 kernel
def test_fused_conv_pool_weight_gradient_refuses_a_foreign_argmax(cin, cout, isa, rng):
    x = rng.standard_normal((2, 8, 8, cin)).astype(np.float32)
    w = rng.standard_normal((3, 3, cin, cout)).astype(np.float32)
    y, argmax = kernels.conv2d_relu_max_pool2d(x, w)  # conv output 6x6 -> pooled 3x3
    dy = np.ones(y.shape, np.float32)
    kernels.conv2d_relu_max_pool2d_backward_weights(x, dy, y, argmax, w.shape)
    am = np.array(argmax, copy=True)
    am[0, 1, 1, 2] = 0  # cell (0, 0) of the conv output: window (1, 1) covers rows/cols 2-3
    with pytest.raises(ValueError, match="conv2d_relu_max_pool2d_backward_weights: argmax .* holds 0"):
        kernels.conv2d_relu_max_pool2d_backward_weights(x, dy, y, am, w.shape)


def test_accuracy_takes_a_nan_as_the_largest_value():
    # NumPy's argmax: the first NaN wins, as in max pooling.
    pred = np.array([[0.1, np.nan, 0.9], [0.2, 0.7, 0.1]], np.float32)
    target = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], np.float32)
    assert kernels.accuracy_count("categorical", pred, target) == 1
    assert kernels.accuracy_count("sparse_categorical", pred, np.array([1, 1])) == 2
