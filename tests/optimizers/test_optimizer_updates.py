"""Fused optimizer kernels (corenn.kernels.*_update) against the float64 NumPy reference."""
import numpy as np
import pytest
from reference import adagrad_step, adam_step, rmsprop_step, sgd_step

import corenn
from corenn import kernels

# Several shapes in one call: a scalar, an empty tensor, small ones, and one large enough to be
# split across threads and across clipnorm reduction blocks.
SHAPES = [(3, 4), (5,), (), (0,), (2, 3, 2), (70_001,)]
STEPS = 4
CLIPS = [{}, {"clipnorm": 0.5}, {"clipvalue": 0.05}, {"global_clipnorm": 1.0},
         {"weight_decay": 0.01}]


def make_problem(rng, shapes=SHAPES, steps=STEPS):
    params = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [[(rng.standard_normal(s) * 0.1).astype(np.float32) for s in shapes]
             for _ in range(steps)]
    return params, grads


def state_like(params, n, value=0.0):
    return [[np.full(p.shape, value, np.float32) for p in params] for _ in range(n)]


def copies(arrays):
    """float64 copies for the reference: the kernels update the float32 originals in place."""
    return [a.astype(np.float64) for a in arrays]


def assert_close(got, want, rtol=1e-4, atol=1e-6):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g, np.float64), w, rtol=rtol, atol=atol)


@pytest.mark.parametrize("extra", CLIPS)
@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_sgd_matches_reference(rng, extra, momentum, nesterov):
    params, grads = make_problem(rng)
    (moms,) = state_like(params, 1) if momentum else ([],)
    ref_p, ref_m = copies(params), copies(moms)
    lr = 0.1
    for g in grads:
        kernels.sgd_update(params, g, moms, lr=lr, momentum=momentum, nesterov=nesterov, **extra)
        ref_p, ref_m = sgd_step(ref_p, g, ref_m, lr, momentum, nesterov, **extra)
    assert_close(params, ref_p)
    assert_close(moms, ref_m)


@pytest.mark.parametrize("extra", CLIPS + [{"weight_decay": 0.004, "clipnorm": 0.3}])
@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_matches_reference(rng, extra, amsgrad):
    params, grads = make_problem(rng)
    m, v, vh = state_like(params, 3)
    vh = vh if amsgrad else []
    ref = tuple(copies(x) for x in (params, m, v, vh))
    lr, b1, b2, eps = 0.01, 0.8, 0.95, 1e-6
    for step, g in enumerate(grads):
        kernels.adam_update(params, g, m, v, vh, lr=lr, beta_1=b1, beta_2=b2, epsilon=eps, step=step,
                        amsgrad=amsgrad, **extra)
        ref = adam_step(ref[0], g, ref[1], ref[2], ref[3], lr, b1, b2, eps, step, amsgrad,
                        **extra)
    assert_close(params, ref[0])
    assert_close(m, ref[1])
    assert_close(v, ref[2], atol=1e-9)
    assert_close(vh, ref[3], atol=1e-9)


@pytest.mark.parametrize("extra", CLIPS)
@pytest.mark.parametrize("momentum,centered", [(0.0, False), (0.5, False), (0.0, True),
                                               (0.5, True)])
def test_rmsprop_matches_reference(rng, extra, momentum, centered):
    params, grads = make_problem(rng)
    vel, mom, avg = state_like(params, 3)
    mom = mom if momentum else []
    avg = avg if centered else []
    ref = tuple(copies(x) for x in (params, vel, mom, avg))
    lr, rho, eps = 0.01, 0.9, 1e-7
    for g in grads:
        kernels.rmsprop_update(params, g, vel, mom, avg, lr=lr, rho=rho, momentum=momentum,
                           epsilon=eps, centered=centered, **extra)
        ref = rmsprop_step(ref[0], g, ref[1], ref[2], ref[3], lr, rho, momentum, eps, centered,
                           **extra)
    # centered RMSprop divides by sqrt(v - a^2 + eps): float32 cancellation loosens the bound
    rtol = 2e-4 if centered else 1e-4
    assert_close(params, ref[0], rtol=rtol)
    assert_close(vel, ref[1], atol=1e-9)
    assert_close(mom, ref[2], rtol=rtol)
    assert_close(avg, ref[3])


