"""int8_gemm (exact int8 x int8 -> int32) and quantized_matmul (Keras 3's int8 Dense product) on
every ISA: the integer results must equal a NumPy int64 product bit for bit on every ISA, and the
dequantized ones a float64 NumPy computation of the same quantization math."""
import numpy as np
import pytest

from corenn import _C, kernels

from conftest import ISAS

# shapes around the kernels' tiles (AVX-512: 6 rows x 32 columns, AVX2: 4 x 16, k in pairs)
SHAPES = [(1, 1, 1), (1, 2, 16), (5, 3, 17), (7, 17, 33), (6, 64, 32), (13, 65, 47), (4, 1, 15),
          (3, 130, 5), (31, 9, 64)]


def _int8(rng, shape, lo=-128, hi=127):
    return rng.integers(lo, hi + 1, size=shape).astype(np.int8)


def _ref(a, b):
    return a.astype(np.int64) @ b.astype(np.int64)


@pytest.mark.parametrize("m,k,n", SHAPES)
def test_int8_gemm_is_exact_on_every_isa(isa, rng, m, k, n):
    a, b = _int8(rng, (m, k)), _int8(rng, (k, n))
    c = np.asarray(kernels.int8_gemm(a, b))
    assert c.dtype == np.int32
    np.testing.assert_array_equal(c, _ref(a, b))


def test_int8_gemm_extreme_values_do_not_saturate(isa):
    # every product -128 * -128 = 2^14: an 8-bit pair multiply-add (VPMADDUBSW) would saturate
    for m, k, n in [(7, 1001, 35), (2, 3, 3)]:
        a = np.full((m, k), -128, np.int8)
        b = np.full((k, n), -128, np.int8)
        b[:, ::2] = 127
        np.testing.assert_array_equal(np.asarray(kernels.int8_gemm(a, b)), _ref(a, b))
    a = np.array([[127, -127, -128, 127]], np.int8)
    b = np.array([[127], [-127], [-128], [-128]], np.int8)
    assert int(np.asarray(kernels.int8_gemm(a, b))[0, 0]) == 127 * 127 * 2 + 128 * 128 - 127 * 128


def test_int8_gemm_isas_agree_bitwise(rng):
    a, b = _int8(rng, (37, 211)), _int8(rng, (211, 77))
    old, outs = _C.get_isa(), []
    try:
        for isa in ISAS:
            _C.set_isa(isa)
            outs.append(np.asarray(kernels.int8_gemm(a, b)).copy())
    finally:
        _C.set_isa(old)
    for o in outs[1:]:
        np.testing.assert_array_equal(o, outs[0])


def test_int8_gemm_empty_and_int32_tensor_operands():
    c = kernels.int8_gemm(np.zeros((3, 0), np.int8), np.zeros((0, 4), np.int8))
    np.testing.assert_array_equal(np.asarray(c), np.zeros((3, 4), np.int32))
    a = kernels.Tensor.from_numpy(np.array([[1, -2]], np.int32))
    np.testing.assert_array_equal(np.asarray(kernels.int8_gemm(a, np.array([[3], [4]], np.int8))), [[-5]])


def test_int8_gemm_takes_int8_tensors_and_mixes_them_with_int32(rng):
    """int8 Tensors (what a quantized layer holds) are read as they are; an int32 Tensor of int8
    values beside one gives the same integers."""
    a, b = _int8(rng, (13, 70)), _int8(rng, (70, 9))
    want = _ref(a, b)
    a8, b8 = kernels.Tensor.from_numpy(a), kernels.Tensor.from_numpy(b)
    for x, y in ((a8, b8), (a8, kernels.Tensor.from_numpy(b.astype(np.int32))),
                 (kernels.Tensor.from_numpy(a.astype(np.int32)), b8), (a, b)):
        np.testing.assert_array_equal(np.asarray(kernels.int8_gemm(x, y)), want)
    with pytest.raises(TypeError, match="int8_gemm: a must be int8 or int32 .*got int16"):
        kernels._C.int8_gemm(kernels.Tensor.from_numpy(a.astype(np.int16)), b8, kernels.Tensor.zeros([13, 9], "int32"))


