"""Kernels of issue 13: conv2d_transpose (on the conv2d engines), depthwise_conv2d, prelu.

Each is checked forward and backward against the float64 reference (tests/reference.py) on every
ISA, the reference itself against finite differences, the output-size rule against Keras 3's
formula, bad calls for clear errors, and (where installed) against PyTorch.
"""
import numpy as np
import pytest

from corenn import kernels
import reference as ref


def _close(got, want, tol=1e-4):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * (np.abs(want).max() + 1e-6))


def _keras_conv_transpose_length(size, k, s, padding, output_padding, d):
    """Keras 3 keras/src/utils/conv_utils / operation_utils compute_conv_transpose_output_length,
    transcribed."""
    k = k + (k - 1) * (d - 1)
    if output_padding is None:
        return size * s + max(k - s, 0) if padding == "valid" else size * s
    pad = k // 2 if padding == "same" else 0
    return (size - 1) * s + k - 2 * pad + output_padding


# (x shape, kernel (KH, KW), filters, strides, padding, output_padding, dilation)
TRANSPOSE_CASES = [
    ((2, 4, 5, 3), (3, 3), 2, (1, 1), "valid", None, (1, 1)),
    ((2, 4, 5, 3), (3, 2), 2, (2, 2), "same", None, (1, 1)),
    ((1, 3, 4, 5), (3, 3), 4, (2, 3), "valid", (1, 2), (1, 1)),
    ((2, 3, 4, 5), (4, 4), 4, (2, 2), "same", (1, 0), (1, 1)),
    ((1, 5, 5, 2), (1, 1), 3, (3, 3), "valid", None, (1, 1)),     # kernel < stride: gaps
    ((1, 5, 4, 16), (3, 3), 16, (1, 1), "same", None, (1, 1)),    # stride 1, 16 channels
    ((2, 4, 4, 3), (3, 3), 2, (1, 1), "same", None, (2, 2)),      # dilation
    ((2, 3, 3, 4), (2, 2), 5, (2, 2), "valid", None, (1, 1)),
    ((2, 4, 6, 20), (3, 3), 17, (1, 1), "valid", None, (1, 1)),
    ((1, 3, 4, 3), (2, 3), 2, (2, 2), "same", (1, 0), (2, 2)),    # strides and dilation together
    ((2, 8, 8, 32), (4, 4), 24, (2, 2), "same", None, (1, 1)),    # a decoder's k4 s2 upsampling
    ((1, 9, 7, 33), (3, 3), 18, (1, 1), "same", None, (1, 1)),    # stride 1: Winograd passes
]


@pytest.mark.parametrize("case,algorithms", [
    (TRANSPOSE_CASES[-2], ("implicit_gemm", "subpixel_gemm", "implicit_gemm")),
    (TRANSPOSE_CASES[-1], ("winograd_f2x2_3x3", "flipped_forward/winograd_f2x2_3x3", "winograd_f2x2_3x3"))])
def test_conv2d_transpose_takes_the_conv_fast_paths_on_every_vector_isa(case, algorithms, isa, rng):
    """Conv2DTranspose runs on the conv it transposes (its forward is that conv's data gradient,
    its data gradient that conv's forward): on AVX2 and AVX-512 alike that is the Winograd kernels
    at stride 1 and the GEMM paths (the 12 x 32 kernel on AVX-512) at k4 s2."""
    x, w, b = _transpose_data(case, rng)
    y_shape = np.shape(kernels.conv2d_transpose(x, w, b, **_transpose_args(case)))
    chosen = kernels.conv2d_algorithms(y_shape, w.shape, strides=case[3], padding=case[4])
    if isa in ("avx2", "avx512"):
        assert (chosen["forward"], chosen["backward_data"], chosen["backward_weights"]) == algorithms
    else:
        assert "winograd" not in str(chosen)


def _transpose_args(case):
    _, _, _, strides, padding, output_padding, dilation = case
    return dict(strides=strides, padding=padding, output_padding=output_padding, dilation_rate=dilation)


