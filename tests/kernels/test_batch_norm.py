"""batch_norm ops: forward (training / inference), moving statistics and backward vs float64
NumPy (portable and AVX2 builds of the loops), thread-count independence, and input checks."""
import numpy as np
import pytest

from corenn import kernels
from reference import batch_norm_infer, batch_norm_train, batch_norm_train_grads, moving_average

# (N, C), odd C, NHWC, > 512 rows (several row chunks) and > 256 channels (several column blocks)
SHAPES = [(8, 5), (1, 3), (2, 3, 4, 7), (1100, 3), (40, 300)]


def _params(rng, c, center, scale):
    gamma = (rng.uniform(0.5, 2.0, c).astype(np.float32) if scale else None)
    beta = (rng.normal(size=c).astype(np.float32) if center else None)
    return gamma, beta


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("center,scale", [(True, True), (False, True), (True, False), (False, False)])
def test_forward_train_matches_reference(shape, center, scale, isa, rng):
    x = (rng.normal(size=shape) * 3 + 2).astype(np.float32)
    gamma, beta = _params(rng, shape[-1], center, scale)
    y, mean, inv_std = kernels.batch_norm_forward_train(x, gamma, beta, epsilon=1e-3)
    y_ref, m_ref, v_ref = batch_norm_train(x, gamma, beta, epsilon=1e-3)
    np.testing.assert_allclose(np.asarray(y), y_ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(mean), m_ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(inv_std), 1 / np.sqrt(v_ref + 1e-3), rtol=1e-5)


def test_variance_accurate_with_large_offset(rng):
    x = (1000.0 + rng.normal(size=(4096, 4)) * 0.01).astype(np.float32)
    _, mean, inv_std = kernels.batch_norm_forward_train(x, None, None, epsilon=1e-8)
    _, m_ref, v_ref = batch_norm_train(x, epsilon=1e-8)
    np.testing.assert_allclose(np.asarray(mean), m_ref, rtol=1e-7)
    np.testing.assert_allclose(np.asarray(inv_std), 1 / np.sqrt(v_ref + 1e-8), rtol=1e-4)


def test_moving_statistics_update_as_keras(rng):
    x = (rng.normal(size=(16, 6)) * 2 - 1).astype(np.float32)
    mm = rng.normal(size=6).astype(np.float32)
    mv = rng.uniform(0.5, 2, 6).astype(np.float32)
    want_m, want_v = moving_average(mm, x.mean(0), 0.9), moving_average(mv, x.astype(np.float64).var(0), 0.9)
    kernels.batch_norm_forward_train(x, None, None, moving_mean=mm, moving_variance=mv, momentum=0.9)
    np.testing.assert_allclose(mm, want_m, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mv, want_v, rtol=1e-5)  # biased variance, as Keras 3


