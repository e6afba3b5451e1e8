"""Issue 13 leftovers of the recurrent layers: initial_state on SimpleRNN / LSTM / GRU (eager,
functional, subclassed, with gradients to the states), the Keras lstm_seq2seq program, stateful
layers (carry == one long sequence, reset_states, wrong batch sizes), recurrent_dropout with
Keras 3's per-sequence masks, Bidirectional over any RNN (return_state, initial_state, every
merge_mode, backward_layer), activity_regularizer, config / saving round trips.

Oracle: the float64 step of tests/reference.py (rnn_cell_step, rnn_sequence) and central finite
differences of it."""
import numpy as np
import pytest

import corenn
from corenn import GradientTape, layers, ops
from reference import numerical_grad, rnn_cell_step, rnn_sequence

N, T, F, U = 3, 5, 4, 6
CLASSES = {"simple_rnn": layers.SimpleRNN, "lstm": layers.LSTM, "gru": layers.GRU}
N_STATES = {"simple_rnn": 1, "lstm": 2, "gru": 1}


def _randomize(layer, rng, scale=0.5):
    layer.set_weights([rng.standard_normal(w.shape).astype(np.float32) * scale for w in layer.get_weights()])
    return layer.get_weights()


def _ref(kind, weights, x, states, return_sequences=True, go_backwards=False, mask=None,
         input_masks=None, recurrent_masks=None):
    step = lambda xt, s: rnn_cell_step(kind, xt, s, *weights, input_masks=input_masks,  # noqa: E731
                                       recurrent_masks=recurrent_masks)
    states = states or [np.zeros((np.shape(x)[0], U))] * N_STATES[kind]
    return rnn_sequence(step, x, states, return_sequences=return_sequences,
                        go_backwards=go_backwards, mask=mask)


def _tape_grads(layer, x, states, dys, **call):
    xt = ops.convert_to_tensor(x)
    st = [ops.convert_to_tensor(s) for s in states]
    with GradientTape() as tape:
        tape.watch([xt] + st)
        out = layer(xt, initial_state=st or None, **call)
    outs = out if isinstance(out, list) else [out]
    grads = tape.gradient(outs, [xt] + st + layer.trainable_weights,
                          output_gradients=[ops.convert_to_tensor(d) for d in dys])
    return [np.asarray(o) for o in outs], [np.asarray(g) for g in grads]


