"""Ftrl, Lamb, Adafactor: several steps against the float64 references on 0-D / 1-D / 2-D / 4-D
variables with sparse-ish gradients (whole rows and scattered entries zero), with weight decay
and clipping, on every ISA build; torch.optim.Adafactor with matched hyper-parameters; a fit
that lowers the loss; the state saved with the model and resumed bit-exactly; configs, get()."""
import numpy as np
import pytest
from reference import adafactor_step, ftrl_step, lamb_step

import corenn
from corenn import keras, kernels, optimizers
from corenn.optimizers import Adafactor, Ftrl, Lamb

SHAPES = [(), (7,), (5, 3), (2, 3, 4, 6), (1, 40)]


def make_vars(rng, shapes=SHAPES):
    tensors, values = [], []
    for s in shapes:
        v = rng.standard_normal(s).astype(np.float32)
        t = kernels.zeros(s)
        np.asarray(t)[...] = v
        tensors.append(t)
        values.append(v.astype(np.float64))
    return tensors, values


def sparse_grad(rng, shape):
    """A gradient with about a third of its entries zero and, for matrices, a zero row (an
    embedding row no example used)."""
    g = np.array(rng.standard_normal(shape) * 0.5, np.float32)
    g[rng.random(shape) < 0.3] = 0.0
    if len(shape) >= 2:
        g[..., 0, :] = 0.0
    return g


def make_grads(rng, steps=4, shapes=SHAPES):
    return [[sparse_grad(rng, s) for s in shapes] for _ in range(steps)]


def adafactor_state(shapes):
    rows = [np.zeros(s[:-1]) if len(s) >= 2 else None for s in shapes]
    cols = [np.zeros(s[:-2] + s[-1:]) if len(s) >= 2 else None for s in shapes]
    vel = [None if len(s) >= 2 else np.zeros(s) for s in shapes]
    return [rows, cols, vel]


# name: (optimizer, reference step, initial reference state). Every case sets options that
# change the update; Adafactor's epsilon_1 keeps the zero-gradient entries finite.
CASES = {
    "ftrl": (lambda: Ftrl(0.1, l1_regularization_strength=0.01, l2_regularization_strength=0.02,
                          l2_shrinkage_regularization_strength=0.03, beta=0.5, weight_decay=0.01),
             lambda ref, g, st, step: ftrl_step(ref, g, *st, 0.1, -0.5, 0.01, 0.02, 0.03, 0.5,
                                                weight_decay=0.01),
             lambda: [[np.full(s, 0.1) for s in SHAPES], [np.zeros(s) for s in SHAPES]]),
    "ftrl_power": (lambda: Ftrl(0.05, learning_rate_power=-0.7, initial_accumulator_value=0.3,
                                l1_regularization_strength=0.001, clipnorm=0.8),
                   lambda ref, g, st, step: ftrl_step(ref, g, *st, 0.05, -0.7, 0.001, clipnorm=0.8),
                   lambda: [[np.full(s, 0.3) for s in SHAPES], [np.zeros(s) for s in SHAPES]]),
    "lamb": (lambda: Lamb(0.01, beta_1=0.8, weight_decay=0.02, global_clipnorm=1.5),
             lambda ref, g, st, step: lamb_step(ref, g, *st, 0.01, 0.8, 0.999, 1e-7, step,
                                                weight_decay=0.02, global_clipnorm=1.5),
             lambda: [[np.zeros(s) for s in SHAPES] for _ in range(2)]),
    "adafactor": (lambda: Adafactor(0.05, clip_threshold=0.8, weight_decay=0.01, clipvalue=0.6),
                  lambda ref, g, st, step: adafactor_step(ref, g, *st, 0.05, -0.8, 1e-30, 1e-3, 0.8,
                                                          step, weight_decay=0.01, clipvalue=0.6),
                  lambda: adafactor_state(SHAPES)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_steps_match_the_reference(rng, isa, name):
    make, ref_step, ref_state = CASES[name]
    tensors, ref = make_vars(rng)
    opt = make()
    state = ref_state()
    for step, g in enumerate(make_grads(rng)):
        opt.apply_gradients(zip(g, tensors))
        ref, *state = ref_step(ref, g, state, step)
    for t, want in zip(tensors, ref):
        np.testing.assert_allclose(np.asarray(t, np.float64), want, rtol=3e-5, atol=3e-6)
    want_state = [s for per_var in zip(*state) for s in per_var if s is not None]
    assert opt.iterations == 4 and len(opt.variables[2:]) == len(want_state)
    for got, want in zip(opt.variables[2:], want_state):
        np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=3e-5, atol=1e-6)


def test_lamb_takes_the_plain_step_on_zero_weights(rng):
    """A zero-initialized bias has ||p|| = 0: the trust ratio is 1, not 0 (the bias would never move)."""
    t = kernels.zeros((6,))
    g = rng.standard_normal(6).astype(np.float32)
    Lamb(0.01).apply_gradients([(g, t)])
    want = lamb_step([np.zeros(6)], [g], [np.zeros(6)], [np.zeros(6)], 0.01)[0][0]
    np.testing.assert_allclose(np.asarray(t, np.float64), want, rtol=1e-5, atol=1e-7)
    assert np.all(np.asarray(t) != 0)


@pytest.mark.parametrize("name", ["lamb", "adafactor"])
def test_large_variables_match_the_reference_for_any_thread_count(rng, name):
    """Variables of several norm blocks (70000 > 2^15 elements) and of more than one block of
    Adafactor's column sums (300 > 256 columns): the per-variable sums are split over fixed
    blocks and rows, so the result is the reference's, and the same bits on 1 or 2 threads."""
    shapes = [(70000,), (40, 300)]
    grads = make_grads(rng, 2, shapes)
    make = {"lamb": lambda: Lamb(0.01), "adafactor": lambda: Adafactor(0.05)}[name]
    results = []
    old = kernels.get_num_threads()
    try:
        for threads in (1, 2):
            kernels.set_num_threads(threads)
            tensors, ref = make_vars(np.random.default_rng(3), shapes)
            opt = make()
            state = adafactor_state(shapes) if name == "adafactor" else \
                [[np.zeros(s) for s in shapes] for _ in range(2)]
            for step, g in enumerate(grads):
                opt.apply_gradients(zip(g, tensors))
                if name == "lamb":
                    ref, *state = lamb_step(ref, g, *state, 0.01, step=step)
                else:
                    ref, *state = adafactor_step(ref, g, *state, 0.05, step=step)
            results.append([np.asarray(t).copy() for t in tensors])
    finally:
        kernels.set_num_threads(old)
    for got, want in zip(results[0], ref):
        np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=3e-5, atol=3e-6)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_adafactor_keeps_factored_moments_only():
    """The point of Adafactor: a (m, n) kernel keeps m + n numbers, not m n."""
    opt = Adafactor()
    tensors, _ = make_vars(np.random.default_rng(0))
    opt.build(tensors)
    shapes = [tuple(v.shape) for v in opt.variables[2:]]
    assert shapes == [(), (7,), (5,), (3,), (2, 3, 4), (2, 3, 6), (1,), (40,)]


