"""How Keras calls layers, as the TensorFlow Transformer tutorial relies on it: tensors passed by
keyword (``layer(x=x, context=c)``, ``Dense()(inputs=x)``) are inputs of the call (recorded and
differentiated, not options); attributes a ``call`` assigns to ``self`` are the layer's afterwards
(``self.last_attn_scores``); a layer written with ``call`` keeps the Keras mask its inner layers
attached to its output; ``& | ^ ~`` on tensors."""
import numpy as np
import pytest

import corenn as tf
from corenn import keras, ops

RNG = np.random.default_rng(0)


class Mix(keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(3)

    def call(self, x, context, scale=1.0):
        self.last_context_sum = ops.sum(context)
        return self.dense(x) * scale + ops.mean(context, axis=1, keepdims=True)


def test_tensors_by_keyword_are_inputs_and_get_gradients():
    layer = Mix()
    x = tf.constant(RNG.normal(size=(2, 4)).astype(np.float32))
    c = tf.constant(RNG.normal(size=(2, 5)).astype(np.float32))
    positional = np.asarray(layer(x, c, scale=2.0))
    with tf.GradientTape() as tape:
        tape.watch(c)
        y = layer(x=x, context=c, scale=2.0)
        total = ops.sum(y)
    np.testing.assert_array_equal(np.asarray(y), positional)
    # d total / d c[i, j] = 3 outputs * (1/5 of the mean over c's row)
    np.testing.assert_allclose(np.asarray(tape.gradient(total, c)), np.full((2, 5), 3 / 5), rtol=1e-6)


def test_a_built_in_layer_takes_its_input_as_inputs_keyword():
    dense = keras.layers.Dense(2)
    x = RNG.normal(size=(3, 4)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(dense(inputs=x)), np.asarray(dense(x)))
    with pytest.raises(TypeError, match="without inputs"):
        dense()


def test_keyword_inputs_in_a_functional_model():
    a, b = keras.Input((4,)), keras.Input((5,))
    model = keras.Model([a, b], Mix()(x=a, context=b))
    xa, xb = RNG.normal(size=(2, 4)).astype(np.float32), RNG.normal(size=(2, 5)).astype(np.float32)
    want = np.asarray(model.layers[-1].dense(xa)) + xb.mean(axis=1, keepdims=True)
    np.testing.assert_allclose(np.asarray(model([xa, xb])), want, rtol=1e-5, atol=1e-7)   # float32 ops in another order


def test_attributes_a_call_sets_are_the_layer_s_after_the_call():
    layer = Mix()
    for n in (2, 3):
        c = RNG.normal(size=(n, 5)).astype(np.float32)
        layer(np.ones((n, 4), np.float32), c)
        assert float(layer.last_context_sum) == pytest.approx(float(c.sum()), rel=1e-5)
    with tf.GradientTape():
        c = RNG.normal(size=(4, 5)).astype(np.float32)
        layer(np.ones((4, 4), np.float32), c)
    assert float(layer.last_context_sum) == pytest.approx(float(c.sum()), rel=1e-5)


class Block(keras.layers.Layer):
    """No compute_mask of its own: the mask of its inner layers' output is the output's (Keras 3)."""

    def __init__(self):
        super().__init__()
        self.mha = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)
        self.norm = keras.layers.LayerNormalization()
        self.add = keras.layers.Add()   # (x + y on tensors would drop the mask, in Keras too)

    def call(self, x):
        return self.norm(self.add([x, self.mha(query=x, value=x)]))


def test_a_call_written_layer_keeps_its_inner_mask_eagerly_and_in_a_model():
    tokens = np.array([[3, 4, 0, 0], [5, 6, 7, 0]])
    emb = keras.layers.Embedding(10, 8, mask_zero=True)
    block, consumer = Block(), keras.layers.GlobalAveragePooling1D()
    h = block(emb(tokens))
    np.testing.assert_array_equal(np.asarray(h._keras_mask) != 0, tokens != 0)
    eager = np.asarray(consumer(h))   # averages over the real steps only
    inp = keras.Input((4,), dtype="int32")
    model = keras.Model(inp, consumer(block(emb(inp))))
    np.testing.assert_allclose(np.asarray(model(tokens)), eager, rtol=1e-5, atol=1e-6)
    with tf.GradientTape():
        taped = np.asarray(model(tokens))
    np.testing.assert_allclose(taped, eager, rtol=1e-5, atol=1e-6)


def test_logical_operators_on_truth_values_and_bitwise_on_integers():
    a, b = tf.constant([1.0, 0.0, 2.0, 0.0]), tf.constant([1.0, 1.0, 0.0, 0.0])
    np.testing.assert_array_equal(np.asarray((a > 0) & (b > 0)), [1, 0, 0, 0])
    np.testing.assert_array_equal(np.asarray((a > 0) | (b > 0)), [1, 1, 1, 0])
    np.testing.assert_array_equal(np.asarray((a > 0) ^ (b > 0)), [0, 1, 1, 0])
    np.testing.assert_array_equal(np.asarray(~(a > 0)), [0, 1, 0, 1])
    i = tf.constant([6, 3], dtype="int32")
    np.testing.assert_array_equal(np.asarray(i & 5), [4, 1])
    np.testing.assert_array_equal(np.asarray(i | 1), [7, 3])
    np.testing.assert_array_equal(np.asarray(~i), [-7, -4])


