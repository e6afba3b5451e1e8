"""Sizes never overflow: shapes, reshapes, op geometries and fill_ values are validated.

A tensor is at most 2^48 bytes (corenn.Tensor's limit, counted over the nonzero dimensions so
every sub-product of a shape fits too); op entries check the products their kernels form. Every
bad call raises a clean Python exception naming the op: before, several of these crashed the
interpreter (SIGSEGV) or returned heap garbage.
"""
import numpy as np
import pytest

from corenn import Tensor, _C, kernels

LIMIT = 2**48  # bytes


@pytest.mark.parametrize("make, shape, op", [
    (Tensor.zeros, [2**63 - 1, 2], "Tensor.zeros"),       # SIGSEGV before
    (Tensor.empty, [2**32, 2**32], "Tensor.empty"),       # accepted with size 0 before
    (Tensor.empty, [2**62 + 1, 4], "Tensor.empty"),
    (Tensor.empty, [0, 2**62, 4], "Tensor.empty"),        # empty, but H * W overflows
    (Tensor.empty, [2**46 + 1], "Tensor.empty"),          # just over the limit
    (Tensor.zeros, [2**45 + 1], "Tensor.zeros"),          # int64: 8-byte items
])
def test_shapes_beyond_the_limit_raise_value_error(make, shape, op):
    dtype = "int64" if shape == [2**45 + 1] else "float32"
    with pytest.raises(ValueError, match=rf"^{op}: shape \(.*\) of {dtype} is too large"):
        make(shape, dtype)


def test_the_limit_itself_is_a_memory_error_not_a_value_error():
    # 2^48 bytes pass the size check; no machine can map them (x86-64 user space is 2^47 bytes),
    # so the allocator fails and pybind11 raises MemoryError with corenn's message.
    with pytest.raises(MemoryError, match=r"Tensor.empty: cannot allocate 281474976710656 bytes"):
        Tensor.empty([2**46], "float32")


@pytest.mark.parametrize("shape", [[2**64, 1], [1, -(2**70)], [2**63]])
def test_dimensions_beyond_int64_raise_value_error_naming_the_op(shape):
    with pytest.raises(ValueError, match=r"^Tensor.empty: shape .* does not fit in int64"):
        Tensor.empty(shape)
    with pytest.raises(ValueError, match=r"^reshape: shape .* does not fit in int64"):
        Tensor.zeros([2]).reshape(shape)


def test_bad_shape_entries():
    with pytest.raises(ValueError, match=r"^Tensor.empty: invalid shape \(2, -3\)"):
        Tensor.empty([2, -3])
    with pytest.raises(TypeError, match=r"^Tensor.empty: shape .* must hold ints"):
        Tensor.empty([2.0, 3])
    with pytest.raises(TypeError, match=r"^Tensor.zeros: shape must be a sequence of ints"):
        Tensor.zeros("12")
    assert Tensor.empty((np.int64(2), np.int32(3))).shape == (2, 3)  # NumPy integers are ints


def test_ops_given_huge_tensors_raise_instead_of_crashing():
    # gemm crashed with SIGSEGV and embedding_forward returned heap garbage: the operand itself
    # can no longer be made.
    with pytest.raises(ValueError, match=r"^Tensor.empty: shape \(4611686018427387905, 4\)"):
        kernels.gemm(Tensor.empty([2**62 + 1, 4]), np.ones((4, 4), np.float32))
    with pytest.raises(ValueError, match=r"^Tensor.empty: shape \(4611686018427387905, 4\)"):
        kernels.embedding_forward(np.array([3]), Tensor.empty([2**62 + 1, 4]))


@pytest.mark.parametrize("shape", [[2**62, 2**62, 0], [0, 2**40, 2**40], [2**47, 2]])
def test_reshape_with_huge_dims_raises(shape):
    t = Tensor.zeros([0])
    with pytest.raises(ValueError, match=r"^reshape: shape .* is too large"):
        t.reshape(shape)


