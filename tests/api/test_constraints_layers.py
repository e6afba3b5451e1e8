"""Constraints on every layer Keras gives them to (issue 13): RNN cells (kernel / recurrent /
bias), Batch/Layer/GroupNormalization (beta / gamma), DepthwiseConv2D, SeparableConv2D,
MultiHeadAttention, PReLU and the transposed convolutions. Each is projected by the optimizer
after the update (checked against the float64 projection of the weight it left), survives
get_config / from_config and a saved model, and trains on the fused paths (fit)."""
import numpy as np
import pytest

from corenn import keras
from corenn.keras import constraints, layers

import reference as ref


def _max_col_norm(w, axis):
    return np.sqrt((np.asarray(w, np.float64) ** 2).sum(axis=axis)).max()


# (make the model's core layer, input shape, {weight attribute: (constraint kind, its kwargs)})
CASES = {
    "lstm": (lambda: layers.LSTM(6, kernel_constraint=constraints.MaxNorm(0.3),
                                 recurrent_constraint=constraints.MaxNorm(0.2, axis=1),
                                 bias_constraint=constraints.NonNeg()), (5, 4),
             {"kernel": ("max_norm", dict(max_value=0.3)), "recurrent_kernel": ("max_norm", dict(max_value=0.2, axis=1)),
              "bias": ("non_neg", {})}),
    "gru": (lambda: layers.GRU(5, kernel_constraint="unit_norm", bias_constraint="non_neg"), (5, 4),
            {"kernel": ("unit_norm", {}), "bias": ("non_neg", {})}),
    "simple_rnn": (lambda: layers.SimpleRNN(5, recurrent_constraint=constraints.UnitNorm(axis=0)), (5, 4),
                   {"recurrent_kernel": ("unit_norm", {})}),
    "batch_norm": (lambda: layers.BatchNormalization(gamma_constraint=constraints.MaxNorm(0.5, axis=0),
                                                     beta_constraint="non_neg"), (6,),
                   {"gamma": ("max_norm", dict(max_value=0.5)), "beta": ("non_neg", {})}),
    "layer_norm": (lambda: layers.LayerNormalization(gamma_constraint=constraints.UnitNorm(axis=0),
                                                     beta_constraint=constraints.NonNeg()), (6,),
                   {"gamma": ("unit_norm", {}), "beta": ("non_neg", {})}),
    "group_norm": (lambda: layers.GroupNormalization(2, gamma_constraint=constraints.MaxNorm(0.4),
                                                     beta_constraint=constraints.NonNeg()), (4, 4, 4),
                   {"gamma": ("max_norm", dict(max_value=0.4)), "beta": ("non_neg", {})}),
    "depthwise": (lambda: layers.DepthwiseConv2D(3, depthwise_constraint=constraints.MaxNorm(0.2, axis=[0, 1]),
                                                 bias_constraint="non_neg"), (6, 6, 3),
                  {"kernel": ("max_norm", dict(max_value=0.2, axis=[0, 1])), "bias": ("non_neg", {})}),
    "separable": (lambda: layers.SeparableConv2D(4, 3, depthwise_constraint=constraints.MaxNorm(0.2, axis=[0, 1]),
                                                 pointwise_constraint=constraints.UnitNorm(axis=2),
                                                 bias_constraint="non_neg"), (6, 6, 3),
                  {"depthwise_kernel": ("max_norm", dict(max_value=0.2, axis=[0, 1])),
                   "pointwise_kernel": ("unit_norm", dict(axis=2)), "bias": ("non_neg", {})}),
    "conv2d_transpose": (lambda: layers.Conv2DTranspose(3, 3, strides=2, kernel_constraint=constraints.MaxNorm(
        0.25, axis=[0, 1, 3]), bias_constraint="non_neg"), (4, 4, 2),
        {"kernel": ("max_norm", dict(max_value=0.25, axis=[0, 1, 3])), "bias": ("non_neg", {})}),
    "conv1d_transpose": (lambda: layers.Conv1DTranspose(3, 3, kernel_constraint=constraints.NonNeg()), (5, 2),
                         {"kernel": ("non_neg", {})}),
    "prelu": (lambda: layers.PReLU(alpha_initializer=keras.initializers.Constant(0.3),
                                   alpha_constraint=constraints.MinMaxNorm(0.1, 0.2, axis=0)), (6,),
              {"alpha": ("min_max_norm", dict(min_value=0.1, max_value=0.2, rate=1.0, axis=0))}),
}


def _build(name):
    make, shape, _ = CASES[name]
    core = make()
    model = keras.Sequential([keras.Input(shape), core, layers.Flatten(), layers.Dense(1)])
    return model, core


