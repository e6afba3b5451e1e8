"""Sequential: whole-model gradients, fit/evaluate/predict contract, reproducibility, errors."""
import numpy as np
import pytest

import corenn
from corenn import Sequential, layers, optimizers
from corenn.utils.random import set_random_seed
from reference import numerical_grad


def _data(rng, n=64, d=6, classes=3):
    x = rng.normal(size=(n, d)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0.5)
    return x, y % classes


def _model(d=6, classes=3, dropout=False, **compile_kw):
    m = Sequential([layers.Dense(8, activation="tanh", input_shape=(d,),
                                 kernel_regularizer=corenn.regularizers.L2(0.01)),
                    *( [layers.Dropout(0.3)] if dropout else []),
                    layers.Dense(classes, activation="softmax")])
    m.compile(optimizer=compile_kw.pop("optimizer", "adam"),
              loss=compile_kw.pop("loss", "sparse_categorical_crossentropy"),
              metrics=compile_kw.pop("metrics", ["accuracy"]))
    return m


def test_compute_gradients_matches_finite_differences(rng):
    x, y = _data(rng, n=5, d=4)
    m = _model(d=4)
    loss, grads = m.compute_gradients(x, y)
    ws = [w.astype(np.float64) for w in m.get_weights()]

    def f(params):
        w1, b1, w2, b2 = params
        h = np.tanh(x @ w1 + b1)
        z = h @ w2 + b2
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        return -np.log(p[np.arange(len(y)), y]).mean() + 0.01 * (w1 ** 2).sum()

    assert loss == pytest.approx(f(ws), rel=1e-4)
    assert len(grads) == len(m.trainable_weights) == 4
    for i, g in enumerate(grads):
        def fi(v, i=i):
            p = list(ws)
            p[i] = v
            return f(p)
        np.testing.assert_allclose(np.asarray(g), numerical_grad(fi, ws[i]), rtol=1e-3, atol=1e-4)


def test_fit_evaluate_predict_shapes_and_keys(rng):
    x, y = _data(rng)
    m = _model()
    h = m.fit(x, y, epochs=2, batch_size=10, verbose=0, validation_split=0.25)
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 2 for v in h.history.values())
    res = m.evaluate(x, y, verbose=0)
    assert len(res) == 2 and 0.0 <= res[1] <= 1.0
    assert set(m.evaluate(x, y, verbose=0, return_dict=True)) == {"loss", "accuracy"}
    p = m.predict(x, batch_size=7)
    assert p.shape == (64, 3) and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(m(x[:5]), p[:5], rtol=1e-6)
    h2 = m.fit(x, y, epochs=1, verbose=0, validation_data=(x[:8], y[:8]))
    assert "val_loss" in h2.history


def test_evaluate_scalar_without_metrics_and_regression(rng):
    x = rng.normal(size=(40, 3)).astype(np.float32)
    y = x @ np.array([1.0, -2.0, 0.5]) + 0.3
    m = Sequential([layers.Input(shape=(3,)), layers.Dense(1)])
    m.compile(optimizer=optimizers.SGD(learning_rate=0.1), loss="mse", metrics=["mae"])
    first = m.evaluate(x, y, verbose=0)[0]
    m.fit(x, y, epochs=30, batch_size=8, verbose=0)
    loss, mae = m.evaluate(x, y, verbose=0)
    assert loss < 0.01 * first and mae < 0.1
    m.compile(optimizer="sgd", loss="mse")
    assert isinstance(m.evaluate(x, y, verbose=0), float)


def _run(seed, rng_data):
    set_random_seed(seed)
    x, y = rng_data
    m = _model(dropout=True)
    h = m.fit(x, y, epochs=2, batch_size=16, verbose=0)
    return m.get_weights(), h.history


def test_reproducible_with_seed(rng):
    data = _data(rng)
    w1, h1 = _run(7, data)
    w2, h2 = _run(7, data)
    w3, _ = _run(8, data)
    assert h1 == h2
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(w1, w3))


def test_weights_round_trip_and_errors(rng):
    m = _model()
    w = m.get_weights()
    assert [a.shape for a in w] == [(6, 8), (8,), (8, 3), (3,)]
    w[0][:] = 1.0
    m.set_weights(w)
    np.testing.assert_array_equal(m.get_weights()[0], 1.0)
    with pytest.raises(ValueError, match="expects a weight of shape"):
        m.set_weights([w[0].T] + w[1:])
    with pytest.raises(ValueError, match="4 weight arrays"):
        m.set_weights(w[:2])