def _transpose_data(case, rng):
    x_shape, k, filters = case[:3]
    x = rng.normal(size=x_shape).astype(np.float32)
    w = rng.normal(size=k + (filters, x_shape[3])).astype(np.float32)
    b = rng.normal(size=filters).astype(np.float32)
    return x, w, b


@pytest.mark.parametrize("case", TRANSPOSE_CASES)
def test_conv2d_transpose_matches_reference(case, isa, rng):
    x, w, b = _transpose_data(case, rng)
    a = _transpose_args(case)
    want = ref.conv2d_transpose(x, w, b, case[3], case[4], case[5], case[6])
    y = kernels.conv2d_transpose(x, w, b, **a)
    _close(y, want)
    dy = rng.normal(size=want.shape).astype(np.float32)
    dx = kernels.conv2d_transpose_backward_data(dy, w, x.shape, **a)
    dw, db = kernels.conv2d_transpose_backward_weights(x, dy, w.shape, bias=True, **a)
    rdx, rdw, rdb = ref.conv2d_transpose_grads(x, w, dy, case[3], case[4], case[5], case[6])
    _close(dx, rdx)
    _close(dw, rdw)
    _close(db, rdb)


def _subpixel_sweep():
    """Strided transposed convs for the sub-pixel (phase) forward: kernels 1..5 (smaller, equal to
    and larger than the stride, so some phases get no tap), strides 2 and 3 (and one mixed),
    'valid' / 'same', output_padding none / each allowed value, and channel counts 1..17 on both
    sides (filters >= 8 take the sub-pixel path, fewer stay on col2im)."""
    cases, i = [], 0
    for k in range(1, 6):
        for s in (2, 3):
            for padding in ("valid", "same"):
                filters, cin = 1 + (7 * i) % 17, 1 + (5 * i + 3) % 17
                if i % 4 == 1:
                    filters = 8 + i % 10  # make sure most cases run the sub-pixel GEMM
                strides = (s, s) if i % 5 != 4 else (s, 5 - s)
                op = None if i % 3 == 0 else (i % strides[0], (i + 1) % strides[1])
                cases.append(((1 + i % 3, 3 + i % 3, 4 + i % 2, cin), (k, max(1, k - i % 2)), filters,
                              strides, padding, op, (1, 1)))
                i += 1
    return cases


SUBPIXEL_CASES = _subpixel_sweep()


@pytest.mark.parametrize("case", SUBPIXEL_CASES)
def test_conv2d_transpose_subpixel_sweep_matches_reference(case, isa, rng):
    x, w, b = _transpose_data(case, rng)
    a = _transpose_args(case)
    want = ref.conv2d_transpose(x, w, b, case[3], case[4], case[5], case[6])
    _close(kernels.conv2d_transpose(x, w, b, **a), want)
    dy = rng.normal(size=want.shape).astype(np.float32)
    rdx, rdw, rdb = ref.conv2d_transpose_grads(x, w, dy, case[3], case[4], case[5], case[6])
    _close(kernels.conv2d_transpose_backward_data(dy, w, x.shape, **a), rdx)
    dw, db = kernels.conv2d_transpose_backward_weights(x, dy, w.shape, bias=True, **a)
    _close(dw, rdw)
    _close(db, rdb)


def test_conv2d_transpose_subpixel_sweep_covers_both_paths():
    """The sweep above reaches the sub-pixel GEMM and the col2im fallback (few filters)."""
    seen = set()
    for case in SUBPIXEL_CASES:
        y_shape = kernels.conv2d_transpose_output_shape((None,) + case[0][1:], case[1], case[2], case[3],
                                                        case[4], case[5])[0]
        seen.add(kernels.conv2d_algorithms((1,) + y_shape[1:], case[1] + (case[2], case[0][3]),
                                           strides=case[3], padding=case[4])["backward_data"])
    assert {"subpixel_gemm", "col2im_gemm"} <= seen


