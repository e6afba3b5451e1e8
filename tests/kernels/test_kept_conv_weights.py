"""What a conv keeps on its weight at inference (conv2d_forward's keep_w; core/kept_derived.h).

The implicit GEMM's and the 1x1 conv's packed panels (the GEMM's packed-B cache) and the Winograd
transform G w G^T (cpu/conv2d.cpp) are made on the second sight of a (weight, write version) and
reused from then on. keep_w must give the same bits as without, follow every write to the
weight (never a stale kernel), and never keep anything for memory it cannot vouch for.
"""
import numpy as np
import pytest

import corenn
from corenn import Tensor, kernels

import reference as ref

ISAS = ["ref"] + (["avx2"] if corenn._C.cpu_has_avx2_fma() else []) + \
    (["avx512"] if corenn._C.cpu_has_avx512() else [])

# (name, input shape, kernel shape, padding, the forward algorithm the shape is meant to take on
# avx2 / avx512; the reference ISA runs the implicit GEMM everywhere but 1x1)
CASES = [
    ("implicit_gemm", (1, 5, 5, 64), (3, 3, 64, 64), "valid"),       # batch 1: 9 output pixels
    ("implicit_gemm_5x5", (2, 9, 9, 16), (5, 5, 16, 24), "same"),
    ("winograd", (1, 13, 13, 32), (3, 3, 32, 64), "valid"),
    ("winograd_tail", (3, 10, 10, 20), (3, 3, 20, 36), "same"),
    ("pointwise", (2, 7, 7, 40), (1, 1, 40, 48), "valid"),
]


def _conv(x, w, b=None, padding="valid", activation="none"):
    """The float64 reference conv (tests/reference.py), relu applied where asked."""
    y = ref.conv2d_forward(x, w, b, padding=padding)
    return np.maximum(y, 0) if activation == "relu" else y


def _owned(a):
    """A corenn-owned Tensor holding a (its write versions can vouch for its contents)."""
    t = kernels.empty(a.shape)
    t.copy_(Tensor.from_numpy(np.ascontiguousarray(a, np.float32)))
    return t


def _counts():
    p, w = kernels._packed_b_stats(), kernels._winograd_kernel_stats()
    return p["packs"] + w["makes"], p["hits"] + w["hits"], p["untrusted"] + w["untrusted"]


@pytest.fixture(params=ISAS)
def isa(request):
    old = corenn._C.get_isa()
    corenn._C.set_isa(request.param)
    yield request.param
    corenn._C.set_isa(old)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name, xs, ws, padding", CASES, ids=[c[0] for c in CASES])
def test_keep_w_is_bit_identical_and_prepares_once(isa, threads, name, xs, ws, padding):
    old_threads = corenn.get_num_threads()
    corenn.set_num_threads(threads)
    try:
        rng = np.random.default_rng(0)
        x = rng.standard_normal(xs).astype(np.float32)
        wa = rng.standard_normal(ws).astype(np.float32) / np.float32(np.sqrt(np.prod(ws[:3])))
        bias = rng.standard_normal(ws[3]).astype(np.float32)
        w = _owned(wa)
        plain = kernels.conv2d(x, w, bias, padding=padding, activation="relu").numpy()
        np.testing.assert_allclose(plain, _conv(x, wa, bias, padding=padding, activation="relu"),
                                   rtol=1e-4, atol=1e-4)
        made0, hits0, _ = _counts()
        outs = [kernels.conv2d(x, w, bias, padding=padding, activation="relu", keep_w=True).numpy()
                for _ in range(4)]
        made1, hits1, _ = _counts()
        for out in outs:
            np.testing.assert_array_equal(out, plain)   # the same panels / transform: the same bits
        # the first call sees (w, version) once, the second prepares and keeps, two more reuse;
        # a batch whose rows the GEMM reads in place prepares nothing (nothing to keep)
        if made1 > made0:
            assert made1 - made0 == 1
            assert hits1 - hits0 == 2
        algo = kernels.conv2d_algorithms(xs, ws, padding=padding)["forward"]
        if algo.startswith("winograd") and isa == "avx2" or algo == "implicit_gemm":
            assert made1 - made0 == 1, f"{algo} kept nothing"
    finally:
        corenn.set_num_threads(old_threads)