def test_reshape_infer_with_a_zero_known_product_raises():
    with pytest.raises(ValueError, match=r"^reshape: .*the -1 is ambiguous"):
        Tensor.zeros([0, 3]).reshape([-1, 0])
    with pytest.raises(ValueError, match=r"^reshape: .*is too large"):
        Tensor.zeros([4]).reshape([2**40, 2**40, -1])
    assert Tensor.zeros([0, 3]).reshape([-1, 3]).shape == (0, 3)
    assert Tensor.zeros([6]).reshape([-1, 2]).shape == (3, 2)


# ---- op geometries whose index arithmetic overflowed -----------------------------------------

X = np.zeros((1, 5, 5, 2), np.float32)
W = np.zeros((3, 3, 2, 4), np.float32)


def t(a):
    return Tensor.from_numpy(np.ascontiguousarray(a))


@pytest.mark.parametrize("kwargs", [
    dict(padding="same", dilation_rate=2**61),
    dict(padding="same", dilation_rate=(1, 2**62)),
    dict(padding="same", strides=2**62),
    dict(padding="valid", strides=(1, 2**62)),
])
def test_conv2d_huge_parameters_raise_value_error(kwargs):
    with pytest.raises(ValueError, match=r"^conv2d_forward: "):
        kernels.conv2d(X, W, **kwargs)


@pytest.mark.parametrize("params", [
    (1, 1, 0, 0, 2**62, 1),        # dilation: the dilated kernel extent overflows
    (2**62, 1, 0, 0, 1, 1),        # stride: OH * SH reach
    (1, 2**61, 0, 0, 1, 1),        # the column reach times Cin (a flat offset)
    (1, 1, 2**62, 0, 2**61, 1),    # padding inside a huge dilated kernel
])
def test_conv2d_entries_validate_geometry_products(params):
    sh, sw, pt, pl, dh, dw = params
    y = np.zeros((1, 1, 1, 4), np.float32)
    with pytest.raises(ValueError, match=r"^conv2d_forward: .*out of range"):
        _C.conv2d_forward(t(X), t(W), None, t(y), sh, sw, pt, pl, dh, dw, "none")
    with pytest.raises(ValueError, match=r"^conv2d_backward_data: .*out of range"):
        _C.conv2d_backward_data(t(y), t(W), t(X.copy()), sh, sw, pt, pl, dh, dw)
    with pytest.raises(ValueError, match=r"^conv2d_backward_weights: .*out of range"):
        _C.conv2d_backward_weights(t(X), t(y), t(W.copy()), None, sh, sw, pt, pl, dh, dw)


def test_conv2d_algorithms_validates_its_geometry():
    with pytest.raises(ValueError, match=r"^conv2d_algorithms: .*out of range"):
        _C.conv2d_algorithms(1, 5, 5, 2, 3, 3, 4, 1, 1, 2**62, 1, 0, 0, 2**62, 1)
    with pytest.raises(ValueError, match=r"^conv2d_algorithms: invalid geometry"):
        _C.conv2d_algorithms(1, 5, 5, 2, 3, 3, 4, 3, 3, 0, 1, 0, 0, 1, 1)
    assert len(_C.conv2d_algorithms(1, 5, 5, 2, 3, 3, 4, 3, 3, 1, 1, 0, 0, 1, 1)) == 3


def test_conv_parameters_beyond_int64_are_clean_type_errors():
    with pytest.raises((TypeError, ValueError)):
        kernels.conv2d(X, W, strides=2**70)


@pytest.mark.parametrize("pool_size, strides", [(2**62, 2**62), (2, 2**63 - 1), (2**62, 1)])
def test_pooling_huge_window_or_stride_raises(pool_size, strides):
    x = np.zeros((1, 4, 4, 1), np.float32)
    for fn, op in [(kernels.max_pool2d_forward, "max_pool2d_forward"),
                   (kernels.avg_pool2d_forward, "avg_pool2d_forward")]:
        with pytest.raises(ValueError, match=rf"^{op}: "):
            fn(x, pool_size, strides, "same")