@pytest.mark.parametrize("x_shape,k,filters,strides,padding,output_padding", [
    ((4, 12, 12, 70), (5, 5), 20, (2, 2), "same", None),   # phase depth 9 x 70: two depth blocks
    ((3, 13, 11, 40), (4, 3), 33, (2, 3), "valid", (1, 2)),  # rows past one mc block, odd tiles
    ((2, 5, 5, 3), (3, 3), 16, (3, 3), "same", (2, 1)),
    ((1, 1, 1, 9), (2, 2), 9, (2, 2), "valid", None),        # a single input pixel
])
def test_conv2d_transpose_subpixel_blocks_and_threads(x_shape, k, filters, strides, padding,
                                                      output_padding, isa, rng):
    """Large enough for the sub-pixel driver's depth blocks, several row blocks per phase and
    threads; and the smallest inputs."""
    case = (x_shape, k, filters, strides, padding, output_padding, (1, 1))
    x, w, b = _transpose_data(case, rng)
    want = ref.conv2d_transpose(x, w, b, strides, padding, output_padding, (1, 1))
    _close(kernels.conv2d_transpose(x, w, b, **_transpose_args(case)), want)
    y_shape = want.shape
    chosen = kernels.conv2d_algorithms(y_shape, w.shape, strides=strides, padding=padding)
    assert chosen["backward_data"] == "subpixel_gemm"


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_conv2d_transpose_weight_and_bias_gradients_split_over_threads(threads, isa, rng):
    """Big enough that the weight gradient splits its pixels over threads: each part also sums its
    share of dy's rows into db (the bias gradient rides in that pass), and part 0 writes dw in
    place. Against the reference, and the same within float rounding for any thread count."""
    case = ((4, 8, 8, 32), (4, 4), 24, (2, 2), "same", None, (1, 1))
    x, w, b = _transpose_data(case, rng)
    a = _transpose_args(case)
    dy = rng.normal(size=(4, 16, 16, 24)).astype(np.float32)
    old = kernels.get_num_threads()
    try:
        kernels.set_num_threads(1)
        dw1, db1 = kernels.conv2d_transpose_backward_weights(x, dy, w.shape, bias=True, **a)
        kernels.set_num_threads(threads)
        dw, db = kernels.conv2d_transpose_backward_weights(x, dy, w.shape, bias=True, **a)
        dw_only = kernels.conv2d_transpose_backward_weights(x, dy, w.shape, **a)
    finally:
        kernels.set_num_threads(old)
    _, rdw, rdb = ref.conv2d_transpose_grads(x, w, dy, case[3], case[4], case[5], case[6])
    _close(dw, rdw)
    _close(db, rdb)
    np.testing.assert_array_equal(np.asarray(dw_only), np.asarray(dw))  # db costs dw nothing
    np.testing.assert_allclose(np.asarray(db), np.asarray(db1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(dw), np.asarray(dw1), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("case", TRANSPOSE_CASES[:5])
def test_conv2d_transpose_reference_gradients_match_finite_differences(case, rng):
    x_shape, k, filters, strides, padding, op, dil = case
    x = rng.normal(size=(1,) + x_shape[1:3] + (2,))
    w = rng.normal(size=k + (2, 2))
    y = ref.conv2d_transpose(x, w, None, strides, padding, op, dil)
    r = rng.normal(size=y.shape)
    loss = lambda xx, ww: float((ref.conv2d_transpose(xx, ww, None, strides, padding, op, dil) * r).sum())
    dx, dw, db = ref.conv2d_transpose_grads(x, w, r, strides, padding, op, dil)
    np.testing.assert_allclose(dx, ref.numerical_grad(lambda v: loss(v, w), x), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(dw, ref.numerical_grad(lambda v: loss(x, v), w), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(db, r.sum(axis=(0, 1, 2)))


@pytest.mark.parametrize("case", [c for c in TRANSPOSE_CASES if c[5] is None])
def test_conv2d_transpose_is_the_data_gradient_of_conv2d(case, rng):
    """Without output_padding, conv2d on the transposed output gives back x's spatial size, and
    conv2d's data gradient (its own reference) with that geometry is the transposed conv."""
    x, w, _ = _transpose_data(case, rng)
    y = ref.conv2d_transpose(x, w, None, case[3], case[4], None, case[6])
    oh, ow, _, _ = ref._conv_geometry(y.shape, w.shape, case[3], case[4], case[6])
    assert (oh, ow) == x.shape[1:3]
    _close(y, ref.conv2d_backward_data(x, w, y.shape, case[3], case[4], case[6]), 1e-9)


def test_conv2d_transpose_output_length_is_keras_formula():
    for size in (1, 2, 5, 8):
        for k in (1, 2, 3, 4, 5):
            for s in (1, 2, 3):
                for d in (1, 2):
                    for padding in ("valid", "same"):
                        for op in (None,) + tuple(range(s)):
                            want = _keras_conv_transpose_length(size, k, s, padding, op, d)
                            if want < 1:
                                with pytest.raises(ValueError, match="output length"):
                                    kernels.conv_transpose_output_length(size, k, s, padding, op, d)
                                continue
                            got, pad = kernels.conv_transpose_output_length(size, k, s, padding, op, d)
                            assert got == want
                            assert (got, pad) == ref.conv_transpose_length(size, k, s, padding, op, d)
    # 'same' multiplies by the stride; 'valid' adds the kernel overhang
    assert kernels.conv2d_transpose_output_shape((None, 7, 5, 3), 3, 8, 2, "same")[0] == (None, 14, 10, 8)
    assert kernels.conv2d_transpose_output_shape((None, 7, 5, 3), 3, 8, 2, "valid")[0] == (None, 15, 11, 8)
    assert kernels.conv2d_transpose_output_shape((None, None, 5, 3), 3, 8, 2)[0] == (None, None, 11, 8)


def test_conv2d_transpose_bad_calls_raise_named_errors(rng):
    x = rng.normal(size=(1, 4, 4, 3)).astype(np.float32)
    w = rng.normal(size=(3, 3, 2, 3)).astype(np.float32)
    with pytest.raises(ValueError, match="conv2d_transpose_forward.*channels"):
        kernels.conv2d_transpose(x, rng.normal(size=(3, 3, 2, 4)).astype(np.float32))
    with pytest.raises(ValueError, match="output_padding"):
        kernels.conv2d_transpose(x, w, strides=2, output_padding=2)
    with pytest.raises(ValueError, match="4-D"):
        kernels.conv2d_transpose(x, w[0])
    with pytest.raises(ValueError, match="bias"):
        kernels.conv2d_transpose(x, w, np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="dy must have shape"):
        kernels.conv2d_transpose_backward_data(np.zeros((1, 5, 5, 2), np.float32), w, x.shape)
    with pytest.raises((TypeError, ValueError), match="conv2d_transpose_forward"):
        kernels.conv2d_transpose(x.astype(np.float64), w)


# ---- depthwise ------------------------------------------------------------------------------

# (x shape, kernel, depth multiplier, strides, padding, dilation)
DEPTHWISE_CASES = [
    ((2, 5, 6, 3), (3, 3), 1, (1, 1), "valid", (1, 1)),
    ((2, 5, 6, 37), (3, 3), 1, (2, 2), "same", (1, 1)),   # 32 + 5 channels: the masked tail
    ((2, 6, 5, 8), (3, 2), 2, (1, 2), "same", (1, 1)),
    ((1, 7, 7, 33), (5, 5), 1, (1, 1), "same", (2, 2)),
    ((2, 4, 4, 1), (2, 2), 3, (2, 2), "valid", (1, 1)),
    ((3, 9, 9, 64), (3, 3), 1, (1, 1), "same", (1, 1)),   # enough work for threads
    ((1, 4, 5, 4), (1, 1), 1, (1, 1), "valid", (1, 1)),
    ((1, 4, 5, 17), (3, 3), 1, (1, 1), "same", (1, 1)),   # one 16-lane block and a 1-lane tail
    ((1, 5, 4, 81), (3, 3), 1, (2, 1), "same", (1, 1)),   # 64 + 16 + a 1-lane tail
] + [((1, 3, 4, c), (2, 2), 1, (1, 1), "same", (1, 1)) for c in (2, 5, 7, 9, 11, 13, 15, 16)]


def _depthwise_data(case, rng):
    x_shape, k, dm = case[:3]
    x = rng.normal(size=x_shape).astype(np.float32)
    w = rng.normal(size=k + (x_shape[3], dm)).astype(np.float32)
    b = rng.normal(size=x_shape[3] * dm).astype(np.float32)
    return x, w, b


@pytest.mark.parametrize("case", DEPTHWISE_CASES)
def test_depthwise_conv2d_matches_reference(case, isa, rng):
    x, w, b = _depthwise_data(case, rng)
    _, _, _, strides, padding, dil = case
    a = dict(strides=strides, padding=padding, dilation_rate=dil)
    want = ref.depthwise_conv2d(x, w, b, strides, padding, dil)
    _close(kernels.depthwise_conv2d(x, w, b, **a), want)
    dy = rng.normal(size=want.shape).astype(np.float32)
    rdx, rdw, rdb = ref.depthwise_conv2d_grads(x, w, dy, strides, padding, dil)
    _close(kernels.depthwise_conv2d_backward_data(dy, w, x.shape, **a), rdx)
    dw, db = kernels.depthwise_conv2d_backward_weights(x, dy, w.shape, bias=True, **a)
    _close(dw, rdw)
    _close(db, rdb)
    assert kernels.depthwise_conv2d_backward_weights(x, dy, w.shape, **a).shape == w.shape


@pytest.mark.parametrize("case", DEPTHWISE_CASES[:5])
def test_depthwise_reference_matches_finite_differences_and_grouped_conv(case, rng):
    x_shape, k, dm, strides, padding, dil = case
    x = rng.normal(size=(1,) + x_shape[1:3] + (2,))
    w = rng.normal(size=k + (2, dm))
    y = ref.depthwise_conv2d(x, w, None, strides, padding, dil)
    r = rng.normal(size=y.shape)
    loss = lambda xx, ww: float((ref.depthwise_conv2d(xx, ww, None, strides, padding, dil) * r).sum())
    dx, dw, _ = ref.depthwise_conv2d_grads(x, w, r, strides, padding, dil)
    np.testing.assert_allclose(dx, ref.numerical_grad(lambda v: loss(v, w), x), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(dw, ref.numerical_grad(lambda v: loss(x, v), w), rtol=1e-6, atol=1e-6)
    # a dense conv2d whose kernel is zero off the channel's own block computes the same
    dense = np.zeros(k + (2, 2 * dm))
    for c in range(2):
        dense[:, :, c, c * dm:(c + 1) * dm] = w[:, :, c, :]
    np.testing.assert_allclose(y, ref.conv2d_forward(x, dense, None, strides, padding, dil), atol=1e-12)


def test_depthwise_bad_calls_raise_named_errors(rng):
    x = rng.normal(size=(1, 4, 4, 3)).astype(np.float32)
    with pytest.raises(ValueError, match="depthwise_conv2d_forward.*channels"):
        kernels.depthwise_conv2d(x, np.zeros((3, 3, 2, 1), np.float32))
    with pytest.raises(ValueError, match="depthwise_conv2d_forward"):
        kernels.depthwise_conv2d(x, np.zeros((5, 5, 3, 1), np.float32))  # kernel larger than 'valid' input
    with pytest.raises(ValueError, match="bias"):
        kernels.depthwise_conv2d(x, np.zeros((3, 3, 3, 2), np.float32), np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="4-D"):
        kernels.depthwise_conv2d(x, np.zeros((3, 3, 3), np.float32))
    with pytest.raises(ValueError, match="depthwise_conv2d_backward_data"):
        kernels.depthwise_conv2d_backward_data(np.zeros((1, 2, 2, 4), np.float32),
                                               np.zeros((3, 3, 3, 1), np.float32), x.shape)


# ---- prelu ----------------------------------------------------------------------------------

PRELU_SHAPES = [((4, 5, 6, 7), (5, 6, 7)), ((4, 5, 6, 7), (1, 1, 7)), ((4, 5, 6, 7), (5, 6, 1)),
                ((3, 10), (10,)), ((4, 5, 6, 7), (5, 1, 7)), ((64, 33, 40), (1, 40))]


@pytest.mark.parametrize("shape,alpha_shape", PRELU_SHAPES)
def test_prelu_matches_reference(shape, alpha_shape, rng):
    x = rng.normal(size=shape).astype(np.float32)
    a = rng.normal(size=alpha_shape).astype(np.float32)
    dy = rng.normal(size=shape).astype(np.float32)
    _close(kernels.prelu_forward(x, a), ref.prelu(x, a), 1e-6)
    dx, da = kernels.prelu_backward(x, a, dy)
    rdx, rda = ref.prelu_grads(x, a, dy)
    _close(dx, rdx, 1e-6)
    _close(da, rda, 1e-5)
    none_dx, da2 = kernels.prelu_backward(x, a, dy, need_dx=False)
    assert none_dx is None and np.array_equal(np.asarray(da2), np.asarray(da))


def test_prelu_reference_gradients_match_finite_differences(rng):
    x = rng.normal(size=(3, 4, 5))
    a = rng.normal(size=(1, 5))
    r = rng.normal(size=x.shape)
    loss = lambda xx, aa: float((ref.prelu(xx, aa) * r).sum())
    dx, da = ref.prelu_grads(x, a, r)
    np.testing.assert_allclose(dx, ref.numerical_grad(lambda v: loss(v, a), x), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(da, ref.numerical_grad(lambda v: loss(x, v), a), rtol=1e-6, atol=1e-6)


def test_prelu_bad_calls_raise_named_errors(rng):
    x = rng.normal(size=(2, 3, 4)).astype(np.float32)
    with pytest.raises(ValueError, match="prelu_forward.*alpha"):
        kernels.prelu_forward(x, np.zeros((3, 5), np.float32))
    with pytest.raises(ValueError, match="prelu_forward.*alpha"):
        kernels.prelu_forward(x, np.zeros((4,), np.float32))
    with pytest.raises(ValueError, match="prelu_backward"):
        kernels.prelu_backward(x, np.zeros((3, 4), np.float32), np.zeros((2, 3, 5), np.float32))


# ---- PyTorch parity -------------------------------------------------------------------------

def _torch_conv_transpose(torch, x, w, b, strides, padding, output_padding, dilation):
    """torch.nn.functional.conv_transpose2d with our leading padding pt on both sides and the
    output_padding that brings the length up to Keras's; anything past Keras's length (torch pads
    symmetrically, TF's 'same' puts the odd row after) is cropped."""
    lens = [ref.conv_transpose_length(x.shape[1 + i], w.shape[i], strides[i], padding,
                                      None if output_padding is None else output_padding[i],
                                      dilation[i]) for i in range(2)]
    pads = [p for _, p in lens]
    extra = [max(L - ((x.shape[1 + i] - 1) * strides[i] - 2 * pads[i] + (w.shape[i] - 1) * dilation[i] + 1), 0)
             for i, (L, _) in enumerate(lens)]
    y = torch.nn.functional.conv_transpose2d(
        x.permute(0, 3, 1, 2), w.permute(3, 2, 0, 1), b, stride=strides, padding=pads,
        output_padding=extra, dilation=dilation)
    return y.permute(0, 2, 3, 1)[:, :lens[0][0], :lens[1][0], :]


@pytest.mark.parametrize("case", TRANSPOSE_CASES)
def test_conv2d_transpose_matches_pytorch_forward_and_backward(case, rng):
    torch = pytest.importorskip("torch")
    x, w, b = _transpose_data(case, rng)
    a = _transpose_args(case)
    tx, tw, tb = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (x, w, b))
    ty = _torch_conv_transpose(torch, tx, tw, tb, case[3], case[4], case[5], case[6])
    y = kernels.conv2d_transpose(x, w, b, **a)
    _close(y, ty.detach().numpy())
    dy = rng.normal(size=tuple(ty.shape)).astype(np.float32)
    ty.backward(torch.tensor(dy, dtype=torch.float64))
    _close(kernels.conv2d_transpose_backward_data(dy, w, x.shape, **a), tx.grad.numpy())
    dw, db = kernels.conv2d_transpose_backward_weights(x, dy, w.shape, bias=True, **a)
    _close(dw, tw.grad.numpy())
    _close(db, tb.grad.numpy())


@pytest.mark.parametrize("case", DEPTHWISE_CASES)
def test_depthwise_conv2d_matches_pytorch_grouped_conv(case, rng):
    torch = pytest.importorskip("torch")
    x, w, b = _depthwise_data(case, rng)
    _, k, dm, strides, padding, dil = case
    c = x.shape[3]
    tx, tw, tb = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (x, w, b))
    pads = []
    for i in range(2):
        out, before = ref.conv2d_padding(x.shape[1 + i], k[i], strides[i], padding, dil[i])
        after = max((out - 1) * strides[i] + (k[i] - 1) * dil[i] + 1 - x.shape[1 + i] - before, 0)
        pads.append((before, after))
    xp = torch.nn.functional.pad(tx.permute(0, 3, 1, 2), (pads[1][0], pads[1][1], pads[0][0], pads[0][1]))
    weight = tw.reshape(k[0], k[1], c * dm).permute(2, 0, 1).unsqueeze(1)  # (C*DM, 1, KH, KW)
    ty = torch.nn.functional.conv2d(xp, weight, tb, stride=strides, dilation=dil, groups=c)
    ty = ty.permute(0, 2, 3, 1)
    a = dict(strides=strides, padding=padding, dilation_rate=dil)
    _close(kernels.depthwise_conv2d(x, w, b, **a), ty.detach().numpy())
    dy = rng.normal(size=tuple(ty.shape)).astype(np.float32)
    ty.backward(torch.tensor(dy, dtype=torch.float64))
    _close(kernels.depthwise_conv2d_backward_data(dy, w, x.shape, **a), tx.grad.numpy())
    dw, db = kernels.depthwise_conv2d_backward_weights(x, dy, w.shape, bias=True, **a)
    _close(dw, tw.grad.numpy())
    _close(db, tb.grad.numpy())


def test_prelu_matches_pytorch_per_channel(rng):
    torch = pytest.importorskip("torch")
    x = rng.normal(size=(3, 4, 5, 6)).astype(np.float32)
    a = rng.normal(size=(1, 1, 6)).astype(np.float32)
    tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    ta = torch.tensor(a.reshape(6), dtype=torch.float64, requires_grad=True)
    ty = torch.nn.functional.prelu(tx.permute(0, 3, 1, 2), ta).permute(0, 2, 3, 1)
    _close(kernels.prelu_forward(x, a), ty.detach().numpy(), 1e-6)
    dy = rng.normal(size=x.shape).astype(np.float32)
    ty.backward(torch.tensor(dy, dtype=torch.float64))
    dx, da = kernels.prelu_backward(x, a, dy)
    _close(dx, tx.grad.numpy(), 1e-6)
    _close(np.asarray(da).reshape(6), ta.grad.numpy(), 1e-5)