def test_a_functional_model_s_output_keeps_its_keras_mask():
    inp = keras.Input((None,), dtype="int32")
    model = keras.Model(inp, keras.layers.Dense(2)(keras.layers.Embedding(10, 4, mask_zero=True)(inp)))
    tokens = np.array([[1, 2, 0], [3, 0, 0]])
    out = model(tokens)
    np.testing.assert_array_equal(np.asarray(out._keras_mask), tokens != 0)
    assert getattr(model(np.ones((1, 3), np.float32)), "_keras_mask", None) is not None


def _masked_batch():
    tokens = np.array([[1, 2, 0, 0], [3, 4, 5, 0]], np.int32)
    emb = keras.layers.Embedding(10, 4, mask_zero=True)
    return tokens, emb(tokens)


@pytest.mark.parametrize("taped", [False, True])
def test_a_model_called_on_a_masked_tensor_takes_it_as_its_input_mask(taped):
    """Keras 3: a model called on a tensor that carries a mask hands that mask to its first
    layers, so an LSTM in a functional model skips the padded steps as the bare LSTM does."""
    tokens, e = _masked_batch()
    inp = keras.Input((None, 4))
    lstm = keras.layers.LSTM(3)
    model = keras.Model(inp, keras.layers.Dense(2)(lstm(inp)))
    direct = np.asarray(model.layers[-1](lstm(e)))
    unmasked = np.asarray(model(np.asarray(e)))
    assert np.abs(unmasked - direct).max() > 1e-4   # the padding matters here
    if taped:
        with tf.GradientTape() as tape:
            got = model(e)
        assert all(g is not None for g in tape.gradient(got, model.trainable_variables))
    else:
        got = model(e)
    np.testing.assert_allclose(np.asarray(got), direct, rtol=1e-5, atol=1e-6)


def test_mask_argument_of_a_model_call_is_its_input_mask():
    tokens, e = _masked_batch()
    inp = keras.Input((None, 4))
    model = keras.Model(inp, keras.layers.GlobalAveragePooling1D()(inp))
    x = np.asarray(e)
    got = np.asarray(model(x, mask=tokens != 0))
    want = (x.astype(np.float64) * (tokens != 0)[..., None]).sum(1) / (tokens != 0).sum(1, keepdims=True)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)   # float32 sums in the kernel's order
    assert getattr(x, "_keras_mask", None) is None   # the caller's array is left alone
    with pytest.raises(ValueError, match="1 input"):
        model(x, mask=[tokens != 0, tokens != 0])


def test_a_subclassed_model_whose_call_takes_mask_is_handed_the_input_mask():
    seen = {}

    class Pool(keras.Model):
        def call(self, x, mask=None):
            seen["mask"] = mask
            return ops.sum(x, axis=1)

    tokens, e = _masked_batch()
    Pool()(e)
    np.testing.assert_array_equal(np.asarray(seen["mask"]) != 0, tokens != 0)


class _WeightedSum(keras.layers.Layer):
    """keras.io's VariableSelection pattern: call takes a dict of features by name."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.proj = {"a": keras.layers.Dense(3, name="pa"), "b": keras.layers.Dense(3, name="pb")}

    def call(self, inputs):
        assert isinstance(inputs, dict) and list(inputs) == ["a", "b"]
        return self.proj["a"](inputs["a"]) + 2.0 * self.proj["b"](inputs["b"])


def test_a_layer_written_with_call_takes_a_dict_of_inputs():
    keras.utils.set_random_seed(4)
    rng = np.random.default_rng(4)
    xa, xb = rng.normal(size=(5, 2)).astype(np.float32), rng.normal(size=(5, 4)).astype(np.float32)
    layer = _WeightedSum()
    got = np.asarray(layer({"a": xa, "b": xb}))
    (wa, ba), (wb, bb) = layer.proj["a"].get_weights(), layer.proj["b"].get_weights()
    want = xa @ wa + ba + 2.0 * (xb @ wb + bb)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # symbolic: a model of named inputs; the output equals the eager call, and fit trains it
    inputs = {"a": keras.Input((2,), name="a"), "b": keras.Input((4,), name="b")}
    summed = _WeightedSum()
    model = keras.Model(inputs, keras.layers.Dense(1)(summed(inputs)))
    assert tuple(model.output.shape) == (None, 1)
    y = (xa[:, :1] - xb[:, 1:2]).astype(np.float32)
    pred = np.asarray(model({"a": xa, "b": xb}))
    (wa, ba), (wb, bb) = summed.proj["a"].get_weights(), summed.proj["b"].get_weights()
    wd, bd = model.layers[-1].get_weights()
    np.testing.assert_allclose(pred, (xa @ wa + ba + 2.0 * (xb @ wb + bb)) @ wd + bd, rtol=1e-5, atol=1e-6)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    hist = model.fit({"a": xa, "b": xb}, y, epochs=30, batch_size=5, verbose=0)
    assert hist.history["loss"][-1] < 0.1 * hist.history["loss"][0]
