"""A NaN in the data reaches the prediction and the loss, through relu and the recurrent cells,
on every ISA path, so TerminateOnNaN can stop a fit (the kernels' own NaN contract is in
tests/kernels/test_nan_propagation.py)."""
import numpy as np
import pytest

from corenn import Sequential, layers
from corenn.callbacks import LambdaCallback, TerminateOnNaN
from corenn.layers.recurrent import GRU, LSTM, SimpleRNN


def test_dense_relu_model_predicts_nan_for_a_nan_row(isa, rng):
    x = rng.normal(size=(10, 5)).astype(np.float32)
    x[3, 2] = np.nan
    m = Sequential([layers.Dense(8, activation="relu", input_shape=(5,)), layers.Dense(1)])
    p = m.predict(x, verbose=0)
    assert np.isnan(p[3]).all()
    assert np.isfinite(np.delete(p, 3, axis=0)).all()


def test_fit_with_terminate_on_nan_stops_on_relu_model(isa, rng, capsys):
    x = rng.normal(size=(40, 5)).astype(np.float32)
    y = x.sum(axis=1, keepdims=True).astype(np.float32)
    x[21, 0] = np.nan  # batch 2 (batch_size 8, no shuffling)
    m = Sequential([layers.Dense(8, activation="relu", input_shape=(5,)), layers.Dense(1)])
    m.compile(optimizer="sgd", loss="mse")
    batches = []
    spy = LambdaCallback(on_train_batch_end=lambda b, logs: batches.append(b))
    hist = m.fit(x, y, batch_size=8, epochs=4, shuffle=False, verbose=0,
                 callbacks=[TerminateOnNaN(), spy])
    assert m.stop_training
    assert batches == [0, 1, 2] and hist.epoch == [0]
    assert np.isnan(hist.history["loss"][0])
    assert "Batch 2: Invalid loss, terminating training" in capsys.readouterr().out


@pytest.mark.parametrize("cls", [SimpleRNN, LSTM, GRU])
def test_recurrent_layers_predict_nan_for_a_nan_sequence(cls, isa, rng):
    x = rng.normal(size=(7, 4, 3)).astype(np.float32)
    x[5, 2, 1] = np.nan
    for return_sequences in (False, True):
        m = Sequential([cls(6, return_sequences=return_sequences, input_shape=(4, 3))])
        p = m.predict(x, verbose=0)
        if return_sequences:
            assert np.isnan(p[5, 2:]).all() and np.isfinite(p[5, :2]).all()
        else:
            assert np.isnan(p[5]).all()
        assert np.isfinite(np.delete(p, 5, axis=0)).all()


def test_conv_relu_pool_model_predicts_nan_and_its_gradient_is_nan(isa, rng):
    """Conv2D(relu) -> MaxPooling2D: the fused conv + relu + pool forward and the relu' folded
    into the pooling backward (models/sequential.py) keep a NaN pixel."""
    from corenn import optimizers
    x = rng.normal(size=(6, 10, 10, 1)).astype(np.float32)
    y = rng.normal(size=(6, 1)).astype(np.float32)
    x[2, 4, 4, 0] = np.nan
    m = Sequential([layers.Conv2D(16, 3, activation="relu", input_shape=(10, 10, 1)),
                    layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(1)])
    p = m.predict(x, verbose=0)
    assert np.isnan(p[2]).all() and np.isfinite(np.delete(p, 2, axis=0)).all()
    m.compile(optimizer=optimizers.SGD(0.01), loss="mse")
    hist = m.fit(x, y, batch_size=6, epochs=1, verbose=0)
    assert np.isnan(hist.history["loss"][0])
    assert all(np.isnan(np.asarray(w)).any() for w in m.get_weights())  # the NaN step reached all