def test_int8_gemm_rejects_bad_input():
    a8 = np.ones((2, 3), np.int8)
    with pytest.raises(TypeError, match="int8_gemm.*a must be an int8 array"):
        kernels.int8_gemm(np.ones((2, 3), np.float32), a8.T)
    with pytest.raises(ValueError, match="int8_gemm.*outside int8"):
        kernels.int8_gemm(np.full((2, 3), 200, np.int32), a8.T)
    with pytest.raises(ValueError, match=r"int8_gemm.*\(2, 3\).*\(2, 3\).*do not chain"):
        kernels.int8_gemm(a8, a8)
    with pytest.raises(ValueError, match="int8_gemm.*matrices"):
        kernels.int8_gemm(np.ones(3, np.int8), a8)
    with pytest.raises(TypeError, match="int8_gemm.*float32 Tensor"):
        kernels.int8_gemm(kernels.Tensor.from_numpy(np.ones((2, 3), np.float32)), a8.T)
    big = kernels.Tensor.from_numpy(np.array([[300, 0, 0]], np.int32))   # reaches the C++ check
    with pytest.raises(ValueError, match="int8_gemm: a must hold int8 values.*300"):
        kernels.int8_gemm(big, a8.T)
    with pytest.raises(ValueError, match="int8_gemm.*exceeds 131071"):
        kernels.int8_gemm(np.zeros((1, 131072), np.int8), np.zeros((131072, 1), np.int8))


# ---- quantized_matmul ------------------------------------------------------------------------

def _quantized_ref(x, q, ks, bias):
    """float64 of the same math: x's row quantization in float32 (its definition), then the exact
    integer product and a float64 dequantization."""
    x = np.asarray(x, np.float32)
    sx = np.float32(127) / (np.max(np.abs(x), axis=-1, keepdims=True) + np.float32(1e-7))
    qx = np.clip(np.round(x * sx), -127, 127)
    acc = qx.astype(np.int64) @ q.astype(np.int64)
    y = acc / (ks.astype(np.float64) * sx.astype(np.float64))
    return y if bias is None else y + bias


@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (5, 3, 17), (33, 65, 47), (70, 20, 8)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_quantized_matmul_matches_float64_reference(isa, rng, m, k, n, with_bias):
    x = rng.standard_normal((m, k)).astype(np.float32) * 3
    q = rng.integers(-127, 128, size=(k, n)).astype(np.float32)
    ks = rng.uniform(10, 200, size=n).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32) if with_bias else None
    y = np.asarray(kernels.quantized_matmul(x, q, ks, bias))
    np.testing.assert_allclose(y, _quantized_ref(x, q, ks, bias), rtol=2e-6, atol=1e-6)


def test_quantized_matmul_isas_agree_bitwise(rng):
    x = rng.standard_normal((29, 50)).astype(np.float32)
    q = rng.integers(-127, 128, size=(50, 19)).astype(np.float32)
    ks = rng.uniform(10, 200, size=19).astype(np.float32)
    old, outs = _C.get_isa(), []
    try:
        for isa in ISAS:
            _C.set_isa(isa)
            outs.append(np.asarray(kernels.quantized_matmul(x, q, ks)).copy())
    finally:
        _C.set_isa(old)
    for o in outs[1:]:
        assert o.tobytes() == outs[0].tobytes()