def test_ftrl_l1_makes_exact_zeros(rng):
    t = kernels.zeros((200,))
    np.asarray(t)[...] = rng.standard_normal(200).astype(np.float32)
    opt = Ftrl(0.5, l1_regularization_strength=0.05)
    for _ in range(3):
        opt.apply_gradients([((rng.standard_normal(200) * 0.05).astype(np.float32), t)])
    zeros = np.count_nonzero(np.asarray(t) == 0.0)
    assert 0 < zeros < 200


def test_adafactor_matches_torch():
    torch = pytest.importorskip("torch")
    if not hasattr(torch.optim, "Adafactor"):
        pytest.skip("torch.optim.Adafactor needs torch >= 2.5")
    # Matched hyper-parameters; weight_decay stays 0 (torch takes rms(p) before decaying p,
    # Keras after) and the gradients dense (torch clamps v at epsilon_1^2, Keras adds
    # epsilon_1 to g^2: the same only where g != 0).
    rng = np.random.default_rng(5)
    shapes = [(7,), (5, 3), (2, 3, 4, 6)]
    tensors, values = make_vars(rng, shapes)
    theirs = [torch.tensor(v, dtype=torch.float32, requires_grad=True) for v in values]
    opt = Adafactor(0.02, beta_2_decay=-0.7, epsilon_2=2e-3, clip_threshold=1.0)
    torch_opt = torch.optim.Adafactor(theirs, lr=0.02, beta2_decay=-0.7, eps=(1e-30, 2e-3), d=1.0,
                                      weight_decay=0.0)
    for _ in range(4):
        grads = [(rng.standard_normal(s) * 0.5).astype(np.float32) for s in shapes]
        opt.apply_gradients(zip(grads, tensors))
        for p, g in zip(theirs, grads):
            p.grad = torch.from_numpy(g)
        torch_opt.step()
    for t, p in zip(tensors, theirs):
        np.testing.assert_allclose(np.asarray(t), p.detach().numpy(), rtol=2e-5, atol=2e-6)


TRAINING = {"ftrl": lambda: Ftrl(0.5), "lamb": lambda: Lamb(0.02), "adafactor": lambda: Adafactor(0.05)}


def small_problem(rng):
    x = rng.standard_normal((96, 5)).astype(np.float32)
    y = (x[:, :1] * 2 - x[:, 1:2]).astype(np.float32)
    return x, y


