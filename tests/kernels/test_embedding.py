"""Embedding lookup kernels vs the NumPy loops in reference.py: forward gather, backward
scatter-add (repeated indices), all index dtypes, thread counts, and the index checks."""
import numpy as np
import pytest

from corenn import kernels
import reference as ref

INDEX_DTYPES = [np.int32, np.int64, np.float32]

# (index shape, V, D): batch 1, a scalar-per-sample column, D not a multiple of 8, V = 1,
# and a case large enough to take the threaded paths (n*d and v*d past the grain).
CASES = [((1, 1), 5, 3), ((1, 7), 4, 8), ((3, 5), 10, 13), ((4,), 1, 2), ((2, 3, 4), 6, 5),
         ((64, 40), 300, 33)]


@pytest.mark.parametrize("dtype", INDEX_DTYPES)
@pytest.mark.parametrize("shape,v,d", CASES)
def test_forward_backward_match_reference(shape, v, d, dtype, rng):
    idx = rng.integers(0, v, size=shape).astype(dtype)
    w = rng.normal(size=(v, d)).astype(np.float32)
    y = kernels.embedding_forward(idx, w)
    assert tuple(y.shape) == shape + (d,)
    np.testing.assert_array_equal(np.asarray(y), ref.embedding(idx, w).astype(np.float32))
    dy = rng.normal(size=shape + (d,)).astype(np.float32)
    dw = kernels.embedding_backward(idx, dy, input_dim=v)
    np.testing.assert_allclose(np.asarray(dw), ref.embedding_grad(idx, dy, v), rtol=1e-5, atol=1e-5)


def test_repeated_indices_accumulate_and_unused_rows_are_zeroed(rng):
    idx = np.array([[2, 2, 0], [2, 0, 2]], np.int64)
    dy = rng.normal(size=(2, 3, 4)).astype(np.float32)
    dw = np.full((5, 4), 7.0, np.float32)  # stale values must be overwritten, not added to
    kernels.embedding_backward(idx, dy, out=dw)
    g = dy.astype(np.float64)
    np.testing.assert_allclose(dw[2], g[0, 0] + g[0, 1] + g[1, 0] + g[1, 2], rtol=1e-5)
    np.testing.assert_allclose(dw[0], g[0, 2] + g[1, 1], rtol=1e-5)
    assert not dw[[1, 3, 4]].any()


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_backward_is_identical_for_any_thread_count(threads, rng):
    # heavy repetition (a Zipf-like draw) over a vocabulary the threads split between them
    idx = np.minimum(rng.zipf(1.5, size=(128, 50)) - 1, 999).astype(np.int32)
    dy = rng.normal(size=(128, 50, 16)).astype(np.float32)
    old = kernels.get_num_threads()
    try:
        kernels.set_num_threads(1)
        single = np.asarray(kernels.embedding_backward(idx, dy, input_dim=1000)).copy()
        kernels.set_num_threads(threads)
        multi = np.asarray(kernels.embedding_backward(idx, dy, input_dim=1000))
        y = np.asarray(kernels.embedding_forward(idx, rng.normal(size=(1000, 16)).astype(np.float32)))
    finally:
        kernels.set_num_threads(old)
    np.testing.assert_array_equal(multi, single)  # same summation order per row: bit-identical
    np.testing.assert_allclose(multi, ref.embedding_grad(idx, dy, 1000), rtol=1e-4, atol=1e-4)
    assert y.shape == (128, 50, 16)


def test_reference_gradient_matches_finite_differences(rng):
    # L = sum(y * g): dL/dW from the reference scatter-add vs central differences on W
    idx = np.array([[1, 3, 1], [0, 1, 3]])
    w = rng.normal(size=(4, 2))
    g = rng.normal(size=(2, 3, 2))
    dw = ref.embedding_grad(idx, g, 4)
    eps = 1e-6
    for r in range(4):
        for c in range(2):
            wp, wm = w.copy(), w.copy()
            wp[r, c] += eps
            wm[r, c] -= eps
            fd = ((ref.embedding(idx, wp) * g).sum() - (ref.embedding(idx, wm) * g).sum()) / (2 * eps)
            assert abs(fd - dw[r, c]) < 1e-6


def test_other_integer_and_whole_float64_indices_are_accepted(rng):
    w = rng.normal(size=(6, 3)).astype(np.float32)
    for idx in (np.array([[5, 0]], np.uint8), np.array([[5.0, 0.0]]), [[5, 0]]):
        np.testing.assert_array_equal(np.asarray(kernels.embedding_forward(idx, w)), w[[[5, 0]]])


