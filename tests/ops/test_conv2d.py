"""conv2d forward / backward-data / backward-weights vs the float64 direct-loop reference."""
import itertools

import numpy as np
import pytest

from corenn import ops
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
    y = np.asarray(ops.conv2d(x, k, b, **args))
    assert y.shape == want.shape
    _close(y, want)
    y_relu = np.asarray(ops.conv2d(x, k, b, activation="relu", **args))
    _close(y_relu, np.maximum(want, 0))

    dy = rng.normal(size=want.shape).astype(np.float32)
    dx = np.asarray(ops.conv2d_backward_data(dy, k, x.shape, **args))
    _close(dx, ref_bwd_data(dy, k, x.shape, strides, padding, dilation))
    dw, db = ops.conv2d_backward_weights(x, dy, k.shape, bias=True, **args)
    want_dw, want_db = ref_bwd_weights(x, dy, k.shape, strides, padding, dilation)
    _close(np.asarray(dw), want_dw)
    _close(np.asarray(db), want_db)


@pytest.mark.parametrize("shape,padding", [((4, 12, 11, 60, 3, 3, 61), "same"),   # flipped-kernel dx
                                           ((3, 13, 13, 32, 3, 3, 64), "valid"),  # the CNN's conv 2: col2im dx
                                           ((3, 28, 28, 1, 3, 3, 32), "valid")])  # its conv 1: direct kernels
def test_conv2d_large_enough_for_threads_and_blocking(shape, padding, isa, rng):
    """Past the GEMM's block sizes (KC = 512, MC <= 72) and its parallel threshold: the packers
    start mid-tap (K = 540 forward, 549 for the stride-1 data gradient) and mid-image; the weight
    gradient splits its pixels over threads (partial dw and db per thread); the col2im data
    gradient splits an odd number of images over threads."""
    x, k, b = _data(rng, shape)
    args = dict(strides=(1, 1), padding=padding, dilation_rate=(1, 1))
    y = ops.conv2d(x, k, b, **args)
    want = ref_forward(x, k, b, (1, 1), padding, (1, 1))
    _close(np.asarray(y), want)
    dy = rng.normal(size=want.shape).astype(np.float32)
    _close(np.asarray(ops.conv2d_backward_data(dy, k, x.shape, **args)),
           ref_bwd_data(dy, k, x.shape, (1, 1), padding, (1, 1)))
    dw, db = ops.conv2d_backward_weights(x, dy, k.shape, bias=True, **args)
    want_dw, want_db = ref_bwd_weights(x, dy, k.shape, (1, 1), padding, (1, 1))
    _close(np.asarray(dw), want_dw)
    _close(np.asarray(db), want_db)


def test_same_padding_is_tensorflow_asymmetric():
    # H = 6, K = 3, stride 2: output 3, total padding 1 -> 0 before, 1 after (TF rule).
    assert ops.conv2d_output_shape((1, 6, 6, 1), 3, 4, 2, "same") == ((1, 3, 3, 4), (0, 0))
    assert ops.conv2d_output_shape((1, 5, 7, 1), (3, 4), 2, 1, "same") == ((1, 5, 7, 2), (1, 1))
    assert ops.conv2d_output_shape((2, 10, 10, 3), 3, 8, 1, "valid", 2) == ((2, 6, 6, 8), (0, 0))
    x = np.arange(36, dtype=np.float32).reshape(1, 6, 6, 1)
    k = np.ones((3, 3, 1, 1), np.float32)
    y = np.asarray(ops.conv2d(x, k, strides=2, padding="same"))
    _close(y, ref_forward(x, k, None, (2, 2), "same", (1, 1)))
    assert y[0, 0, 0, 0] == x[0, :3, :3, 0].sum()  # no padding before ...
    assert y[0, 2, 2, 0] == x[0, 4:, 4:, 0].sum()  # ... the padding row/column is after


