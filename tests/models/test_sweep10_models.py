"""Model features the keras.io sweep 10 programs needed: a subclassed model's own ``build`` and
``add_weight`` (the Perceiver), a graph model called with a batch-1 input beside a batch
(its latent array), an overridden ``compute_metrics`` (the masked language model) and Keras 3's
per-step sample weights."""
import numpy as np
import pytest

import corenn as keras
from corenn.keras import layers, ops


class _Latent(keras.Model):
    def __init__(self, units):
        super().__init__()
        self.units = units
        self.built_with = None

    def build(self, input_shape):
        self.built_with = input_shape
        self.latent = self.add_weight(shape=(1, self.units), initializer="zeros", trainable=True)
        self.dense = layers.Dense(self.units)
        super().build(input_shape)

    def call(self, inputs):
        return self.dense(inputs) + self.latent


def test_subclassed_model_build_runs_before_its_first_call_and_add_weight_trains():
    model = _Latent(2)
    model.compile(keras.optimizers.Adam(0.1), "mse")
    x = np.zeros((16, 3), "float32")
    y = np.full((16, 2), 3.0, "float32")
    model.fit(x, y, epochs=20, verbose=0)
    assert model.built_with == (None, 3)
    assert any(w is model.latent for w in model.trainable_weights)
    # x is zero: only the biases and the latent weight can fit y
    pred = model.predict(x[:2], verbose=0)
    np.testing.assert_allclose(pred, 3.0, atol=0.3)
    assert np.abs(np.asarray(model.latent)).max() > 0.1
    assert len(model.get_weights()) == 3


def test_model_add_weight_without_an_attribute_is_a_weight():
    class M(keras.Model):
        def build(self, input_shape):
            self.w_list = [self.add_weight(shape=(2,), initializer="ones")]

        def call(self, x):
            return x * self.w_list[0]

    m = M()
    out = m(np.ones((3, 2), "float32"))
    np.testing.assert_allclose(np.asarray(out), 1.0)
    assert len(m.trainable_weights) == 1 and tuple(m.trainable_weights[0].shape) == (2,)


def _broadcast_model():
    a = keras.Input((4, 3), name="latent")
    b = keras.Input((5, 3), name="data")
    out = layers.Attention()([a, b])
    out = layers.Add()([out, a])
    return keras.Model({"latent": a, "data": b}, out)


def test_graph_model_called_with_a_batch_of_one_beside_a_batch():
    model = _broadcast_model()
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(1, 4, 3)).astype("float32")
    data = rng.normal(size=(6, 5, 3)).astype("float32")
    out = model({"latent": latent, "data": data})
    assert tuple(out.shape) == (6, 4, 3)
    tiled = model({"latent": np.repeat(latent, 6, axis=0), "data": data})
    np.testing.assert_allclose(np.asarray(out), np.asarray(tiled), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="same number of samples"):
        model.predict({"latent": latent, "data": data}, verbose=0)


loss_fn = keras.losses.SparseCategoricalCrossentropy(reduction=None)
tracker = keras.metrics.Mean(name="loss")


class _TokenModel(keras.Model):
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None):
        loss = loss_fn(y, y_pred, sample_weight)
        tracker.update_state(loss, sample_weight=sample_weight)
        return ops.sum(loss)

    def compute_metrics(self, x, y, y_pred, sample_weight):
        return {"loss": tracker.result(), "steps_seen": 1.0}

    @property
    def metrics(self):
        return [tracker]


def _token_data(n=32, t=6, v=7):
    rng = np.random.default_rng(1)
    x = rng.integers(1, v, size=(n, t))
    w = (rng.random((n, t)) < 0.5).astype("float32")
    return x, x.copy(), w


def test_overridden_compute_metrics_gives_the_logs_and_per_step_weights_reach_compute_loss():
    x, y, w = _token_data()
    inp = keras.Input((6,), dtype="int64")
    out = layers.Dense(7, activation="softmax")(layers.Embedding(7, 8)(inp))
    model = _TokenModel(inp, out)
    model.compile(optimizer=keras.optimizers.Adam(0.05))
    hist = model.fit(x, y, sample_weight=w, batch_size=8, epochs=4, verbose=0)
    assert set(hist.history) == {"loss", "steps_seen"}
    assert hist.history["steps_seen"] == [1.0] * 4
    # the logged loss is the tracker's weighted mean over the epoch's weighted tokens
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    probs = model.predict(x, verbose=0)
    ce = -np.log(np.take_along_axis(probs, y[..., None], -1)[..., 0])
    logs = model.evaluate(x, y, sample_weight=w, batch_size=32, verbose=0, return_dict=True)
    np.testing.assert_allclose(logs["loss"], (ce * w).sum() / w.sum(), rtol=1e-4)


