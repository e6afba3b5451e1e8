"""Keras 3 optimizer classes: steps vs the reference, learning-rate handling, config, get()."""
import numpy as np
import pytest
from reference import adagrad_step, adam_step, rmsprop_step, sgd_step

from corenn import kernels
from corenn import optimizers
from corenn.optimizers import SGD, Adagrad, Adam, AdamW, RMSprop, schedules

SHAPES = [(4, 3), (3,), (2, 2, 2)]


def make_vars(rng):
    values = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    tensors = []
    for v in values:
        t = kernels.zeros(v.shape)
        np.asarray(t)[...] = v
        tensors.append(t)
    return tensors, [v.astype(np.float64) for v in values]


def make_grads(rng, steps=3):
    return [[(rng.standard_normal(s) * 0.5).astype(np.float32) for s in SHAPES]
            for _ in range(steps)]


def assert_vars(tensors, want, rtol=1e-4, atol=1e-6):
    for t, w in zip(tensors, want):
        np.testing.assert_allclose(np.asarray(t, np.float64), w, rtol=rtol, atol=atol)


def zeros_like(values, fill=0.0):
    return [np.full(v.shape, fill) for v in values]


def test_sgd_nesterov_with_weight_decay_matches_reference(rng):
    tensors, ref = make_vars(rng)
    opt = SGD(learning_rate=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)
    ref_m = zeros_like(ref)
    for g in make_grads(rng):
        opt.apply_gradients(zip(g, tensors))
        ref, ref_m = sgd_step(ref, g, ref_m, 0.1, 0.9, True, weight_decay=0.01)
    assert_vars(tensors, ref)
    assert opt.iterations == 3


def test_adam_amsgrad_clipnorm_matches_reference(rng):
    tensors, ref = make_vars(rng)
    opt = Adam(learning_rate=0.01, amsgrad=True, clipnorm=0.5)
    state = (zeros_like(ref), zeros_like(ref), zeros_like(ref))
    for step, g in enumerate(make_grads(rng)):
        opt.apply(g, tensors)
        ref, *state = adam_step(ref, g, *state, 0.01, 0.9, 0.999, 1e-7, step, True, clipnorm=0.5)
    assert_vars(tensors, ref)
    assert len(opt.variables[2:]) == 3 * len(SHAPES)


def test_adamw_default_weight_decay_matches_reference(rng):
    tensors, ref = make_vars(rng)
    opt = AdamW()
    assert opt.weight_decay == 0.004 and opt.learning_rate == pytest.approx(0.001)
    m, v = zeros_like(ref), zeros_like(ref)
    for step, g in enumerate(make_grads(rng)):
        opt.apply(g, tensors)
        ref, m, v, _ = adam_step(ref, g, m, v, [], 0.001, step=step, weight_decay=0.004)
    assert_vars(tensors, ref)


def test_rmsprop_centered_momentum_clipvalue_matches_reference(rng):
    tensors, ref = make_vars(rng)
    opt = RMSprop(learning_rate=0.01, momentum=0.5, centered=True, clipvalue=0.3)
    vel, mom, avg = zeros_like(ref), zeros_like(ref), zeros_like(ref)
    for g in make_grads(rng):
        opt.apply(g, tensors)
        ref, vel, mom, avg = rmsprop_step(ref, g, vel, mom, avg, 0.01, 0.9, 0.5, 1e-7, True,
                                          clipvalue=0.3)
    assert_vars(tensors, ref, rtol=2e-4)


def test_adagrad_global_clipnorm_matches_reference(rng):
    tensors, ref = make_vars(rng)
    opt = Adagrad(learning_rate=0.1, global_clipnorm=1.0)
    acc = zeros_like(ref, 0.1)
    for g in make_grads(rng):
        opt.apply(g, tensors)
        ref, acc = adagrad_step(ref, g, acc, 0.1, global_clipnorm=1.0)
    assert_vars(tensors, ref)
    np.testing.assert_allclose(np.asarray(opt.variables[2]), acc[0], rtol=1e-5)


def test_adam_matches_torch(rng):
    torch = pytest.importorskip("torch")
    tensors, _ = make_vars(rng)
    tw = [torch.tensor(np.asarray(t).copy(), requires_grad=True) for t in tensors]
    # Keras adds epsilon to sqrt(v_hat_uncorrected) * ...: the same as torch's eps scaled by
    # sqrt(1 - beta_2^t); with a tiny epsilon both are negligible.
    opt = Adam(learning_rate=0.01, epsilon=1e-12)
    topt = torch.optim.Adam(tw, lr=0.01, eps=1e-12)
    for g in make_grads(rng, steps=5):
        opt.apply(g, tensors)
        for p, gi in zip(tw, g):
            p.grad = torch.tensor(gi)
        topt.step()
    for t, p in zip(tensors, tw):
        np.testing.assert_allclose(np.asarray(t), p.detach().numpy(), rtol=1e-4, atol=1e-6)


