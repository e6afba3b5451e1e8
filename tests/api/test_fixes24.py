"""Keras 3 fidelity gaps fixed in h24, each checked against Keras 3 (torch backend)."""
import numpy as np

import corenn as keras


def test_same_short_name_registered_in_two_packages_stays_apart(tmp_path):
    # Keras 3 finds a registered class by its registered name ('A>Twin'), so a second class of
    # the same short name registered under another package does not replace the first in files
    @keras.saving.register_keras_serializable(package="H24A")
    class Twin(keras.layers.Layer):
        def __init__(self, factor, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return x * self.factor

        def get_config(self):
            return dict(super().get_config(), factor=self.factor)

    first = Twin

    @keras.saving.register_keras_serializable(package="H24B")
    class Twin(keras.layers.Layer):   # noqa: F811 (the name taken again, as in the guide)
        def call(self, x):   # takes no 'factor': building it from the first's config fails
            return x

    inputs = keras.Input(shape=(3,))
    model = keras.Model(inputs, first(0.5)(inputs))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert type(loaded.layers[1]) is first
    x = np.arange(6, dtype="float32").reshape(2, 3)
    np.testing.assert_allclose(np.asarray(loaded(x)), x * 0.5)
    spec = keras.layers.serialize(first(2.0))
    assert spec["registered_name"] == "H24A>Twin"
    assert type(keras.layers.deserialize(spec)) is first
    # the later registration of a registered name wins, as in Keras
    assert keras.saving.get_registered_object("H24B>Twin") is Twin


class _OwnWeights(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.d = keras.layers.Dense(2, name="d")
        self.s = self.add_weight(shape=(2,), name="s", initializer="ones")
        self.n = self.add_weight(shape=(1,), name="n", trainable=False, initializer="zeros")

    def call(self, x):
        return self.d(x) * self.s + self.n


def test_subclassed_model_lists_its_own_weights_first(tmp_path):
    # Keras 3 (torch): weights [sub/s, sub/n, sub/d/kernel, sub/d/bias], trainable
    # [sub/s, sub/d/kernel, sub/d/bias], get_weights shapes [(2,), (1,), (3, 2), (2,)]
    m = _OwnWeights(name="sub")
    m(np.ones((1, 3), "float32"))
    assert [w.path for w in m.weights] == ["sub/s", "sub/n", "sub/d/kernel", "sub/d/bias"]
    assert [w.path for w in m.trainable_weights] == ["sub/s", "sub/d/kernel", "sub/d/bias"]
    assert [w.path for w in m.non_trainable_weights] == ["sub/n"]
    assert [a.shape for a in m.get_weights()] == [(2,), (1,), (3, 2), (2,)]
    new = [np.full((2,), 3.0, "float32"), np.full((1,), 0.5, "float32"),
           np.arange(6, dtype="float32").reshape(3, 2), np.array([1.0, -1.0], "float32")]
    m.set_weights(new)
    x = np.array([[1.0, 2.0, 3.0]], "float32")
    np.testing.assert_allclose(np.asarray(m(x)), (x @ new[2] + new[3]) * new[0] + new[1], rtol=1e-6)
    m.compile(optimizer="adam", loss="mse")
    m.fit(x, np.ones((1, 2), "float32"), epochs=1, verbose=0)
    trained = m.get_weights()
    m.save(tmp_path / "m.keras")   # corenn's own model file round-trips in the new order
    other = keras.models.load_model(tmp_path / "m.keras", custom_objects={"_OwnWeights": _OwnWeights})
    assert [w.path for w in other.weights] == ["sub/s", "sub/n", "sub/d/kernel", "sub/d/bias"]
    for a, b in zip(other.get_weights(), trained):
        np.testing.assert_array_equal(a, b)


def test_int8_dense_and_einsum_dense_list_the_bias_first(tmp_path):
    # Keras 3 (torch): quantize("int8") makes the int8 kernel again after the bias, so weights
    # are [bias, kernel, kernel_scale] (also when built int8 from a config); its .weights.h5
    # still stores vars 0, 1, 2 = kernel, bias, kernel_scale
    h5py = __import__("pytest").importorskip("h5py")
    d = keras.layers.Dense(4, name="qd")
    d.build((None, 3))
    d.set_weights([np.arange(12, dtype="float32").reshape(3, 4) / 7, np.full((4,), 0.25, "float32")])
    d.quantize("int8")
    assert [w.path for w in d.weights] == ["qd/bias", "qd/kernel", "qd/kernel_scale"]
    assert [w.path for w in d.trainable_weights] == ["qd/bias"]
    bias, kq, scale = d.get_weights()
    np.testing.assert_array_equal(bias, np.full((4,), 0.25))
    assert kq.shape == (3, 4) and np.abs(kq).max() == 127 and scale.shape == (4,)
    clone = keras.layers.Dense.from_config(d.get_config())
    clone.build((None, 3))
    assert [w.name for w in clone.weights] == ["bias", "kernel", "kernel_scale"]
    e = keras.layers.EinsumDense("ab,bc->ac", output_shape=2, bias_axes="c", name="qe")
    e.build((None, 3))
    e.quantize("int8")
    assert [w.path for w in e.weights] == ["qe/bias", "qe/kernel", "qe/kernel_scale"]
    model = keras.Sequential([keras.Input((3,)), clone])
    clone.set_weights(d.get_weights())
    model.save_weights(tmp_path / "q.weights.h5")
    with h5py.File(tmp_path / "q.weights.h5", "r") as f:
        group = f["layers/dense/vars"]
        assert group["0"].dtype == np.int8 and group["0"].shape == (3, 4)   # the kernel first
        np.testing.assert_array_equal(group["1"][()], bias)
        np.testing.assert_array_equal(group["2"][()], scale)
    other = keras.Sequential([keras.Input((3,)), keras.layers.Dense.from_config(d.get_config())])
    other.load_weights(tmp_path / "q.weights.h5")
    for a, b in zip(other.get_weights(), d.get_weights()):
        np.testing.assert_array_equal(a, b)
