"""Layer features the keras.io sweep 10 programs needed (tests/programs/README in the README's
sweep 10 paragraph): activations on symbolic tensors, shape probes of layers written with
``call`` whose unknown axis must fit a known size, batch-1 broadcasting in Attention and the
elementwise merges, ``weights=`` initial values, and a user mask given to a layer's first call."""
import numpy as np
import pytest

import corenn as keras
from corenn.keras import layers, ops


def _np_swish(x):
    return x / (1.0 + np.exp(-x))


def test_activation_functions_on_keras_tensors_record_layers():
    inp = keras.Input((4,))
    h = layers.Dense(3, name="d")(inp)
    y1 = keras.activations.swish(h)
    y2 = keras.activations.leaky_relu(h, negative_slope=0.1)
    y3 = keras.activations.softmax(layers.Reshape((3, 1))(h), axis=1)
    model = keras.Model(inp, [y1, y2, y3])
    assert sum(isinstance(l, layers.Activation) for l in model.layers) >= 2
    x = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    out1, out2, out3 = model.predict(x, verbose=0)
    k, b = model.get_layer("d").get_weights()
    z = x.astype(np.float64) @ k + b
    np.testing.assert_allclose(out1, _np_swish(z), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out2, np.where(z > 0, z, 0.1 * z), rtol=1e-5, atol=1e-6)
    e = np.exp(z - z.max(1, keepdims=True))
    np.testing.assert_allclose(out3[..., 0], e / e.sum(1, keepdims=True), rtol=1e-5, atol=1e-6)


def test_activation_of_keras_tensor_trains_through_fit():
    inp = keras.Input((3,))
    out = layers.Dense(1)(keras.activations.swish(layers.Dense(8)(inp)))
    model = keras.Model(inp, out)
    model.compile(keras.optimizers.Adam(0.05), "mse")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 3)).astype("float32")
    y = (x ** 2).sum(1, keepdims=True)
    hist = model.fit(x, y, epochs=30, verbose=0)
    assert hist.history["loss"][-1] < 0.5 * hist.history["loss"][0]


class _AddPositions(layers.Layer):
    def __init__(self, length, dim, **kwargs):
        super().__init__(**kwargs)
        self.emb = layers.Embedding(length, dim)

    def call(self, inputs):
        positions = ops.arange(0, ops.shape(inputs)[1])
        return inputs + self.emb(positions)


def test_probe_keeps_an_unknown_axis_that_must_fit_a_known_size():
    # Keras: (None, None, None) + a (T, 16) table is (None, None, 16)
    inp = keras.Input(shape=(None, None))
    out = _AddPositions(8, 16)(inp)
    assert tuple(out.shape) == (None, None, 16)
    model = keras.Model(inp, layers.GlobalMaxPooling1D()(out))
    assert model.predict(np.ones((2, 5, 16), "float32"), verbose=0).shape == (2, 16)


def test_probe_of_a_layer_that_cannot_take_any_size_still_raises():
    class Bad(layers.Layer):
        def call(self, x):
            return x + ops.ones((3,)) + ops.ones((4,))

    with pytest.raises(ValueError):
        Bad()(keras.Input((None,)))


def _attention_reference(q, k, v, scale):
    s = np.einsum("bqd,bkd->bqk", q, k) * scale
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    return np.einsum("bqk,bkd->bqd", p, v)


@pytest.mark.parametrize("which", ["query", "keys"])
def test_attention_broadcasts_a_batch_of_one(which):
    rng = np.random.default_rng(2)
    b, tq, tv, d = 3, 4, 5, 6
    q = rng.normal(size=(1 if which == "query" else b, tq, d)).astype("float32")
    k = rng.normal(size=(1 if which == "keys" else b, tv, d)).astype("float32")
    v = rng.normal(size=(1 if which == "keys" else b, tv, d)).astype("float32")
    att = layers.Attention(use_scale=True)
    qt, kt, vt = (keras.Variable(a) for a in (q, k, v))
    w = rng.normal(size=(b, tq, d)).astype("float32")
    with keras.GradientTape() as tape:
        y = att([qt, vt, kt])
        loss = ops.sum(y * w)
    expect = _attention_reference(*(np.broadcast_to(a, (b,) + a.shape[1:]).astype(np.float64) for a in (q, k, v)), 1.0)
    np.testing.assert_allclose(np.asarray(y), expect, rtol=1e-4, atol=1e-5)
    grads = tape.gradient(loss, [qt, kt, vt])
    assert [tuple(g.shape) for g in grads] == [q.shape, k.shape, v.shape]
    # finite differences of the float64 reference for one entry of each input
    eps = 1e-4
    for i, a in enumerate((q, k, v)):
        idx = (0,) * a.ndim
        hi, lo = [x.astype(np.float64) for x in (q, k, v)], [x.astype(np.float64) for x in (q, k, v)]
        hi[i][idx] += eps
        lo[i][idx] -= eps
        f = [(_attention_reference(*(np.broadcast_to(t, (b,) + t.shape[1:]) for t in ts), 1.0) * w).sum()
             for ts in (hi, lo)]
        assert abs((f[0] - f[1]) / (2 * eps) - float(np.asarray(grads[i])[idx])) < 1e-2