def test_pool2d_output_hw_same_padding_does_not_overflow():
    # ceil(H / S) used to be (H + S - 1) / S, which overflowed for S near 2^63
    assert _C.pool2d_output_hw(4, 5, [2, 2], [2**63 - 1, 2**63 - 1], "same", "pool2d") == [1, 1]


def test_zero_pad2d_huge_padding_raises():
    x = np.zeros((1, 2, 2, 1), np.float32)
    y = np.zeros((1, 4, 2, 1), np.float32)
    with pytest.raises(ValueError, match=r"^zero_pad2d_forward: padding .* is out of range"):
        _C.zero_pad2d_forward(t(x), t(y), 2**62, 2**62, 0, 0)
    with pytest.raises(ValueError, match=r"^zero_pad2d_backward: padding .* is out of range"):
        _C.zero_pad2d_backward(t(y), t(x), 2**62, 2**62, 0, 0)
    with pytest.raises(ValueError, match=r"^zero_pad2d_forward: output Tensor.empty: "):  # the wrapper's output
        kernels.zero_pad2d_forward(x, ((2**62, 2**62), (0, 0)))


# ---- fill_ values --------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["int32", "int64"])
@pytest.mark.parametrize("value, why", [
    (float("nan"), "cannot fill"), (float("inf"), "cannot fill"), (-float("inf"), "cannot fill"),
    (1.5, "not a whole number"), (-0.25, "not a whole number"),
    (2.0**63, "out of range"), (2**63, "out of range"), (-(2**63) - 1, "out of range"),
    (2**200, "out of range"), (2.0**200, "out of range"),
])
def test_fill_int_tensor_with_an_unrepresentable_value_raises(dtype, value, why):
    t = Tensor.zeros([3], dtype)
    with pytest.raises(ValueError, match=rf"^fill_: .*{why}"):
        t.fill_(value)
    np.testing.assert_array_equal(t.numpy(), 0)  # nothing written


@pytest.mark.parametrize("value", [2**31, -(2**31) - 1, 2.0**31, 3e9])
def test_fill_int32_out_of_range_raises(value):
    with pytest.raises(ValueError, match=r"^fill_: .*out of range for dtype int32"):
        Tensor.zeros([2], "int32").fill_(value)


def test_fill_values_that_fit_are_exact():
    assert Tensor.zeros([2], "int32").fill_(-(2**31)).numpy().tolist() == [-(2**31)] * 2
    assert Tensor.zeros([2], "int32").fill_(2**31 - 1).numpy().tolist() == [2**31 - 1] * 2
    assert Tensor.zeros([2], "int32").fill_(-3.0).numpy().tolist() == [-3, -3]
    assert Tensor.zeros([2], "int64").fill_(2**53 + 1).numpy().tolist() == [2**53 + 1] * 2
    assert Tensor.zeros([2], "int64").fill_(np.int64(-(2**63))).numpy().tolist() == [-(2**63)] * 2
    assert Tensor.zeros([1], "int64").fill_(True).numpy().tolist() == [1]
    f = Tensor.zeros([3]).fill_(float("nan")).numpy()
    assert np.isnan(f).all()
    assert np.isinf(Tensor.zeros([1]).fill_(float("-inf")).numpy()).all()
    assert Tensor.zeros([1]).fill_(np.float32(0.1)).numpy()[0] == np.float32(0.1)


def test_fill_float32_beyond_its_range_raises():
    with pytest.raises(ValueError, match=r"^fill_: .*out of range for dtype float32"):
        Tensor.zeros([1]).fill_(1e39)
    with pytest.raises(ValueError, match=r"^fill_: .*out of range for dtype float32"):
        Tensor.zeros([1]).fill_(2**1100)
    with pytest.raises(TypeError, match=r"^fill_: value must be a real number"):
        Tensor.zeros([1]).fill_("1")
