"""Layers, variables and metrics a user keeps in private attributes (``self._proj = Dense(4)``).

Keras 3 tracks every attribute a layer or model is given, private ones included: it trains,
lists and saves them, and walks private attributes last when it writes a ``.weights.h5``
(saving_lib._name_key). corenn used to skip every name starting with "_", so such a sublayer
silently never trained. The file layouts below are what Keras 3.15 writes for these models.
"""
import h5py
import numpy as np
import pytest

import corenn
import corenn.keras as keras
from corenn.keras import layers


class Block(layers.Layer):
    def __init__(self, **kw):
        super().__init__(**kw)
        self._proj = layers.Dense(4)
        self.norm = layers.LayerNormalization()

    def call(self, x):
        return self.norm(self._proj(x))


class Net(keras.Model):
    def __init__(self):
        super().__init__()
        self._block = Block()
        self.head = layers.Dense(1)
        self._seen = keras.metrics.Mean(name="seen")
        self._scale = keras.Variable(np.ones((1,), "float32"), name="scale")

    def call(self, x):
        return self.head(self._block(x)) * self._scale


def _functional():
    corenn.utils.set_random_seed(0)
    inp = keras.Input((3,))
    return keras.Model(inp, layers.Dense(1)(Block()(inp)))


def _data():
    rng = np.random.default_rng(0)
    return rng.random((32, 3)).astype("float32"), rng.random((32, 1)).astype("float32")


def _h5_datasets(path):
    keys = []
    with h5py.File(path) as f:
        f.visititems(lambda k, v: keys.append(k) if isinstance(v, h5py.Dataset) else None)
    return keys


def test_a_private_sublayer_is_listed_and_trained():
    model = _functional()
    block, head = model.layers[1], model.layers[2]
    proj, norm = block._proj.name, block.norm.name
    assert [w.path for w in model.weights] == [   # as Keras 3 lists them ('block/dense_1/kernel', ...)
        f"{block.name}/{proj}/kernel", f"{block.name}/{proj}/bias", f"{block.name}/{norm}/gamma",
        f"{block.name}/{norm}/beta", f"{head.name}/kernel", f"{head.name}/bias"]
    x, y = _data()
    model.compile("sgd", "mse")
    before = model.get_weights()
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    for name, a, b in zip([w.path for w in model.weights], before, model.get_weights()):
        assert not np.allclose(a, b), f"{name} did not train"


def test_the_private_sublayer_gets_the_gradient_of_the_loss():
    """One SGD step on the private Dense kernel equals -lr * dL/dW by central differences."""
    model = _functional()
    x, y = _data()
    model.compile(keras.optimizers.SGD(0.1), "mse")
    kernel = model.weights[0]
    w0 = np.array(kernel.numpy(), np.float64)

    def loss_at(w):
        kernel.assign(w.astype("float32"))
        return float(np.mean((np.asarray(model.predict_on_batch(x), np.float64) - y) ** 2))

    eps, fd = 1e-3, np.zeros_like(w0)
    for i in range(w0.shape[0]):
        for j in range(w0.shape[1]):
            d = np.zeros_like(w0)
            d[i, j] = eps
            fd[i, j] = (loss_at(w0 + d) - loss_at(w0 - d)) / (2 * eps)
    kernel.assign(w0.astype("float32"))
    model.train_on_batch(x, y)
    np.testing.assert_allclose((w0 - kernel.numpy()) / 0.1, fd, rtol=2e-2, atol=2e-4)


def test_freezing_the_outer_layer_freezes_the_private_one():
    model = _functional()
    model.layers[1].trainable = False
    assert [w.path for w in model.trainable_weights] == [w.path for w in model.layers[2].weights]
    assert model.layers[1]._proj.trainable is False


def test_weights_h5_layout_is_keras(tmp_path):
    model = _functional()
    path = str(tmp_path / "f.weights.h5")
    model.save_weights(path)
    assert _h5_datasets(path) == [
        "layers/block/_proj/vars/0", "layers/block/_proj/vars/1", "layers/block/norm/vars/0",
        "layers/block/norm/vars/1", "layers/dense/vars/0", "layers/dense/vars/1"]
    x, _ = _data()
    other = _functional()
    other.set_weights([w * 0 for w in other.get_weights()])
    other.load_weights(path)
    np.testing.assert_array_equal(other.predict_on_batch(x), model.predict_on_batch(x))


def test_subclassed_model_tracks_what_its_user_set_privately(tmp_path):
    net = Net()
    x, y = _data()
    net(x[:1])
    paths = [w.path for w in net.weights]
    assert len(paths) == 7 and "scale" in paths[0]   # its own variable first, as Keras lists it
    assert [m.name for m in net.metrics][-1:] == ["seen"]
    # Keras 3 writes the block under ``layers`` (walked before the private ``_block``)
    path = str(tmp_path / "s.weights.h5")
    net.save_weights(path)
    assert _h5_datasets(path) == [
        "head/vars/0", "head/vars/1", "layers/block/_proj/vars/0", "layers/block/_proj/vars/1",
        "layers/block/norm/vars/0", "layers/block/norm/vars/1", "vars/0"]
    net.compile("sgd", "mse")
    before = net.get_weights()
    net.fit(x, y, epochs=1, batch_size=32, verbose=0)
    assert all(not np.allclose(a, b) for a, b in zip(before, net.get_weights()))


def test_corenn_private_state_on_a_users_model_is_not_tracked():
    """compile and fit set private state on the model (compiled metrics, the loss tracker, step
    caches): none of it becomes a layer, weight or metric of the user's model."""
    net = Net()
    x, y = _data()
    net.compile("adam", "mse", metrics=["mae"])
    h = net.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert sorted(net.__dict__.get("_user_private", ())) == ["_block", "_scale", "_seen"]
    assert [m.name for m in net.metrics] == ["loss", "compile_metrics", "seen"] or \
        [m.name for m in net.metrics] == ["loss", "mae", "seen"]
    assert list(h.history) == ["loss", "mae"]
    assert len(net.weights) == 7
