"""ConvLSTM1D / 2D / 3D with Keras 3's call arguments: ``initial_state=[h0, c0]`` (gradients to
the states under GradientTape), ``mask`` (given, or from an upstream layer's compute_mask), with
return_state, go_backwards, channels_first and stateful, against the float64 reference (Keras'
RNN masking: a masked step keeps h and c and repeats the previous output, zeros before a
sample's first real step)."""
import numpy as np
import pytest

import corenn
from corenn import layers, ops
from layer_checks import close as _close
import reference as ref

MASK = np.array([[1, 0, 1], [0, 1, 1]], np.float32)   # sample 1 starts masked


def _case(rng, rank, n=2, steps=3, f=2, c=1, size=3):
    """x (N, T, *S, C) and initial states h0, c0 (N, *S, F), as 'same' padding needs them."""
    spatial = (size,) * rank
    x = rng.normal(size=(n, steps) + spatial + (c,)).astype(np.float32)
    h0, c0 = (rng.normal(size=(n,) + spatial + (f,)).astype(np.float32) for _ in range(2))
    return x, h0, c0


def _layer(rank, **kwargs):
    cls = {1: layers.ConvLSTM1D, 2: layers.ConvLSTM2D, 3: layers.ConvLSTM3D}[rank]
    return cls(2, 2, padding="same", **kwargs)


def _reference(layer, x, h0, c0, mask, weights):
    """The layer's outputs from the float64 reference (rank 1 on height-1 frames)."""
    k, rk, b = weights
    if layer.rank == 1:
        x, h0, c0, k, rk = x[:, :, None], h0[:, None], c0[:, None], k[None], rk[None]
    hs, h, c = ref.conv_lstm(x, k, rk, b, padding="same", go_backwards=layer.go_backwards, h0=h0, c0=c0,
                             mask=mask)
    if layer.rank == 1:
        hs, h, c = hs[:, :, 0], h[:, 0], c[:, 0]
    y = hs if layer.return_sequences else hs[:, -1]
    return [y, h, c] if layer.return_state else [y]


@pytest.mark.parametrize("rank,kwargs", [
    (2, dict(return_sequences=True, return_state=True)),
    (2, dict(go_backwards=True, return_state=True)),
    (3, dict(return_sequences=True, go_backwards=True)),
    (1, dict(return_sequences=True, return_state=True)),
])
def test_initial_state_and_mask_match_the_reference(rank, kwargs, rng):
    x, h0, c0 = _case(rng, rank)
    layer = _layer(rank, **kwargs)
    for mask in (None, MASK):
        outs = layer(x, initial_state=[h0, c0], mask=mask)
        want = _reference(layer, x, h0, c0, mask, layer.get_weights())
        for got, w in zip(outs if isinstance(outs, list) else [outs], want):
            _close(np.asarray(got), w)
    # a mask without initial states: the states start at zero
    got = layer(x, mask=MASK)
    zeros = np.zeros_like(h0)
    _close(np.asarray(got[0] if isinstance(got, list) else got),
           _reference(layer, x, zeros, zeros, MASK, layer.get_weights())[0])


def test_channels_first_states_are_channels_first(rng):
    x, h0, c0 = _case(rng, 2)
    last = _layer(2, return_sequences=True, return_state=True)
    want = [np.asarray(o).copy() for o in last(x, initial_state=[h0, c0], mask=MASK)]
    first = _layer(2, return_sequences=True, return_state=True, data_format="channels_first")
    first.build((None, 3, 1, 3, 3))
    first.set_weights(last.get_weights())
    got = first(np.ascontiguousarray(np.moveaxis(x, -1, 2)),
                initial_state=[np.ascontiguousarray(np.moveaxis(s, -1, 1)) for s in (h0, c0)], mask=MASK)
    _close(np.asarray(got[0]), np.moveaxis(want[0], -1, 2))
    for g, w in zip(got[1:], want[1:]):
        _close(np.asarray(g), np.moveaxis(w, -1, 1))


@pytest.mark.parametrize("rank,kwargs", [(2, dict(return_sequences=True)),
                                         (3, dict(go_backwards=True, return_state=True))])
