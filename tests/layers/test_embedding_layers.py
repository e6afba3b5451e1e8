"""Embedding and TimeDistributed layers: forward vs NumPy, finite-difference gradients, shapes,
configs, errors, and a Sequential starting with an Embedding that learns a tiny task."""
import numpy as np
import pytest

import corenn as tf
from corenn import layers, kernels
from corenn.layers.embedding import Embedding
from corenn.layers.wrappers import TimeDistributed
from corenn.models.sequential import Sequential
from corenn.optimizers import Adam
import reference as ref
from reference import numerical_grad


def _grads(layer, x, r):
    """y, dx and param grads of L = sum(forward(x) * r)."""
    y = layer.forward(kernels.as_tensor(x), training=True)
    dx = layer.backward(kernels.as_tensor(np.ascontiguousarray(r, np.float32)))
    return np.asarray(y).copy(), (None if dx is None else np.asarray(dx).copy()), \
        [np.asarray(g).copy() for g in layer.gradients]


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (2, 3, 4), (4,)])
def test_embedding_forward_and_gradient(shape, rng):
    layer = Embedding(7, 3)
    x = rng.integers(0, 7, size=shape).astype(np.float32)  # as Sequential feeds it
    layer.build((None,) + shape[1:])
    assert layer.output_shape == (None,) + shape[1:] + (3,)
    w = layer.get_weights()[0]
    assert w.shape == (7, 3) and np.abs(w).max() <= 0.05 and np.abs(w).max() > 0  # uniform(-.05, .05)
    r = rng.normal(size=shape + (3,))
    y, dx, (dw,) = _grads(layer, x, r)
    assert dx is None  # indices are not differentiable
    np.testing.assert_array_equal(y, ref.embedding(x, w).astype(np.float32))
    fd = numerical_grad(lambda v: float((ref.embedding(x, v) * r).sum()), w)
    np.testing.assert_allclose(dw, fd, rtol=1e-4, atol=1e-5)


def test_embedding_eager_call_int_input_and_errors(rng):
    layer = Embedding(5, 2, name="emb")
    y = layer(np.array([[4, 0, 4]]))
    assert y.shape == (1, 3, 2)
    np.testing.assert_array_equal(y[0, 0], y[0, 2])
    with pytest.raises(ValueError, match=r"embedding_forward: index out of range: indices\[1\] = 5, "
                                         r"valid range is \[0, 5\)"):
        layer(np.array([[1, 5, 0]]))
    with pytest.raises(ValueError, match="embedding_forward: indices must be whole numbers"):
        layer(np.array([[1, 2.5, 0]]))
    with pytest.raises(ValueError, match="input_dim must be a positive integer"):
        Embedding(0, 2)
    with pytest.raises(ValueError, match="output_dim must be a positive integer"):
        Embedding(5, 2.5)


def test_embedding_sizes_may_be_integer_scalar_tensors():
    # tf.keras 2 programs size a positional embedding with tf.shape(x)[1] (the CCT example)
    tokens = tf.ones((1, 16, 8))
    layer = Embedding(input_dim=tf.shape(tokens)[1], output_dim=tf.shape(tokens)[-1])
    assert layer.input_dim == 16 and layer.output_dim == 8 and type(layer.get_config()["input_dim"]) is int
    assert layer(tf.range(16)).shape == (16, 8)
    with pytest.raises(ValueError, match="input_dim must be a positive integer"):
        Embedding(input_dim=tf.constant(np.int32(0)), output_dim=2)
    with pytest.raises(ValueError, match="output_dim must be a positive integer"):
        Embedding(input_dim=4, output_dim=tf.constant(np.array([2, 3], np.int32)))


def test_embedding_config_input_length_and_regularizer(rng):
    layer = Embedding(10, 4, input_length=6, embeddings_regularizer="l2")
    assert layer.name.startswith("embedding")
    cfg = layer.get_config()
    assert cfg["input_dim"] == 10 and cfg["output_dim"] == 4 and cfg["mask_zero"] is False
    assert cfg["input_length"] == 6 and cfg["input_shape"] == (6,)
    assert cfg["embeddings_initializer"]["class_name"] == "RandomUniform"
    clone = Embedding.from_config(cfg)
    assert clone.input_dim == 10 and clone.embeddings_regularizer is not None
    layer.build((None, 6))
    w = layer.get_weights()[0]
    assert layer.regularization() == pytest.approx(0.01 * float((w.astype(np.float64) ** 2).sum()), rel=1e-4)


def test_embedding_frozen_writes_no_gradient(rng):
    layer = Embedding(4, 2, trainable=False)
    layer.build((None, 3))
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 1
    layer.forward(kernels.as_tensor(np.array([[0, 1, 2]], np.float32)))
    assert layer.backward(kernels.as_tensor(np.ones((1, 3, 2), np.float32))) is None