@pytest.mark.parametrize("extra", CLIPS)
def test_adagrad_matches_reference(rng, extra):
    params, grads = make_problem(rng)
    (acc,) = state_like(params, 1, value=0.1)
    ref_p, ref_a = copies(params), copies(acc)
    lr, eps = 0.05, 1e-7
    for g in grads:
        kernels.adagrad_update(params, g, acc, lr=lr, epsilon=eps, **extra)
        ref_p, ref_a = adagrad_step(ref_p, g, ref_a, lr, eps, **extra)
    assert_close(params, ref_p)
    assert_close(acc, ref_a)


def test_clipnorm_leaves_small_gradients_and_zero_gradients_alone(rng):
    params = [np.ones(4, np.float32), np.ones(3, np.float32)]
    grads = [np.full(4, 0.01, np.float32), np.zeros(3, np.float32)]
    kernels.sgd_update(params, grads, lr=1.0, clipnorm=1.0)
    np.testing.assert_allclose(params[0], 0.99, rtol=1e-6)
    np.testing.assert_array_equal(params[1], 1.0)
    # a large gradient is scaled to exactly norm clipnorm
    p = [np.zeros(2, np.float32)]
    kernels.sgd_update(p, [np.array([30.0, 40.0], np.float32)], lr=1.0, clipnorm=5.0)
    np.testing.assert_allclose(p[0], [-3.0, -4.0], rtol=1e-6)


def test_gradients_are_not_modified(rng):
    params, grads = make_problem(rng, steps=1)
    before = [g.copy() for g in grads[0]]
    m, v = state_like(params, 2)
    kernels.adam_update(params, grads[0], m, v, lr=0.1, clipvalue=0.01, weight_decay=0.1)
    for g, b in zip(grads[0], before):
        np.testing.assert_array_equal(g, b)


def test_tensors_are_updated_in_place(rng):
    w = kernels.zeros([100, 30])
    np.asarray(w)[...] = 1.0
    g = kernels.as_tensor(np.full((100, 30), 0.5, np.float32))
    kernels.sgd_update([w], [g], lr=0.1)
    np.testing.assert_allclose(np.asarray(w), 0.95, rtol=1e-6)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_result_does_not_depend_on_thread_count(rng, threads):
    def run(n):
        old = corenn.get_num_threads()
        corenn.set_num_threads(n)
        try:
            params, grads = make_problem(np.random.default_rng(7), steps=2)
            m, v = state_like(params, 2)
            for step, g in enumerate(grads):
                kernels.adam_update(params, g, m, v, lr=0.01, step=step, global_clipnorm=1.0)
            return params
        finally:
            corenn.set_num_threads(old)
    for a, b in zip(run(1), run(threads)):
        np.testing.assert_array_equal(a, b)


def test_empty_lists_are_a_no_op():
    kernels.adam_update([], [], [], [], lr=0.1)
    kernels.sgd_update([], [], lr=0.1)


# ---- bad inputs ---------------------------------------------------------------------------

def _p(*shape):
    return np.zeros(shape, np.float32)


def test_mismatched_list_lengths_raise():
    with pytest.raises(ValueError, match=r"adam_update: got 2 params but 1 grads"):
        kernels.adam_update([_p(2), _p(3)], [_p(2)], [_p(2), _p(3)], [_p(2), _p(3)], lr=0.1)
    with pytest.raises(ValueError, match=r"adam_update: v must hold 2 tensors"):
        kernels.adam_update([_p(2), _p(3)], [_p(2), _p(3)], [_p(2), _p(3)], [_p(2)], lr=0.1)
    with pytest.raises(ValueError, match=r"adam_update: vhat must hold 0 tensors"):
        kernels.adam_update([_p(2)], [_p(2)], [_p(2)], [_p(2)], [_p(2)], lr=0.1)
    with pytest.raises(ValueError, match=r"sgd_update: momentums must hold 1 tensors"):
        kernels.sgd_update([_p(2)], [_p(2)], [], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match=r"rmsprop_update: average_grads must hold 1"):
        kernels.rmsprop_update([_p(2)], [_p(2)], [_p(2)], lr=0.1, centered=True)