def test_numpy_float64_grads_and_none_grads(rng):
    tensors, ref = make_vars(rng)
    opt = SGD(learning_rate=0.5)
    g = [np.ones(s) for s in SHAPES]  # float64: cast like Keras does
    g[1] = None                       # no gradient: variable untouched
    opt.apply(g, tensors)
    np.testing.assert_allclose(np.asarray(tensors[0]), ref[0] - 0.5, rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(tensors[1]), ref[1].astype(np.float32))
    with pytest.raises(ValueError, match="no gradients provided"):
        opt.apply([None, None, None], tensors)


def test_learning_rate_set_mid_training_takes_effect(rng):
    w = kernels.zeros([3])
    opt = SGD(learning_rate=0.1)
    g = [np.ones(3, np.float32)]
    opt.apply(g, [w])
    opt.learning_rate = 0.01
    assert opt.learning_rate == pytest.approx(0.01)
    opt.apply(g, [w])
    np.testing.assert_allclose(np.asarray(w), -0.11, rtol=1e-6)


def test_learning_rate_schedule_and_callable(rng):
    w = kernels.zeros([2])
    g = [np.ones(2, np.float32)]
    seen = []
    opt = SGD(learning_rate=lambda step: seen.append(step) or 0.1 * (step + 1))
    for _ in range(3):
        opt.apply(g, [w])
    assert seen == [0, 1, 2]
    np.testing.assert_allclose(np.asarray(w), -(0.1 + 0.2 + 0.3), rtol=1e-6)
    # Keras-style zero-argument callable
    opt = SGD(learning_rate=lambda: 0.25)
    opt.apply(g, [w])
    assert opt.learning_rate == 0.25

    sched = schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5, staircase=True)
    opt = SGD(learning_rate=sched)
    w = kernels.zeros([2])
    lrs = []
    for _ in range(4):
        lrs.append(opt.learning_rate)
        opt.apply(g, [w])
    np.testing.assert_allclose(lrs, [0.1, 0.1, 0.05, 0.05])
    np.testing.assert_allclose(np.asarray(w), -0.3, rtol=1e-6)
    with pytest.raises(TypeError, match="not settable to a number"):
        opt.learning_rate = 0.5


def test_rebuilds_when_variables_change(rng):
    opt = Adam()
    a, b = kernels.zeros([2]), kernels.zeros([3])
    opt.apply([np.ones(2, np.float32)], [a])
    assert len(opt.variables[2:]) == 2
    state_a = opt.variables[2:]
    opt.apply([np.ones(2, np.float32)], [a])
    assert all(x is y for x, y in zip(opt.variables[2:], state_a))  # same list: no rebuild
    opt.apply([np.ones(2, np.float32), np.ones(3, np.float32)], [a, b])
    assert [tuple(t.shape) for t in opt.variables[2:]] == [(2,), (2,), (3,), (3,)]
    # fresh zero state: one step from m = 0 gives (1 - beta_1) * g (not ~0.27 after 3 steps)
    np.testing.assert_allclose(np.asarray(opt.variables[2]), 0.1, rtol=1e-5)


def test_build_creates_state_in_keras_order():
    a, b = kernels.zeros([2]), kernels.zeros([5])
    opt = RMSprop(momentum=0.9, centered=True)
    opt.build([a, b])
    assert [tuple(t.shape) for t in opt.variables[2:]] == [(2,), (5,)] * 3
    opt = Adagrad(initial_accumulator_value=0.3)
    opt.build([a])
    np.testing.assert_allclose(np.asarray(opt.variables[2]), 0.3)
    assert len(SGD().variables) == 2 and SGD(momentum=0.0).apply([np.ones(2, np.float32)], [a]) == 1


def test_save_and_load_own_variables(rng):
    tensors, _ = make_vars(rng)
    opt = Adam(learning_rate=0.01)
    for g in make_grads(rng, 2):
        opt.apply(g, tensors)
    store = {}
    opt.save_own_variables(store)
    other = Adam(learning_rate=0.01)
    other.build(tensors)
    other.load_own_variables(store)
    assert other.iterations == 2
    for x, y in zip(opt.variables[2:], other.variables[2:]):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.mark.parametrize("opt", [
    SGD(0.05, momentum=0.8, nesterov=True, clipnorm=1.0),
    Adam(0.002, beta_1=0.8, amsgrad=True, weight_decay=0.1),
    AdamW(0.003, weight_decay=0.01, global_clipnorm=2.0),
    RMSprop(0.004, rho=0.8, momentum=0.1, centered=True, clipvalue=0.5),
    Adagrad(0.005, initial_accumulator_value=0.2, epsilon=1e-6),
    Adam(schedules.ExponentialDecay(0.1, 10, 0.9)),
], ids=lambda o: type(o).__name__)
def test_config_round_trip(opt):
    config = opt.get_config()
    clone = type(opt).from_config(config)
    assert clone.get_config() == config
    again = optimizers.deserialize(optimizers.serialize(opt))
    assert type(again) is type(opt) and again.get_config() == config


