"""Keras masks are bool, as in Keras 3.15 (checked against Keras 3.15 on the torch backend):
``compute_mask`` of Embedding(mask_zero) / Masking, ``output._keras_mask`` (eager, symbolic and
a model's output), the masks RNN / attention / merge / Dense pass on, and the ``mask`` a custom
layer's ``call`` and ``compute_mask`` are given, eagerly, in predict and in fit. The kernels read
float32 masks, made from these at the call; the graph keeps its own float32 values."""
import numpy as np

from corenn import keras, layers, ops

X = np.array([[1, 2, 0, 0], [3, 0, 0, 0], [4, 5, 6, 0]])
WANT = X != 0


def _is_bool_mask(m, want=WANT):
    assert m is not None
    a = ops.convert_to_numpy(m)
    assert m.dtype == "bool" and a.dtype == np.bool_, (type(m), m.dtype)
    np.testing.assert_array_equal(a, want)
    np.testing.assert_array_equal(m.numpy(), want)   # Keras tensors' numpy()
    return True


def test_compute_mask_and_eager_output_masks_are_bool():
    emb = layers.Embedding(10, 3, mask_zero=True)
    assert _is_bool_mask(emb.compute_mask(X))
    y = emb(X)
    assert _is_bool_mask(y._keras_mask)
    h = layers.LSTM(4, return_sequences=True)(y)
    assert _is_bool_mask(h._keras_mask)
    assert _is_bool_mask(layers.Dense(2)(h)._keras_mask)
    xm = np.random.default_rng(0).random((3, 4, 2)).astype(np.float32) + 0.5
    xm[~WANT] = 0.0
    mk = layers.Masking()
    assert _is_bool_mask(mk.compute_mask(xm)) and _is_bool_mask(mk(xm)._keras_mask)
    m = emb.compute_mask(X)
    assert _is_bool_mask(layers.LSTM(4, return_sequences=True).compute_mask(y, m))
    assert _is_bool_mask(layers.Add().compute_mask([y, y], [m, m]))


def test_symbolic_masks_are_bool():
    inp = keras.Input((4,), dtype="int32")
    h = layers.Embedding(10, 3, mask_zero=True)(inp)
    outs = [h, layers.LSTM(5, return_sequences=True)(h)]
    outs.append(layers.Dense(4)(outs[-1]))
    outs.append(layers.Add()([outs[-1], outs[-1]]))
    outs.append(layers.MultiHeadAttention(2, 2)(outs[-1], outs[-1]))
    outs.append(layers.Masking()(layers.Dense(3)(inp[:, :, None] * 1.0)))
    assert [str(t._keras_mask.dtype) for t in outs] == ["bool"] * len(outs)
    model = keras.Model(inp, outs[4])
    assert _is_bool_mask(model(X)._keras_mask)


class GuideMaskedMean(layers.Layer):
    """The masking guide's way: cast the mask, broadcast it with [:, :, None]."""

    def __init__(self, seen, **kwargs):
        super().__init__(**kwargs)
        self.seen = seen

    def call(self, x, mask=None):
        self.seen.append(None if mask is None else (mask.dtype, ops.convert_to_numpy(mask).copy()))
        m = ops.cast(mask, "float32")[:, :, None]
        return ops.sum(x * m, axis=1) / ops.maximum(ops.sum(m, axis=1), 1.0)

    def compute_mask(self, x, mask=None):
        return None


class GuideTemporalSplit(layers.Layer):
    """The guide's mask-passing layer: compute_mask splits the mask, and ops.logical_and / ops.any
    on bool masks work."""

    def __init__(self, seen, **kwargs):
        super().__init__(**kwargs)
        self.seen = seen
        self.supports_masking = True

    def call(self, x, mask=None):
        self.seen.append(None if mask is None else mask.dtype)
        return x

    def compute_mask(self, x, mask=None):
        self.seen.append(None if mask is None else mask.dtype)
        both = ops.logical_and(mask, mask)
        return ops.any(ops.stack([both, mask], axis=-1), axis=-1)


def _model(seen):
    inp = keras.Input((4,), dtype="int32")
    h = layers.Embedding(10, 3, mask_zero=True)(inp)
    h = GuideTemporalSplit(seen)(h)
    h = layers.LSTM(5, return_sequences=True)(h)
    return keras.Model(inp, layers.Dense(1)(GuideMaskedMean(seen)(h)))


def test_custom_layers_get_bool_masks_in_predict_and_fit_and_agree_with_numpy():
    seen = []
    model = _model(seen)
    seen.clear()
    y = np.asarray(model.predict(X, verbose=0))
    dtypes = [s[0] if isinstance(s, tuple) else s for s in seen]
    assert dtypes and all(str(d) == "bool" for d in dtypes), dtypes
    np.testing.assert_array_equal(next(s for s in seen if isinstance(s, tuple))[1], WANT)
    # the masked mean against NumPy on the LSTM's sequence output
    lstm = model.layers[3]
    seq = np.asarray(keras.Model(model.inputs, lstm.output).predict(X, verbose=0))
    w = WANT[:, :, None].astype(np.float32)
    pooled = (seq * w).sum(1) / np.maximum(w.sum(1), 1.0)
    dense = model.layers[-1]
    want = pooled @ np.asarray(dense.kernel) + np.asarray(dense.bias)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)
    seen.clear()
    model.compile(keras.optimizers.Adam(0.01), "mse")
    hist = model.fit(X, np.ones((3, 1), np.float32), epochs=3, verbose=0)
    assert np.isfinite(hist.history["loss"]).all()
    dtypes = [s[0] if isinstance(s, tuple) else s for s in seen]
    assert dtypes and all(str(d) == "bool" for d in dtypes), dtypes


def test_eager_custom_call_gets_a_bool_mask():
    seen = []
    emb = layers.Embedding(10, 3, mask_zero=True)
    out = GuideMaskedMean(seen)(emb(X))
    assert str(seen[-1][0]) == "bool"
    np.testing.assert_array_equal(seen[-1][1], WANT)
    assert tuple(out.shape) == (3, 3)