def test_quantized_matmul_takes_the_int8_tensor_whole_range(rng):
    """The kernel as an int8 Tensor (what a quantized layer holds), -128 included (an int8 value
    Keras' quantizer never makes but set_weights may write): every ISA the float64 reference's
    values and the same bits, and the Tensor is read, not written."""
    x = rng.standard_normal((21, 67)).astype(np.float32)
    q = rng.integers(-128, 128, size=(67, 35)).astype(np.int8)
    q[:, 0], q[0, :] = -128, 127
    qt = kernels.Tensor.from_numpy(q.copy())
    ks = rng.uniform(10, 200, size=35).astype(np.float32)
    old, outs = _C.get_isa(), []
    try:
        for isa in ISAS:
            _C.set_isa(isa)
            outs.append(np.asarray(kernels.quantized_matmul(x, qt, ks)).copy())
    finally:
        _C.set_isa(old)
    np.testing.assert_allclose(outs[0], _quantized_ref(x, q, ks, None), rtol=2e-6, atol=1e-6)
    for o in outs[1:]:
        assert o.tobytes() == outs[0].tobytes()
    np.testing.assert_array_equal(np.asarray(qt), q)


def test_quantized_matmul_zero_and_non_finite_rows():
    q = np.array([[1, -2], [3, 4]], np.float32)
    ks = np.array([2, 4], np.float32)
    x = np.array([[0, 0], [np.nan, 1], [np.inf, 1], [1, 2]], np.float32)
    y = np.asarray(kernels.quantized_matmul(x, q, ks, np.array([1, 2], np.float32)))
    np.testing.assert_array_equal(y[0], [1, 2])          # a zero row: just the bias
    assert np.isnan(y[1]).all() and np.isnan(y[2]).all()  # NaN / inf rows give NaN
    np.testing.assert_allclose(y[3], _quantized_ref(x[3:], q, ks, np.array([1, 2]))[0], rtol=1e-6)


def test_quantized_matmul_rejects_bad_input():
    x = np.ones((2, 3), np.float32)
    q = np.ones((3, 4), np.float32)
    ks = np.ones(4, np.float32)
    # a NumPy kernel is converted to int8 when its values are int8 integers, else refused by name
    with pytest.raises(ValueError, match=r"quantized_matmul: kernel: expected int8 values.*got 0\.5 at flat index 0"):
        kernels.quantized_matmul(x, np.full((3, 4), 0.5, np.float32), ks)
    with pytest.raises(ValueError, match="quantized_matmul: kernel: expected int8 values.*got 128"):
        kernels.quantized_matmul(x, np.full((3, 4), 128, np.int32), ks)
    # a Tensor kernel must be the int8 Tensor itself (a layer's int8 weight): no narrowing per call
    with pytest.raises(TypeError, match="quantized_matmul.*kernel.*int8.*float32"):
        kernels.quantized_matmul(x, kernels.Tensor.from_numpy(q), ks)
    with pytest.raises(ValueError, match=r"quantized_matmul.*\(2, 3\).*\(4, 4\).*do not chain"):
        kernels.quantized_matmul(x, np.ones((4, 4), np.float32), ks)
    with pytest.raises(ValueError, match="quantized_matmul.*kernel_scale"):
        kernels.quantized_matmul(x, q, np.ones(3, np.float32))
    with pytest.raises(ValueError, match="quantized_matmul.*bias"):
        kernels.quantized_matmul(x, q, ks, np.ones(5, np.float32))
    with pytest.raises(TypeError, match="quantized_matmul.*x"):
        kernels.quantized_matmul(kernels.Tensor.from_numpy(np.ones((2, 3), np.int32)), q, ks)


@pytest.mark.skipif("avx512" not in ISAS or not hasattr(_C, "_set_int8_gemm_vnni"), reason="no AVX-512")
def test_avx512_tiles_with_and_without_vnni_are_exact(rng):
    """A VNNI CPU runs the VPDPWSSD tiles; the VPMADDWD ones (CPUs without VNNI) are tested too."""
    old = _C.get_isa()
    try:
        _C.set_isa("avx512")
        for vnni in (False, True):
            _C._set_int8_gemm_vnni(vnni)
            for m, k, n in SHAPES + [(37, 211, 77)]:
                a, b = _int8(rng, (m, k)), _int8(rng, (k, n))
                np.testing.assert_array_equal(np.asarray(kernels.int8_gemm(a, b)), _ref(a, b))
    finally:
        _C._set_int8_gemm_vnni(True)
        _C.set_isa(old)