def test_time_distributed_dense_forward_and_gradients(rng):
    x = rng.normal(size=(2, 3, 4)).astype(np.float32)
    r = rng.normal(size=(2, 3, 5))
    td = TimeDistributed(layers.Dense(5, activation="tanh"))
    td.build((None, 3, 4))
    td.needs_input_grad = True
    assert td.output_shape == (None, 3, 5) and td.name.startswith("time_distributed")
    w, b = td.get_weights()
    b[:] = rng.normal(size=5)
    td.set_weights([w, b])
    assert len(td.trainable_weights) == 2 and td.count_params() == 4 * 5 + 5
    y, dx, (dw, db) = _grads(td, x, r)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(y, np.tanh(x64 @ w + b), rtol=1e-4, atol=1e-5)
    loss = lambda xx, ww, bb: float((np.tanh(xx @ ww + bb) * r).sum())
    np.testing.assert_allclose(dx, numerical_grad(lambda v: loss(v, w, b), x), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(dw, numerical_grad(lambda v: loss(x, v, b), w), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(db, numerical_grad(lambda v: loss(x, w, v), b), rtol=1e-3, atol=1e-4)
    assert dx.shape == x.shape


def test_time_distributed_shapes_config_and_errors(rng):
    td = TimeDistributed(layers.Flatten())
    y = td(rng.normal(size=(2, 3, 4, 5)).astype(np.float32))
    assert y.shape == (2, 3, 20) and td.compute_output_shape((None, 3, 4, 5)) == (None, 3, 20)
    td1 = TimeDistributed(layers.Dense(2))
    assert td1(np.ones((1, 1, 3), np.float32)).shape == (1, 1, 2)  # batch 1, one step
    cfg = TimeDistributed(layers.Dense(3, activation="relu")).get_config()
    assert cfg["layer"]["class_name"] == "Dense" and cfg["layer"]["config"]["units"] == 3
    clone = TimeDistributed.from_config(cfg)
    assert isinstance(clone.layer, layers.Dense) and clone.layer.units == 3
    with pytest.raises(ValueError, match="TimeDistributed .*rank >= 3"):
        TimeDistributed(layers.Dense(2)).build((None, 4))
    with pytest.raises(ValueError, match="TimeDistributed: layer must be a corenn Layer"):
        TimeDistributed("dense")
    frozen = TimeDistributed(layers.Dense(2))
    frozen.trainable = False
    frozen.build((None, 2, 3))
    assert frozen.layer.trainable is False and frozen.trainable_weights == []


def test_sequential_embedding_pool_dense_learns(rng):
    # class = whether token 1 appears in the sequence: needs the embedding to separate token 1
    x = rng.integers(2, 8, size=(256, 6))
    y = rng.integers(0, 2, size=256)
    x[y == 1, rng.integers(0, 6, size=int(y.sum()))] = 1
    model = Sequential([Embedding(8, 8, input_length=6), layers.GlobalAveragePooling1D(),
                        layers.Dense(2, activation="softmax")])
    model.compile(optimizer=Adam(0.05), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    first = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=15, batch_size=32, verbose=0)
    loss, acc = model.evaluate(x, y, verbose=0)
    assert model.output_shape == (None, 2)
    assert loss < first[0] and acc > 0.95


def test_sequential_embedding_flatten_time_distributed(rng, tmp_path):
    x = rng.integers(0, 5, size=(64, 4)).astype(np.int64)
    yv = (x == 3).astype(np.float32)[..., None]  # per-step target: is this token 3?
    model = Sequential([Embedding(5, 4, input_length=4), TimeDistributed(layers.Dense(1))])
    model.compile(optimizer=Adam(0.05), loss="mse")
    before = model.evaluate(x, yv, verbose=0)
    model.fit(x, yv, epochs=30, batch_size=16, verbose=0)
    assert model.output_shape == (None, 4, 1)
    assert model.evaluate(x, yv, verbose=0) < 0.2 * before
    p = model.predict(x[:2], verbose=0)
    assert p.shape == (2, 4, 1)
    model.save_weights(tmp_path / "seq.weights.npz")  # weights of the wrapped Dense go through TD
    clone = Sequential([Embedding(5, 4, input_length=4), TimeDistributed(layers.Dense(1))])
    clone.build()
    clone.load_weights(tmp_path / "seq.weights.npz")
    np.testing.assert_array_equal(clone.predict(x[:2], verbose=0), p)
    flat = Sequential([Embedding(5, 3, input_length=4), layers.Flatten(), layers.Dense(2)])
    assert flat.predict(x[:3], verbose=0).shape == (3, 2)