@pytest.mark.parametrize("op", ["embedding_forward", "embedding_backward"])
@pytest.mark.parametrize("bad,dtype,match", [
    (7, np.int32, r"indices\[3\] = 7, valid range is \[0, 7\)"),
    (-1, np.int64, r"indices\[3\] = -1, valid range is \[0, 7\)"),
    (2**40, np.int64, r"indices\[3\] = 1099511627776, valid range"),
    (7.0, np.float32, r"indices\[3\] = 7, valid range is \[0, 7\)"),
    (-3.0, np.float32, r"out of range: indices\[3\] = -3"),
    (1.5, np.float32, r"whole numbers, got indices\[3\] = 1.5"),
    (np.nan, np.float32, r"whole numbers, got indices\[3\] = nan"),
    (np.inf, np.float32, r"whole numbers, got indices\[3\] = inf"),
    (2.5, np.float64, r"whole numbers, got indices\[3\] = 2.5"),
])
def test_bad_indices_raise_before_writing(op, bad, dtype, match):
    idx = np.array([[0, 1], [2, 0]], np.float64)
    idx[1, 1] = bad
    idx = idx.astype(dtype) if dtype is not np.float64 else idx
    w = np.ones((7, 4), np.float32)
    out = np.full((2, 2, 4), 9.0, np.float32) if op == "embedding_forward" else np.full((7, 4), 9.0, np.float32)
    with pytest.raises(ValueError, match=op + ": .*" + match):
        if op == "embedding_forward":
            kernels.embedding_forward(idx, w, out=out)
        else:
            kernels.embedding_backward(idx, np.ones((2, 2, 4), np.float32), out=out)
    assert (out == 9.0).all()  # nothing was written


def test_shape_dtype_and_device_errors(rng):
    idx = np.array([[0, 1]], np.int32)
    w = np.ones((3, 4), np.float32)
    with pytest.raises(ValueError, match="embedding_forward: weight must be .*rank 2"):
        kernels.embedding_forward(idx, np.ones(3, np.float32))
    with pytest.raises(ValueError, match=r"embedding_forward: y .*\(1, 2, 4\)"):
        kernels.embedding_forward(idx, w, out=np.empty((1, 2, 5), np.float32))
    with pytest.raises(ValueError, match=r"embedding_backward: dy .*\(1, 2, 4\)"):
        kernels.embedding_backward(idx, np.ones((2, 2, 4), np.float32), out=np.empty((3, 4), np.float32))
    with pytest.raises(ValueError, match="embedding_backward: give out="):
        kernels.embedding_backward(idx, np.ones((1, 2, 4), np.float32))
    with pytest.raises(TypeError, match="embedding_forward"):
        kernels.embedding_forward(idx, w.astype(np.int32))
    with pytest.raises(TypeError, match="embedding_forward: indices must be integers"):
        kernels.embedding_forward(np.array([["a"]]), w)
    with pytest.raises(ValueError, match="embedding_forward: .*weight"):
        kernels.embedding_forward(np.zeros((1, 0), np.int32), np.ones((0, 4), np.float32))


@pytest.mark.parametrize("dtype", INDEX_DTYPES)
@pytest.mark.parametrize("shape,v,d", CASES)
def test_int8_table_rows_are_widened_exactly(shape, v, d, dtype, rng):
    """An int8-quantized Embedding's table (an int8 Tensor): y = float(q[idx]), the values
    themselves (every int8, -128..127), each index checked as for a float32 table."""
    idx = rng.integers(0, v, size=shape).astype(dtype)
    q = rng.integers(-128, 128, size=(v, d)).astype(np.int8)
    q[0, 0] = -128
    y = kernels.embedding_forward(idx, kernels.Tensor.from_numpy(q))
    assert y.dtype == "float32"
    np.testing.assert_array_equal(np.asarray(y), q.astype(np.float32)[idx.astype(np.int64)])
    with pytest.raises(ValueError, match="embedding_forward: index out of range"):
        kernels.embedding_forward(np.full(shape, v, np.int32), kernels.Tensor.from_numpy(q))


def test_table_dtypes_other_than_float32_and_int8_are_refused_by_name():
    idx = np.array([[0, 1]], np.int32)
    for dtype in (np.int16, np.uint8, np.float64):
        w = kernels.Tensor.from_numpy(np.ones((3, 4), dtype))
        with pytest.raises(TypeError, match=rf"embedding_forward: weight must be float32 or int8, got {np.dtype(dtype).name}"):
            kernels._C.embedding_forward(kernels.Tensor.from_numpy(idx), w, kernels.Tensor.zeros([1, 2, 4]))
    # the gradient is float32 only (an int8 table does not train)
    with pytest.raises(TypeError, match="embedding_backward: dweight must be float32, got int8"):
        kernels._C.embedding_backward(kernels.Tensor.from_numpy(idx), kernels.Tensor.zeros([1, 2, 4]),
                                      kernels.Tensor.from_numpy(np.zeros((3, 4), np.int8)))