def test_bad_inputs_raise_clear_errors(rng):
    x, y = _data(rng)
    m = _model()
    with pytest.raises(ValueError, match="same number of samples"):
        m.fit(x, y[:10], verbose=0)
    with pytest.raises(ValueError, match="empty"):
        m.fit(x[:0], y[:0], verbose=0)
    yf = y.astype(np.float32)
    yf[3] = np.nan
    m2 = _model(loss="mse", metrics=[])
    with pytest.raises(ValueError, match="3 NaN"):
        m2.fit(x, np.stack([yf] * 3, 1), verbose=0)
    with pytest.raises(ValueError, match="expects input of shape \\(None, 6\\)"):
        m.fit(x[:, :5], y, verbose=0)
    with pytest.raises(TypeError, match="numeric"):
        m.fit(np.array([["a"] * 6] * 4), y[:4], verbose=0)
    with pytest.raises(ValueError):
        m.fit(x, y + 10, verbose=0)  # labels out of range: the loss kernel refuses
    with pytest.raises(RuntimeError, match="compile"):
        Sequential([layers.Dense(2, input_shape=(6,))]).fit(x, y, verbose=0)
    img = rng.normal(size=(4, 28, 28)).astype(np.float32)
    m3 = Sequential([layers.Dense(10, input_shape=(784,))])
    m3.compile("sgd", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="Flatten"):
        m3.fit(img, np.zeros(4, int), verbose=0)
    m4 = Sequential([layers.Dense(10, input_shape=(None, 784))])
    m4.compile("sgd", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="excludes the batch axis"):
        m4.fit(img.reshape(4, 784), np.zeros(4, int), verbose=0)
    m5 = Sequential([layers.Dense(10, input_shape=(28, 28))])
    m5.compile("sgd", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="Flatten"):
        m5.fit(img, np.zeros(4, int), verbose=0)
    with pytest.raises(ValueError, match="one-hot|sparse"):
        _model(loss="categorical_crossentropy").fit(x, y, verbose=0)


def test_custom_loop_with_compute_gradients_decreases_loss(rng):
    x, y = _data(rng)
    m = _model()
    opt = optimizers.Adam(learning_rate=0.02)
    first, _ = m.compute_gradients(x, y)
    for _ in range(30):
        loss, grads = m.compute_gradients(x, y)
        opt.apply_gradients(zip(grads, m.trainable_weights))
    assert loss < 0.8 * first


def test_summary_and_train_on_batch(rng, capsys):
    x, y = _data(rng)
    m = _model()
    m.summary()
    out = capsys.readouterr().out
    assert "Total params: 83" in out and "(None, 3)" in out
    loss, acc = m.train_on_batch(x, y)
    assert np.isfinite(loss) and 0 <= acc <= 1
    assert isinstance(m.test_on_batch(x, y), list)
    assert m.predict_on_batch(x).shape == (64, 3)
    # Keras 3: an unbuilt model prints its layers with unknown shapes instead of raising
    capsys.readouterr()
    Sequential([layers.Dense(2, name="later")]).summary()
    out = capsys.readouterr().out
    assert "later (Dense)" in out and "0 (unbuilt)" in out and "Total params: 0" in out


@pytest.mark.parametrize("act,loss,labels", [
    ("softmax", "categorical_crossentropy", "onehot"),
    ("softmax", "sparse_categorical_crossentropy", "int"),
    ("sigmoid", "binary_crossentropy", "binary")])
def test_fused_output_gradient_matches_unfused(act, loss, labels, rng):
    x = rng.normal(size=(7, 5)).astype(np.float32)
    units = 1 if labels == "binary" else 4
    y = {"onehot": np.eye(4)[rng.integers(0, 4, 7)], "int": rng.integers(0, 4, 7),
         "binary": rng.integers(0, 2, (7, 1)).astype(float)}[labels]
    fused = Sequential([layers.Dense(units, activation=act, input_shape=(5,))])
    plain = Sequential([layers.Dense(units, input_shape=(5,)), layers.Activation(act)])
    plain.set_weights(fused.get_weights())
    for m in (fused, plain):
        m.compile("sgd", loss)
    from corenn.models import fusion
    assert fusion.plan(fused._graph, fused._losses) == {0}   # the loss starts from the logits
    assert fusion.plan(plain._graph, plain._losses) == set()
    l1, g1 = fused.compute_gradients(x, y)
    l2, g2 = plain.compute_gradients(x, y)
    assert l1 == pytest.approx(l2, rel=1e-5)
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-6)


def test_no_input_gradient_is_computed_before_the_first_trainable_layer():
    """Flatten -> Dense: the first Dense's dX is never used, so it is not computed; a frozen
    first Dense hands the job to the next trainable layer; gradients stay correct."""
    corenn.utils.set_random_seed(3)
    model = corenn.Sequential([layers.Input(shape=(2, 3)), layers.Flatten(),
                               layers.Dense(4, activation="relu"), layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32)
    y = np.zeros((5, 2), np.float32)
    model.compute_gradients(x, y)
    assert [layer.needs_input_grad for layer in model.layers] == [False, False, True]
    model.layers[1].trainable = False
    model.compute_gradients(x, y)
    assert [layer.needs_input_grad for layer in model.layers] == [False, False, False]


def test_sequential_built_by_fit_takes_other_padded_lengths():
    """A Sequential with no declared input starting with an Embedding is built by fit's first
    batch; later batches of another padded length (bucket_by_sequence_length) run too, as in
    Keras, and a wrong feature count into Dense is still refused."""
    set_random_seed(0)
    m = Sequential([layers.Embedding(10, 4, mask_zero=True), layers.GRU(3), layers.Dense(1)])
    m.compile("adam", "mse")

    def batches():
        for n in (5, 9, 12):
            yield np.ones((4, n), np.int32), np.zeros((4, 1), np.float32)
    m.fit(batches(), epochs=1, verbose=0)
    assert m.predict(np.ones((2, 17), np.int32), verbose=0).shape == (2, 1)
    d = Sequential([layers.Dense(2)])
    d.compile("sgd", "mse")
    d.fit(np.ones((4, 3), np.float32), np.zeros((4, 2), np.float32), verbose=0)
    with pytest.raises(ValueError, match="expects input of shape"):
        d.fit(np.ones((4, 5), np.float32), np.zeros((4, 2), np.float32), verbose=0)