def test_mismatched_shapes_raise():
    with pytest.raises(ValueError, match=r"sgd_update: params\[1\] and grads\[1\] must have the "
                                         r"same shape, got \(2, 3\) and \(3, 2\)"):
        kernels.sgd_update([_p(4), _p(2, 3)], [_p(4), _p(3, 2)], lr=0.1)
    with pytest.raises(ValueError, match=r"adagrad_update: params\[0\] and accumulators\[0\]"):
        kernels.adagrad_update([_p(4)], [_p(4)], [_p(5)], lr=0.1)


def test_wrong_dtypes_raise():
    with pytest.raises(TypeError, match=r"sgd_update: grads\[0\] must be float32, got int32"):
        kernels.sgd_update([_p(4)], [np.zeros(4, np.int32)], lr=0.1)
    with pytest.raises(TypeError, match=r"adam_update: params\[0\] must be float32, got int64"):
        kernels.adam_update([np.zeros(4, np.int64)], [_p(4)], [_p(4)], [_p(4)], lr=0.1)


def test_aliasing_raises():
    p = _p(4)
    with pytest.raises(ValueError, match=r"adam_update: .* share memory"):
        kernels.adam_update([p], [_p(4)], [p], [_p(4)], lr=0.1)
    m = _p(8)
    with pytest.raises(ValueError, match=r"adam_update: m\[0\] and m\[1\] share memory"):
        kernels.adam_update([_p(4), _p(4)], [_p(4), _p(4)], [m[:4], m[2:6]], [_p(4), _p(4)], lr=0.1)
    # two gradients may share memory: they are only read
    g = _p(4) + 1
    kernels.sgd_update([_p(4), _p(4)], [g, g], lr=0.1)


def test_bad_hyperparameters_raise():
    with pytest.raises(ValueError, match=r"adam_update: beta_1 and beta_2 must lie in \[0, 1\)"):
        kernels.adam_update([_p(2)], [_p(2)], [_p(2)], [_p(2)], lr=0.1, beta_1=1.0)
    with pytest.raises(ValueError, match=r"sgd_update: clipnorm, clipvalue"):
        kernels.sgd_update([_p(2)], [_p(2)], lr=0.1, clipnorm=-1.0)
    with pytest.raises(ValueError, match=r"adam_update: step"):
        kernels.adam_update([_p(2)], [_p(2)], [_p(2)], [_p(2)], lr=0.1, step=-1)


@pytest.mark.parametrize("isa", ["ref", "auto"])
def test_portable_and_avx2_paths_match_reference(rng, isa):
    from corenn import _C
    _C.set_isa(isa)
    try:
        params, grads = make_problem(rng, steps=2)
        m, v, vh = state_like(params, 3)
        ref = tuple(copies(x) for x in (params, m, v, vh))
        for step, g in enumerate(grads):
            kernels.adam_update(params, g, m, v, vh, lr=0.01, step=step, amsgrad=True,
                            weight_decay=0.01, clipvalue=0.1)
            ref = adam_step(ref[0], g, ref[1], ref[2], ref[3], 0.01, step=step, amsgrad=True,
                            weight_decay=0.01, clipvalue=0.1)
        assert_close(params, ref[0])
        assert_close(m, ref[1])
    finally:
        _C.set_isa("auto")


@pytest.mark.parametrize("threads", [2, 3])
def test_many_tensors_split_across_threads_match_reference(rng, threads):
    # 60 tensors of uneven sizes: thread chunks start and end in the middle of tensors and
    # cover several whole tensors each.
    shapes = [(int(n),) for n in rng.integers(1, 5000, size=60)]
    params, grads = make_problem(rng, shapes=shapes, steps=2)
    vel, = state_like(params, 1)
    ref_p, ref_v = copies(params), copies(vel)
    old = corenn.get_num_threads()
    corenn.set_num_threads(threads)
    try:
        for g in grads:
            kernels.rmsprop_update(params, g, vel, lr=0.01, clipnorm=0.2)
            ref_p, ref_v, _, _ = rmsprop_step(ref_p, g, ref_v, [], [], 0.01, clipnorm=0.2)
    finally:
        corenn.set_num_threads(old)
    assert_close(params, ref_p)
    assert_close(vel, ref_v, atol=1e-9)