# -- initial_state on the layers ----------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(CLASSES))
@pytest.mark.parametrize("go_backwards", [False, True])
def test_layer_initial_state_forward_and_gradients(rng, kind, go_backwards):
    layer = CLASSES[kind](U, return_sequences=True, return_state=True, go_backwards=go_backwards)
    layer.build((None, T, F))
    weights = _randomize(layer, rng)
    x = rng.standard_normal((N, T, F)).astype(np.float32)
    h0 = [rng.standard_normal((N, U)).astype(np.float32) for _ in range(N_STATES[kind])]
    dys = [rng.standard_normal((N, T, U)).astype(np.float32)] + \
          [rng.standard_normal((N, U)).astype(np.float32) for _ in h0]
    outs, grads = _tape_grads(layer, x, h0, dys)
    y64, s64 = _ref(kind, weights, x, h0, go_backwards=go_backwards)
    for got, want in zip(outs, [y64] + s64):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)

    def loss(x_, states_):
        y, s = _ref(kind, weights, x_, states_, go_backwards=go_backwards)
        return float(sum((o * d).sum() for o, d in zip([y] + s, dys)))
    for k in range(len(h0)):
        def loss_k(v, k=k):
            states = list(h0)
            states[k] = v
            return loss(x, states)
        np.testing.assert_allclose(grads[1 + k], numerical_grad(loss_k, h0[k]), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(grads[0], numerical_grad(lambda v: loss(v, h0), x), rtol=1e-3, atol=1e-4)
    assert all(np.abs(g).sum() > 0 for g in grads[1:1 + len(h0)])


def test_functional_model_gradients_reach_the_initial_states(rng):
    x_in, h_in, c_in = corenn.Input((T, F)), corenn.Input((U,)), corenn.Input((U,))
    lstm = layers.LSTM(U)
    model = corenn.Model([x_in, h_in, c_in], lstm(x_in, initial_state=[h_in, c_in]))
    weights = _randomize(lstm, rng)
    x = rng.standard_normal((N, T, F)).astype(np.float32)
    h0, c0 = (rng.standard_normal((N, U)).astype(np.float32) for _ in range(2))
    dy = rng.standard_normal((N, U)).astype(np.float32)
    ts = [ops.convert_to_tensor(a) for a in (x, h0, c0)]
    with GradientTape() as tape:
        tape.watch(ts)
        y = model(ts)
    grads = tape.gradient(y, ts, output_gradients=ops.convert_to_tensor(dy))
    np.testing.assert_allclose(np.asarray(y), _ref("lstm", weights, x, [h0, c0], False)[0], rtol=1e-4, atol=1e-5)

    def loss(h, c):
        return float((_ref("lstm", weights, x, [h, c], False)[0] * dy).sum())
    np.testing.assert_allclose(grads[1], numerical_grad(lambda v: loss(v, c0), h0), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(grads[2], numerical_grad(lambda v: loss(h0, v), c0), rtol=1e-3, atol=1e-4)


def _copy_task(rng, n, length, vocab):
    """Sequences of tokens 1..vocab-1 (0 is the start token), one-hot: the decoder must emit the
    encoder's sequence."""
    tokens = rng.integers(1, vocab, size=(n, length))
    onehot = np.eye(vocab, dtype=np.float32)
    enc = onehot[tokens]
    dec_in = onehot[np.concatenate([np.zeros((n, 1), np.int64), tokens[:, :-1]], axis=1)]
    return tokens, enc, dec_in, onehot[tokens]


def test_lstm_seq2seq_program_trains_and_decodes(rng):
    """keras-io's lstm_seq2seq (character-level translation), with only the imports changed, on a
    copy task: an encoder LSTM's final states start the decoder (teacher forcing), then the
    inference models re-use the trained layers and decode greedily step by step."""
    keras = corenn
    corenn.utils.set_random_seed(0)
    length, vocab, latent_dim = 3, 5, 32
    tokens, enc_x, dec_x, dec_y = _copy_task(rng, 512, length, vocab)

    encoder_inputs = keras.Input(shape=(None, vocab))
    encoder = keras.layers.LSTM(latent_dim, return_state=True)
    encoder_outputs, state_h, state_c = encoder(encoder_inputs)
    encoder_states = [state_h, state_c]
    decoder_inputs = keras.Input(shape=(None, vocab))
    decoder_lstm = keras.layers.LSTM(latent_dim, return_sequences=True, return_state=True)
    decoder_outputs, _, _ = decoder_lstm(decoder_inputs, initial_state=encoder_states)
    decoder_dense = keras.layers.Dense(vocab, activation="softmax")
    decoder_outputs = decoder_dense(decoder_outputs)
    model = keras.Model([encoder_inputs, decoder_inputs], decoder_outputs)
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit([enc_x, dec_x], dec_y, batch_size=32, epochs=25, verbose=0)
    assert history.history["loss"][-1] < 0.2 * history.history["loss"][0]

    # inference: the same layers, the decoder's states fed back one step at a time
    encoder_model = keras.Model(encoder_inputs, encoder_states)
    decoder_state_input_h = keras.Input(shape=(latent_dim,))
    decoder_state_input_c = keras.Input(shape=(latent_dim,))
    decoder_states_inputs = [decoder_state_input_h, decoder_state_input_c]
    decoder_outputs, state_h, state_c = decoder_lstm(decoder_inputs, initial_state=decoder_states_inputs)
    decoder_outputs = decoder_dense(decoder_outputs)
    decoder_model = keras.Model([decoder_inputs] + decoder_states_inputs,
                                [decoder_outputs, state_h, state_c])
    tests_tokens, test_enc, _, _ = _copy_task(rng, 64, length, vocab)
    states = encoder_model.predict(test_enc, verbose=0)
    target = np.zeros((64, 1, vocab), np.float32)
    target[:, 0, 0] = 1.0
    decoded = []
    for _ in range(length):
        out, h, c = decoder_model.predict([target] + list(states), verbose=0)
        token = np.asarray(out)[:, -1].argmax(axis=-1)
        decoded.append(token)
        target = np.eye(vocab, dtype=np.float32)[token][:, None]
        states = [h, c]
    accuracy = (np.stack(decoded, axis=1) == tests_tokens).mean()
    assert accuracy > 0.9, accuracy


def test_subclassed_encoder_decoder_with_initial_state_trains(rng):
    class Seq2Seq(corenn.Model):
        def __init__(self):
            super().__init__()
            self.encoder = layers.GRU(8, return_state=True)
            self.decoder = layers.GRU(8, return_sequences=True)
            self.head = layers.Dense(1)

        def call(self, inputs):
            enc, dec = inputs
            _, h = self.encoder(enc)
            return self.head(self.decoder(dec, initial_state=h))

    corenn.utils.set_random_seed(1)
    xe = rng.standard_normal((64, T, F)).astype(np.float32)
    xd = np.zeros((64, T, 1), np.float32)
    target = np.repeat(xe[:, :, :1].sum(axis=1, keepdims=True), T, axis=1)   # only the encoder knows it
    model = Seq2Seq()
    model.compile(optimizer=corenn.optimizers.Adam(0.02), loss="mse")
    model.fit([xe, xd], target, batch_size=16, epochs=1, verbose=0)
    enc_before = [w.copy() for w in model.encoder.get_weights()]
    history = model.fit([xe, xd], target, batch_size=16, epochs=30, verbose=0)
    assert history.history["loss"][-1] < 0.3 * history.history["loss"][0]
    assert not np.allclose(model.encoder.get_weights()[0], enc_before[0])   # the states' gradient reached it


# -- stateful ------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(CLASSES) + ["rnn_cell", "stepwise"])
def test_stateful_carry_equals_one_long_sequence(rng, kind):
    x = rng.standard_normal((N, 2 * T, F)).astype(np.float32)
    if kind in ("rnn_cell", "stepwise"):
        make = lambda **kw: layers.RNN(layers.LSTMCell(  # noqa: E731
            U, activation="tanh" if kind == "rnn_cell" else "swish"), **kw)
    else:
        make = lambda **kw: CLASSES[kind](U, **kw)  # noqa: E731
    long = make(return_sequences=True)
    long.build((None, 2 * T, F))
    weights = _randomize(long, rng)
    stateful = make(return_sequences=True, stateful=True)
    stateful.build((None, T, F))
    stateful.set_weights(weights)
    first = np.asarray(stateful(x[:, :T]))
    second = np.asarray(stateful(x[:, T:]))
    whole = np.asarray(long(x))
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), whole, rtol=1e-5, atol=1e-5)
    if kind in CLASSES:
        y64, s64 = _ref(kind, weights, x, None)
        np.testing.assert_allclose(second, y64[:, T:], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(np.asarray(stateful.states[0]), s64[0], rtol=1e-4, atol=1e-5)
    stateful.reset_states()
    np.testing.assert_allclose(np.asarray(stateful(x[:, :T])), first, rtol=1e-6, atol=1e-6)


def test_stateful_model_predict_carries_and_reset_states(rng):
    batch = 2
    model = corenn.Sequential([corenn.Input(batch_shape=(batch, T, F)),
                               layers.LSTM(U, stateful=True, name="s"), layers.Dense(1)])
    ref = corenn.Sequential([corenn.Input((2 * T, F)), layers.LSTM(U), layers.Dense(1)])
    ref.set_weights(model.get_weights())
    x = rng.standard_normal((batch, 2 * T, F)).astype(np.float32)
    # batch 2 of predict continues batch 1 sample by sample
    chunks = np.concatenate([x[:, :T], x[:, T:]], axis=0)
    out = np.asarray(model.predict(chunks, batch_size=batch, verbose=0))
    np.testing.assert_allclose(out[batch:], np.asarray(ref.predict(x, verbose=0)), rtol=1e-4, atol=1e-5)
    model.reset_states()
    np.testing.assert_array_equal(np.asarray(model.get_layer("s").states[0]), np.zeros((batch, U)))
    again = np.asarray(model.predict(x[:, :T], batch_size=batch, verbose=0))
    np.testing.assert_allclose(again, out[:batch], rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match=r"'s'.*stateful=True carries the states of 2 samples.*batch of 1"):
        model.predict(x[:1, :T], verbose=0)
    with pytest.raises(ValueError, match="batch of 1"):   # 3 samples in batches of 2
        model.predict(np.concatenate([x[:, :T], x[:1, :T]]), batch_size=2, verbose=0)


def test_stateful_fit_carries_states_between_batches(rng):
    model = corenn.Sequential([layers.GRU(U, stateful=True, batch_input_shape=(N, T, F), name="g"),
                               layers.Dense(1)])
    twin = layers.GRU(U)
    twin.build((None, T, F))
    twin.set_weights(model.get_layer("g").get_weights())
    model.compile(optimizer="sgd", loss="mse")
    x1, x2 = (rng.standard_normal((N, T, F)).astype(np.float32) for _ in range(2))
    y = rng.standard_normal((N, 1)).astype(np.float32)
    h1 = np.asarray(twin(x1))                              # the weights before the first step
    model.train_on_batch(x1, y)
    np.testing.assert_allclose(np.asarray(model.get_layer("g").states[0]), h1, rtol=1e-5, atol=1e-6)
    twin.set_weights(model.get_layer("g").get_weights())
    h2 = np.asarray(twin(x2, initial_state=ops.convert_to_tensor(h1)))
    model.train_on_batch(x2, y)
    np.testing.assert_allclose(np.asarray(model.get_layer("g").states[0]), h2, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="stateful=True carries the states of 3 samples"):
        model.fit(np.zeros((4, T, F), np.float32), np.zeros((4, 1), np.float32), batch_size=4, verbose=0)
    model.get_layer("g").reset_states(states=[np.ones((N, U), np.float32)])
    np.testing.assert_array_equal(np.asarray(model.get_layer("g").states[0]), np.ones((N, U)))
    with pytest.raises(ValueError, match=r"reset_states: states must be 1 array"):
        model.get_layer("g").reset_states(states=[np.ones((N + 1, U), np.float32)])


def test_stateful_config_and_save_round_trip(rng, tmp_path):
    model = corenn.Sequential([corenn.Input(batch_shape=(2, T, F)),
                               layers.SimpleRNN(U, stateful=True, return_sequences=True),
                               layers.Bidirectional(layers.LSTM(3, stateful=True))])
    cfg = model.layers[0].get_config()
    assert cfg["stateful"] is True and "cell" not in cfg
    path = tmp_path / "stateful.keras"
    model.save(path)
    loaded = corenn.models.load_model(path)
    assert loaded.layers[0].stateful and loaded.layers[1].forward_layer.stateful
    x = rng.standard_normal((2, T, F)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(loaded.predict(x, verbose=0)),
                               np.asarray(model.predict(x, verbose=0)), rtol=1e-6, atol=1e-6)


# -- recurrent_dropout ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind,extra", [("simple_rnn", {}), ("lstm", {}), ("gru", {}),
                                        ("gru", {"reset_after": False})])