def test_gradients_reach_the_initial_states_under_gradient_tape(rank, kwargs, rng):
    x, h0, c0 = _case(rng, rank, n=2, steps=3, size=2)
    layer = _layer(rank, **kwargs)
    layer(x)   # builds
    weights = [w.astype(np.float64) for w in layer.get_weights()]
    outs = _reference(layer, x, h0, c0, MASK, weights)
    r = [rng.normal(size=o.shape) for o in outs]
    sources = [corenn.Variable(a) for a in (x, h0, c0)]
    with corenn.GradientTape() as tape:
        got = layer(sources[0], initial_state=sources[1:], mask=MASK)
        got = got if isinstance(got, list) else [got]
        loss = sum(ops.sum(g * ri.astype(np.float32)) for g, ri in zip(got, r))
    grads = tape.gradient(loss, sources + layer.trainable_weights)
    args = [a.astype(np.float64) for a in (x, h0, c0)] + weights

    def loss_of(i):
        def f(v):
            xx, hh, cc, *ws = args[:i] + [v] + args[i + 1:]
            return float(sum((o * ri).sum() for o, ri in zip(_reference(layer, xx, hh, cc, MASK, ws), r)))
        return f
    for i, g in enumerate(grads):
        _close(np.asarray(g), ref.numerical_grad(loss_of(i), args[i]), 1e-3)


class MarkBlankFrames(layers.Layer):
    """Passes frames through and masks the all-zero ones (an upstream mask, as Keras layers make)."""

    def call(self, x):
        return x

    def compute_mask(self, x, mask=None):
        return ops.any(ops.not_equal(x, 0.0), axis=(2, 3, 4))


def test_a_mask_from_an_upstream_layer_reaches_the_conv_lstm(rng):
    x = rng.normal(size=(2, 4, 3, 3, 1)).astype(np.float32)
    x[0, 3] = 0.0
    x[1, 0] = 0.0
    inp = corenn.Input((4, 3, 3, 1))
    conv_lstm = layers.ConvLSTM2D(2, 2, padding="same", return_sequences=True)
    model = corenn.Model(inp, conv_lstm(MarkBlankFrames()(inp)))
    got = np.asarray(model(x))
    mask = np.any(x != 0, axis=(2, 3, 4))
    zeros = np.zeros((2, 3, 3, 2), np.float32)
    _close(got, _reference(conv_lstm, x, zeros, zeros, mask, conv_lstm.get_weights())[0])
    np.testing.assert_array_equal(got[0, 3], got[0, 2])   # the masked frame repeats the output
    assert not np.allclose(got, _reference(conv_lstm, x, zeros, zeros, None, conv_lstm.get_weights())[0])


def test_states_as_model_inputs_train_and_save(tmp_path, rng):
    x, h0, c0 = _case(rng, 2, n=4)
    inputs = [corenn.Input((3, 3, 3, 1)), corenn.Input((3, 3, 2)), corenn.Input((3, 3, 2))]
    y, h, c = layers.ConvLSTM2D(2, 2, padding="same", return_state=True)(inputs[0], initial_state=inputs[1:])
    model = corenn.Model(inputs, layers.Add()([y, h, c]))
    model.compile("adam", "mse")
    target = np.ones((4, 3, 3, 2), np.float32)
    first = model.fit([x, h0, c0], target, epochs=1, verbose=0).history["loss"][0]
    last = model.fit([x, h0, c0], target, epochs=5, verbose=0).history["loss"][-1]
    assert last < first
    model.save(tmp_path / "m.keras")
    loaded = corenn.models.load_model(tmp_path / "m.keras")
    _close(np.asarray(loaded.predict([x, h0, c0], verbose=0)), np.asarray(model.predict([x, h0, c0], verbose=0)))


def test_stateful_layer_takes_given_states_over_carried_ones(rng):
    x, h0, c0 = _case(rng, 2)
    plain = _layer(2, return_sequences=True)
    want = np.asarray(plain(x, initial_state=[h0, c0])).copy()
    stateful = _layer(2, return_sequences=True, stateful=True)
    stateful.build((None, None, 3, 3, 1))
    stateful.set_weights(plain.get_weights())
    stateful(x)   # carries its final states
    _close(np.asarray(stateful(x, initial_state=[h0, c0])), want)


def test_bad_states_and_masks_raise_clear_errors(rng):
    x, h0, c0 = _case(rng, 2)
    layer = _layer(2, name="cl")
    with pytest.raises(ValueError, match=r"ConvLSTM2D 'cl': initial_state must be \[h0, c0\], each of shape "
                                         r"\(None, 3, 3, 2\)"):
        layer(x, initial_state=[h0[..., :1], c0])
    with pytest.raises(ValueError, match=r"ConvLSTM2D 'cl': initial_state must be \[h0, c0\]"):
        layer(x, initial_state=[h0])
    with pytest.raises(ValueError, match=r"ConvLSTM2D 'cl': mask must have shape \(2, 3\)"):
        layer(x, mask=np.ones((2, 4), np.float32))
