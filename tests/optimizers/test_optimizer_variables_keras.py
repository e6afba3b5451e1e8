"""``optimizer.variables`` as Keras 3.15 lists it (checked against Keras 3.15 on the torch
backend): the step count and the learning rate first ('<name>/iteration',
'<name>/learning_rate'), then the slots in Keras' build order, each named
'<weight path with / as _>_<slot>'; ``iterations`` and ``learning_rate`` read and assign as
variables; the state still saves and loads."""
import numpy as np
import pytest

from corenn import keras, layers

SLOTS = {  # Keras 3.15's slot order for weights [k0, b0, k1]
    "sgd": ["k0_momentum", "b0_momentum", "k1_momentum"],
    "adam": ["k0_momentum", "k0_velocity", "b0_momentum", "b0_velocity", "k1_momentum", "k1_velocity"],
    "adam_w": ["k0_momentum", "k0_velocity", "b0_momentum", "b0_velocity", "k1_momentum", "k1_velocity"],
    "rm_sprop": ["k0_velocity", "b0_velocity", "k1_velocity", "k0_momentum", "b0_momentum", "k1_momentum",
                 "k0_average_gradient", "b0_average_gradient", "k1_average_gradient"],
}
MAKE = {"sgd": lambda: keras.optimizers.SGD(0.1, momentum=0.9), "adam": lambda: keras.optimizers.Adam(),
        "adam_w": lambda: keras.optimizers.AdamW(),
        "rm_sprop": lambda: keras.optimizers.RMSprop(momentum=0.5, centered=True)}


def _weights():
    d0, d1 = layers.Dense(2, name="d0"), layers.Dense(1, use_bias=False, name="d1")
    d0.build((None, 3))
    d1.build((None, 2))
    return d0.weights + d1.weights   # paths d0/kernel, d0/bias, d1/kernel


@pytest.mark.parametrize("kind", sorted(SLOTS))
def test_variables_list_the_counters_then_the_slots_with_keras_paths(kind):
    opt = MAKE[kind]()
    prefix = opt.variables[0].path.split("/")[0]
    assert prefix == kind or prefix.startswith(kind + "_")   # Keras numbers a second one: adam_1
    assert [v.path for v in opt.variables] == [f"{prefix}/iteration", f"{prefix}/learning_rate"]
    assert [v.name for v in opt.variables] == ["iteration", "learning_rate"]
    weights = _weights()
    opt.build(weights)
    stems = {"k0": "d0_kernel", "b0": "d0_bias", "k1": "d1_kernel"}
    want = [f"{stems[s.split('_')[0]]}_{s.split('_', 1)[1]}" for s in SLOTS[kind]]
    variables = opt.variables
    assert len(variables) == 2 + len(want)
    assert [v.name for v in variables[2:]] == want
    assert [v.path for v in variables[2:]] == [f"{prefix}/{n}" for n in want]
    shape_of = {"k0": (3, 2), "b0": (2,), "k1": (2, 1)}
    assert [tuple(v.shape) for v in variables[2:]] == [shape_of[s.split("_")[0]] for s in SLOTS[kind]]
    assert variables[0].dtype == "int32" and variables[1].dtype == "float32"
    assert not any(v.trainable for v in variables)


def test_sgd_without_momentum_and_a_schedule():
    opt = keras.optimizers.SGD(0.1)
    opt.build(_weights())
    assert [v.name for v in opt.variables] == ["iteration", "learning_rate"]
    sched = keras.optimizers.Adam(keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5))
    assert [v.name for v in sched.variables] == ["iteration"]   # a schedule is no variable


def test_iterations_and_learning_rate_read_and_assign_as_variables():
    opt = keras.optimizers.Adam(0.01)
    assert opt.iterations.numpy() == 0 and opt.iterations.path.endswith("/iteration")
    np.testing.assert_allclose(opt.learning_rate.numpy(), 0.01)
    opt.learning_rate.assign(0.5)
    assert float(opt.learning_rate) == 0.5 and float(opt.variables[1].numpy()) == 0.5
    opt.iterations.assign(7)
    assert int(opt.iterations) == 7 and int(opt.variables[0].numpy()) == 7
    opt.variables[0].assign(3)
    assert opt.iterations == 3


def test_fit_counts_and_the_state_saves_and_loads(tmp_path):
    def make():
        model = keras.Sequential([keras.Input((3,)), layers.Dense(2), layers.Dense(1)])
        model.compile(keras.optimizers.Adam(0.01), "mse")
        return model
    model = make()
    x, y = np.random.default_rng(0).random((8, 3), np.float32), np.ones((8, 1), np.float32)
    model.fit(x, y, batch_size=4, epochs=2, verbose=0)
    opt = model.optimizer
    assert len(opt.variables) == 2 + 2 * 4 and int(opt.variables[0].numpy()) == 4
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    got = loaded.optimizer.variables
    assert int(got[0].numpy()) == 4 and len(got) == len(opt.variables)
    assert [v.name for v in got] == [v.name for v in opt.variables]
    for a, b in zip(got[2:], opt.variables[2:]):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
