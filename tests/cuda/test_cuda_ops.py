"""CUDA ops against the CPU ops (which tests/kernels checks against NumPy), forward and backward.

Every test here needs a CUDA device; they skip with a clear reason elsewhere. Tolerances: the
GPU accumulates in a different order than the CPU (and uses its own exp/erf), so results agree to
float32 rounding, not bit for bit.
"""
import numpy as np
import pytest

import corenn
from corenn import Tensor, kernels

pytestmark = pytest.mark.skipif(not corenn.cuda.is_available(),
                                reason="no CUDA device (corenn.cuda.is_available() is False)")

RTOL, ATOL = 1e-5, 1e-5


def gpu(a):
    return Tensor.from_numpy(np.ascontiguousarray(a)).to("cuda")


def host(t):
    return t.numpy() if isinstance(t, Tensor) else np.asarray(t)


# ---- tensors and runtime ----------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64])
def test_round_trip_to_the_device_and_back(rng, dtype):
    a = (rng.standard_normal((5, 7)) * 100).astype(dtype)
    t = gpu(a)
    assert t.device == "cuda:0" and t.is_cuda and t.dtype == np.dtype(dtype).name
    np.testing.assert_array_equal(t.numpy(), a)
    np.testing.assert_array_equal(np.asarray(t), a)  # __array__ copies back
    np.testing.assert_array_equal(t.cpu().numpy(), a)
    assert t.cpu().device == "cpu" and t.to("cuda:0") is not None


def test_zeros_fill_and_copy_on_the_device():
    z = Tensor.zeros([3, 4], "float32", "cuda")
    np.testing.assert_array_equal(z.numpy(), np.zeros((3, 4), np.float32))
    z.fill_(2.5)
    np.testing.assert_array_equal(z.numpy(), np.full((3, 4), 2.5, np.float32))
    src = np.arange(12, dtype=np.float32).reshape(3, 4)
    z.copy_(Tensor.from_numpy(src))  # host -> device
    back = Tensor.zeros([3, 4])
    back.copy_(z)  # device -> host
    np.testing.assert_array_equal(back.numpy(), src)


def test_caching_allocator_reuses_blocks():
    for _ in range(3):
        Tensor.empty([1000, 1000], "float32", "cuda")
    before = corenn.cuda.memory_stats()["device_mallocs"]
    for _ in range(10):
        Tensor.empty([1000, 1000], "float32", "cuda")
    assert corenn.cuda.memory_stats()["device_mallocs"] == before
    corenn.cuda.empty_cache()
    assert corenn.cuda.memory_stats()["cached_bytes"] == 0


def test_dlpack_round_trip_shares_device_memory(rng):
    t = gpu(rng.standard_normal((4, 5)).astype(np.float32))
    back = Tensor.from_dlpack(t.__dlpack__())
    assert back.device == "cuda:0" and back.data_ptr == t.data_ptr
    assert t.__dlpack_device__() == (2, 0)


def test_dlpack_with_torch_without_a_copy(rng):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA")
    x = torch.arange(12, dtype=torch.float32, device="cuda").reshape(3, 4)
    t = Tensor.from_dlpack(x)
    assert t.device == "cuda:0" and t.data_ptr == x.data_ptr()
    y = torch.from_dlpack(t)
    assert y.data_ptr() == x.data_ptr()
    np.testing.assert_array_equal(t.numpy(), x.cpu().numpy())


def test_mixing_devices_is_a_value_error():
    a = gpu(np.ones((2, 3), np.float32))
    b = Tensor.from_numpy(np.ones((3, 2), np.float32))
    with pytest.raises(ValueError, match="gemm: a is on cuda:0 but b is on cpu"):
        kernels.gemm(a, b)


def test_ops_without_a_cuda_kernel_say_so():
    x = gpu(np.ones((2, 4, 4, 3), np.float32))
    with pytest.raises(NotImplementedError, match="spatial_dropout_forward.*cuda:0"):
        kernels.spatial_dropout_forward(x, 0.5, 1)