def test_attention_batches_that_do_not_broadcast_raise():
    att = layers.Attention()
    with pytest.raises(ValueError, match="batch"):
        att([np.zeros((2, 3, 4), "float32"), np.zeros((3, 5, 4), "float32")])


def test_add_broadcasts_a_batch_of_one_and_sums_its_gradient():
    rng = np.random.default_rng(3)
    a = keras.Variable(rng.normal(size=(4, 3, 2)).astype("float32"))
    c = keras.Variable(rng.normal(size=(1, 3, 2)).astype("float32"))
    with keras.GradientTape() as tape:
        y = layers.Add()([a, c])
        loss = ops.sum(y * y)
    np.testing.assert_allclose(np.asarray(y), np.asarray(a) + np.asarray(c), rtol=1e-6)
    ga, gc = tape.gradient(loss, [a, c])
    np.testing.assert_allclose(np.asarray(gc), (2 * (np.asarray(a) + np.asarray(c))).sum(0, keepdims=True), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(ga), 2 * (np.asarray(a) + np.asarray(c)), rtol=1e-5)
    with pytest.raises(ValueError, match="batch"):
        layers.Add()([np.zeros((2, 3), "float32"), np.zeros((3, 3), "float32")])


def test_weights_argument_sets_initial_values():
    table = np.arange(15, dtype="float32").reshape(5, 3)
    emb = layers.Embedding(5, 3, weights=[table])
    np.testing.assert_array_equal(np.asarray(emb(np.array([[4, 0]]))), table[[[4, 0]]])
    k, b = np.ones((3, 2), "float32"), np.array([1.0, -1.0], "float32")
    dense = layers.Dense(2, weights=[k, b])
    np.testing.assert_allclose(np.asarray(dense(np.ones((1, 3), "float32"))), [[4.0, 2.0]])
    with pytest.raises(ValueError, match="weights="):
        layers.Dense(2, weights=[np.ones((4, 2), "float32"), b])(np.ones((1, 3), "float32"))