def test_conv2d_bad_inputs_raise():
    x = np.zeros((1, 5, 5, 3), np.float32)
    k = np.zeros((3, 3, 3, 4), np.float32)
    with pytest.raises(ValueError, match="conv2d.*4-D"):
        ops.conv2d(np.zeros((5, 5, 3), np.float32), k)
    with pytest.raises(ValueError, match="conv2d_forward.*channels"):
        ops.conv2d(x, np.zeros((3, 3, 2, 4), np.float32))
    with pytest.raises(ValueError, match="conv2d.*smaller than the .*kernel"):
        ops.conv2d(x, np.zeros((7, 7, 3, 4), np.float32))
    with pytest.raises(ValueError, match="conv2d.*padding"):
        ops.conv2d(x, k, padding="full")
    with pytest.raises(ValueError, match="conv2d.*strides"):
        ops.conv2d(x, k, strides=0)
    with pytest.raises(ValueError, match="conv2d_forward.*bias"):
        ops.conv2d(x, k, np.zeros(5, np.float32))
    with pytest.raises(ValueError, match="conv2d_forward.*y"):
        ops.conv2d(x, k, out=np.zeros((1, 3, 3, 5), np.float32))
    with pytest.raises(TypeError, match="conv2d_forward"):
        ops.conv2d(x.astype(np.int32), k)
    with pytest.raises(ValueError, match="conv2d_forward.*activation"):
        ops.conv2d(x, k, activation="tanh")
    with pytest.raises(ValueError, match="conv2d_backward_data.*dy"):
        ops.conv2d_backward_data(np.zeros((1, 3, 3, 5), np.float32), k, x.shape)
    with pytest.raises(ValueError, match="conv2d_backward_weights.*db"):
        ops.conv2d_backward_weights(x, np.zeros((1, 3, 3, 4), np.float32), k.shape,
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
        "from corenn import ops\n"
        "from reference import conv2d_forward, conv2d_backward_data, conv2d_backward_weights\n"
        "rng = np.random.default_rng(0)\n"
        "x = rng.normal(size=(2, 7, 6, 5)).astype(np.float32)\n"
        "k = rng.normal(size=(3, 2, 5, 7)).astype(np.float32)\n"
        "for s, p in (((1, 1), 'same'), ((2, 1), 'valid')):\n"
        "    y = np.asarray(ops.conv2d(x, k, strides=s, padding=p, activation='relu'))\n"
        "    want = np.maximum(conv2d_forward(x, k, None, s, p, (1, 1)), 0)\n"
        "    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-4)\n"
        "    dy = rng.normal(size=want.shape).astype(np.float32)\n"
        "    dx = ops.conv2d_backward_data(dy, k, x.shape, strides=s, padding=p)\n"
        "    np.testing.assert_allclose(dx, conv2d_backward_data(dy, k, x.shape, s, p), rtol=1e-4, atol=1e-4)\n"
        "    dw = ops.conv2d_backward_weights(x, dy, k.shape, strides=s, padding=p)\n"
        "    np.testing.assert_allclose(dw, conv2d_backward_weights(x, dy, k.shape, s, p)[0], rtol=1e-4, atol=1e-4)\n"
        "print('ok')\n")
    env = dict(os.environ, CORENN_GEMM_KC="8", CORENN_GEMM_MC="6", CORENN_GEMM_NC="16",
               PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


@pytest.mark.parametrize("shape,padding", [((3, 28, 28, 1, 3, 3, 32), "valid"), ((2, 9, 8, 3, 3, 3, 16), "same"),
                                           ((2, 7, 7, 2, 3, 3, 32), "same"), ((1, 6, 5, 4, 2, 2, 48), "valid"),
                                           ((2, 6, 6, 20, 3, 3, 8), "valid")])  # wide Cin: the unfused path
def test_conv2d_relu_max_pool2d_matches_conv_then_pool(shape, padding, isa, rng):
    """The fused first-layer pass equals relu(conv) followed by 2x2 max pooling: values against the
    float64 reference, argmax identical to max_pool2d_forward's (ties: an all-zero image, where every
    window is relu(bias <= 0) = 0, must point at each window's first cell)."""
    x, k, b = _data(rng, shape)
    x[0] = 0.0
    b[::2] = -np.abs(b[::2])
    y, argmax = ops.conv2d_relu_max_pool2d(x, k, b, padding=padding)
    z = np.maximum(ref_forward(x, k, b, (1, 1), padding, (1, 1)), 0.0)
    n, oh, ow, c = z.shape
    want = z[:, :oh // 2 * 2, :ow // 2 * 2].reshape(n, oh // 2, 2, ow // 2, 2, c).max(axis=(2, 4))
    _close(np.asarray(y), want)
    _, want_argmax = ops.max_pool2d_forward(ops.conv2d(x, k, b, padding=padding, activation="relu"), 2, 2)
    np.testing.assert_array_equal(np.asarray(argmax), np.asarray(want_argmax))


def test_conv2d_relu_max_pool2d_bad_inputs_raise():
    x = np.zeros((2, 8, 8, 1), np.float32)
    k = np.zeros((3, 3, 1, 16), np.float32)
    with pytest.raises(ValueError, match="conv2d_relu_max_pool2d_forward: x .* has 2 channels but w .* expects 1"):
        ops.conv2d_relu_max_pool2d(np.zeros((2, 8, 8, 2), np.float32), k)
    with pytest.raises(ValueError, match="conv2d_relu_max_pool2d_forward.*bias"):
        ops.conv2d_relu_max_pool2d(x, k, np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="conv2d_relu_max_pool2d_forward.*y"):
        ops.conv2d_relu_max_pool2d(x, k, out=ops.empty((2, 6, 6, 16)))
    with pytest.raises(ValueError, match="smaller than the 2x2 pooling window"):
        ops.conv2d_relu_max_pool2d(np.zeros((1, 3, 8, 1), np.float32), k)