# ---- gemm --------------------------------------------------------------------------------------

@pytest.mark.parametrize("m, n, k", [(1, 1, 1), (7, 5, 3), (64, 64, 16), (65, 130, 33),
                                     (200, 96, 300)])
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
def test_gemm_matches_cpu(rng, m, n, k, trans_a, trans_b):
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(np.float32)
    want = kernels.gemm(a, b, trans_a=trans_a, trans_b=trans_b).numpy()
    got = kernels.gemm(gpu(a), gpu(b), trans_a=trans_a, trans_b=trans_b).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("activation", ["none", "relu"])
def test_gemm_epilogue_alpha_beta_bias_relu(rng, activation):
    m, n, k = 37, 70, 45
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    c = rng.standard_normal((m, n)).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32)
    want = c.copy()
    kernels.gemm(a, b, want, alpha=0.5, beta=2.0, bias=bias, activation=activation)
    cd = gpu(c)
    kernels.gemm(gpu(a), gpu(b), cd, alpha=0.5, beta=2.0, bias=gpu(bias), activation=activation)
    np.testing.assert_allclose(cd.numpy(), want, rtol=1e-4, atol=1e-4)


def test_gemm_beta_zero_ignores_nan_in_c(rng):
    a = rng.standard_normal((8, 9)).astype(np.float32)
    b = rng.standard_normal((9, 10)).astype(np.float32)
    c = gpu(np.full((8, 10), np.nan, np.float32))
    kernels.gemm(gpu(a), gpu(b), c)
    np.testing.assert_allclose(c.numpy(), a @ b, rtol=1e-4, atol=1e-4)


# ---- conv2d (implicit GEMM) ------------------------------------------------------------------------

CONVS = [  # x shape, kernel (KH, KW, Cout), strides, padding, dilation
    ((2, 8, 8, 3), (3, 3, 4), 1, "valid", 1),
    ((2, 9, 7, 5), (3, 3, 8), 2, "same", 1),
    ((1, 10, 11, 2), (2, 3, 70), (1, 2), "same", 1),
    ((3, 12, 12, 4), (3, 3, 6), 1, "valid", 2),
    ((2, 5, 5, 16), (1, 1, 9), 1, "valid", 1),
]


