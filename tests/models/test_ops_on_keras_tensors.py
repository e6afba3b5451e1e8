"""Tensor ops called on KerasTensors while a functional model is built record a node each
(Keras 3's ops on symbolic tensors, TF-Keras 2's TFOpLambda): keras.ops, the tf.* names and
Python operators. Each model's prediction is checked against NumPy on the same arrays, its
gradient against the chain rule, and its config and file round trips."""
import json

import numpy as np
import pytest

import corenn as tf
from corenn import keras
from corenn.keras import layers, ops
from corenn.layers import OpLayer

X = np.random.default_rng(0).standard_normal((3, 4, 5)).astype(np.float32)

CASES = {   # name: (what the model does to its input, the NumPy of it)
    "add_scalar": (lambda x: ops.add(x, 1.5), lambda a: a + 1.5),
    "operators": (lambda x: (2.0 - x) * x / 4.0 + x ** 2, lambda a: (2.0 - a) * a / 4.0 + a ** 2),
    "negative_abs": (lambda x: -abs(x), lambda a: -np.abs(a)),
    "broadcast_constant": (lambda x: x + np.arange(5, dtype=np.float32), lambda a: a + np.arange(5)),
    "expand_squeeze": (lambda x: ops.squeeze(ops.expand_dims(x, -1), -1), lambda a: a),
    "transpose_matmul": (lambda x: ops.matmul(x, ops.transpose(x, (0, 2, 1))),
                         lambda a: a @ np.transpose(a, (0, 2, 1))),
    "matmul_operator": (lambda x: x @ np.ones((5, 2), np.float32), lambda a: a @ np.ones((5, 2))),
    "mean_keepdims": (lambda x: ops.mean(x, axis=1, keepdims=True), lambda a: a.mean(1, keepdims=True)),
    "index_first_step": (lambda x: x[:, 0], lambda a: a[:, 0]),
    "slice_steps": (lambda x: x[:, 1:3, ::2], lambda a: a[:, 1:3, ::2]),
    "concatenate": (lambda x: ops.concatenate([x, ops.exp(x)], axis=-1),
                    lambda a: np.concatenate([a, np.exp(a)], -1)),
    "softmax": (lambda x: ops.softmax(x, axis=-1),
                lambda a: np.exp(a) / np.exp(a).sum(-1, keepdims=True)),
    "reshape_batch_kept": (lambda x: ops.reshape(x, (-1, 20)), lambda a: a.reshape(-1, 20)),
    "tf_reduce_sum": (lambda x: tf.reduce_sum(x, axis=[1, 2]), lambda a: a.sum((1, 2))),
    "tf_concat_expand": (lambda x: tf.concat([tf.expand_dims(x, 1), tf.expand_dims(x, 1)], axis=1),
                         lambda a: np.stack([a, a], 1)),
    "tf_nn_math": (lambda x: tf.nn.relu(tf.math.tanh(x)), lambda a: np.maximum(np.tanh(a), 0)),
    "ops_nn_family": (lambda x: ops.nn.sigmoid(x), lambda a: 1 / (1 + np.exp(-a))),
    "dynamic_batch_reshape": (lambda x: tf.reshape(x, [tf.shape(x)[0], -1]), lambda a: a.reshape(len(a), -1)),
    "keras2_backend": (lambda x: keras.backend.batch_flatten(keras.backend.permute_dimensions(
        keras.backend.l2_normalize(x, axis=-1), (0, 2, 1))),
        lambda a: np.transpose(a / np.sqrt((a * a).sum(-1, keepdims=True)), (0, 2, 1)).reshape(len(a), -1)),
    "comparison_mask": (lambda x: ops.cast(x > 0.0, "float32") * x, lambda a: np.where(a > 0, a, 0.0)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_model_computes_what_the_ops_compute(name, tmp_path):
    build, numpy_of = CASES[name]
    inputs = keras.Input((4, 5))
    model = keras.Model(inputs, build(inputs))
    want = numpy_of(X.astype(np.float64))
    assert tuple(model.output_shape[1:]) == want.shape[1:]
    np.testing.assert_allclose(model.predict(X, verbose=0), want, rtol=1e-5, atol=1e-5)
    # the config names the op and holds its other arguments as JSON; a file rebuilds it
    again = keras.Model.from_config(json.loads(json.dumps(model.get_config())))
    np.testing.assert_allclose(again.predict(X, verbose=0), want, rtol=1e-5, atol=1e-5)
    model.save(tmp_path / "m.keras")
    np.testing.assert_allclose(keras.models.load_model(tmp_path / "m.keras").predict(X, verbose=0), want,
                               rtol=1e-5, atol=1e-5)


def test_the_batch_axis_and_the_dtype_come_from_the_op():
    ids = keras.Input((6,), dtype="int32")
    hot = ops.one_hot(ids, 4)
    assert tuple(hot.shape) == (None, 6, 4) and hot.dtype == "float32"
    picked = ops.argmax(hot, axis=-1)
    assert tuple(picked.shape) == (None, 6) and str(picked.dtype).startswith("int")
    assert ops.shape(hot) == (None, 6, 4)   # Keras 3: a KerasTensor's shape is a tuple
    model = keras.Model(ids, [hot, picked])
    x = np.array([[0, 1, 2, 3, 3, 1]] * 2, np.int32)
    got_hot, got_ids = model.predict(x, verbose=0)
    np.testing.assert_array_equal(got_hot, np.eye(4)[x])
    np.testing.assert_array_equal(got_ids, x)


def test_gradients_flow_through_op_nodes_into_the_layers():
    # y = sum_j (x W + b)_j^2 * c_j: dW = x^T (2 z c), db = sum_n 2 z c
    rng = np.random.default_rng(1)
    c = rng.standard_normal(3).astype(np.float32)
    inputs = keras.Input((4,))
    dense = layers.Dense(3)
    z = dense(inputs)
    y = ops.sum(ops.square(z) * c, axis=-1, keepdims=True)
    model = keras.Model(inputs, y)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    with tf.GradientTape() as tape:
        out = model(x)
        loss = ops.sum(out)
    dw, db = tape.gradient(loss, [dense.kernel, dense.bias])
    w, b = [np.asarray(v, np.float64) for v in dense.get_weights()]
    zz = x.astype(np.float64) @ w + b
    np.testing.assert_allclose(np.asarray(dw), x.T.astype(np.float64) @ (2 * zz * c), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(db), (2 * zz * c).sum(0), rtol=1e-4, atol=1e-5)


def test_a_model_with_op_nodes_trains_with_fit():
    rng = np.random.default_rng(2)
    inputs = keras.Input((8,))
    h = layers.Dense(16, activation="relu")(inputs)
    h = ops.concatenate([h, ops.square(inputs)], axis=-1) * 0.5
    model = keras.Model(inputs, layers.Dense(1)(h))
    model.compile(keras.optimizers.Adam(0.01), "mse")
    x = rng.standard_normal((128, 8)).astype(np.float32)
    y = (x ** 2).sum(1, keepdims=True)
    hist = model.fit(x, y, epochs=20, batch_size=32, verbose=0)
    assert hist.history["loss"][-1] < 0.3 * hist.history["loss"][0]


def test_a_weight_among_the_arguments_is_refused():
    inputs = keras.Input((4,))
    dense = layers.Dense(4)
    h = dense(inputs)
    with pytest.raises(TypeError, match="weight.*never train"):
        ops.matmul(h, dense.kernel)


def test_unsavable_arguments_and_bad_configs_name_the_problem():
    inputs = keras.Input((4,))
    out = tf.map_fn(lambda row: row * 2.0, inputs)
    node_layer = out.node.layer
    assert isinstance(node_layer, OpLayer)
    with pytest.raises(NotImplementedError, match="map_fn.*cannot be written"):
        node_layer.get_config()
    with pytest.raises(ValueError, match="unknown op"):
        OpLayer.from_config({"name": "x", "function": "os.system", "args": [{"__tensor__": 0}], "kwargs": {}})
    with pytest.raises(ValueError, match="bad argument"):
        OpLayer.from_config({"name": "x", "function": "ops.add", "args": [{"__tensor__": 0}, {"__code__": "1"}],
                             "kwargs": {}})


def test_a_subclassed_layer_is_unaffected_and_ops_stay_eager_on_values():
    class Scale(layers.Layer):
        def call(self, x):
            return ops.multiply(x, 3.0)
    inputs = keras.Input((2,))
    model = keras.Model(inputs, ops.add(Scale()(inputs), 1.0))
    x = np.array([[1.0, -2.0]], np.float32)
    np.testing.assert_allclose(model.predict(x, verbose=0), 3 * x + 1)
    eager = ops.add(tf.constant(x), 1.0)   # no KerasTensor: a Tensor, computed now
    assert isinstance(eager, tf.Tensor)
    np.testing.assert_allclose(np.asarray(eager), x + 1)


def test_shape_ops_move_a_string_column_to_a_lookup(tmp_path):
    # the Wide & Deep example: StringLookup(output_mode="binary")(ops.expand_dims(column, -1)) on a
    # dtype="string" Input; the shape ops keep strings strings, eagerly and in the model
    column = np.array(["b", "a", "zz", "b"], dtype=object)
    assert ops.expand_dims(column, -1).shape == (4, 1)
    assert list(ops.squeeze(ops.reshape(column, (1, 4, 1)))) == ["b", "a", "zz", "b"]
    inp = layers.Input(name="kind", shape=(), dtype="string")
    expanded = ops.expand_dims(inp, -1)
    assert expanded.dtype == "string" and tuple(expanded.shape) == (None, 1)
    one_hot = layers.StringLookup(vocabulary=["a", "b"], mask_token=None, num_oov_indices=0,
                                  output_mode="binary")(expanded)
    out = layers.Dense(1, kernel_initializer="ones", use_bias=False)(one_hot)
    model = keras.Model({"kind": inp}, out)
    np.testing.assert_allclose(model.predict({"kind": np.array(["b", "a", "a"], dtype=object)}, verbose=0),
                               [[1.0], [1.0], [1.0]])
    lookup = model.layers[2]
    assert isinstance(model.layers[1], OpLayer)
    np.testing.assert_array_equal(np.asarray(lookup(ops.expand_dims(np.array(["b", "a"], dtype=object), -1))),
                                  [[0, 1], [1, 0]])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit({"kind": np.array(["a", "b"] * 8, dtype=object)}, np.array([2.0, -1.0] * 8),
                        epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    model.save(tmp_path / "lookup.keras")
    reloaded = keras.models.load_model(tmp_path / "lookup.keras")
    batch = {"kind": np.array(["b", "a"], dtype=object)}
    np.testing.assert_allclose(reloaded.predict(batch, verbose=0), model.predict(batch, verbose=0), rtol=1e-6)


def test_reshape_into_groups_of_an_unknown_batch(rng):
    """ops.reshape(x, (-1, k, d)) of a symbolic batch that holds batch * k rows (an encoder applied
    to a batch of anchors' k neighbours, flattened): Keras infers (None, k, d); corenn's probe of
    the unknown axis with 1 and 2 cannot split those, so it probes with multiples. Values against
    NumPy's reshape."""
    from corenn import keras
    from corenn.keras import layers, ops
    neighbours = keras.Input((5, 3))
    flat = ops.reshape(neighbours, (-1, 3))
    assert tuple(flat.shape) == (None, 3)
    scored = layers.Dense(4)(flat)
    grouped = ops.reshape(scored, (-1, 5, ops.shape(scored)[-1]))
    assert tuple(grouped.shape) == (None, 5, 4)
    model = keras.Model(neighbours, grouped)
    x = rng.normal(size=(6, 5, 3)).astype(np.float32)
    kernel, bias = (np.asarray(w) for w in model.layers[2].weights)
    np.testing.assert_allclose(np.asarray(model(x)), (x.reshape(-1, 3) @ kernel + bias).reshape(6, 5, 4),
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="reshape"):   # a split no batch size allows still says so
        ops.reshape(keras.Input((4,)), (-1, 7, 3))
