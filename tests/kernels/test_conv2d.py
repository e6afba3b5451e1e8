"""conv2d forward / backward-data / backward-weights vs the float64 direct-loop reference."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from corenn import _C, kernels
from reference import conv2d_backward_data as ref_bwd_data
from reference import conv2d_backward_weights as ref_bwd_weights
from reference import conv2d_forward as ref_forward

# (N, H, W, Cin, KH, KW, Cout): odd sizes, channel counts off the 6 / 16 micro-tile, batch 1.
SHAPES = [
    (1, 7, 9, 1, 3, 3, 5),
    (2, 8, 7, 3, 3, 2, 17),
    (3, 6, 5, 5, 1, 1, 3),
    (1, 9, 10, 17, 5, 3, 16),
    (2, 5, 5, 4, 5, 5, 1),
]
STRIDES = [(1, 1), (2, 2), (1, 3)]
PADDINGS = ["valid", "same"]
DILATIONS = [(1, 1), (2, 1)]


def _fits(shape, strides, padding, dilation):
    n, h, w, cin, kh, kw, cout = shape
    return padding == "same" or (h >= (kh - 1) * dilation[0] + 1 and w >= (kw - 1) * dilation[1] + 1)


# Every stride x padding x dilation combination, each on one shape (cycled, skipping shapes whose
# kernel does not fit): fast and broad.
CASES = []
for _i, _combo in enumerate(itertools.product(STRIDES, PADDINGS, DILATIONS)):
    _shape = next(s for j in range(len(SHAPES)) if _fits(s := SHAPES[(_i + j) % len(SHAPES)], *_combo))
    CASES.append((_shape,) + _combo)


def _data(rng, shape):
    n, h, w, cin, kh, kw, cout = shape
    x = rng.normal(size=(n, h, w, cin)).astype(np.float32)
    k = rng.normal(size=(kh, kw, cin, cout)).astype(np.float32)
    b = rng.normal(size=cout).astype(np.float32)
    return x, k, b


def _close(got, want, tol=1e-4):
    scale = np.abs(want).max() + 1e-12
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale)


def _check_stride1_passes(rng, x, k, b, padding):
    """Forward (with bias), data gradient, weight and bias gradients of a stride-1 undilated conv
    against the float64 reference; returns (dy, reference dw)."""
    want = ref_forward(x, k, b, (1, 1), padding, (1, 1))
    _close(np.asarray(kernels.conv2d(x, k, b, padding=padding)), want)
    dy = rng.normal(size=want.shape).astype(np.float32)
    _close(np.asarray(kernels.conv2d_backward_data(dy, k, x.shape, padding=padding)),
           ref_bwd_data(dy, k, x.shape, (1, 1), padding, (1, 1)))
    dw, db = kernels.conv2d_backward_weights(x, dy, k.shape, bias=True, padding=padding)
    want_dw, want_db = ref_bwd_weights(x, dy, k.shape, (1, 1), padding, (1, 1))
    _close(np.asarray(dw), want_dw)
    _close(np.asarray(db), want_db)
    return dy, want_dw


# Shapes that select the special paths: the direct small-Cin forward / weight-gradient kernels
# (Cin <= 4, Cout a multiple of 8, AVX2) and the flipped-kernel stride-1 data gradient (Cin >= 16,
# Cout < 2 Cin, 'same'); every combination on each.
FAST_PATH_CASES = [(shape,) + combo
                   for shape in [(2, 9, 8, 1, 3, 3, 8), (2, 8, 9, 3, 3, 3, 16), (2, 7, 6, 20, 3, 3, 24)]
                   for combo in itertools.product(STRIDES, PADDINGS, DILATIONS)
                   if _fits(shape, *combo)]


@pytest.mark.parametrize("shape,strides,padding,dilation", CASES + FAST_PATH_CASES)
def test_conv2d_matches_reference(shape, strides, padding, dilation, isa, rng):
    x, k, b = _data(rng, shape)
    args = dict(strides=strides, padding=padding, dilation_rate=dilation)
    want = ref_forward(x, k, b, strides, padding, dilation)
    y = np.asarray(kernels.conv2d(x, k, b, **args))
    assert y.shape == want.shape
    _close(y, want)
    y_relu = np.asarray(kernels.conv2d(x, k, b, activation="relu", **args))
    _close(y_relu, np.maximum(want, 0))

    dy = rng.normal(size=want.shape).astype(np.float32)
    dx = np.asarray(kernels.conv2d_backward_data(dy, k, x.shape, **args))
    _close(dx, ref_bwd_data(dy, k, x.shape, strides, padding, dilation))
    dw, db = kernels.conv2d_backward_weights(x, dy, k.shape, bias=True, **args)
    want_dw, want_db = ref_bwd_weights(x, dy, k.shape, strides, padding, dilation)
    _close(np.asarray(dw), want_dw)
    _close(np.asarray(db), want_db)


def _winograd(isa, oh, ow):
    """The Winograd kernel a 3x3 stride-1 conv with an OH x OW output runs on this ISA
    (cpu/conv2d_winograd.h): F(4x4, 3x3) on AVX-512 where its 4x4 tiles cover at most 1.1x the
    area of the 2x2 ones, F(2x2, 3x3) otherwise."""
    tiles2 = -(-oh // 2) * 2 * (-(-ow // 2) * 2)
    tiles4 = -(-oh // 4) * 4 * (-(-ow // 4) * 4)
    return "winograd_f4x4_3x3" if isa == "avx512" and 10 * tiles4 <= 11 * tiles2 else "winograd_f2x2_3x3"


# shape, padding, the algorithms AVX2 picks (forward, backward_data, backward_weights); AVX-512
# picks the same but for the Winograd tile size (_winograd)
LARGE_CASES = [
    ((4, 12, 11, 60, 3, 2, 61), "same", ("implicit_gemm", "flipped_forward/implicit_gemm", "implicit_gemm")),
    ((3, 13, 13, 32, 2, 2, 64), "valid", ("implicit_gemm", "col2im_gemm", "implicit_gemm")),
    ((3, 28, 28, 1, 3, 3, 32), "valid", ("direct", "col2im_gemm", "direct")),  # the CNN's conv 1
    ((3, 13, 13, 32, 3, 3, 64), "valid", ("winograd_f2x2_3x3",) * 3),          # its conv 2
]


@pytest.mark.parametrize("shape,padding,algorithms", LARGE_CASES)
def test_conv2d_large_enough_for_threads_and_blocking(shape, padding, algorithms, isa, rng):
    """Past the GEMM's block sizes (KC = 512, MC <= 72) and its parallel threshold: the packers
    start mid-tap (K = 360 forward, 366 for the stride-1 data gradient) and mid-image; the weight
    gradient splits its pixels over threads (partial dw and db per thread); the col2im data
    gradient splits an odd number of images over threads; Winograd runs several tile blocks per
    thread, blocks that straddle images."""
    n, h, w, cin, kh, kw, cout = shape
    chosen = kernels.conv2d_algorithms((n, h, w, cin), (kh, kw, cin, cout), padding=padding)
    if isa in ("avx2", "avx512"):
        oh, ow = (h, w) if padding == "same" else (h - kh + 1, w - kw + 1)
        tile = {"winograd_f2x2_3x3": _winograd(isa, oh, ow)}
        assert chosen["forward"] == tile.get(algorithms[0], algorithms[0])
        if "winograd" in algorithms[1]:   # the flipped conv's output is this conv's input
            assert chosen["backward_data"] == "flipped_forward/" + _winograd(isa, h, w)
        else:
            assert chosen["backward_data"].endswith(algorithms[1].split("/")[-1])
        assert chosen["backward_weights"] == tile.get(algorithms[2], algorithms[2])
    else:  # the portable ISA has neither the direct nor the Winograd kernels
        assert "winograd" not in str(chosen) and chosen["forward"] != "direct"
    x, k, b = _data(rng, shape)
    _check_stride1_passes(rng, x, k, b, padding)


# (N, H, W, Cin, Cout), padding: 3x3 stride-1 convs on the Winograd kernels (AVX2): channel counts
# off the 8 / 16 vector and panel widths, odd outputs (partial tiles at the bottom / right), batch 1,
# 'same' (padding 1 on every side) and 'valid' (the data gradient then pads dy by 2). On AVX-512
# each pass takes F(4x4, 3x3) or F(2x2, 3x3) by its output's shape (_winograd): both tile sizes
# run here, F(4x4) with 1-3 rows or columns of partial tiles.
WINOGRAD_CASES = [
    ((2, 12, 11, 20, 17), "same"),
    ((1, 10, 8, 17, 33), "valid"),
    ((2, 6, 6, 64, 16), "same"),
    ((2, 13, 11, 24, 40), "same"),
    ((2, 15, 15, 16, 16), "valid"),
    ((3, 7, 7, 24, 20), "same"),  # 7x7: the smallest square output Winograd takes (tiles 8x8)
    # AVX-512 (16 channels a vector, 12 x 32 depth loops): channel counts off 16 and 32, an odd
    # number of 16-channel panels on either side (the depth loops' one-panel tail), batch 1 with
    # fewer tiles than one 12-row depth loop.
    ((1, 9, 7, 31, 17), "same"),
    ((2, 8, 9, 48, 33), "valid"),
    ((1, 4, 4, 16, 80), "same"),    # 4 tiles: one partial 12-tile depth loop
    ((2, 11, 10, 47, 16), "same"),
    ((1, 12, 12, 65, 47), "valid"),
    ((2, 14, 14, 32, 32), "same"),  # 14x14: F(2x2) on AVX-512 too (4x4 tiles would cover 1.31x)
    ((3, 28, 28, 32, 32), "same"),  # the residual CNN's conv: F(4x4) on every pass, whole tiles
    ((2, 13, 9, 20, 36), "valid"),  # 11x7: F(4x4) with partial tiles, F(2x2) data gradient
]


@pytest.mark.parametrize("shape,padding", WINOGRAD_CASES)
def test_conv2d_winograd_matches_reference(shape, padding, isa, rng):
    n, h, w, cin, cout = shape
    chosen = kernels.conv2d_algorithms((n, h, w, cin), (3, 3, cin, cout), padding=padding)
    if isa in ("avx2", "avx512"):
        oh, ow = (h, w) if padding == "same" else (h - 2, w - 2)
        assert chosen == {"forward": _winograd(isa, oh, ow), "backward_weights": _winograd(isa, oh, ow),
                          "backward_data": "flipped_forward/" + _winograd(isa, h, w)}
    x, k, b = _data(rng, (n, h, w, cin, 3, 3, cout))
    x *= 10.0  # large inputs: the transforms' sums and differences must not lose precision
    dy, want_dw = _check_stride1_passes(rng, x, k, b, padding)
    _close(np.asarray(kernels.conv2d(x, k, padding=padding, activation="relu")),
           np.maximum(ref_forward(x, k, None, (1, 1), padding, (1, 1)), 0))
    dw_only = kernels.conv2d_backward_weights(x, dy, k.shape, padding=padding)  # no bias gradient
    _close(np.asarray(dw_only), want_dw)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 3), h=st.integers(3, 14), w=st.integers(3, 14), cin=st.integers(16, 40),
       cout=st.integers(16, 40), padding=st.sampled_from(["valid", "same"]), seed=st.integers(0, 2**31))
def test_conv2d_3x3_stride1_any_shape_matches_reference(n, h, w, cin, cout, padding, seed):
    """Random 3x3 stride-1 shapes with 16+ channels: whichever algorithm each pass picks (Winograd
    where the tile grid fits, the implicit GEMM elsewhere), forward and both gradients agree with
    the float64 reference."""
    rng = np.random.default_rng(seed)
    x, k, b = _data(rng, (n, h, w, cin, 3, 3, cout))
    _check_stride1_passes(rng, x, k, b, padding)


# Cin 1..17 (the patch packers' channel runs: 12-row AVX-512 panels with a masked depth tail, 6-row
# AVX2 ones with 8 x 8 transposes), Cout 1..17 (the micro-kernels' masked column edges), with a
# stride / padding / dilation combination each, batch 1 or 2.
CHANNEL_SWEEP = [((1 + c % 2, 7, 6, c, 3, 2, 18 - c),) + combo
                 for c, combo in zip(range(1, 18), itertools.cycle(
                     itertools.product(STRIDES, PADDINGS, DILATIONS)))
                 if _fits((1, 7, 6, c, 3, 2, 18 - c), *combo)]


@pytest.mark.parametrize("shape,strides,padding,dilation", CHANNEL_SWEEP)
def test_conv2d_channel_counts_1_to_17_match_reference(shape, strides, padding, dilation, isa, rng):
    x, k, b = _data(rng, shape)
    args = dict(strides=strides, padding=padding, dilation_rate=dilation)
    want = ref_forward(x, k, b, strides, padding, dilation)
    _close(np.asarray(kernels.conv2d(x, k, b, activation="relu", **args)), np.maximum(want, 0))
    dy = rng.normal(size=want.shape).astype(np.float32)
    _close(np.asarray(kernels.conv2d_backward_data(dy, k, x.shape, **args)),
           ref_bwd_data(dy, k, x.shape, strides, padding, dilation))
    dw, db = kernels.conv2d_backward_weights(x, dy, k.shape, bias=True, **args)
    want_dw, want_db = ref_bwd_weights(x, dy, k.shape, strides, padding, dilation)
    _close(np.asarray(dw), want_dw)
    _close(np.asarray(db), want_db)


def test_conv2d_winograd_is_deterministic_and_thread_count_safe(rng):
    """Same inputs, same bits on repeat; 1 and 2 threads agree to rounding (their weight-gradient
    partials are summed in a different grouping)."""
    import corenn
    x, k, b = _data(rng, (5, 13, 13, 32, 3, 3, 64))
    dy = rng.normal(size=(5, 11, 11, 64)).astype(np.float32)

    def run():
        return [np.asarray(kernels.conv2d(x, k, b)).copy(),
                np.asarray(kernels.conv2d_backward_data(dy, k, x.shape)).copy(),
                np.asarray(kernels.conv2d_backward_weights(x, dy, k.shape)).copy()]

    old = corenn.get_num_threads()
    try:
        corenn.set_num_threads(2)
        first, second = run(), run()
        corenn.set_num_threads(1)
        single = run()
    finally:
        corenn.set_num_threads(old)
    for a, b_, c in zip(first, second, single):
        np.testing.assert_array_equal(a, b_)
        _close(c, a, 1e-5)


def test_winograd_can_be_turned_off_by_environment():
    """CORENN_WINOGRAD=0 (read once per process) sends the same layer to the implicit GEMM."""
    import os
    import subprocess
    import sys
    script = ("from corenn import kernels\n"
              "print(kernels.conv2d_algorithms((2, 13, 13, 32), (3, 3, 32, 64)))\n")
    env = dict(os.environ, CORENN_WINOGRAD="0")
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "winograd" not in out.stdout and "implicit_gemm" in out.stdout


def test_conv2d_algorithms_query_checks_its_arguments():
    with pytest.raises(ValueError, match="conv2d_algorithms.*same Cin"):
        kernels.conv2d_algorithms((1, 8, 8, 3), (3, 3, 4, 8))
    with pytest.raises(ValueError, match="conv2d_algorithms"):
        kernels.conv2d_algorithms((1, 2, 2, 3), (3, 3, 3, 8))  # kernel larger than the input
    strided = kernels.conv2d_algorithms((1, 16, 16, 32), (3, 3, 32, 32), strides=2, padding="same")
    assert "winograd" not in str(strided)


def test_same_padding_is_tensorflow_asymmetric():
    # H = 6, K = 3, stride 2: output 3, total padding 1 -> 0 before, 1 after (TF rule).
    assert kernels.conv2d_output_shape((1, 6, 6, 1), 3, 4, 2, "same") == ((1, 3, 3, 4), (0, 0))
    assert kernels.conv2d_output_shape((1, 5, 7, 1), (3, 4), 2, 1, "same") == ((1, 5, 7, 2), (1, 1))
    assert kernels.conv2d_output_shape((2, 10, 10, 3), 3, 8, 1, "valid", 2) == ((2, 6, 6, 8), (0, 0))
    x = np.arange(36, dtype=np.float32).reshape(1, 6, 6, 1)
    k = np.ones((3, 3, 1, 1), np.float32)
    y = np.asarray(kernels.conv2d(x, k, strides=2, padding="same"))
    _close(y, ref_forward(x, k, None, (2, 2), "same", (1, 1)))
    assert y[0, 0, 0, 0] == x[0, :3, :3, 0].sum()  # no padding before ...
    assert y[0, 2, 2, 0] == x[0, 4:, 4:, 0].sum()  # ... the padding row/column is after


def test_conv2d_bad_inputs_raise():
    x = np.zeros((1, 5, 5, 3), np.float32)
    k = np.zeros((3, 3, 3, 4), np.float32)
    with pytest.raises(ValueError, match="conv2d.*4-D"):
        kernels.conv2d(np.zeros((5, 5, 3), np.float32), k)
    with pytest.raises(ValueError, match="conv2d_forward.*channels"):
        kernels.conv2d(x, np.zeros((3, 3, 2, 4), np.float32))
    with pytest.raises(ValueError, match="conv2d.*smaller than the .*kernel"):
        kernels.conv2d(x, np.zeros((7, 7, 3, 4), np.float32))
    with pytest.raises(ValueError, match="conv2d.*padding"):
        kernels.conv2d(x, k, padding="full")
    with pytest.raises(ValueError, match="conv2d.*strides"):
        kernels.conv2d(x, k, strides=0)
    with pytest.raises(ValueError, match="conv2d_forward.*bias"):
        kernels.conv2d(x, k, np.zeros(5, np.float32))
    with pytest.raises(ValueError, match="conv2d_forward.*y"):
        kernels.conv2d(x, k, out=np.zeros((1, 3, 3, 5), np.float32))
    with pytest.raises(TypeError, match="conv2d_forward"):
        kernels.conv2d(x.astype(np.int32), k)
    with pytest.raises(ValueError, match="conv2d_forward.*activation"):
        kernels.conv2d(x, k, activation="tanh")
    with pytest.raises(ValueError, match="conv2d_backward_data.*dy"):
        kernels.conv2d_backward_data(np.zeros((1, 3, 3, 5), np.float32), k, x.shape)
    with pytest.raises(ValueError, match="conv2d_backward_weights.*db"):
        kernels.conv2d_backward_weights(x, np.zeros((1, 3, 3, 4), np.float32), k.shape,
                                    bias_out=np.zeros(3, np.float32))


def test_conv2d_with_tiny_gemm_blocks():
    """Block sizes are read once per process: a child with KC = 8, MC = 6, NC = 16 makes every
    packer start mid-tap, mid-row and mid-image (checked against the reference there)."""
    import os
    import subprocess
    import sys
    from pathlib import Path
    script = (
        "import numpy as np\n"
        "from corenn import kernels\n"
        "from reference import conv2d_forward, conv2d_backward_data, conv2d_backward_weights\n"
        "rng = np.random.default_rng(0)\n"
        "x = rng.normal(size=(2, 7, 6, 5)).astype(np.float32)\n"
        "k = rng.normal(size=(3, 2, 5, 7)).astype(np.float32)\n"
        "for s, p in (((1, 1), 'same'), ((2, 1), 'valid')):\n"
        "    y = np.asarray(kernels.conv2d(x, k, strides=s, padding=p, activation='relu'))\n"
        "    want = np.maximum(conv2d_forward(x, k, None, s, p, (1, 1)), 0)\n"
        "    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-4)\n"
        "    dy = rng.normal(size=want.shape).astype(np.float32)\n"
        "    dx = kernels.conv2d_backward_data(dy, k, x.shape, strides=s, padding=p)\n"
        "    np.testing.assert_allclose(dx, conv2d_backward_data(dy, k, x.shape, s, p), rtol=1e-4, atol=1e-4)\n"
        "    dw = kernels.conv2d_backward_weights(x, dy, k.shape, strides=s, padding=p)\n"
        "    np.testing.assert_allclose(dw, conv2d_backward_weights(x, dy, k.shape, s, p)[0], rtol=1e-4, atol=1e-4)\n"
        "print('ok')\n")
    env = dict(os.environ, CORENN_GEMM_KC="8", CORENN_GEMM_MC="6", CORENN_GEMM_NC="16",
               PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


@pytest.mark.parametrize("shape,padding", [((3, 28, 28, 1, 3, 3, 32), "valid"), ((2, 9, 8, 3, 3, 3, 16), "same"),
                                           ((2, 7, 7, 2, 3, 3, 32), "same"), ((1, 6, 5, 4, 2, 2, 48), "valid"),
                                           ((2, 6, 6, 20, 3, 3, 8), "valid"),   # wide Cin: the unfused path
                                           ((2, 10, 9, 16, 3, 3, 16), "same")])  # ... on Winograd
def test_conv2d_relu_max_pool2d_matches_conv_then_pool(shape, padding, isa, rng):
    """The fused first-layer pass equals relu(conv) followed by 2x2 max pooling: values against the
    float64 reference, argmax identical to max_pool2d_forward's (ties: an all-zero image, where every
    window is relu(bias <= 0) = 0, must point at each window's first cell)."""
    x, k, b = _data(rng, shape)
    x[0] = 0.0
    b[::2] = -np.abs(b[::2])
    y, argmax = kernels.conv2d_relu_max_pool2d(x, k, b, padding=padding)
    z = np.maximum(ref_forward(x, k, b, (1, 1), padding, (1, 1)), 0.0)
    n, oh, ow, c = z.shape
    want = z[:, :oh // 2 * 2, :ow // 2 * 2].reshape(n, oh // 2, 2, ow // 2, 2, c).max(axis=(2, 4))
    _close(np.asarray(y), want)
    _, want_argmax = kernels.max_pool2d_forward(kernels.conv2d(x, k, b, padding=padding, activation="relu"), 2, 2)
    np.testing.assert_array_equal(np.asarray(argmax), np.asarray(want_argmax))


def test_conv2d_relu_max_pool2d_bad_inputs_raise():
    x = np.zeros((2, 8, 8, 1), np.float32)
    k = np.zeros((3, 3, 1, 16), np.float32)
    with pytest.raises(ValueError, match="conv2d_relu_max_pool2d_forward: x .* has 2 channels but w .* expects 1"):
        kernels.conv2d_relu_max_pool2d(np.zeros((2, 8, 8, 2), np.float32), k)
    with pytest.raises(ValueError, match="conv2d_relu_max_pool2d_forward.*bias"):
        kernels.conv2d_relu_max_pool2d(x, k, np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="conv2d_relu_max_pool2d_forward.*y"):
        kernels.conv2d_relu_max_pool2d(x, k, out=kernels.empty((2, 6, 6, 16)))
    with pytest.raises(ValueError, match="smaller than the 2x2 pooling window"):
        kernels.conv2d_relu_max_pool2d(np.zeros((1, 3, 8, 1), np.float32), k)


@pytest.mark.parametrize("shape,padding", [((3, 9, 8, 1, 3, 3, 8), "same"),     # 8: one masked half vector
                                           ((2, 10, 7, 3, 3, 3, 24), "valid"),  # 16 + 8
                                           ((1, 8, 8, 4, 3, 3, 40), "same"),    # 36 taps: 2 passes
                                           ((2, 7, 9, 2, 2, 2, 48), "valid"),
                                           ((2, 6, 6, 20, 3, 3, 8), "same")])   # the dz fallback
def test_conv2d_relu_max_pool2d_weight_gradient_matches_reference(shape, padding, isa, rng):
    """The fused pass's weight gradient (dy routed to each window's argmax, times relu') against the
    float64 weight gradient of the conv on that routed dz."""
    x, k, b = _data(rng, shape)
    y, argmax = kernels.conv2d_relu_max_pool2d(x, k, b, padding=padding)
    y, argmax = np.asarray(y), np.asarray(argmax)
    dy = rng.normal(size=y.shape).astype(np.float32)
    dw, db = kernels.conv2d_relu_max_pool2d_backward_weights(x, dy, y, argmax, k.shape, bias=True,
                                                            padding=padding)
    z = ref_forward(x, k, b, (1, 1), padding, (1, 1))
    dz = np.zeros(z.shape)
    n, ph, pw, c = y.shape
    ni, pi, qi, ci = np.meshgrid(np.arange(n), np.arange(ph), np.arange(pw), np.arange(c), indexing="ij")
    oy, ox = argmax // z.shape[2], argmax % z.shape[2]
    dz[ni, oy, ox, ci] = np.where(y > 0, dy, 0.0)
    want_dw, want_db = ref_bwd_weights(x, dz, k.shape, (1, 1), padding, (1, 1))
    _close(np.asarray(dw), want_dw)
    _close(np.asarray(db), want_db)


# ---- conv2d_backward_data_relu_sum: the data gradient + the other readers' part, through relu' --

@pytest.mark.parametrize("case", [
    ((2, 8, 8, 16, 3, 3, 16), (1, 1), "same"),     # Winograd F(4x4) on AVX-512 (8x8), F(2x2) on AVX2
    ((2, 7, 9, 20, 3, 3, 18), (1, 1), "same"),     # partial tiles, channel tails
    ((2, 9, 9, 32, 3, 3, 16), (1, 1), "valid"),    # flipped forward with the border tiles
    ((2, 9, 8, 5, 3, 3, 7), (2, 2), "same"),       # strided: col2im, the epilogue one pass after
    ((1, 6, 6, 8, 1, 1, 12), (1, 1), "valid"),     # pointwise
])
@pytest.mark.parametrize("parts", ["add+relu", "relu", "add"])
def test_backward_data_relu_sum_matches_reference(isa, case, parts, rng):
    """dx = (dL/dx + add) * relu'(relu_of), against the float64 data gradient with the sum and
    the relu' taken in float64; a NaN in relu_of gives NaN there; the arguments are checked."""
    (n, h, w, cin, kh, kw, cout), strides, padding = case
    x_shape = (n, h, w, cin)
    wt = (rng.standard_normal((kh, kw, cin, cout)) * 0.3).astype(np.float32)
    oh, ow = kernels.conv2d_output_shape(x_shape, (kh, kw), cout, strides, padding)[0][1:3]
    dy = rng.standard_normal((n, oh, ow, cout)).astype(np.float32)
    add = rng.standard_normal(x_shape).astype(np.float32) if "add" in parts else None
    relu_of = np.maximum(rng.standard_normal(x_shape), 0).astype(np.float32) if "relu" in parts else None
    if relu_of is not None:
        relu_of.flat[3] = np.nan
    got = np.asarray(kernels.conv2d_backward_data(dy, wt, x_shape, strides=strides, padding=padding,
                                                  add=add, relu_of=relu_of))
    want = ref_bwd_data(dy, wt, x_shape, strides, padding)
    if add is not None:
        want = want + add
    if relu_of is not None:
        want = np.where(relu_of > 0, want, want * relu_of)
        assert np.isnan(got.flat[3])
        keep = ~np.isnan(want)
        np.testing.assert_allclose(got[keep], want[keep], rtol=1e-4, atol=1e-4)
        assert (got[relu_of == 0] == 0).all() and (got[relu_of > 0] != 0).any()
    else:
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    # the plain data gradient and sum_n_relu_grad give the same bits outside Winograd's rounding
    plain = np.asarray(kernels.conv2d_backward_data(dy, wt, x_shape, strides=strides, padding=padding))
    if add is not None and relu_of is not None:
        two = np.asarray(kernels.sum_n_relu_grad([plain, add], relu_of))
        np.testing.assert_allclose(got, two, rtol=1e-5, atol=1e-5)


def test_backward_data_relu_sum_checks_its_arguments(rng):
    x_shape, wt = (1, 6, 6, 4), np.ones((3, 3, 4, 4), np.float32)
    dy = np.ones((1, 6, 6, 4), np.float32)
    with pytest.raises(ValueError, match="conv2d_backward_data_relu_sum.*add"):
        kernels.conv2d_backward_data(dy, wt, x_shape, padding="same", add=np.ones((1, 6, 6, 3), np.float32))
    with pytest.raises(ValueError, match="conv2d_backward_data_relu_sum.*relu_of"):
        kernels.conv2d_backward_data(dy, wt, x_shape, padding="same", relu_of=np.ones((1, 5, 6, 4), np.float32))
    buf = np.zeros(x_shape, np.float32)
    with pytest.raises(ValueError, match="conv2d_backward_data_relu_sum.*(add|overlap|alias)"):
        kernels.conv2d_backward_data(dy, wt, x_shape, buf, padding="same", add=buf)


def test_backward_data_relu_sum_grouped(rng):
    """A grouped conv's data gradient (col2im per group) with the epilogue one pass after it."""
    x_shape, wt = (2, 6, 6, 8), (rng.standard_normal((3, 3, 4, 6)) * 0.3).astype(np.float32)
    dy = rng.standard_normal((2, 6, 6, 6)).astype(np.float32)
    add = rng.standard_normal(x_shape).astype(np.float32)
    relu_of = np.maximum(rng.standard_normal(x_shape), 0).astype(np.float32)
    got = np.asarray(kernels.conv2d_backward_data(dy, wt, x_shape, padding="same", groups=2,
                                                  add=add, relu_of=relu_of))
    plain = np.asarray(kernels.conv2d_backward_data(dy, wt, x_shape, padding="same", groups=2))
    want = np.where(relu_of > 0, plain + add, (plain + add) * relu_of)
    np.testing.assert_array_equal(got, want.astype(np.float32))
    assert (got != 0).any()