@pytest.mark.parametrize("name", sorted(CASES))
def test_fit_projects_each_constrained_weight(rng, name):
    model, core = _build(name)
    _, shape, checks = CASES[name]
    x = rng.standard_normal((32,) + shape).astype(np.float32)
    y = rng.standard_normal((32, 1)).astype(np.float32) * 4
    model.compile(keras.optimizers.SGD(0.05), "mse")
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    for attr, (kind, kw) in checks.items():
        w = np.asarray(getattr(core, attr))
        # a projection is idempotent: the weight after fit is its own projection
        np.testing.assert_allclose(w, ref.constraint(kind, w, **kw), rtol=1e-5, atol=1e-6, err_msg=attr)
        assert getattr(core, attr).constraint is not None


@pytest.mark.parametrize("name", ["lstm", "batch_norm", "separable", "prelu"])
def test_one_update_is_the_projected_sgd_step(rng, name):
    """Adam-free check of the order: w1 = constraint(w0 - lr * g), with g from an unconstrained twin."""
    # the initial weights decide whether one step takes a weight past its constraint (which the
    # test asserts); seeded, they do not depend on how many weights earlier tests drew
    keras.utils.set_random_seed(0)
    _, shape, checks = CASES[name]
    x = rng.standard_normal((16,) + shape).astype(np.float32)
    y = rng.standard_normal((16, 1)).astype(np.float32) * 4
    model, core = _build(name)
    twin_core = type(core).from_config({**core.get_config(), **{k: None for k in core.get_config()
                                                               if k.endswith("_constraint")}})
    twin = keras.Sequential([keras.Input(shape), twin_core, layers.Flatten(), layers.Dense(1)])
    twin.set_weights(model.get_weights())
    for m in (model, twin):
        m.compile(keras.optimizers.SGD(0.5), "mse")
        m.train_on_batch(x, y)
    for attr, (kind, kw) in checks.items():
        expected = ref.constraint(kind, np.asarray(getattr(twin_core, attr)), **kw)
        np.testing.assert_allclose(np.asarray(getattr(core, attr)), expected, rtol=1e-4, atol=1e-6, err_msg=attr)
        assert not np.allclose(expected, np.asarray(getattr(twin_core, attr)), atol=1e-6), attr


def test_multi_head_attention_kernels_and_biases(rng):
    q = keras.Input((5, 8))
    mha = layers.MultiHeadAttention(2, 4, kernel_constraint=constraints.MaxNorm(0.3, axis=0),
                                    bias_constraint=constraints.NonNeg())
    out = layers.Dense(1)(layers.GlobalAveragePooling1D()(mha(q, q)))
    model = keras.Model(q, out)
    model.compile(keras.optimizers.SGD(0.5), "mse")
    model.fit(rng.standard_normal((16, 5, 8)).astype(np.float32), rng.standard_normal((16, 1)).astype(np.float32) * 5,
              epochs=2, batch_size=8, verbose=0)
    for w in (mha.query_kernel, mha.key_kernel, mha.value_kernel, mha.output_kernel):
        assert _max_col_norm(w, 0) <= 0.3 + 1e-5
    for b in (mha.query_bias, mha.key_bias, mha.value_bias, mha.output_bias):
        assert np.asarray(b).min() >= 0.0


@pytest.mark.parametrize("name", sorted(CASES))
def test_config_round_trip_and_saved_model(rng, tmp_path, name):
    model, core = _build(name)
    cfg = core.get_config()
    again = type(core).from_config(cfg)
    for attr in (k for k in cfg if k.endswith("_constraint")):
        a, b = getattr(core, attr), getattr(again, attr)
        assert type(a) is type(b) and (a is None or a.get_config() == b.get_config()), attr
    assert any(cfg[k] is not None for k in cfg if k.endswith("_constraint"))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    lcore = loaded.layers[0]
    for attr in CASES[name][2]:
        assert getattr(lcore, attr).constraint is not None, attr
    x = rng.standard_normal((4,) + CASES[name][1]).astype(np.float32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_bidirectional_lstm_with_max_norm(rng):
    """The classic dropout + max-norm recipe on a Bidirectional LSTM: both directions' kernels bounded."""
    model = keras.Sequential([keras.Input((6, 3)),
                              layers.Bidirectional(layers.LSTM(4, kernel_constraint=constraints.MaxNorm(0.5),
                                                               recurrent_constraint=constraints.MaxNorm(0.5))),
                              layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.1), "mse")
    model.fit(rng.standard_normal((32, 6, 3)).astype(np.float32), rng.standard_normal((32, 1)).astype(np.float32) * 5,
              epochs=2, batch_size=8, verbose=0)
    bi = model.layers[0]
    for lstm in (bi.forward_layer, bi.backward_layer):
        assert _max_col_norm(lstm.kernel, 0) <= 0.5 + 1e-5
        assert _max_col_norm(lstm.recurrent_kernel, 0) <= 0.5 + 1e-5