@pytest.mark.parametrize("name, xs, ws, padding", CASES, ids=[c[0] for c in CASES])
def test_a_written_weight_is_never_served_stale(isa, name, xs, ws, padding):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(xs).astype(np.float32)
    wa = rng.standard_normal(ws).astype(np.float32)
    w = _owned(wa)
    for _ in range(3):   # kept from the second call on
        kernels.conv2d(x, w, padding=padding, keep_w=True)
    # an op entry writes it (the optimizer's path) ...
    wb = rng.standard_normal(ws).astype(np.float32)
    w.copy_(Tensor.from_numpy(wb))
    for _ in range(3):
        np.testing.assert_allclose(kernels.conv2d(x, w, padding=padding, keep_w=True).numpy(),
                                   _conv(x, wb, padding=padding), rtol=1e-4, atol=1e-4)
    # ... and a writable NumPy export (set_weights, load_weights, assign)
    np.asarray(w)[...] *= -0.5
    for _ in range(3):
        np.testing.assert_allclose(kernels.conv2d(x, w, padding=padding, keep_w=True).numpy(),
                                   _conv(x, -0.5 * wb, padding=padding), rtol=1e-4, atol=1e-4)


def test_borrowed_weights_are_never_kept(isa):
    """A weight whose memory belongs to a NumPy array can change without corenn seeing it."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 13, 13, 32)).astype(np.float32)
    wa = rng.standard_normal((3, 3, 32, 64)).astype(np.float32)
    w = Tensor.from_numpy(wa)
    made0, _, untrusted0 = _counts()
    for _ in range(3):
        kernels.conv2d(x, w, keep_w=True)
    wa[...] = 1.0
    np.testing.assert_allclose(kernels.conv2d(x, w, keep_w=True).numpy(), _conv(x, wa),
                               rtol=1e-4, atol=1e-4)
    made1, _, untrusted1 = _counts()
    assert made1 == made0
    if isa != "ref" or kernels.conv2d_algorithms(x.shape, wa.shape)["forward"] != "implicit_gemm":
        assert untrusted1 > untrusted0


def test_conv_relu_pool_keeps_the_conv_kernel(isa):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 13, 13, 32)).astype(np.float32)
    wa = rng.standard_normal((3, 3, 32, 64)).astype(np.float32) / 17
    w = _owned(wa)
    plain_y, plain_am = (t.numpy() for t in kernels.conv2d_relu_max_pool2d(x, w))
    outs = [tuple(t.numpy() for t in kernels.conv2d_relu_max_pool2d(x, w, keep_w=True)) for _ in range(3)]
    for y, am in outs:
        np.testing.assert_array_equal(y, plain_y)
        np.testing.assert_array_equal(am, plain_am)
    w.copy_(Tensor.from_numpy(-wa))
    y, _ = kernels.conv2d_relu_max_pool2d(x, w, keep_w=True)
    z = np.maximum(_conv(x, -wa), 0)
    np.testing.assert_allclose(y.numpy(), z[:, :10, :10].reshape(1, 5, 2, 5, 2, 64).max(axis=(2, 4)),
                               rtol=1e-4, atol=1e-4)


def test_predict_follows_set_weights_and_training():
    """The layer path: predict keeps the conv kernels; set_weights and a training step change
    them, and the next predict sees the change."""
    corenn.utils.set_random_seed(0)
    L = corenn.layers
    model = corenn.Sequential([L.Input(shape=(13, 13, 32)), L.Conv2D(64, 3, activation="relu"),
                               L.Conv2D(16, 3), L.Conv2D(8, 1), L.Flatten(), L.Dense(3)])
    model.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(4)
    x = rng.standard_normal((1, 13, 13, 32)).astype(np.float32)

    def reference_out():
        w = model.get_weights()
        h = np.maximum(_conv(x, w[0], w[1]), 0)
        h = _conv(_conv(h, w[2], w[3]), w[4], w[5])
        return h.reshape(1, -1) @ w[6] + w[7]

    for _ in range(3):
        out = model.predict_on_batch(x)
    np.testing.assert_allclose(out, reference_out(), rtol=1e-4, atol=1e-4)
    model.set_weights([v * 0.5 for v in model.get_weights()])
    for _ in range(3):
        np.testing.assert_allclose(model.predict_on_batch(x), reference_out(), rtol=1e-4, atol=1e-4)
    model.train_on_batch(np.repeat(x, 4, 0), rng.standard_normal((4, 3)).astype(np.float32))
    for _ in range(3):
        np.testing.assert_allclose(model.predict_on_batch(x), reference_out(), rtol=1e-4, atol=1e-4)