def test_forward_in_place(rng):
    x = rng.normal(size=(10, 4)).astype(np.float32)
    want, _, _ = batch_norm_train(x)
    y, _, _ = kernels.batch_norm_forward_train(x, None, None, out=x)
    np.testing.assert_allclose(x, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape", [(8, 5), (2, 3, 3, 4)])
def test_forward_infer_matches_reference(shape, isa, rng):
    c = shape[-1]
    x = rng.normal(size=shape).astype(np.float32)
    gamma, beta = _params(rng, c, True, True)
    mm, mv = rng.normal(size=c).astype(np.float32), rng.uniform(0.1, 3, c).astype(np.float32)
    y = kernels.batch_norm_forward_infer(x, gamma, beta, mm, mv, epsilon=1e-3)
    np.testing.assert_allclose(np.asarray(y), batch_norm_infer(x, gamma, beta, mm, mv), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("scale", [True, False])
def test_backward_train_matches_reference(shape, scale, isa, rng):
    x = (rng.normal(size=shape) * 2 + 1).astype(np.float32)
    dy = rng.normal(size=shape).astype(np.float32)
    gamma, _ = _params(rng, shape[-1], False, scale)
    _, mean, inv_std = kernels.batch_norm_forward_train(x, gamma, None)
    dgamma, dbeta = np.zeros(shape[-1], np.float32), np.zeros(shape[-1], np.float32)
    dx = kernels.batch_norm_backward(dy, x, gamma, mean, inv_std, dgamma=dgamma, dbeta=dbeta)
    dx_ref, dg_ref, db_ref = batch_norm_train_grads(dy, x, gamma)
    scale_dx = np.abs(dx_ref).max()
    np.testing.assert_allclose(np.asarray(dx), dx_ref, rtol=1e-4, atol=2e-5 * scale_dx)
    np.testing.assert_allclose(dgamma, dg_ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dbeta, db_ref, rtol=1e-4, atol=1e-4)


def test_backward_inference_mode_is_affine(rng):
    x, dy = rng.normal(size=(6, 3)).astype(np.float32), rng.normal(size=(6, 3)).astype(np.float32)
    gamma = np.array([0.5, 2.0, -1.0], np.float32)
    mean = np.array([0.1, -0.2, 0.3], np.float32)
    inv = np.array([1.5, 0.5, 2.0], np.float32)
    dg, db = np.zeros(3, np.float32), np.zeros(3, np.float32)
    dx = kernels.batch_norm_backward(dy, x, gamma, mean, inv, dgamma=dg, dbeta=db, training=False)
    np.testing.assert_allclose(np.asarray(dx), dy * gamma * inv, rtol=1e-6)
    np.testing.assert_allclose(dg, (dy * (x - mean) * inv).sum(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(db, dy.sum(0), rtol=1e-5, atol=1e-6)


def test_backward_without_dx(rng):
    x, dy = rng.normal(size=(6, 3)).astype(np.float32), rng.normal(size=(6, 3)).astype(np.float32)
    _, mean, inv = kernels.batch_norm_forward_train(x, None, None)
    db = np.zeros(3, np.float32)
    assert kernels.batch_norm_backward(dy, x, None, mean, inv, dbeta=db, need_dx=False) is None
    np.testing.assert_allclose(db, dy.sum(0), rtol=1e-5, atol=1e-6)


def test_bitwise_independent_of_thread_count(rng):
    x = rng.normal(size=(3000, 37)).astype(np.float32)
    dy = rng.normal(size=(3000, 37)).astype(np.float32)

    def run():
        y, mean, inv = kernels.batch_norm_forward_train(x, None, None)
        dg, db = np.zeros(37, np.float32), np.zeros(37, np.float32)
        dx = kernels.batch_norm_backward(dy, x, None, mean, inv, dgamma=dg, dbeta=db)
        return [np.asarray(t).copy() for t in (y, mean, inv, dx)] + [dg, db]

    old = kernels.get_num_threads()
    try:
        kernels.set_num_threads(1)
        one = run()
        kernels.set_num_threads(4)
        many = run()
    finally:
        kernels.set_num_threads(old)
    for a, b in zip(one, many):
        np.testing.assert_array_equal(a, b)


def test_bad_inputs_raise():
    x = np.ones((4, 3), np.float32)
    c3, c2 = np.ones(3, np.float32), np.ones(2, np.float32)
    with pytest.raises(ValueError, match="batch_norm_forward_train.*gamma"):
        kernels.batch_norm_forward_train(x, c2, None)
    with pytest.raises(ValueError, match="batch_norm_forward_train.*epsilon"):
        kernels.batch_norm_forward_train(x, None, None, epsilon=0.0)
    with pytest.raises(ValueError, match="batch_norm_forward_train.*momentum"):
        kernels.batch_norm_forward_train(x, None, None, moving_mean=c3.copy(), moving_variance=c3.copy(),
                                     momentum=1.5)
    with pytest.raises(ValueError, match="batch_norm_forward_train.*moving_var"):
        kernels.batch_norm_forward_train(x, None, None, moving_mean=c3.copy())
    with pytest.raises(ValueError, match="batch_norm_forward_train"):
        kernels.batch_norm_forward_train(np.ones((0, 3), np.float32), None, None)
    with pytest.raises(TypeError, match="batch_norm_forward_train"):
        kernels.batch_norm_forward_train(np.ones((4, 3), np.int32), None, None)
    with pytest.raises(ValueError, match="batch_norm_forward_infer.*moving_mean"):
        kernels.batch_norm_forward_infer(x, None, None, c2, c3)
    with pytest.raises(ValueError, match="batch_norm_forward_infer.*moving_var"):
        kernels.batch_norm_forward_infer(x, None, None, c3, -np.ones(3, np.float32))
    with pytest.raises(ValueError, match="batch_norm_backward.*dy"):
        kernels.batch_norm_backward(np.ones((5, 3), np.float32), x, None, c3, c3)
    with pytest.raises(ValueError, match="batch_norm_backward.*dgamma"):
        kernels.batch_norm_backward(x, x, None, c3, c3, dgamma=c2)


# ---- batch_norm_add_relu: BatchNormalization -> Add -> ReLU as one op (the fusion pass's rule 4)

@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("center,scale", [(True, True), (False, False)])
def test_add_relu_forward_and_backward_match_reference(shape, center, scale, isa, rng):
    from reference import batch_norm_add_relu_train, batch_norm_add_relu_train_grads
    x = (rng.normal(size=shape) * 3 + 2).astype(np.float32)
    r = rng.normal(size=shape).astype(np.float32)
    gamma, beta = _params(rng, shape[-1], center, scale)
    mm = rng.normal(size=shape[-1]).astype(np.float32)
    mv = rng.uniform(0.5, 2, shape[-1]).astype(np.float32)
    want_mm = moving_average(mm, x.reshape(-1, shape[-1]).mean(0), 0.9)
    y, mean, inv_std = kernels.batch_norm_add_relu_forward(x, gamma, beta, r, moving_mean=mm,
                                                           moving_variance=mv, momentum=0.9)
    y_ref, m_ref, v_ref = batch_norm_add_relu_train(x, r, gamma, beta)
    np.testing.assert_allclose(np.asarray(y), y_ref, rtol=1e-4, atol=1e-4)
    assert (np.asarray(y) >= 0).all()
    if x.size > 20:   # both sides of the relu are exercised
        assert (np.asarray(y) == 0).any() and (np.asarray(y) > 0).any()
    np.testing.assert_allclose(np.asarray(inv_std), 1 / np.sqrt(v_ref + 1e-3), rtol=1e-5)
    np.testing.assert_allclose(mm, want_mm, rtol=1e-5, atol=1e-6)
    dy = rng.normal(size=shape).astype(np.float32)
    dgamma = np.zeros(shape[-1], np.float32) if scale else None
    dbeta = np.zeros(shape[-1], np.float32) if center else None
    dr, dx = kernels.batch_norm_add_relu_backward(dy, x, y, gamma, mean, inv_std, dx=np.empty_like(x),
                                                  dgamma=dgamma, dbeta=dbeta)
    want_dr, want_dx, want_dgamma, want_dbeta = batch_norm_add_relu_train_grads(dy, x, y, gamma)
    np.testing.assert_allclose(np.asarray(dr), want_dr, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.asarray(dx), want_dx, rtol=1e-3, atol=1e-4)
    if scale:
        np.testing.assert_allclose(dgamma, want_dgamma, rtol=1e-4, atol=1e-4)
    if center:
        np.testing.assert_allclose(dbeta, want_dbeta, rtol=1e-4, atol=1e-4)


def test_add_relu_gradients_match_finite_differences(rng):
    """L = sum(w * relu(bn(x) + r)) in float64 central differences, for x, r and gamma / beta."""
    from reference import batch_norm_add_relu_train
    shape = (6, 5)
    x = rng.normal(size=shape).astype(np.float32)
    r = rng.normal(size=shape).astype(np.float32)
    gamma, beta = _params(rng, 5, True, True)
    w = rng.normal(size=shape)

    def loss(x_, r_, g_, b_):
        return float((w * batch_norm_add_relu_train(x_, r_, g_, b_)[0]).sum())

    y, mean, inv_std = kernels.batch_norm_add_relu_forward(x, gamma, beta, r)
    dgamma, dbeta = np.zeros(5, np.float32), np.zeros(5, np.float32)
    dr, dx = kernels.batch_norm_add_relu_backward(w.astype(np.float32), x, y, gamma, mean, inv_std,
                                                  dx=np.empty_like(x), dgamma=dgamma, dbeta=dbeta)
    args = [x.astype(np.float64), r.astype(np.float64), gamma.astype(np.float64), beta.astype(np.float64)]
    for k, got in enumerate([np.asarray(dx), np.asarray(dr), dgamma, dbeta]):
        fd = np.zeros_like(args[k])
        for i in np.ndindex(args[k].shape):
            hi, lo = [a.copy() for a in args], [a.copy() for a in args]
            hi[k][i] += 1e-6
            lo[k][i] -= 1e-6
            fd[i] = (loss(*hi) - loss(*lo)) / 2e-6
        np.testing.assert_allclose(got, fd, rtol=1e-3, atol=1e-3)


def test_add_relu_keeps_nan_and_checks_its_arguments(rng):
    x = rng.normal(size=(4, 3)).astype(np.float32)
    r = rng.normal(size=(4, 3)).astype(np.float32)
    r[1, 2] = np.nan
    y, mean, inv_std = kernels.batch_norm_add_relu_forward(x, None, None, r)
    assert np.isnan(np.asarray(y)[1, 2]) and np.isfinite(np.delete(np.asarray(y).ravel(), 5)).all()
    dr, _ = kernels.batch_norm_add_relu_backward(np.ones((4, 3), np.float32), x, y, None, mean, inv_std)
    assert np.isnan(np.asarray(dr)[1, 2])   # relu' from y: dy * y where y is not > 0
    with pytest.raises(ValueError, match="batch_norm_add_relu_forward.*r"):
        kernels.batch_norm_add_relu_forward(x, None, None, r[:, :2])
    with pytest.raises(ValueError, match="batch_norm_add_relu_backward"):
        buf = np.empty((4, 3), np.float32)
        kernels.batch_norm_add_relu_backward(np.ones((4, 3), np.float32), x, y, None, mean, inv_std,
                                             dr=buf, dx=buf)
    with pytest.raises(ValueError, match="batch_norm_add_relu_backward.*y"):
        kernels.batch_norm_add_relu_backward(np.ones((4, 3), np.float32), x, np.ones((4, 2), np.float32),
                                             None, mean, inv_std)


@pytest.mark.parametrize("shape", [(3, 4, 5, 7), (2, 7, 7, 33)])
def test_add_relu_pooled_forward_and_backward(shape, isa, rng):
    """pooled = y's per-image mean in the same pass; a (N, C) dy is that mean's gradient: the same
    dr / dx / dgamma / dbeta as the full-size broadcast dy / HW."""
    from reference import batch_norm_add_relu_train
    x = rng.normal(size=shape).astype(np.float32)
    r = rng.normal(size=shape).astype(np.float32)
    gamma, beta = _params(rng, shape[-1], True, True)
    pooled = np.full((shape[0], shape[-1]), np.nan, np.float32)
    y, mean, inv_std = kernels.batch_norm_add_relu_forward(x, gamma, beta, r, pooled=pooled)
    y_ref = batch_norm_add_relu_train(x, r, gamma, beta)[0]
    np.testing.assert_allclose(pooled, y_ref.mean(axis=(1, 2)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(y), y_ref, rtol=1e-4, atol=1e-4)
    g = rng.normal(size=pooled.shape).astype(np.float32)
    hw = shape[1] * shape[2]
    full = np.broadcast_to((g / hw)[:, None, None, :], shape).astype(np.float32).copy()
    results = []
    for dy in (g, full):
        dgamma, dbeta = np.zeros(shape[-1], np.float32), np.zeros(shape[-1], np.float32)
        dr, dx = kernels.batch_norm_add_relu_backward(dy, x, y, gamma, mean, inv_std,
                                                      dx=np.empty_like(x), dgamma=dgamma, dbeta=dbeta)
        results.append([np.asarray(dr), np.asarray(dx), dgamma, dbeta])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="batch_norm_add_relu_forward.*pooled.*shape"):
        kernels.batch_norm_add_relu_forward(x, gamma, beta, r, pooled=np.empty((shape[0], 2), np.float32))
    with pytest.raises(ValueError, match="batch_norm_add_relu_backward.*dy"):
        kernels.batch_norm_add_relu_backward(np.ones((shape[0] + 1, shape[-1]), np.float32), x, y, gamma,
                                             mean, inv_std)


@pytest.mark.parametrize("shape", [(5, 7), (2, 6, 6, 33)])
def test_add_relu_backward_sums_a_second_gradient_part(shape, isa, rng):
    """dy2: y's gradient is dy + dy2 (two consumers' parts, fusion rule 5), added in the relu'
    pass: bitwise what the op gives for the float32 sum dy + dy2, and against the float64
    reference; a pooled dy cannot take a part, a part of another shape is refused."""
    from reference import batch_norm_add_relu_train_grads
    x = (rng.normal(size=shape) * 2 + 1).astype(np.float32)
    r = rng.normal(size=shape).astype(np.float32)
    gamma, beta = _params(rng, shape[-1], True, True)
    y, mean, inv_std = kernels.batch_norm_add_relu_forward(x, gamma, beta, r)
    d1, d2 = rng.normal(size=shape).astype(np.float32), rng.normal(size=shape).astype(np.float32)
    got, want = [], []
    for dy, dy2, out in ((d1, d2, got), (d1 + d2, None, want)):
        dgamma, dbeta = np.zeros(shape[-1], np.float32), np.zeros(shape[-1], np.float32)
        dr, dx = kernels.batch_norm_add_relu_backward(dy, x, y, gamma, mean, inv_std, dx=np.empty_like(x),
                                                      dgamma=dgamma, dbeta=dbeta, dy2=dy2)
        out += [np.asarray(dr), np.asarray(dx), dgamma, dbeta]
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
    ref_dr, ref_dx, ref_dgamma, ref_dbeta = batch_norm_add_relu_train_grads(
        d1.astype(np.float64) + d2, x, y, gamma)
    np.testing.assert_allclose(got[0], ref_dr, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got[1], ref_dx, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(got[2], ref_dgamma, rtol=1e-4, atol=1e-4)
    assert (got[0] != 0).any() and (got[0] == 0).any()   # both sides of the relu
    with pytest.raises(ValueError, match="batch_norm_add_relu_backward.*dy2"):
        kernels.batch_norm_add_relu_backward(d1, x, y, gamma, mean, inv_std, dy2=d2[..., :-1])
    if len(shape) == 4:
        pooled = np.ones((shape[0], shape[-1]), np.float32)
        with pytest.raises(ValueError, match="batch_norm_add_relu_backward.*dy2.*pooled"):
            kernels.batch_norm_add_relu_backward(pooled, x, y, gamma, mean, inv_std, dy2=d2)