# ---- the drivers' tasks (row blocks x column ranges) and the ISA quantizers --------------------

@pytest.mark.parametrize("m,k,n", [(1, 300, 500), (3, 784, 256), (50, 129, 97), (200, 64, 33), (97, 31, 300)])
def test_column_split_and_thread_counts_give_the_same_bits(isa, rng, m, k, n):
    """Few rows: the driver splits the columns over the threads (panel-aligned ranges); any split
    gives the exact integers, and quantized_matmul the same bits at 1 and 2 threads."""
    import corenn
    a, b = _int8(rng, (m, k)), _int8(rng, (k, n))
    x = rng.standard_normal((m, k)).astype(np.float32)
    q = rng.integers(-127, 128, size=(k, n)).astype(np.float32)
    ks = rng.uniform(10, 200, size=n).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32)
    old, outs = corenn.get_num_threads(), []
    try:
        for threads in (1, 2):
            corenn.set_num_threads(threads)
            np.testing.assert_array_equal(np.asarray(kernels.int8_gemm(a, b)), _ref(a, b))
            outs.append(np.asarray(kernels.quantized_matmul(x, q, ks, bias)).copy())
    finally:
        corenn.set_num_threads(old)
    assert outs[0].tobytes() == outs[1].tobytes()
    np.testing.assert_allclose(outs[0], _quantized_ref(x, q, ks, bias), rtol=2e-6, atol=1e-6)


def test_quantizer_rounds_half_to_even_and_clips_on_every_isa(isa):
    """With max |x| = 127 the row scale is exactly 1 (127 + 1e-7 rounds to 127 in float32), so
    through an identity kernel of scale 1 the output is q(x) itself: ties go to even, every row
    length (the ISA quantizers' 16- and 8-wide steps and their tails) and odd k included."""
    ties = np.array([2.5, -2.5, 3.5, 0.5, -0.5, 1.5, -126.5, 126.5, 0.49999997, 7.0], np.float32)
    for k in range(1, 41):
        x = np.resize(ties, k).astype(np.float32)
        x[k // 2] = 127.0 if k % 3 else -127.0
        y = np.asarray(kernels.quantized_matmul(x[None], np.eye(k, dtype=np.float32), np.ones(k, np.float32)))
        np.testing.assert_array_equal(y[0], np.rint(x), err_msg=f"k={k}")


def test_non_finite_values_anywhere_in_a_row_give_nan_on_every_isa(isa):
    k = 37
    q = np.eye(k, 3, dtype=np.float32)
    for pos in (0, 3, 15, 16, 31, 33, 36):
        for bad in (np.nan, np.inf, -np.inf):
            x = np.ones((2, k), np.float32)
            x[1, pos] = bad
            y = np.asarray(kernels.quantized_matmul(x, q, np.ones(3, np.float32)))
            assert np.isnan(y[1]).all() and np.isfinite(y[0]).all(), (pos, bad)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, -129.0, 128.0, 127.5, -1e30, 1e-30])
def test_quantized_matmul_kernel_check_names_the_first_bad_value(bad):
    """A NumPy float kernel is converted to int8 at the boundary: every kind of value that is no
    int8 integer is refused, with its flat index; -0.0 is the integer 0."""
    k = np.ones((3, 40), np.float32)
    k[2, 17] = bad
    with pytest.raises(ValueError, match="quantized_matmul: kernel: expected int8 values.* at flat index 97"):
        kernels.quantized_matmul(np.ones((2, 3), np.float32), k, np.ones(40, np.float32))
    y = kernels.quantized_matmul(np.ones((2, 3), np.float32), np.full((3, 40), -0.0, np.float32),
                                 np.ones(40, np.float32))
    np.testing.assert_array_equal(np.asarray(y), np.zeros((2, 40), np.float32))


# ---- the dequantizing epilogue (Int8GemmRows::dequantize, per ISA) -----------------------------