class _MaskedBlock(layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.att = layers.MultiHeadAttention(num_heads=1, key_dim=4)

    def call(self, inputs, other, mask=None):
        attention_mask = ops.cast(mask[:, None, :], "int32") if mask is not None else None
        return self.att(query=inputs, value=other, attention_mask=attention_mask)


def test_first_eager_call_with_a_batch_mask_builds_the_layer():
    # the shape probe runs on a batch of one: the mask the call was given is cut to one sample
    block = _MaskedBlock()
    x = np.random.default_rng(4).normal(size=(4, 3, 4)).astype("float32")
    mask = np.array([[True, True, False]] * 4)
    y = block(x, x, mask=mask)
    assert tuple(y.shape) == (4, 3, 4)
    # the masked key (step 2) does not change the result of the real steps
    x2 = x.copy()
    x2[:, 2] = 100.0
    y2 = _MaskedBlock.call(block, x, x2, mask=mask)
    np.testing.assert_allclose(np.asarray(y)[:, :2], np.asarray(y2)[:, :2], rtol=1e-4, atol=1e-4)
    assert np.abs(np.asarray(y2)[:, :2]).sum() > 0


class _PerImageCrop(layers.Layer):
    """An augmentation mapped over single images (its first axis is a height, not a batch)."""

    def call(self, x):
        crop = keras.image.random_crop(x, (6, 6, 3))
        return keras.image.resize(crop, (8, 8))


def test_first_eager_call_on_one_image_builds_a_layer_written_with_call():
    layer = _PerImageCrop()
    out = layer(np.random.default_rng(5).random((8, 8, 3)).astype("float32"))
    assert tuple(out.shape) == (8, 8, 3) and layer.built
    # and again on a batch-free image of the same size
    assert tuple(layer(np.zeros((8, 8, 3), "float32")).shape) == (8, 8, 3)


def test_adjust_and_random_hue():
    import colorsys
    rng = np.random.default_rng(6)
    x = rng.random((2, 3, 3)).astype("float32")
    y = np.asarray(keras.image.adjust_hue(x, 0.25))
    ref = []
    for p in x.reshape(-1, 3):
        h, s, v = colorsys.rgb_to_hsv(*p)
        ref.append(colorsys.hsv_to_rgb((h + 0.25) % 1.0, s, v))
    np.testing.assert_allclose(y, np.array(ref).reshape(x.shape), atol=1e-5)
    z = np.asarray(keras.image.random_hue(x, 0.2))
    # a hue rotation keeps each pixel's max and min channel values
    np.testing.assert_allclose(z.max(-1), x.max(-1), atol=1e-5)
    np.testing.assert_allclose(z.min(-1), x.min(-1), atol=1e-5)
    with pytest.raises(ValueError, match="max_delta"):
        keras.image.random_hue(x, 0.7)


class _TwoInputs(layers.Layer):
    def call(self, inputs, other, mask=None):
        self.seen = mask
        return inputs + ops.mean(other, axis=1, keepdims=True)


class _TwoInputsKeras3(layers.Layer):
    def call(self, inputs, other, inputs_mask=None, other_mask=None):
        self.seen = (inputs_mask, other_mask)
        return inputs + ops.mean(other, axis=1, keepdims=True)


def _two_masked_inputs(layer):
    a = keras.Input((None,), dtype="int64")
    b = keras.Input((None,), dtype="int64")
    ea = layers.Embedding(10, 4, mask_zero=True)(a)
    eb = layers.Embedding(10, 4, mask_zero=True)(b)
    return keras.Model([a, b], layer(ea, eb))


def test_a_call_on_several_inputs_gets_the_first_inputs_mask_or_each_named_one():
    ids_a, ids_b = np.array([[1, 2, 0]]), np.array([[3, 0, 0, 4]])
    layer = _TwoInputs()
    _two_masked_inputs(layer).predict([ids_a, ids_b], verbose=0)
    # TF-Keras 2: ``mask`` is the first input's (a decoder's own padding)
    assert np.asarray(layer.seen).astype(bool).tolist() == [[True, True, False]]
    layer3 = _TwoInputsKeras3()
    _two_masked_inputs(layer3).predict([ids_a, ids_b], verbose=0)
    # Keras 3: ``<argument>_mask`` per input
    assert np.asarray(layer3.seen[0]).astype(bool).tolist() == [[True, True, False]]
    assert np.asarray(layer3.seen[1]).astype(bool).tolist() == [[True, False, False, True]]


def test_text_vectorization_of_one_string_has_no_batch_axis():
    vec = layers.TextVectorization(output_sequence_length=4)
    vec.adapt(["a b c", "b c"])
    one = vec("a b")
    assert tuple(one.shape) == (4,)
    np.testing.assert_array_equal(np.asarray(one), np.asarray(vec(["a b"]))[0])
    assert tuple(vec(["a b", "c"]).shape) == (2, 4)


class _BranchOnMask(layers.Layer):
    """Keras hands call mask=None when nothing is masked; a call may branch on it."""

    def call(self, x, mask=None):
        if mask is not None:
            return x * ops.cast(ops.expand_dims(mask, -1), "float32") + 100.0
        return x * 2.0


def test_a_call_without_masks_gets_mask_none_in_its_probes_and_runs():
    inp = keras.Input((3, 2))
    model = keras.Model(inp, _BranchOnMask()(inp))
    x = np.ones((2, 3, 2), "float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), 2.0)
    np.testing.assert_allclose(np.asarray(_BranchOnMask()(x)), 2.0)
    # with a mask upstream it is given one
    ids = keras.Input((3,), dtype="int64")
    masked = _BranchOnMask()(layers.Embedding(5, 2, mask_zero=True)(ids))
    out = keras.Model(ids, masked).predict(np.array([[1, 0, 2]]), verbose=0)
    assert np.all(out >= 99.0)


def test_dropout_and_activations_take_any_shape_on_one_instance():
    drop, act, relu = layers.Dropout(0.5), layers.Activation("tanh"), layers.ReLU()
    for shape in [(2, 3, 4, 4), (2, 4, 16), (5, 7)]:
        x = np.random.default_rng(9).normal(size=shape).astype("float32")
        assert tuple(drop(x, training=True).shape) == shape
        np.testing.assert_allclose(np.asarray(act(x)), np.tanh(x), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.asarray(relu(x)), np.maximum(x, 0))
    noisy = layers.Dropout(0.5, noise_shape=(None, 1, 4))
    noisy(np.ones((2, 3, 4), "float32"), training=True)
    with pytest.raises(ValueError):
        noisy(np.ones((2, 3), "float32"), training=True)