def test_per_step_sample_weights_in_the_compiled_loss():
    x, y, w = _token_data()
    inp = keras.Input((6,), dtype="int64")
    out = layers.Dense(7, activation="softmax")(layers.Embedding(7, 8)(inp))
    model = keras.Model(inp, out)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    probs = model.predict(x, verbose=0)
    ce = -np.log(np.take_along_axis(probs, y[..., None], -1)[..., 0])
    loss = model.evaluate(x, y, sample_weight=w, batch_size=32, verbose=0)
    # Keras' sum_over_batch_size: the weighted sum over the number of (sample, step) entries
    np.testing.assert_allclose(loss, (ce * w).sum() / ce.size, rtol=1e-4)
    model.fit(x, y, sample_weight=w, batch_size=8, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="sample_weight"):
        model.fit(x, y, sample_weight=np.ones((32, 5), "float32"), epochs=1, verbose=0)


def test_default_compute_metrics_and_get_metrics_result():
    inp = keras.Input((3,))
    model = keras.Model(inp, layers.Dense(2, activation="softmax")(inp))
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x = np.eye(3, dtype="float32")[[0, 1, 2, 0]]
    y = np.array([0, 1, 1, 0])
    model.fit(x, y, epochs=1, verbose=0)
    logs = model.compute_metrics(x, y, model.predict(x, verbose=0), None)
    assert "accuracy" in logs and "loss" in logs
    assert set(model.get_metrics_result()) == set(logs)


def _resnet_like():
    inp = keras.Input((4, 4, 2))
    h = layers.Conv2D(2, 3, padding="same")(inp)
    h = layers.Add()([h, inp])
    return keras.Model(inp, layers.Flatten()(h), name="encoder")


def test_sequential_holds_a_functional_model_that_is_not_a_chain():
    encoder = _resnet_like()
    model = keras.Sequential([encoder, layers.Dense(3, activation="softmax")])
    assert model.layers[0] is encoder          # Keras: the model is one entry
    x = np.random.default_rng(7).normal(size=(5, 4, 4, 2)).astype("float32")
    np.testing.assert_allclose(model.predict(x, verbose=0),
                               model.layers[1](encoder.predict(x, verbose=0)), rtol=1e-5, atol=1e-6)
    # model.layers[0].trainable = False freezes the encoder (a linear probe)
    model.layers[0].trainable = False
    before = [np.array(w, copy=True) for w in encoder.weights]
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, np.array([0, 1, 2, 0, 1]), epochs=2, verbose=0)
    assert all(np.array_equal(a, np.asarray(b)) for a, b in zip(before, encoder.weights))
    assert len(model.trainable_weights) == 2
    with pytest.raises(ValueError, match="expects input"):
        keras.Sequential([keras.Input((5, 5, 2)), encoder])


def test_an_output_made_by_a_nested_model_is_named_after_it():
    x_in = keras.Input((3,), name="x")
    inner_in = keras.Input((3,))
    decoder = keras.Model(inner_in, layers.Dense(2)(layers.Dense(4)(inner_in)), name="outputs")
    model = keras.Model(x_in, decoder(x_in))
    assert model.output_names == ["outputs"]
    model.compile("adam", "mse")
    x = np.ones((4, 3), "float32")
    hist = model.fit({"x": x}, {"outputs": np.zeros((4, 2), "float32")}, epochs=1, verbose=0)
    assert "loss" in hist.history


def test_sequential_with_a_functional_entry_keeps_its_weights_and_saves_a_model_file(tmp_path):
    encoder = _resnet_like()
    model = keras.Sequential([encoder, layers.Dense(3)])
    path = str(tmp_path / "m.weights.npz")
    model.save_weights(path)
    x = np.random.default_rng(8).normal(size=(2, 4, 4, 2)).astype("float32")
    expect = model.predict(x, verbose=0)
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])
    model.load_weights(path)
    np.testing.assert_allclose(model.predict(x, verbose=0), expect, rtol=1e-6)
    model.save(str(tmp_path / "m.keras"))   # the config nests the encoder's, as Keras writes it
    loaded = keras.models.load_model(str(tmp_path / "m.keras"))
    assert [type(e).__name__ for e in loaded.layers] == ["Model", "Dense"]
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expect, rtol=1e-6)
