"""keras.Layer / keras.InputSpec / layers.Wrapper / keras.tree and the long layer aliases: the
Keras 3 names that custom-layer code writes (guides "Making new layers and models via
subclassing", keras.io wrappers), each checked against what Keras does."""
import collections
import os

import numpy as np
import pytest

from corenn import keras
from corenn.keras import layers


class Linear(keras.Layer):
    """A guide-style custom layer that states its input spec, first loosely, then exactly."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.input_spec = keras.InputSpec(min_ndim=2)

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal")
        self.input_spec = keras.InputSpec(min_ndim=2, axes={-1: input_shape[-1]})

    def call(self, x):
        return keras.ops.matmul(x, self.w)


def test_keras_layer_is_layers_layer():
    assert keras.Layer is layers.Layer
    assert keras.InputSpec is layers.InputSpec
    assert isinstance(keras.Input((3,)), keras.KerasTensor)


def test_input_spec_refuses_wrong_rank_and_axis_on_data_and_symbolically():
    lin = Linear(3)
    assert lin(np.ones((2, 4), np.float32)).shape == (2, 3)
    with pytest.raises(ValueError, match=r'layer "linear.*axis -1 .* value 4.*\(2, 5\)'):
        lin(np.ones((2, 5), np.float32))
    with pytest.raises(ValueError, match="expected min_ndim=2, found ndim=1"):
        Linear(2)(np.ones((4,), np.float32))
    spec_layer = Linear(2)
    spec_layer.input_spec = keras.InputSpec(ndim=3)
    with pytest.raises(ValueError, match="expected ndim=3, found ndim=2"):
        spec_layer(keras.Input((4,)))   # building a functional model checks it too


@pytest.mark.parametrize("spec, shape, ok", [
    (dict(ndim=2), (5, 3), True), (dict(ndim=2), (5, 3, 1), False),
    (dict(max_ndim=3), (2, 3, 4), True), (dict(max_ndim=3), (2, 3, 4, 5), False),
    (dict(shape=(None, 4)), (7, 4), True), (dict(shape=(None, 4)), (7, 5), False),
    (dict(axes={1: 3}), (2, 3, 9), True), (dict(axes={1: 3}), (2, 4, 9), False),
    (dict(dtype="int32"), (2,), False), (dict(dtype="float32"), (2,), True),
])
def test_input_spec_rules(spec, shape, ok):
    from corenn.layers.input_spec import assert_input_compatibility
    x = np.zeros(shape, np.float32)
    if ok:
        assert_input_compatibility(keras.InputSpec(**spec), x, "probe")
    else:
        with pytest.raises(ValueError, match='layer "probe"'):
            assert_input_compatibility(keras.InputSpec(**spec), x, "probe")


def test_input_spec_list_counts_inputs():
    from corenn.layers.input_spec import assert_input_compatibility
    specs = [keras.InputSpec(ndim=2), keras.InputSpec(ndim=3)]
    assert_input_compatibility(specs, [np.zeros((1, 2)), np.zeros((1, 2, 3))], "pair")
    with pytest.raises(ValueError, match="expects 2 input"):
        assert_input_compatibility(specs, [np.zeros((1, 2))], "pair")
    with pytest.raises(ValueError, match="Input 1 .*ndim=3"):
        assert_input_compatibility(specs, [np.zeros((1, 2)), np.zeros((1, 2))], "pair")


@keras.saving.register_keras_serializable(package="tests")
class DoubleOutput(layers.Wrapper):
    """A user's wrapper: twice the wrapped layer's output."""

    def call(self, x):
        return 2.0 * self.layer(x)


def test_wrapper_trains_the_wrapped_layer_and_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4)).astype(np.float32)
    y = x @ rng.standard_normal((4, 2)).astype(np.float32)
    wrapped = DoubleOutput(layers.Dense(2))
    model = keras.Sequential([keras.Input((4,)), wrapped])
    assert [tuple(w.shape) for w in model.trainable_weights] == [(4, 2), (2,)]
    np.testing.assert_allclose(model.predict(x, verbose=0),
                               2 * (x @ np.asarray(wrapped.layer.kernel) + np.asarray(wrapped.layer.bias)),
                               rtol=1e-5, atol=1e-5)
    model.compile(keras.optimizers.Adam(0.05), "mse")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=30, batch_size=16, verbose=0)
    assert model.evaluate(x, y, verbose=0) < 0.2 * before
    path = os.path.join(tmp_path, "wrapped.keras")
    model.save(path)
    again = keras.models.load_model(path)
    assert isinstance(again.layers[-1], DoubleOutput)
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
    with pytest.raises(ValueError, match="Layer instance"):
        DoubleOutput("dense")


Point = collections.namedtuple("Point", "x y")


def test_tree_matches_keras_rules():
    tree = keras.tree
    s = {"b": [1, (2, None)], "a": Point(3, 4)}
    assert tree.flatten(s) == [3, 4, 1, 2, None]          # sorted keys; None is a leaf
    assert tree.flatten_with_path(s)[0] == (("a", 0), 3)
    doubled = tree.map_structure(lambda v: None if v is None else 2 * v, s)
    assert doubled == {"b": [2, (4, None)], "a": Point(6, 8)} and list(doubled) == ["b", "a"]
    assert isinstance(doubled["a"], Point)
    assert tree.pack_sequence_as(s, range(5)) == {"b": [2, (3, 4)], "a": Point(0, 1)}
    with pytest.raises(ValueError):
        tree.pack_sequence_as(s, range(4))
    tree.assert_same_structure([1, (2, 3)], [4, (5, 6)])
    with pytest.raises(ValueError):
        tree.assert_same_structure([1, (2, 3)], [4, [5, 6]])
    with pytest.raises(ValueError):
        tree.assert_same_structure([1, 2], [1, 2, 3])
    assert tree.map_structure(lambda a, b: a + b, [1, (2, 3)], [10, (20, 30)]) == [11, (22, 33)]
    assert tree.map_structure_up_to([0, 0], lambda v: len(v), [[1, 2], (3,)]) == [2, 1]
    assert tree.lists_to_tuples([1, [2, {"k": [3]}]]) == (1, (2, {"k": (3,)}))
    assert tree.traverse(lambda v: "leaf" if not tree.is_nested(v) else None, [1, (2,)]) == ["leaf", ("leaf",)]
    assert tree.map_shape_structure(lambda sh: len(sh), {"a": (None, 3), "b": [(1, 2, 3)]}) == {"a": 2, "b": [3]}


def test_long_layer_aliases_are_the_layers():
    assert layers.Convolution2D is layers.Conv2D and layers.Convolution1D is layers.Conv1D
    assert layers.Convolution2DTranspose is layers.Conv2DTranspose
    assert layers.SeparableConvolution2D is layers.SeparableConv2D
    spec = layers.serialize(layers.Convolution2D(4, 3))
    assert spec["class_name"] == "Conv2D"
    spec["class_name"] = "Convolution2D"   # a Keras 2 config naming the long alias still loads
    assert isinstance(layers.deserialize(spec), layers.Conv2D)


def test_spectral_normalization_one_step_matches_float64_power_iteration(rng):
    sn = layers.SpectralNormalization(layers.Dense(5), power_iterations=2)
    x = rng.standard_normal((3, 7)).astype(np.float32)
    sn(x)   # builds
    w0 = np.asarray(sn.layer.kernel, np.float64).copy()
    u = np.asarray(sn.vector_u, np.float64).copy()
    for _ in range(2):   # the power method, written independently in float64
        v = u @ w0.T
        v /= np.linalg.norm(v)
        u = v @ w0
        u /= np.linalg.norm(u)
    sigma = (v @ w0 @ u.T).item()
    y = sn(x, training=True)
    np.testing.assert_allclose(np.asarray(sn.layer.kernel), w0 / sigma, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(sn.vector_u), u, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(y), x @ (w0 / sigma) + np.asarray(sn.layer.bias), rtol=1e-4, atol=1e-5)
    before = np.asarray(sn.layer.kernel).copy()
    sn(x, training=False)   # inference leaves the kernel as it stands
    np.testing.assert_array_equal(np.asarray(sn.layer.kernel), before)


@pytest.mark.parametrize("make, shape", [(lambda: layers.Dense(6), (4, 9)),
                                         (lambda: layers.Conv2D(4, 3), (2, 8, 8, 3)),
                                         (lambda: layers.Embedding(12, 5), (2, 7))])
def test_spectral_normalization_converges_to_unit_spectral_norm(rng, make, shape):
    sn = layers.SpectralNormalization(make())
    x = rng.integers(0, 12, shape) if len(shape) == 2 and shape[1] == 7 else rng.standard_normal(shape).astype(np.float32)
    for _ in range(40):
        sn(x, training=True)
    kernel = np.asarray(sn._kernel)
    top = np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]).astype(np.float64), compute_uv=False)[0]
    assert abs(top - 1.0) < 1e-3


def test_spectral_normalization_trains_saves_and_refuses_bad_layers(rng, tmp_path):
    x = rng.standard_normal((64, 6)).astype(np.float32)
    y = (x[:, :1] > 0).astype(np.float32)
    model = keras.Sequential([keras.Input((6,)), layers.SpectralNormalization(layers.Dense(16, activation="relu")),
                              layers.SpectralNormalization(layers.Dense(1))])
    model.compile(keras.optimizers.Adam(0.01), keras.losses.BinaryCrossentropy(from_logits=True))
    first = model.fit(x, y, epochs=1, batch_size=16, verbose=0).history["loss"][0]
    last = model.fit(x, y, epochs=30, batch_size=16, verbose=0).history["loss"][-1]
    assert last < first
    assert len(model.non_trainable_weights) == 2   # the two u vectors
    path = os.path.join(tmp_path, "sn.keras")
    model.save(path)
    again = keras.models.load_model(path)
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
    assert again.layers[0].power_iterations == 1
    with pytest.raises(ValueError, match="no `kernel` or `embeddings`"):
        layers.SpectralNormalization(layers.Dropout(0.5))(x)
    with pytest.raises(ValueError, match="power_iterations"):
        layers.SpectralNormalization(layers.Dense(2), power_iterations=0)


def test_spectral_normalization_weights_are_in_keras_order():
    """Keras 3 lists a SpectralNormalization(Dense)'s weights as kernel, vector_u, bias (its
    build makes the kernel the wrapper's own first variable): get_weights / set_weights of
    arrays taken from Keras line up."""
    sn = layers.SpectralNormalization(layers.Dense(3))
    sn(np.zeros((2, 6), np.float32))
    assert [tuple(w.shape) for w in sn.get_weights()] == [(6, 3), (1, 3), (3,)]
    assert sn.weights[0] is sn.layer.kernel and sn.weights[1] is sn.vector_u and sn.weights[2] is sn.layer.bias
    arrays = [np.full((6, 3), 0.5, np.float32), np.full((1, 3), 0.25, np.float32), np.arange(3, dtype=np.float32)]
    sn.set_weights(arrays)
    np.testing.assert_array_equal(np.asarray(sn.layer.bias), arrays[2])
    np.testing.assert_array_equal(np.asarray(sn.vector_u), arrays[1])
    assert [id(w) for w in sn.trainable_weights] == [id(sn.layer.kernel), id(sn.layer.bias)]