def test_get():
    assert isinstance(optimizers.get("adam"), Adam)
    assert isinstance(optimizers.get("SGD"), SGD)
    assert isinstance(optimizers.get("AdamW"), AdamW)
    assert isinstance(optimizers.get("rmsprop"), RMSprop)
    assert isinstance(optimizers.get("Adagrad"), Adagrad)
    opt = Adam()
    assert optimizers.get(opt) is opt
    got = optimizers.get({"class_name": "SGD", "config": {"learning_rate": 0.3, "momentum": 0.5}})
    assert isinstance(got, SGD) and got.momentum == 0.5 and got.learning_rate == 0.3
    assert optimizers.get(None) is None
    with pytest.raises(ValueError, match="Unknown optimizer: 'adabelief'"):
        optimizers.get("adabelief")
    with pytest.raises(ValueError, match="Could not interpret optimizer identifier"):
        optimizers.get(3)


def test_bad_arguments_raise(rng):
    with pytest.raises(ValueError, match="only one of `clipnorm`, `clipvalue`"):
        Adam(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(ValueError, match=r"SGD: momentum = 1.5 is out of range .*\[0, 1\]"):
        SGD(momentum=1.5)
    with pytest.raises(ValueError, match="not recognized: 'beta_3'"):
        Adam(beta_3=0.5)
    with pytest.raises(ValueError, match="ema_momentum"):
        Adam(use_ema=True, ema_momentum=1.5)
    with pytest.raises(ValueError, match="gradient_accumulation_steps"):
        Adam(gradient_accumulation_steps=0)
    with pytest.raises(TypeError, match="learning_rate must be"):
        Adam(learning_rate="fast")
    opt = Adam()
    w = kernels.zeros([2, 3])
    with pytest.raises(ValueError, match="got 2 gradients for 1 variables"):
        opt.apply([np.ones((2, 3), np.float32)] * 2, [w])
    with pytest.raises(ValueError, match=r"adam_update: params\[0\] and grads\[0\] must have the "
                                         r"same shape"):
        opt.apply([np.ones((3, 2), np.float32)], [w])
    with pytest.raises(TypeError, match=r"adam_update: grads\[0\] must be float32, got int32"):
        opt.apply([np.ones((2, 3), np.int32)], [w])
    with pytest.raises(TypeError, match=r"adam_update: params\[0\] must be float32, got int32"):
        opt.apply([np.ones(2, np.float32)], [kernels.zeros([2], "int32")])
    assert opt.iterations == 0  # failed steps do not count


@pytest.mark.parametrize("make, name, bad", [
    (lambda v: Adam(beta_1=v), "beta_1", [1.0, -0.1, float("nan"), float("inf")]),
    (lambda v: Adam(beta_2=v), "beta_2", [3.5, 1.0, float("nan"), float("inf")]),
    (lambda v: Adam(epsilon=v), "epsilon", [0.0, -1e-7, float("nan")]),
    (lambda v: Adam(learning_rate=v), "learning_rate", [-1e-3, float("nan"), float("inf")]),
    (lambda v: Adam(weight_decay=v), "weight_decay", [-0.1, float("nan")]),
    (lambda v: SGD(momentum=v), "momentum", [-0.5, 1.5, float("nan")]),
    (lambda v: optimizers.RMSprop(rho=v), "rho", [1.0, -0.1, float("nan")]),
    (lambda v: optimizers.RMSprop(momentum=v), "momentum", [2.0, float("nan")]),
    (lambda v: optimizers.Adagrad(initial_accumulator_value=v), "initial_accumulator_value",
     [-0.1, float("inf")]),
])
def test_out_of_range_hyperparameters_are_refused_when_made(make, name, bad):
    # The same ranges corenn.saving checks in a stored compile.json (one table).
    for value in bad:
        with pytest.raises(ValueError, match=f"{name} = .* is out of range"):
            make(value)
    with pytest.raises(TypeError, match=f"{name} must be a"):
        make("0.5")


def test_a_learning_rate_set_later_is_checked_too():
    opt = Adam()
    with pytest.raises(ValueError, match="learning_rate = nan is out of range"):
        opt.learning_rate = float("nan")
    opt.learning_rate = np.float32(0.01)  # NumPy scalars are numbers
    assert opt.learning_rate == pytest.approx(0.01)