def small_model(optimizer):
    corenn.utils.set_random_seed(7)   # the same initial weights whatever ran before
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="tanh"),
                              keras.layers.Dense(1)])
    model.compile(optimizer, "mse")
    return model


@pytest.mark.parametrize("name", sorted(TRAINING))
def test_fit_trains_and_configs_round_trip(rng, name):
    opt = TRAINING[name]()
    x, y = small_problem(rng)
    model = small_model(opt)
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, batch_size=16, epochs=4, verbose=0)
    assert model.evaluate(x, y, verbose=0) < 0.8 * before
    config = opt.get_config()
    again = optimizers.deserialize(optimizers.serialize(opt))
    assert type(again) is type(opt) and again.get_config() == config
    assert type(optimizers.get(name)) is type(opt)
    assert type(keras.optimizers.get(type(opt).__name__)) is type(opt)


def test_keras_signatures_and_defaults():
    config = Adafactor().get_config()
    assert (config["name"], config["learning_rate"], config["beta_2_decay"], config["epsilon_1"],
            config["epsilon_2"], config["clip_threshold"], config["relative_step"]) == \
        ("adafactor", 0.001, -0.8, 1e-30, 1e-3, 1.0, True)
    config = Ftrl().get_config()
    assert (config["name"], config["learning_rate"], config["learning_rate_power"],
            config["initial_accumulator_value"], config["l1_regularization_strength"],
            config["l2_regularization_strength"], config["l2_shrinkage_regularization_strength"],
            config["beta"]) == ("ftrl", 0.001, -0.5, 0.1, 0.0, 0.0, 0.0, 0.0)
    config = Lamb().get_config()
    assert (config["name"], config["learning_rate"], config["beta_1"], config["beta_2"],
            config["epsilon"]) == ("lamb", 0.001, 0.9, 0.999, 1e-7)
    assert Lamb(use_ema=True, gradient_accumulation_steps=2).get_config()["use_ema"] is True


@pytest.mark.parametrize("name", sorted(TRAINING))
def test_model_file_resumes_bit_exactly(rng, tmp_path, name):
    """Train, save with the optimizer, load, train on: the same weights as never stopping
    (every state tensor, Adafactor's factors included, and the step count are in the file)."""
    x, y = small_problem(rng)
    straight = small_model(TRAINING[name]())
    straight.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
    path = tmp_path / "m.keras"
    straight.save(path)
    resumed = keras.models.load_model(path)
    assert resumed.optimizer.iterations == straight.optimizer.iterations == 6
    assert len(resumed.optimizer.variables) == len(straight.optimizer.variables) > 0
    for a, b in zip(resumed.optimizer.variables, straight.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    straight.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    resumed.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(resumed.get_weights(), straight.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_ema_and_accumulation_state_is_saved(rng):
    opt = Lamb(0.01, use_ema=True, gradient_accumulation_steps=2)
    tensors, _ = make_vars(rng)
    opt.apply_gradients(zip(make_grads(rng, 1)[0], tensors))
    store = {}
    opt.save_own_variables(store)
    # the moving averages, the gradient sums, then m and v of every variable
    assert len(store) - 1 == 4 * len(SHAPES)


def test_bad_hyperparameters_and_state_are_named():
    with pytest.raises(ValueError, match="Ftrl.*learning_rate_power"):
        Ftrl(learning_rate_power=0.5)
    with pytest.raises(ValueError, match="Ftrl.*l1_regularization_strength"):
        Ftrl(l1_regularization_strength=-1.0)
    with pytest.raises(ValueError, match="Adafactor.*clip_threshold"):
        Adafactor(clip_threshold=0.0)
    with pytest.raises(ValueError, match="Adafactor.*beta_2_decay"):
        Adafactor(beta_2_decay=0.5)
    with pytest.raises(ValueError, match="Lamb.*beta_1"):
        Lamb(beta_1=1.0)
    p = kernels.zeros((4, 3))
    with pytest.raises(ValueError, match=r"adafactor_update: rows\[0\] must have shape \(4,\)"):
        kernels.adafactor_update([p], [kernels.zeros((4, 3))], [kernels.zeros((3,))],
                                 [kernels.zeros((3,))], [kernels.zeros((0,))], lr=0.1)
    with pytest.raises(ValueError, match=r"adafactor_update.*velocities\[0\]"):
        kernels.adafactor_update([p], [kernels.zeros((4, 3))], [kernels.zeros((4,))],
                                 [kernels.zeros((3,))], [kernels.zeros((4, 3))], lr=0.1)
    with pytest.raises(ValueError, match="lamb_update.*grads"):
        kernels.lamb_update([kernels.zeros((3,))], [kernels.zeros((4,))], [kernels.zeros((3,))],
                            [kernels.zeros((3,))], lr=0.1)
