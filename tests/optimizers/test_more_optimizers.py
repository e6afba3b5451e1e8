"""Adamax, Nadam, Lion, Adadelta: several steps against the float64 references (with weight
decay and clipping), every ISA build of the fused kernels, a model trained by fit, a checkpoint
resumed mid-run (Nadam's schedule product is recomputed from the step count), configs, get()."""
import numpy as np
import pytest
from reference import adadelta_step, adamax_step, lion_step, nadam_step

import corenn
from corenn import keras, kernels, optimizers
from corenn.optimizers import Adadelta, Adamax, Lion, Nadam

SHAPES = [(4, 3), (5,), (2, 2, 3)]


def make_vars(rng):
    tensors, values = [], []
    for s in SHAPES:
        v = rng.standard_normal(s).astype(np.float32)
        t = kernels.zeros(s)
        np.asarray(t)[...] = v
        tensors.append(t)
        values.append(v.astype(np.float64))
    return tensors, values


def make_grads(rng, steps=5):
    return [[(rng.standard_normal(s) * 0.5).astype(np.float32) for s in SHAPES] for _ in range(steps)]


CASES = {
    "adamax": (lambda: Adamax(0.02, beta_1=0.8, weight_decay=0.01, clipnorm=0.7),
               lambda ref, g, st, step: adamax_step(ref, g, *st, 0.02, 0.8, 0.999, 1e-7, step,
                                                     weight_decay=0.01, clipnorm=0.7), 2),
    "nadam": (lambda: Nadam(0.01, clipvalue=0.3),
              lambda ref, g, st, step: nadam_step(ref, g, *st, 0.01, 0.9, 0.999, 1e-7, step, clipvalue=0.3), 2),
    "lion": (lambda: Lion(0.003, beta_1=0.85, global_clipnorm=1.0),
             lambda ref, g, st, step: lion_step(ref, g, *st, 0.003, 0.85, 0.99, global_clipnorm=1.0), 1),
    "adadelta": (lambda: Adadelta(1.0, rho=0.9, weight_decay=0.05),
                 lambda ref, g, st, step: adadelta_step(ref, g, *st, 1.0, 0.9, 1e-7, weight_decay=0.05), 2),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_steps_match_the_reference(rng, isa, name):
    make, ref_step, n_state = CASES[name]
    tensors, ref = make_vars(rng)
    opt = make()
    state = [[np.zeros(s) for s in SHAPES] for _ in range(n_state)]
    for step, g in enumerate(make_grads(rng)):
        opt.apply_gradients(zip(g, tensors))
        ref, *state = ref_step(ref, g, state, step)
    for t, want in zip(tensors, ref):
        np.testing.assert_allclose(np.asarray(t, np.float64), want, rtol=2e-5, atol=2e-6)
    assert opt.iterations == 5 and len(opt.variables[2:]) == n_state * len(SHAPES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_checkpoint_resume_equals_an_uninterrupted_run(rng, name):
    make = CASES[name][0]
    grads = make_grads(rng, 6)
    straight, ref = make_vars(rng)
    opt = make()
    for g in grads:
        opt.apply_gradients(zip(g, straight))
    resumed = [kernels.zeros(s) for s in SHAPES]
    for t, v in zip(resumed, ref):
        np.asarray(t)[...] = v
    first = make()
    for g in grads[:3]:
        first.apply_gradients(zip(g, resumed))
    store = {}
    first.save_own_variables(store)
    second = make()
    second.build(resumed)
    second.load_own_variables(store)
    for g in grads[3:]:
        second.apply_gradients(zip(g, resumed))
    for a, b in zip(straight, resumed):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


TRAINING = {"adamax": lambda: Adamax(0.02), "nadam": lambda: Nadam(0.01), "lion": lambda: Lion(0.003),
            "adadelta": lambda: Adadelta(1.0)}


@pytest.mark.parametrize("name", sorted(TRAINING))
def test_fit_trains_and_configs_round_trip(rng, name):
    corenn.utils.set_random_seed(7)   # the same initial weights whatever ran before
    opt = TRAINING[name]()
    x = rng.standard_normal((128, 5)).astype(np.float32)
    y = (x[:, :1] * 2 - x[:, 1:2]).astype(np.float32)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(1)])
    model.compile(opt, "mse")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, batch_size=16, epochs=4, verbose=0)
    assert model.evaluate(x, y, verbose=0) < 0.9 * before
    config = opt.get_config()
    again = optimizers.deserialize(optimizers.serialize(opt))
    assert type(again) is type(opt) and again.get_config() == config
    assert type(optimizers.get(name)) is type(opt)
    assert type(keras.optimizers.get(type(opt).__name__)) is type(opt)


def test_bad_hyperparameters_are_named():
    with pytest.raises(ValueError, match="Adamax.*beta_2"):
        Adamax(beta_2=1.5)
    with pytest.raises(ValueError, match="Nadam.*epsilon"):
        Nadam(epsilon=-1.0)
    with pytest.raises(ValueError, match="Adadelta.*rho"):
        Adadelta(rho=2.0)
    with pytest.raises(ValueError, match="lion_update.*params"):
        kernels.lion_update([kernels.zeros((3,))], [kernels.zeros((4,))], [kernels.zeros((3,))], lr=0.1)