def _epilogue_bits(x, q, ks, bias, relu):
    """The epilogue's exact float32 operations in NumPy (IEEE, correctly rounded like the kernels):
    s_x and q(x) as the quantizer, the exact integer product, then per element
    float32(acc) / (ks[j] * s_x) (+ bias[j]), relu as `z < 0 ? 0 : z` (NaN and -0 kept)."""
    bad = ~np.isfinite(x).all(axis=-1)
    x = np.where(bad[:, None], np.float32(0), np.asarray(x, np.float32))   # their rows: NaN below
    ax = np.max(np.abs(x), axis=-1, keepdims=True)
    sx = (np.float32(127) / (ax + np.float32(1e-7))).astype(np.float32)
    qx = np.clip(np.round(x * sx), -127, 127)
    acc = (qx.astype(np.int64) @ q.astype(np.int64)).astype(np.int32).astype(np.float32)
    with np.errstate(all="ignore"):
        z = acc / (ks[None, :].astype(np.float32) * sx)
        if bias is not None:
            z = z + bias.astype(np.float32)
    z = z.astype(np.float32)
    if relu:
        z = np.where(z < 0, np.float32(0), z)
    z[bad] = np.nan
    return z


@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("relu", [True, False])
def test_epilogue_is_bit_identical_to_the_portable_one_for_every_tail(isa, rng, with_bias, relu):
    """Every ISA's vector epilogue gives the portable loop's bits (a NumPy float32 emulation of
    it): column tails 1..40 and row tails 1..40 around the tiles, negative scales (-0 results,
    kept by relu), a NaN row, a deep k (float32(acc) rounds)."""
    for t in range(1, 41):
        for m, k, n in ((t, 9, t), (41, 5, t), (t, 3, 40)):
            x = rng.standard_normal((m, k)).astype(np.float32)
            if m > 2:
                x[1] = 0.0      # acc 0: +-0 before the bias
                x[2, 0] = np.nan
            q = rng.integers(-127, 128, size=(k, n)).astype(np.float32)
            ks = rng.uniform(10, 200, size=n).astype(np.float32) * rng.choice([-1, 1], size=n).astype(np.float32)
            bias = rng.standard_normal(n).astype(np.float32) if with_bias else None
            y = np.asarray(kernels.quantized_matmul(x, q, ks, bias, relu=relu))
            assert y.tobytes() == _epilogue_bits(x, q, ks, bias, relu).tobytes(), (m, k, n)
    x = rng.standard_normal((13, 1500)).astype(np.float32)
    q = rng.integers(-127, 128, size=(1500, 37)).astype(np.float32)
    ks = rng.uniform(10, 200, size=37).astype(np.float32)
    bias = rng.standard_normal(37).astype(np.float32) if with_bias else None
    y = np.asarray(kernels.quantized_matmul(x, q, ks, bias, relu=relu))
    assert y.tobytes() == _epilogue_bits(x, q, ks, bias, relu).tobytes()


def test_fused_relu_gives_the_relu_ops_bits_at_1_and_2_threads(isa, rng):
    import corenn
    x = rng.standard_normal((70, 200)).astype(np.float32)
    x[3] = 0.0
    x[5, 7] = np.inf
    q = rng.integers(-127, 128, size=(200, 75)).astype(np.float32)
    ks = rng.uniform(10, 200, size=75).astype(np.float32) * rng.choice([-1, 1], size=75).astype(np.float32)
    bias = rng.standard_normal(75).astype(np.float32)
    old, outs = corenn.get_num_threads(), []
    try:
        for threads in (1, 2):
            corenn.set_num_threads(threads)
            outs.append(np.asarray(kernels.quantized_matmul(x, q, ks, bias, relu=True)).copy())
            z = kernels.quantized_matmul(x, q, ks, bias)
            outs.append(np.asarray(kernels.activation_forward("relu", z, out=z)).copy())
    finally:
        corenn.set_num_threads(old)
    assert (outs[0] < 0).sum() == 0 and np.isnan(outs[0][5]).all()
    for o in outs[1:]:
        assert o.tobytes() == outs[0].tobytes()