@pytest.mark.parametrize("x_shape, kernel, strides, padding, dilation", CONVS)
def test_conv2d_forward_and_backward_match_cpu(rng, x_shape, kernel, strides, padding, dilation):
    kh, kw, cout = kernel
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal((kh, kw, x_shape[3], cout)).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    kw_args = dict(strides=strides, padding=padding, dilation_rate=dilation)
    for act in ("none", "relu"):
        y = kernels.conv2d(x, w, b, activation=act, **kw_args).numpy()
        yg = kernels.conv2d(gpu(x), gpu(w), gpu(b), activation=act, **kw_args).numpy()
        np.testing.assert_allclose(yg, y, rtol=1e-4, atol=1e-4)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx = kernels.conv2d_backward_data(dy, w, x_shape, **kw_args).numpy()
    dxg = kernels.conv2d_backward_data(gpu(dy), gpu(w), x_shape, **kw_args).numpy()
    np.testing.assert_allclose(dxg, dx, rtol=1e-4, atol=1e-4)
    dw, db = kernels.conv2d_backward_weights(x, dy, w.shape, bias=True, **kw_args)
    dwg, dbg = kernels.conv2d_backward_weights(gpu(x), gpu(dy), w.shape, bias=True, **kw_args)
    np.testing.assert_allclose(dwg.numpy(), dw.numpy(), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(dbg.numpy(), db.numpy(), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_conv2d_relu_max_pool2d_matches_cpu(rng, padding):
    x = rng.standard_normal((2, 11, 10, 3)).astype(np.float32)
    w = rng.standard_normal((3, 3, 3, 8)).astype(np.float32)
    b = rng.standard_normal(8).astype(np.float32)
    y, am = kernels.conv2d_relu_max_pool2d(x, w, b, padding=padding)
    yg, amg = kernels.conv2d_relu_max_pool2d(gpu(x), gpu(w), gpu(b), padding=padding)
    np.testing.assert_allclose(yg.numpy(), y.numpy(), rtol=1e-4, atol=1e-4)
    assert (amg.numpy() == am.numpy()).mean() > 0.99  # ties within rounding may pick another cell


# ---- activations and bias_grad -----------------------------------------------------------------

@pytest.mark.parametrize("kind", kernels.ACTIVATIONS)
@pytest.mark.parametrize("shape", [(3, 5), (17, 300), (2, 1500)])
def test_activation_forward_and_backward_match_cpu(rng, kind, shape):
    alpha = 0.2 if kind in ("leaky_relu", "elu") else 0.0
    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    dy = rng.standard_normal(shape).astype(np.float32)
    y = kernels.activation_forward(kind, x, alpha=alpha).numpy()
    dx = kernels.activation_backward(kind, x, y, dy, alpha=alpha).numpy()
    yg = kernels.activation_forward(kind, gpu(x), alpha=alpha)
    dxg = kernels.activation_backward(kind, gpu(x), yg, gpu(dy), alpha=alpha)
    np.testing.assert_allclose(yg.numpy(), y, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(dxg.numpy(), dx, rtol=1e-4, atol=1e-5)


def test_activation_in_place_on_the_device(rng):
    x = rng.standard_normal((9, 11)).astype(np.float32)
    t = gpu(x)
    kernels.activation_forward("relu", t, out=t)
    np.testing.assert_array_equal(t.numpy(), np.maximum(x, 0))


@pytest.mark.parametrize("shape", [(1, 1), (5, 3), (300, 70), (4, 6, 6, 33)])
def test_bias_grad_matches_cpu(rng, shape):
    dy = rng.standard_normal(shape).astype(np.float32)
    np.testing.assert_allclose(kernels.bias_grad(gpu(dy)).numpy(), kernels.bias_grad(dy).numpy(),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("rate", [0.0, 0.3, 0.9])
def test_dropout_draws_the_cpu_mask_for_the_same_seed(rng, rate):
    x = rng.standard_normal((37, 129)).astype(np.float32)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    y, mask = kernels.dropout_forward(x, rate, 1234)
    yg, mg = kernels.dropout_forward(gpu(x), rate, 1234)
    np.testing.assert_array_equal(mg.numpy(), mask.numpy())
    np.testing.assert_array_equal(yg.numpy(), y.numpy())
    np.testing.assert_array_equal(kernels.dropout_backward(gpu(dy), mg).numpy(),
                                  kernels.dropout_backward(dy, mask).numpy())


# ---- pooling -----------------------------------------------------------------------------------

POOLS = [((2, 2), (2, 2), "valid"), ((3, 3), (2, 2), "same"), ((3, 2), (1, 2), "valid"),
         ((2, 2), (1, 1), "same")]


@pytest.mark.parametrize("pool_size, strides, padding", POOLS)
def test_max_and_avg_pool2d_match_cpu(rng, pool_size, strides, padding):
    x = rng.standard_normal((2, 9, 7, 5)).astype(np.float32)
    x[0, :2, :2, 0] = 1.0  # ties: the first cell must win on both devices
    y, am = kernels.max_pool2d_forward(x, pool_size, strides, padding)
    yg, amg = kernels.max_pool2d_forward(gpu(x), pool_size, strides, padding)
    np.testing.assert_array_equal(yg.numpy(), y.numpy())
    np.testing.assert_array_equal(amg.numpy(), am.numpy())
    dy = rng.standard_normal(y.shape).astype(np.float32)
    np.testing.assert_allclose(
        kernels.max_pool2d_backward(gpu(dy), amg, x.shape, pool_size, strides, padding).numpy(),
        kernels.max_pool2d_backward(dy, am, x.shape, pool_size, strides, padding).numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(kernels.avg_pool2d_forward(gpu(x), pool_size, strides, padding).numpy(),
                               kernels.avg_pool2d_forward(x, pool_size, strides, padding).numpy(),
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(
        kernels.avg_pool2d_backward(gpu(dy), x.shape, pool_size, strides, padding).numpy(),
        kernels.avg_pool2d_backward(dy, x.shape, pool_size, strides, padding).numpy(), rtol=1e-5, atol=1e-6)


def test_global_pooling_matches_cpu(rng):
    x = rng.standard_normal((3, 5, 4, 6)).astype(np.float32)
    dy = rng.standard_normal((3, 6)).astype(np.float32)
    np.testing.assert_allclose(kernels.global_avg_pool2d_forward(gpu(x)).numpy(),
                               kernels.global_avg_pool2d_forward(x).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(kernels.global_avg_pool2d_backward(gpu(dy), x.shape).numpy(),
                               kernels.global_avg_pool2d_backward(dy, x.shape).numpy(), rtol=1e-6)
    y, am = kernels.global_max_pool2d_forward(x)
    yg, amg = kernels.global_max_pool2d_forward(gpu(x))
    np.testing.assert_array_equal(yg.numpy(), y.numpy())
    np.testing.assert_array_equal(amg.numpy(), am.numpy())
    np.testing.assert_array_equal(kernels.global_max_pool2d_backward(gpu(dy), amg, x.shape).numpy(),
                                  kernels.global_max_pool2d_backward(dy, am, x.shape).numpy())


@pytest.mark.parametrize("padding", [1, ((1, 2), (0, 3))])
def test_zero_pad2d_matches_cpu(rng, padding):
    x = rng.standard_normal((2, 5, 4, 3)).astype(np.float32)
    y = kernels.zero_pad2d_forward(x, padding).numpy()
    yg = kernels.zero_pad2d_forward(gpu(x), padding)
    np.testing.assert_array_equal(yg.numpy(), y)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    np.testing.assert_array_equal(kernels.zero_pad2d_backward(gpu(dy), padding).numpy(),
                                  kernels.zero_pad2d_backward(dy, padding).numpy())


@pytest.mark.parametrize("l1, l2", [(0.01, 0.0), (0.0, 0.02), (0.01, 0.02)])
def test_regularizer_penalty_and_gradient_match_cpu(rng, l1, l2):
    w = rng.standard_normal(100_003).astype(np.float32)
    w[:10] = 0.0  # sign(0) = 0
    g = rng.standard_normal(w.shape).astype(np.float32)
    gg = gpu(g)
    got = kernels.regularizer_penalty(gpu(w), gg, l1=l1, l2=l2)
    want = kernels.regularizer_penalty(w, g, l1=l1, l2=l2)
    assert got == pytest.approx(want, rel=1e-6)
    np.testing.assert_allclose(gg.numpy(), g, rtol=1e-6, atol=1e-7)


# ---- losses --------------------------------------------------------------------------------------

def _targets(rng, kind, shape):
    n, c = shape
    if kind == "sparse_categorical_crossentropy":
        return rng.integers(0, c, n).astype(np.int64)
    if kind in ("categorical_crossentropy",):
        return np.eye(c, dtype=np.float32)[rng.integers(0, c, n)]
    if kind == "binary_crossentropy":
        return (rng.random(shape) > 0.5).astype(np.float32)
    return rng.standard_normal(shape).astype(np.float32)


# the losses csrc/cuda/loss.cu implements; the others raise NotImplementedError on a GPU tensor
CUDA_LOSSES = kernels.LOSSES[:kernels.LOSSES.index("sparse_categorical_crossentropy") + 1]


@pytest.mark.parametrize("kind", [k for k in kernels.LOSSES if k not in CUDA_LOSSES])
def test_cpu_only_losses_refuse_gpu_tensors(kind):
    pred = np.full((2, 3), 0.5, np.float32)
    with pytest.raises(NotImplementedError, match=kind):
        kernels.loss_forward(kind, gpu(pred), gpu(pred))


@pytest.mark.parametrize("kind", CUDA_LOSSES)
@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_loss_value_and_gradient_match_cpu(rng, kind, from_logits, weighted):
    shape = (33, 10)
    if from_logits or kind not in ("binary_crossentropy", "categorical_crossentropy",
                                   "sparse_categorical_crossentropy"):
        pred = rng.standard_normal(shape).astype(np.float32) * 2
    else:
        pred = rng.random(shape).astype(np.float32) * 0.98 + 0.01
    true = _targets(rng, kind, shape)
    w = rng.random(shape[0]).astype(np.float32) if weighted else None
    g = np.zeros(shape, np.float32)
    want = kernels.loss_forward(kind, pred, true, g, from_logits=from_logits, sample_weight=w)
    gg = Tensor.zeros(list(shape), "float32", "cuda")
    got = kernels.loss_forward(kind, gpu(pred), gpu(true), gg, from_logits=from_logits,
                           sample_weight=None if w is None else gpu(w))
    assert got == pytest.approx(want, rel=1e-6, abs=1e-7)
    np.testing.assert_allclose(gg.numpy(), g, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("kind", ["sparse_categorical", "categorical", "binary"])
def test_accuracy_count_matches_cpu(rng, kind):
    pred = rng.random((300, 7)).astype(np.float32)
    pred[::5, 2] = pred[::5, 3]  # ties: the first maximum wins on both devices
    if kind == "sparse_categorical":
        true = rng.integers(0, 7, 300).astype(np.int32)
    elif kind == "categorical":
        true = np.eye(7, dtype=np.float32)[rng.integers(0, 7, 300)]
    else:
        true = (rng.random((300, 7)) > 0.5).astype(np.float32)
    assert kernels.accuracy_count(kind, gpu(pred), gpu(true)) == kernels.accuracy_count(kind, pred, true)
    if kind == "sparse_categorical":
        true[11] = 9
        with pytest.raises(ValueError, match="label 9 at row 11 is out of range"):
            kernels.accuracy_count(kind, gpu(pred), gpu(true))


def test_loss_reports_bad_labels_and_nan_targets():
    pred = gpu(np.zeros((3, 4), np.float32))
    with pytest.raises(ValueError, match="label 7 at row 1 is out of range"):
        kernels.loss_forward("sparse_categorical_crossentropy", pred, gpu(np.array([0, 7, 1])))
    t = np.zeros((3, 4), np.float32)
    t[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN at row 2"):
        kernels.loss_forward("mean_squared_error", pred, gpu(t))


# ---- optimizers ------------------------------------------------------------------------------------

SHAPES = [(7, 3), (1000,), (3, 3, 4, 8), (1,)]


def _params(rng):
    return [rng.standard_normal(s).astype(np.float32) for s in SHAPES]


CLIPS = [{}, dict(clipvalue=0.1), dict(clipnorm=0.5), dict(global_clipnorm=1.0),
         dict(weight_decay=0.01)]


@pytest.mark.parametrize("momentum, nesterov", [(0.0, False), (0.9, False), (0.9, True)])
@pytest.mark.parametrize("clip", CLIPS)
def test_sgd_update_matches_cpu(rng, momentum, nesterov, clip):
    p, g = _params(rng), _params(rng)
    m = [np.zeros_like(x) for x in p] if momentum else []
    pg, gg, mg = [gpu(x) for x in p], [gpu(x) for x in g], [gpu(x) for x in m]
    for _ in range(3):
        kernels.sgd_update(p, g, m, lr=0.1, momentum=momentum, nesterov=nesterov, **clip)
        kernels.sgd_update(pg, gg, mg, lr=0.1, momentum=momentum, nesterov=nesterov, **clip)
    for a, b in zip(pg + mg, p + m):
        np.testing.assert_allclose(a.numpy(), b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("clip", CLIPS)
def test_adam_update_matches_cpu(rng, amsgrad, clip):
    p, g = _params(rng), _params(rng)
    m = [np.zeros_like(x) for x in p]
    v = [np.zeros_like(x) for x in p]
    vh = [np.zeros_like(x) for x in p] if amsgrad else []
    dev = [[gpu(x) for x in xs] for xs in (p, g, m, v, vh)]
    for step in range(3):
        kernels.adam_update(p, g, m, v, vh, lr=0.01, step=step, amsgrad=amsgrad, **clip)
        kernels.adam_update(*dev, lr=0.01, step=step, amsgrad=amsgrad, **clip)
    for a, b in zip(dev[0] + dev[2] + dev[3] + dev[4], p + m + v + vh):
        np.testing.assert_allclose(a.numpy(), b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("centered", [False, True])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("clip", CLIPS)
def test_rmsprop_update_matches_cpu(rng, centered, momentum, clip):
    p, g = _params(rng), _params(rng)
    vel = [np.zeros_like(x) for x in p]
    mom = [np.zeros_like(x) for x in p] if momentum else []
    avg = [np.zeros_like(x) for x in p] if centered else []
    dev = [[gpu(x) for x in xs] for xs in (p, g, vel, mom, avg)]
    for _ in range(3):
        kernels.rmsprop_update(p, g, vel, mom, avg, lr=0.01, momentum=momentum, centered=centered, **clip)
        kernels.rmsprop_update(*dev, lr=0.01, momentum=momentum, centered=centered, **clip)
    for a, b in zip(dev[0] + dev[2] + dev[3] + dev[4], p + vel + mom + avg):
        np.testing.assert_allclose(a.numpy(), b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("clip", CLIPS)
def test_adagrad_update_matches_cpu(rng, clip):
    p, g = _params(rng), _params(rng)
    acc = [np.full_like(x, 0.1) for x in p]
    dev = [[gpu(x) for x in xs] for xs in (p, g, acc)]
    for _ in range(3):
        kernels.adagrad_update(p, g, acc, lr=0.05, **clip)
        kernels.adagrad_update(*dev, lr=0.05, **clip)
    for a, b in zip(dev[0] + dev[2], p + acc):
        np.testing.assert_allclose(a.numpy(), b, rtol=1e-5, atol=1e-6)


# ---- batch normalization ------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(64, 5, 5, 40), (3, 7), (1000, 33)])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_train_and_backward_match_cpu(rng, shape, affine):
    c = shape[-1]
    x = (rng.standard_normal(shape) * 3 + 1).astype(np.float32)
    dy = rng.standard_normal(shape).astype(np.float32)
    gamma = rng.standard_normal(c).astype(np.float32) if affine else None
    beta = rng.standard_normal(c).astype(np.float32) if affine else None
    mm, mv = rng.standard_normal(c).astype(np.float32), rng.random(c).astype(np.float32)
    mm_g, mv_g = gpu(mm), gpu(mv)
    y, mean, inv = kernels.batch_norm_forward_train(x, gamma, beta, moving_mean=mm, moving_variance=mv)
    yg, mean_g, inv_g = kernels.batch_norm_forward_train(
        gpu(x), gamma if gamma is None else gpu(gamma), beta if beta is None else gpu(beta),
        moving_mean=mm_g, moving_variance=mv_g)
    for a, b in ((yg, y), (mean_g, mean), (inv_g, inv), (mm_g, mm), (mv_g, mv)):
        np.testing.assert_allclose(host(a), host(b), rtol=1e-5, atol=1e-5)
    for training in (True, False):
        dg, db = kernels.zeros((c,)), kernels.zeros((c,))
        dg_g, db_g = gpu(np.zeros(c, np.float32)), gpu(np.zeros(c, np.float32))
        dx = kernels.batch_norm_backward(dy, x, gamma, mean, inv, dgamma=dg, dbeta=db, training=training)
        dx_g = kernels.batch_norm_backward(gpu(dy), gpu(x), gamma if gamma is None else gpu(gamma), mean_g,
                                       inv_g, dgamma=dg_g, dbeta=db_g, training=training)
        for a, b in ((dx_g, dx), (dg_g, dg), (db_g, db)):
            np.testing.assert_allclose(host(a), host(b), rtol=1e-4, atol=1e-4)


def test_batch_norm_inference_matches_cpu_and_checks_the_variance(rng):
    x = rng.standard_normal((16, 9)).astype(np.float32)
    gamma, beta = rng.standard_normal(9).astype(np.float32), rng.standard_normal(9).astype(np.float32)
    mm, mv = rng.standard_normal(9).astype(np.float32), rng.random(9).astype(np.float32)
    want = kernels.batch_norm_forward_infer(x, gamma, beta, mm, mv)
    got = kernels.batch_norm_forward_infer(gpu(x), gpu(gamma), gpu(beta), gpu(mm), gpu(mv))
    np.testing.assert_allclose(host(got), host(want), rtol=1e-5, atol=1e-5)
    mv[4] = -1.0
    with pytest.raises(ValueError, match=r"moving_var\[4\]"):
        kernels.batch_norm_forward_infer(gpu(x), gpu(gamma), gpu(beta), gpu(mm), gpu(mv))


# ---- RMS normalization --------------------------------------------------------------------------

@pytest.mark.parametrize("shape,k", [((7, 5), 1), ((3, 4, 1031), 1), ((2, 3, 4, 5), 2), ((70000, 3), 1)])
@pytest.mark.parametrize("scaled", [True, False])
def test_rms_norm_forward_and_backward_match_cpu(rng, shape, k, scaled):
    tshape = shape[len(shape) - k:]
    x = (rng.standard_normal(shape) * 3 + 1).astype(np.float32)
    dy = rng.standard_normal(shape).astype(np.float32)
    gamma = rng.uniform(0.5, 2, tshape).astype(np.float32) if scaled else None
    gamma_g = None if gamma is None else gpu(gamma)
    y, inv = kernels.rms_norm_forward(x, gamma, norm_ndim=k)
    y_g, inv_g = kernels.rms_norm_forward(gpu(x), gamma_g, norm_ndim=k)
    for a, b in ((y_g, y), (inv_g, inv)):
        np.testing.assert_allclose(host(a), host(b), rtol=1e-5, atol=1e-5)
    dg, dg_g = kernels.zeros(tshape), gpu(np.zeros(tshape, np.float32))
    dx = kernels.rms_norm_backward(dy, x, gamma, inv, norm_ndim=k, dgamma=dg)
    dy_g = gpu(dy)
    dx_g = kernels.rms_norm_backward(dy_g, gpu(x), gamma_g, inv_g, norm_ndim=k, dgamma=dg_g, dx=dy_g)  # in place
    for a, b in ((dx_g, dx), (dg_g, dg)):
        np.testing.assert_allclose(host(a), host(b), rtol=1e-4, atol=1e-4)


# ---- embedding ----------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.float32])
def test_embedding_matches_cpu(rng, dtype):
    w = rng.standard_normal((50, 12)).astype(np.float32)
    idx = rng.integers(0, 50, size=(8, 30)).astype(dtype)  # repeats: the scatter-add accumulates
    dy = rng.standard_normal((8, 30, 12)).astype(np.float32)
    y = kernels.embedding_forward(idx, w)
    yg = kernels.embedding_forward(gpu(idx), gpu(w))
    np.testing.assert_array_equal(host(yg), host(y))
    dw = kernels.embedding_backward(idx, dy, 50)
    dwg = kernels.embedding_backward(gpu(idx), gpu(dy), 50)
    np.testing.assert_allclose(host(dwg), host(dw), rtol=1e-5, atol=1e-5)


def test_embedding_bad_indices_raise_before_any_write(rng):
    w = gpu(rng.standard_normal((5, 3)).astype(np.float32))
    with pytest.raises(ValueError, match=r"index out of range: indices\[2\] = 5"):
        kernels.embedding_forward(gpu(np.array([0, 4, 5, 7], np.int64)), w)
    with pytest.raises(ValueError, match=r"whole numbers.*indices\[1\] = 1.5"):
        kernels.embedding_forward(gpu(np.array([0, 1.5], np.float32)), w)
