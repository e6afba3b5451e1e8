"""MultiHeadAttention subclasses overriding Keras' ``_compute_attention`` hook (the locality
self-attention of keras.io's "ViT on small datasets"), and constant attention masks in a
functional model. Parity with the fused layer, gradients by finite differences."""
import math

import numpy as np
import pytest

import corenn as tf
from corenn.keras import layers, ops


class _Plain(layers.MultiHeadAttention):
    def _compute_attention(self, query, key, value, attention_mask=None, training=None):
        return super()._compute_attention(query, key, value, attention_mask, training)


class _LSA(layers.MultiHeadAttention):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.tau = tf.keras.Variable(math.sqrt(float(self._key_dim)), trainable=True)

    def _compute_attention(self, query, key, value, attention_mask=None, training=None):
        query = ops.multiply(query, 1.0 / self.tau)
        scores = ops.einsum(self._dot_product_equation, key, query)
        scores = self._masked_softmax(scores, attention_mask)
        out = ops.einsum(self._combine_equation, self._dropout_layer(scores, training=training), value)
        return out, scores


def _data(seed=0, n=2, t=5, s=4, d=6):
    rng = np.random.default_rng(seed)
    mask = (rng.random((n, t, s)) > 0.3).astype("float32")
    mask[..., 0] = 1   # no query with every value masked (its softmax input would be -1e9 everywhere)
    return rng.normal(size=(n, t, d)).astype("float32"), rng.normal(size=(n, s, d)).astype("float32"), mask


@pytest.mark.parametrize("causal", [False, True])
def test_default_hook_matches_the_fused_layer(causal):
    q, v, mask = _data()
    if causal:
        v = v[:, :5] if v.shape[1] >= 5 else np.concatenate([v, v], axis=1)[:, :5]
        mask = None
    ref = layers.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=4, output_shape=7)
    mine = _Plain(num_heads=2, key_dim=3, value_dim=4, output_shape=7)
    kw = dict(use_causal_mask=True) if causal else dict(attention_mask=mask)
    want, want_scores = ref(q, v, return_attention_scores=True, **kw)
    mine(q, v, **kw)
    mine.set_weights(ref.get_weights())
    got, got_scores = mine(q, v, return_attention_scores=True, **kw)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(got_scores), np.asarray(want_scores), rtol=1e-5, atol=1e-6)


def test_hook_gradients_match_the_fused_layer_and_finite_differences():
    q, v, mask = _data(1)
    ref = layers.MultiHeadAttention(num_heads=2, key_dim=3)
    mine = _LSA(num_heads=2, key_dim=3)
    ref(q, v, attention_mask=mask)
    mine(q, v, attention_mask=mask)
    mine.set_weights(ref.get_weights() + [np.float32(math.sqrt(3.0))])
    qt = tf.constant(q)
    grads = []
    for layer in (ref, mine):
        with tf.GradientTape() as tape:
            tape.watch(qt)
            loss = ops.sum(ops.square(layer(qt, v, attention_mask=mask)))
        grads.append(tape.gradient(loss, [qt] + layer.trainable_weights[:8]))
    for a, b in zip(*grads):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-4, atol=1e-5)
    # d loss / d tau by central differences (float64 view through set_weights)
    with tf.GradientTape() as tape:
        loss = ops.sum(ops.square(mine(qt, v, attention_mask=mask)))
    g_tau = float(np.asarray(tape.gradient(loss, [mine.tau])[0]))
    weights = mine.get_weights()

    def value(tau):
        mine.set_weights(weights[:-1] + [np.float32(tau)])
        return float(np.sum(np.square(np.asarray(mine(q, v, attention_mask=mask), np.float64))))
    eps = 1e-2
    numeric = (value(math.sqrt(3.0) + eps) - value(math.sqrt(3.0) - eps)) / (2 * eps)
    np.testing.assert_allclose(g_tau, numeric, rtol=2e-2, atol=1e-3)


def test_lsa_in_a_functional_model_with_a_constant_mask_trains_tau_and_saves(tmp_path):
    n = 4
    diag = ops.cast([1 - ops.eye(n)], dtype="int8")
    inp = tf.keras.Input((n, 6))
    lsa = _LSA(num_heads=2, key_dim=3, dropout=0.1)
    out = lsa(inp, inp, attention_mask=diag)
    model = tf.keras.Model(inp, layers.GlobalAveragePooling1D()(out))
    model.compile("adam", "mse")
    x = np.random.default_rng(2).normal(size=(8, n, 6)).astype("float32")
    before = float(lsa.tau.numpy())
    model.fit(x, np.ones((8, 6), "float32"), epochs=3, verbose=0)
    assert float(lsa.tau.numpy()) != before
    _, scores = lsa(x, x, attention_mask=diag, return_attention_scores=True)
    np.testing.assert_allclose(np.diagonal(np.asarray(scores), axis1=2, axis2=3), 0.0, atol=1e-7)


def test_builtin_layer_takes_a_constant_mask_in_a_functional_model(tmp_path):
    n = 3
    mask = np.array([[[1, 0, 0], [1, 1, 0], [1, 1, 1]]], "int8")   # (1, T, T), broadcast over the batch
    inp = tf.keras.Input((n, 4))
    mha = layers.MultiHeadAttention(num_heads=1, key_dim=2)
    model = tf.keras.Model(inp, mha(inp, inp, attention_mask=mask))
    x = np.random.default_rng(3).normal(size=(2, n, 4)).astype("float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), np.asarray(mha(x, x, attention_mask=np.repeat(mask, 2, 0))),
                               rtol=1e-5, atol=1e-6)
    # an eager call without a mask is unmasked (the model's node keeps its constant mask)
    plain = layers.MultiHeadAttention(num_heads=1, key_dim=2)
    plain(x, x)
    plain.set_weights(mha.get_weights())
    np.testing.assert_allclose(np.asarray(mha(x, x)), np.asarray(plain(x, x)), rtol=1e-6)
    np.testing.assert_allclose(model.predict(x, verbose=0), np.asarray(mha(x, x, attention_mask=mask)), rtol=1e-5,
                               atol=1e-6)
    path = str(tmp_path / "m.keras")
    model.save(path)
    again = tf.keras.models.load_model(path)
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_extract_patches_takes_tensorflow_strides():
    x = np.random.default_rng(4).random((2, 12, 12, 3)).astype("float32")
    want = ops.image.extract_patches(x, 4, strides=4, padding="valid")
    got = ops.image.extract_patches(images=x, size=(4, 4), strides=[1, 4, 4, 1], dilation_rate=1, padding="VALID")
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    with pytest.raises(ValueError, match="strides"):
        ops.image.extract_patches(x, 4, strides=[2, 4, 4, 1])
