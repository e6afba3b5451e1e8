"""A stateful RNN built from keras.Input(batch_shape=(B, T, F)) (or a Sequential starting with
it, or batch_input_shape=) takes B from the input, as Keras does: reset_states() works before
any call, a batch of another size is refused by name, and two calls continue one sequence
(checked against the float64 reference run over the whole sequence)."""
import numpy as np
import pytest

from corenn import keras
from corenn.keras import layers
from tests import reference as ref

B, T, F, U = 3, 4, 2, 5


def _functional():
    inp = keras.Input(batch_shape=(B, T, F))
    rnn = layers.GRU(U, stateful=True, return_sequences=True)
    return keras.Model(inp, rnn(inp)), rnn


def test_symbolic_shapes_carry_the_declared_batch():
    model, rnn = _functional()
    assert tuple(model.inputs[0].shape) == (B, T, F)
    assert tuple(model.outputs[0].shape) == (B, T, U)
    rnn.reset_states()   # before any call: zeros of the declared batch
    assert [np.asarray(s).shape for s in rnn.states] == [(B, U)]
    assert not np.asarray(rnn.states[0]).any()


@pytest.mark.parametrize("build", ["input_layer", "batch_input_shape"])
def test_sequential_takes_the_batch_too(build):
    first = [keras.Input(batch_shape=(B, T, F))] if build == "input_layer" else []
    kwargs = {"batch_input_shape": (B, T, F)} if build == "batch_input_shape" else {}
    model = keras.Sequential(first + [layers.LSTM(U, stateful=True, **kwargs), layers.Dense(1)])
    lstm = model.layers[0]
    lstm.reset_states()
    assert [np.asarray(s).shape for s in lstm.states] == [(B, U), (B, U)]
    with pytest.raises(ValueError, match=f"states of {B} samples.*batch of 5"):
        model.predict(np.zeros((5, T, F), np.float32), batch_size=5, verbose=0)


def test_a_batch_of_another_size_is_refused_before_any_call():
    model, _ = _functional()
    with pytest.raises(ValueError, match=f"GRU .*states of {B} samples.*batch of 2"):
        model.predict(np.zeros((2, T, F), np.float32), batch_size=2, verbose=0)


def test_two_calls_continue_the_sequence_like_the_reference():
    model, rnn = _functional()
    x = np.random.default_rng(0).normal(size=(B, 2 * T, F)).astype(np.float32)
    first = np.asarray(model.predict(x[:, :T], batch_size=B, verbose=0))
    second = np.asarray(model.predict(x[:, T:], batch_size=B, verbose=0))
    k, rk, b = rnn.get_weights()
    step = lambda xt, st: ref.rnn_cell_step("gru", xt, st, k, rk, b)  # noqa: E731
    want, _ = ref.rnn_sequence(step, x, [np.zeros((B, U))], return_sequences=True)
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), want, rtol=1e-4, atol=1e-5)


def test_config_round_trip_keeps_the_batch():
    model, _ = _functional()
    clone = keras.Model.from_config(model.get_config())
    assert tuple(clone.inputs[0].shape) == (B, T, F)
    clone.layers[1].reset_states()
    assert [np.asarray(s).shape for s in clone.layers[1].states] == [(B, U)]