def test_recurrent_dropout_masks_match_the_reference(rng, kind, extra):
    layer = CLASSES[kind](U, return_sequences=True, dropout=0.25, recurrent_dropout=0.4, seed=7, **extra)
    layer.build((None, T, F))
    weights = _randomize(layer, rng)
    x = rng.standard_normal((N, T, F)).astype(np.float32)
    dy = rng.standard_normal((N, T, U)).astype(np.float32)
    (y,), grads = _tape_grads(layer, x, [], [dy], training=True)
    dm, rm = (None if m is None else [np.asarray(a, np.float64) for a in m] for m in layer.cell._dropout_masks)
    gates = {"simple_rnn": 1, "lstm": 4, "gru": 3}[kind]
    assert len(dm) == len(rm) == gates   # Keras 3: one mask per gate with recurrent_dropout
    for m, rate in [(a, 0.25) for a in dm] + [(a, 0.4) for a in rm]:
        assert set(np.unique(m)) <= {0.0, np.float32(1 / (1 - rate))}
    assert any(not np.array_equal(rm[0], m) for m in rm[1:]) or gates == 1
    ra = extra.get("reset_after", True)

    def forward(x_):
        step = lambda xt, s: rnn_cell_step(kind, xt, s, *weights, reset_after=ra,  # noqa: E731
                                           input_masks=dm, recurrent_masks=rm)
        return rnn_sequence(step, x_, [np.zeros((N, U))] * N_STATES[kind], return_sequences=True)[0]
    np.testing.assert_allclose(y, forward(x), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(grads[0], numerical_grad(lambda v: float((forward(v) * dy).sum()), x),
                               rtol=1e-3, atol=1e-4)
    kernel = weights[1]

    def loss_r(v):
        w = list(weights)
        w[1] = v
        step = lambda xt, s: rnn_cell_step(kind, xt, s, *w, reset_after=ra,  # noqa: E731
                                           input_masks=dm, recurrent_masks=rm)
        return float((rnn_sequence(step, x, [np.zeros((N, U))] * N_STATES[kind], return_sequences=True)[0]
                      * dy).sum())
    np.testing.assert_allclose(grads[2], numerical_grad(loss_r, kernel), rtol=1e-3, atol=1e-4)
    # inference ignores both dropouts: the fused kernels, as a layer without them
    plain = CLASSES[kind](U, return_sequences=True, **extra)
    plain.build((None, T, F))
    plain.set_weights(weights)
    np.testing.assert_allclose(np.asarray(layer(x)), np.asarray(plain(x)), rtol=1e-6, atol=1e-6)


def test_recurrent_dropout_same_seed_same_masks_and_fit(rng):
    a = layers.LSTM(U, recurrent_dropout=0.5, seed=3)
    b = layers.LSTM(U, recurrent_dropout=0.5, seed=3)
    x = rng.standard_normal((N, T, F)).astype(np.float32)
    a.build((None, T, F))
    b.build((None, T, F))
    b.set_weights(a.get_weights())
    np.testing.assert_array_equal(np.asarray(a(x, training=True)), np.asarray(b(x, training=True)))
    assert not np.allclose(np.asarray(a(x, training=True)), np.asarray(a(x, training=False)))
    with pytest.raises(ValueError, match=r"LSTM 'bad': recurrent_dropout must be in \[0, 1\)"):
        layers.LSTM(3, recurrent_dropout=1.0, name="bad")
    corenn.utils.set_random_seed(0)
    xs = rng.standard_normal((128, T, 2)).astype(np.float32)
    ys = xs[:, :, 0].sum(axis=1, keepdims=True)
    model = corenn.Sequential([corenn.Input((T, 2)), layers.GRU(16, recurrent_dropout=0.2, dropout=0.1),
                               layers.Dense(1)])
    model.compile(optimizer=corenn.optimizers.Adam(0.01), loss="mse")
    hist = model.fit(xs, ys, batch_size=32, epochs=15, verbose=0).history["loss"]
    assert hist[-1] < 0.5 * hist[0]


# -- Bidirectional -------------------------------------------------------------------------------

def _make(kind, **kw):
    if kind == "rnn_cell":
        return layers.RNN(layers.GRUCell(U), **kw)
    return CLASSES[kind](U, **kw)


def _merge(mode, yf, yb):
    return {"concat": lambda: np.concatenate([yf, yb], -1), "sum": lambda: yf + yb,
            "mul": lambda: yf * yb, "ave": lambda: (yf + yb) / 2, None: lambda: [yf, yb]}[mode]()


@pytest.mark.parametrize("kind", sorted(CLASSES) + ["rnn_cell"])
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
def test_bidirectional_return_state_and_initial_state(rng, kind, merge_mode):
    ref_kind = "gru" if kind == "rnn_cell" else kind
    ns = N_STATES[ref_kind]
    bi = layers.Bidirectional(_make(kind, return_sequences=True, return_state=True), merge_mode=merge_mode)
    x = rng.standard_normal((N, T, F)).astype(np.float32)
    bi.build((None, T, F))
    _randomize(bi, rng)
    wf, wb = bi.forward_layer.get_weights(), bi.backward_layer.get_weights()
    states = [rng.standard_normal((N, U)).astype(np.float32) for _ in range(2 * ns)]
    outs = bi(x, initial_state=[ops.convert_to_tensor(s) for s in states])
    yf, sf = _ref(ref_kind, wf, x, states[:ns])
    yb, sb = _ref(ref_kind, wb, x, states[ns:], go_backwards=True)
    merged = _merge(merge_mode, yf, yb[:, ::-1])
    want = (merged if merge_mode is None else [merged]) + sf + sb
    assert len(outs) == len(want)
    for got, w in zip(outs, want):
        np.testing.assert_allclose(np.asarray(got), w, rtol=1e-4, atol=1e-5)
    if merge_mode not in ("concat", None):
        return
    # gradients of every output to the input and to each direction's initial states
    dys = [rng.standard_normal(np.shape(w)).astype(np.float32) for w in want]
    _, grads = _tape_grads(bi, x, states, dys)

    def loss(x_, st):
        f = _ref(ref_kind, wf, x_, st[:ns])
        b = _ref(ref_kind, wb, x_, st[ns:], go_backwards=True)
        m = _merge(merge_mode, f[0], b[0][:, ::-1])
        outs64 = (m if merge_mode is None else [m]) + f[1] + b[1]
        return float(sum((o * d).sum() for o, d in zip(outs64, dys)))
    np.testing.assert_allclose(grads[0], numerical_grad(lambda v: loss(v, states), x), rtol=1e-3, atol=1e-4)
    for k in range(2 * ns):
        def loss_k(v, k=k):
            st = list(states)
            st[k] = v
            return loss(x, st)
        np.testing.assert_allclose(grads[1 + k], numerical_grad(loss_k, states[k]), rtol=1e-3, atol=1e-4)


def test_bidirectional_backward_layer_and_functional_merge_none(rng, tmp_path):
    fwd = layers.LSTM(U, return_sequences=True)
    bwd = layers.SimpleRNN(4, return_sequences=True, go_backwards=True, name="back")
    inp = corenn.Input((T, F))
    yf, yb = layers.Bidirectional(fwd, backward_layer=bwd, merge_mode=None, name="bi")(inp)
    assert yf.shape == (None, T, U) and yb.shape == (None, T, 4)
    model = corenn.Model(inp, [yf, layers.Bidirectional(layers.GRU(2), name="bi2")(yb)])
    bi = model.get_layer("bi")
    assert bi.backward_layer is bwd and len(bi.weights) == 6
    _randomize(bi, rng)
    x = rng.standard_normal((N, T, F)).astype(np.float32)
    out_f, out_2 = model.predict(x, verbose=0)
    np.testing.assert_allclose(out_f, _ref("lstm", bi.forward_layer.get_weights(), x, None)[0],
                               rtol=1e-4, atol=1e-5)
    cfg = bi.get_config()
    assert cfg["backward_layer"]["config"]["name"] == "back"
    path = tmp_path / "bi.keras"
    model.save(path)
    loaded = corenn.models.load_model(path)
    for a, b in zip(loaded.predict(x, verbose=0), (out_f, out_2)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-6)
    assert isinstance(loaded.get_layer("bi").backward_layer, layers.SimpleRNN)
    with pytest.raises(ValueError, match="go_backwards=True"):
        layers.Bidirectional(layers.LSTM(2), backward_layer=layers.LSTM(2))
    with pytest.raises(ValueError, match="return_sequences"):
        layers.Bidirectional(layers.LSTM(2), backward_layer=layers.LSTM(2, go_backwards=True,
                                                                        return_sequences=True))
    with pytest.raises(ValueError, match="initial_state must hold 4"):
        layers.Bidirectional(layers.LSTM(2))(x, initial_state=[np.zeros((N, 2), np.float32)])


def test_bidirectional_rnn_cell_trains_in_a_model(rng):
    corenn.utils.set_random_seed(2)
    xs = rng.standard_normal((128, T, 2)).astype(np.float32)
    ys = (xs[:, 0, 0] > xs[:, -1, 0]).astype(np.int64)   # needs both ends
    model = corenn.Sequential([corenn.Input((T, 2)),
                               layers.Bidirectional(layers.RNN(layers.LSTMCell(8)), merge_mode="sum"),
                               layers.Dense(2)])
    model.compile(optimizer=corenn.optimizers.Adam(0.02),
                  loss=corenn.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    hist = model.fit(xs, ys, batch_size=32, epochs=20, verbose=0).history
    assert hist["loss"][-1] < 0.5 * hist["loss"][0]


# -- activity_regularizer -----------------------------------------------------------------------

def test_activity_regularizer_on_rnn_layers_matches_activity_regularization(rng):
    x = rng.standard_normal((8, T, F)).astype(np.float32)
    y = rng.standard_normal((8, 1)).astype(np.float32)

    def build(reg_in_layer):
        inp = corenn.Input((T, F))
        if reg_in_layer:
            h = layers.LSTM(U, activity_regularizer=corenn.regularizers.L2(0.05), name="l")(inp)
        else:
            h = layers.ActivityRegularization(l2=0.05)(layers.LSTM(U, name="l")(inp))
        model = corenn.Model(inp, layers.Dense(1, name="d")(h))
        model.compile(optimizer="sgd", loss="mse")
        return model
    a, b = build(True), build(False)
    b.set_weights(a.get_weights())
    la, ga = a.compute_gradients(x, y) if hasattr(a, "compute_gradients") else (None, None)
    lb, gb = b.compute_gradients(x, y) if hasattr(b, "compute_gradients") else (None, None)
    assert la is not None
    np.testing.assert_allclose(la, lb, rtol=1e-5)
    for g1, g2 in zip(ga, gb):
        np.testing.assert_allclose(np.asarray(g1), np.asarray(g2), rtol=1e-4, atol=1e-6)
    h = np.asarray(a.get_layer("l")(x))
    # Keras 3: the penalty divided by the batch size
    np.testing.assert_allclose(float(np.asarray(a.get_layer("l").losses[0])),
                               0.05 * (h.astype(np.float64) ** 2).sum() / len(h), rtol=1e-4)


def test_activity_regularizer_covers_every_returned_state(rng):
    layer = layers.GRU(U, return_state=True, activity_regularizer="l2")
    x = rng.standard_normal((N, T, F)).astype(np.float32)
    y, h = layer(x)
    assert len(layer.losses) == 2   # Keras 3: one penalty per output
    inp = corenn.Input((T, F))
    out, state = layers.GRU(U, return_state=True, activity_regularizer=corenn.regularizers.L2(0.1),
                            name="g")(inp)
    model = corenn.Model(inp, layers.Dense(1)(layers.Concatenate()([out, state])))
    model.compile(optimizer="sgd", loss="mse")
    loss = model.evaluate(x, np.zeros((N, 1), np.float32), verbose=0)
    pred = np.asarray(model.predict(x, verbose=0), np.float64)
    g = np.asarray(model.get_layer("g")(x)[0], np.float64)
    np.testing.assert_allclose(loss, (pred ** 2).mean() + 2 * 0.1 * (g ** 2).sum() / N, rtol=1e-4)
    w0 = model.get_layer("g").get_weights()[0].copy()
    model.train_on_batch(x, np.zeros((N, 1), np.float32))
    assert not np.allclose(model.get_layer("g").get_weights()[0], w0)


# -- config / Keras-style construction ----------------------------------------------------------

def test_layers_are_rnns_of_their_cells_with_keras_configs():
    lstm = layers.LSTM(4, recurrent_dropout=0.1, stateful=True, unit_forget_bias=False, name="enc")
    assert isinstance(lstm, layers.RNN) and isinstance(lstm.cell, layers.LSTMCell)
    assert lstm.units == 4 and lstm.recurrent_dropout == 0.1 and lstm.unit_forget_bias is False
    cfg = lstm.get_config()
    assert "cell" not in cfg and cfg["recurrent_dropout"] == 0.1 and cfg["name"] == "enc"
    again = layers.LSTM.from_config(cfg)
    assert again.get_config() == cfg
    lstm.build((None, 3, 2))
    assert [w.shape for w in lstm.weights] == [(2, 16), (4, 16), (16,)]
    assert lstm.kernel is lstm.cell.kernel
    with pytest.raises(ValueError, match="GRU 'g': units must be a positive integer"):
        layers.GRU(0, name="g")
    with pytest.raises(TypeError, match="SimpleRNN 's'.*recurrent_activation"):
        layers.SimpleRNN(3, recurrent_activation="tanh", name="s")


@pytest.mark.parametrize("go_backwards", [False, True])
def test_zero_output_for_mask(rng, go_backwards):
    """Keras' zero_output_for_mask (set by Keras on the layers inside a Bidirectional, so its
    files load): masked steps of the returned sequence are 0, and get no gradient."""
    plain = layers.LSTM(U, return_sequences=True, go_backwards=go_backwards)
    zeroed = layers.LSTM(U, return_sequences=True, go_backwards=go_backwards, zero_output_for_mask=True)
    for layer in (plain, zeroed):
        layer.build((None, T, F))
    zeroed.set_weights(_randomize(plain, rng))
    x = rng.standard_normal((N, T, F)).astype(np.float32)
    mask = np.ones((N, T), np.float32)
    mask[0, 3:] = 0
    mask[2, :2] = 0
    out_mask = (mask[:, ::-1] if go_backwards else mask)[:, :, None]   # outputs in processing order
    dy = rng.standard_normal((N, T, U)).astype(np.float32)
    (y_plain,), g_plain = _tape_grads(plain, x, [], [dy * out_mask], mask=mask)
    (y_zero,), g_zero = _tape_grads(zeroed, x, [], [dy], mask=mask)
    np.testing.assert_allclose(y_zero, y_plain * out_mask, rtol=1e-6, atol=1e-6)
    assert np.abs(y_plain * (1 - out_mask)).sum() > 0      # the plain layer repeats outputs there
    for a, b in zip(g_zero, g_plain):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert zeroed.get_config()["zero_output_for_mask"] is True


def test_stateful_program_fit_one_epoch_at_a_time_with_reset_states():
    """The classic Keras stateful-LSTM program: consecutive batches continue the same series
    (shuffle=False), one epoch per fit call, model.reset_states() between epochs."""
    corenn.utils.set_random_seed(3)
    series, chunk, chunks = 4, 5, 24
    t = np.arange(chunk * chunks + 1, dtype=np.float32)
    waves = np.stack([np.sin(0.3 * t + phase) for phase in np.linspace(0, 3, series)])   # (4, L + 1)
    x = np.stack([waves[i, k * chunk:(k + 1) * chunk] for k in range(chunks) for i in range(series)])[..., None]
    y = np.stack([waves[i, (k + 1) * chunk] for k in range(chunks) for i in range(series)])[:, None]
    model = corenn.Sequential()
    model.add(layers.LSTM(16, batch_input_shape=(series, chunk, 1), stateful=True))
    model.add(layers.Dense(1))
    model.compile(optimizer=corenn.optimizers.Adam(0.02), loss="mse")
    losses = []
    for _ in range(12):
        losses.append(model.fit(x, y, batch_size=series, epochs=1, shuffle=False, verbose=0).history["loss"][0])
        model.reset_states()
    assert losses[-1] < 0.2 * losses[0], losses
    assert model.layers[0].states[0].shape == (series, 16)


def test_bidirectional_lstm_with_states_matches_torch_when_installed(rng):
    """Bidirectional(LSTM, merge concat, return_state) from initial states against
    torch.nn.LSTM(bidirectional=True): outputs, final states and the gradients of the input and
    the initial states. (The float64 reference above checks the same without torch.)"""
    torch = pytest.importorskip("torch")
    bi = layers.Bidirectional(layers.LSTM(U, return_sequences=True, return_state=True))
    bi.build((None, T, F))
    _randomize(bi, rng)
    x = rng.standard_normal((N, T, F)).astype(np.float32)
    states = [rng.standard_normal((N, U)).astype(np.float32) for _ in range(4)]   # h_f, c_f, h_b, c_b
    dys = [rng.standard_normal(s).astype(np.float32) for s in [(N, T, 2 * U)] + [(N, U)] * 4]
    outs, grads = _tape_grads(bi, x, states, dys)
    ref = torch.nn.LSTM(F, U, batch_first=True, bidirectional=True).double()
    with torch.no_grad():   # Keras i, f, c, o is torch's i, f, g, o; one bias (torch's second is 0)
        for suffix, layer in (("", bi.forward_layer), ("_reverse", bi.backward_layer)):
            w, r, b = (a.astype(np.float64) for a in layer.get_weights())
            getattr(ref, "weight_ih_l0" + suffix).copy_(torch.from_numpy(w.T.copy()))
            getattr(ref, "weight_hh_l0" + suffix).copy_(torch.from_numpy(r.T.copy()))
            getattr(ref, "bias_ih_l0" + suffix).copy_(torch.from_numpy(b))
            getattr(ref, "bias_hh_l0" + suffix).zero_()
    tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    h0 = torch.tensor(np.stack([states[0], states[2]]), dtype=torch.float64, requires_grad=True)
    c0 = torch.tensor(np.stack([states[1], states[3]]), dtype=torch.float64, requires_grad=True)
    y, (hn, cn) = ref(tx, (h0, c0))
    want = [y, hn[0], cn[0], hn[1], cn[1]]
    for got, w in zip(outs, want):
        np.testing.assert_allclose(got, w.detach().numpy(), rtol=1e-4, atol=1e-5)
    torch.autograd.backward(want, [torch.from_numpy(d.astype(np.float64)) for d in dys])
    np.testing.assert_allclose(grads[0], tx.grad.numpy(), rtol=1e-3, atol=1e-4)
    for k, (t, d) in enumerate([(h0, 0), (c0, 0), (h0, 1), (c0, 1)]):
        np.testing.assert_allclose(grads[1 + k], t.grad.numpy()[d], rtol=1e-3, atol=1e-4)
