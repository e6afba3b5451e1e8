"""MultiHeadAttention and its fused masked softmax: float64 references (tests/reference.py),
finite differences of the reference, PyTorch parity (autograd on the same weights), masks from
Embedding(mask_zero=True), self-attention gradients, models, saving, errors."""
import numpy as np
import pytest

import corenn
import reference as ref
from corenn import kernels, layers

N, TQ, TV, D, H, K = 2, 5, 6, 8, 3, 4


def rand(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def masks(rng, kind, n=N, tq=TQ, tv=TV):
    """(attention_mask, query_mask, key_mask, causal) for one of the mask kinds tested."""
    am = qm = km = None
    causal = False
    if kind in ("attention", "all"):
        am = (rng.random((n, tq, tv)) > 0.3).astype(np.float32)
    if kind in ("padding", "all"):
        qm = np.ones((n, tq), np.float32)
        qm[0, -2:] = 0
        km = np.ones((n, tv), np.float32)
        km[1, -3:] = 0
    if kind in ("causal", "all"):
        causal = True
    return am, qm, km, causal


# ---- the fused kernel -------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["none", "attention", "padding", "causal", "all"])
@pytest.mark.parametrize("tk", [1, 3, 8, 15, 16, 17, 33])  # rows shorter than, equal to and past a vector
def test_masked_softmax_matches_reference(isa, kind, tk):
    rng = np.random.default_rng(1)
    s = rand(rng, N, H, TQ, tk) * 3
    am, qm, km, causal = masks(rng, kind, tv=tk)
    p, dropped = kernels.masked_softmax_forward(s, attention_mask=am, query_mask=qm, key_mask=km,
                                                causal=causal, scale=0.7)
    assert dropped is None
    allowed = ref.attention_allowed(N, TQ, tk, am, qm, km, causal)
    want = ref.masked_softmax(s, allowed, 0.7)
    np.testing.assert_allclose(np.asarray(p), want, rtol=1e-5, atol=1e-6)
    some = np.broadcast_to(allowed[:, None].any(-1, keepdims=True), want.shape)
    assert np.all(np.asarray(p)[~np.broadcast_to(allowed[:, None], want.shape) & some] == 0.0)
    dp = rand(rng, *s.shape)
    ds = kernels.masked_softmax_backward(p, dp, scale=0.7)
    np.testing.assert_allclose(np.asarray(ds), ref.masked_softmax_grad(want, dp, 0.7), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("kind", ["attention", "padding", "causal", "all"])
@pytest.mark.parametrize("tk", [3, 16, 17])
def test_masked_softmax_per_head_attention_mask(isa, kind, tk):
    """A (B, H, Tq, Tk) attention_mask masks each head its own way, combined with the padding
    masks and causality as the (B, Tq, Tk) one is."""
    rng = np.random.default_rng(4)
    s = rand(rng, N, H, TQ, tk) * 3
    _, qm, km, causal = masks(rng, kind, tv=tk)
    am = (rng.random((N, H, TQ, tk)) > 0.4).astype(np.float32)
    am[0, 1] = 0.0   # one head of one sample attends nowhere: its rows are uniform
    p, _ = kernels.masked_softmax_forward(s, attention_mask=am, query_mask=qm, key_mask=km,
                                          causal=causal, scale=0.7)
    allowed = (am != 0) & ref.attention_allowed(N, TQ, tk, None, qm, km, causal)[:, None]
    want = ref.masked_softmax(s, allowed, 0.7)
    np.testing.assert_allclose(np.asarray(p), want, rtol=1e-5, atol=1e-6)
    assert np.all(np.asarray(p)[0, 1] == np.float32(1.0 / tk))
    # the heads differ: a head-shared reading of the same mask gives other probabilities
    assert not np.allclose(want, ref.masked_softmax(s, allowed[:, 0], 0.7))
    with pytest.raises(ValueError, match="masked_softmax_forward.*attention_mask"):
        kernels.masked_softmax_forward(s, attention_mask=am[:, :2])


def test_masked_softmax_fully_masked_row_is_uniform_and_in_place():
    """Keras 3.15 adds -1e9 to masked scores: a row with every key masked is uniform (side by
    side with Keras, a padded query of MultiHeadAttention averages the values)."""
    s = np.arange(8, dtype=np.float32).reshape(1, 1, 2, 4)
    km = np.zeros((1, 4), np.float32)
    p, _ = kernels.masked_softmax_forward(s, key_mask=km)
    assert np.all(np.asarray(p) == 0.25)
    t = kernels.as_tensor(np.arange(8, dtype=np.float32).reshape(1, 1, 2, 4))
    want = ref.masked_softmax(np.asarray(t), np.ones((1, 2, 4), bool), 1.0)
    p, _ = kernels.masked_softmax_forward(t, out=t)
    np.testing.assert_allclose(np.asarray(t), want, rtol=1e-6)


def test_masked_softmax_dropout_keeps_or_drops_and_backward_matches(isa):
    rng = np.random.default_rng(2)
    s = rand(rng, 4, 2, 8, 16)
    rate = 0.25
    p, d = kernels.masked_softmax_forward(s, dropout_rate=rate, seed=11)
    p, d = np.asarray(p), np.asarray(d)
    ratio = d / p
    kept = np.isclose(ratio, 1 / (1 - rate))
    assert np.all(kept | (d == 0)) and 0.6 < kept.mean() < 0.9
    p2, d2 = kernels.masked_softmax_forward(s, dropout_rate=rate, seed=11)
    np.testing.assert_array_equal(np.asarray(d2), d)  # a function of the seed only
    g = rand(rng, *s.shape)
    ds = kernels.masked_softmax_backward(p, g, dropout_rate=rate, dropped=d)
    want = ref.masked_softmax_grad(p, g * kept / (1 - rate), 1.0)
    np.testing.assert_allclose(np.asarray(ds), want, rtol=1e-4, atol=1e-6)


def test_masked_softmax_errors_name_the_op():
    s = np.zeros((2, 1, 3, 4), np.float32)
    with pytest.raises(ValueError, match="masked_softmax_forward.*key_mask"):
        kernels.masked_softmax_forward(s, key_mask=np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match="masked_softmax_forward.*scores"):
        kernels.masked_softmax_forward(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="masked_softmax_forward.*dropout"):
        kernels.masked_softmax_forward(s, dropout_rate=1.0)
    with pytest.raises(ValueError, match="masked_softmax_backward"):
        kernels.masked_softmax_backward(s, np.zeros((2, 1, 3, 5), np.float32))


# ---- the layer against the float64 reference ------------------------------------------------

def make_layer(rng, separate_key=False, **kw):
    mha = layers.MultiHeadAttention(H, K, **kw)
    q, v = rand(rng, N, TQ, D), rand(rng, N, TV, D + 2)
    k = rand(rng, N, TV, D - 3) if separate_key else None
    mha(q, v, key=k)
    weights = [w + 0.2 * rand(rng, *w.shape) for w in mha.get_weights()]
    mha.set_weights(weights)
    return mha, q, v, k, weights


def tape_grads(mha, q, v, k, dy, **call):
    ts = [corenn.Tensor.from_numpy(a) for a in (q, v) + ((k,) if k is not None else ())]
    with corenn.GradientTape() as tape:
        for t in ts:
            tape.watch(t)
        out = mha(ts[0], ts[1], key=ts[2] if k is not None else None, **call)
    grads = tape.gradient(out, ts + mha.trainable_weights, output_gradients=corenn.Tensor.from_numpy(dy))
    return np.asarray(out), [np.asarray(g) for g in grads]


@pytest.mark.parametrize("kind", ["none", "attention", "padding", "causal", "all"])
@pytest.mark.parametrize("separate_key", [False, True])
def test_mha_forward_backward_match_reference(kind, separate_key):
    rng = np.random.default_rng(3)
    mha, q, v, k, weights = make_layer(rng, separate_key)
    am, qm, km, causal = masks(rng, kind)
    dy = rand(rng, N, TQ, D)
    call = dict(attention_mask=am, use_causal_mask=causal)
    if qm is not None:
        call["mask"] = [qm, km] + ([km] if separate_key else [])
    out, grads = tape_grads(mha, q, v, k, dy, **call)
    allowed = ref.attention_allowed(N, TQ, TV, am, qm, km, causal)
    want, _, _ = ref.mha_forward(q, v, k, weights, allowed)
    np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-5)
    dq, dv, dk, dws = ref.mha_backward(dy, q, v, k, weights, allowed)
    want_grads = [dq, dv] + ([dk] if separate_key else []) + dws
    assert len(grads) == len(want_grads)
    for g, w in zip(grads, want_grads):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("separate_key", [False, True])
def test_mha_per_head_attention_mask_matches_reference(separate_key):
    """Keras 3 takes a (batch, heads, query, value) attention_mask and masks each head with its
    own slice; forward and every gradient against the float64 reference."""
    rng = np.random.default_rng(5)
    mha, q, v, k, weights = make_layer(rng, separate_key)
    am = rng.random((N, H, TQ, TV)) > 0.35
    dy = rand(rng, N, TQ, D)
    out, grads = tape_grads(mha, q, v, k, dy, attention_mask=am, use_causal_mask=True)
    allowed = am & ref.attention_allowed(N, TQ, TV, causal=True)[:, None]
    want, _, _ = ref.mha_forward(q, v, k, weights, allowed)
    np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-5)
    assert not np.allclose(out, ref.mha_forward(q, v, k, weights, allowed[:, 0])[0], atol=1e-3)
    dq, dv, dk, dws = ref.mha_backward(dy, q, v, k, weights, allowed)
    for g, w in zip(grads, [dq, dv] + ([dk] if separate_key else []) + dws):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)
    # (batch, 1, query, value) and (1, heads, 1, value) broadcast as Keras broadcasts them
    heads_only = rng.random((1, H, 1, TV)) > 0.3
    out2 = np.asarray(mha(q, v, key=k, attention_mask=heads_only))
    allowed2 = np.broadcast_to(heads_only, (N, H, TQ, TV))
    np.testing.assert_allclose(out2, ref.mha_forward(q, v, k, weights, allowed2)[0], rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match=r"attention_mask must have shape .*\(batch, 3, 5, 6\).*got \(None, 4, 5, 6\)"):
        mha(q, v, key=k, attention_mask=np.ones((N, H + 1, TQ, TV), bool))
    with pytest.raises(ValueError, match=r"4-D attention_mask must have shape \(2, 3, 5, 6\).*got \(2, 3, 5, 4\)"):
        mha._broadcast_attention_mask(np.ones((N, H, TQ, 4), bool), N, TQ, TV)


def test_mha_explicit_query_and_value_masks_as_keras_3():
    rng = np.random.default_rng(14)
    mha, q, v, _, weights = make_layer(rng)
    _, qm, km, _ = masks(rng, "padding")
    out = mha(q, v, query_mask=qm, value_mask=km)
    allowed = ref.attention_allowed(N, TQ, TV, query_mask=qm, key_mask=km)
    np.testing.assert_allclose(out, ref.mha_forward(q, v, None, weights, allowed)[0], rtol=1e-4, atol=1e-5)
    with pytest.raises(TypeError, match="not both"):
        mha(q, v, query_mask=qm, mask=[qm, km])


def test_mha_eager_numpy_call_and_return_attention_scores():
    rng = np.random.default_rng(4)
    mha, q, v, _, weights = make_layer(rng)
    out, scores = mha(q, v, return_attention_scores=True, use_causal_mask=True)
    allowed = ref.attention_allowed(N, TQ, TV, causal=True)
    want, p, _ = ref.mha_forward(q, v, None, weights, allowed)
    np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(scores, p, rtol=1e-4, atol=1e-6)
    assert scores.shape == (N, H, TQ, TV)


def test_reference_backward_matches_finite_differences():
    """The float64 reference's backward against central differences of its forward."""
    rng = np.random.default_rng(5)
    n, tq, tv, d, h, k = 1, 3, 4, 3, 2, 2
    q, v = rng.standard_normal((n, tq, d)), rng.standard_normal((n, tv, d))
    weights = [rng.standard_normal(s) for s in ((d, h, k), (h, k), (d, h, k), (h, k), (d, h, k), (h, k),
                                                 (h, k, d), (d,))]
    allowed = ref.attention_allowed(n, tq, tv, key_mask=np.array([[1, 1, 1, 0]]), causal=True)
    dy = rng.standard_normal((n, tq, d))

    def loss_q(x):
        return float((ref.mha_forward(x, v, None, weights, allowed)[0] * dy).sum())

    def loss_v(x):
        return float((ref.mha_forward(q, x, None, weights, allowed)[0] * dy).sum())

    def loss_w(i):
        def f(w):
            ws = list(weights)
            ws[i] = w
            return float((ref.mha_forward(q, v, None, ws, allowed)[0] * dy).sum())
        return f
    dq, dv, _, dws = ref.mha_backward(dy, q, v, None, weights, allowed)
    np.testing.assert_allclose(ref.numerical_grad(loss_q, q), dq, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(ref.numerical_grad(loss_v, v), dv, rtol=1e-5, atol=1e-7)
    for i in (0, 2, 4, 6, 7):
        np.testing.assert_allclose(ref.numerical_grad(loss_w(i), weights[i]), dws[i], rtol=1e-5, atol=1e-7)


def test_mha_dropout_only_in_training_and_scales_kept_probs():
    rng = np.random.default_rng(6)
    mha, q, v, _, weights = make_layer(rng, dropout=0.5, seed=1)
    allowed = ref.attention_allowed(N, TQ, TV)
    want, _, _ = ref.mha_forward(q, v, None, weights, allowed)
    np.testing.assert_allclose(mha(q, v), want, rtol=1e-4, atol=1e-5)
    out, scores = mha(q, v, training=True, return_attention_scores=True)
    assert not np.allclose(out, want, atol=1e-3)
    np.testing.assert_allclose(scores.sum(-1), 1.0, rtol=1e-5)  # scores are before dropout


def test_pytorch_parity_forward_backward():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    mha, q, v, _, weights = make_layer(rng)
    am, qm, km, causal = masks(rng, "all")
    dy = rand(rng, N, TQ, D)
    out, grads = tape_grads(mha, q, v, None, dy, attention_mask=am, use_causal_mask=True,
                            mask=[qm, km])
    tq_, tv_ = torch.tensor(q, dtype=torch.float64, requires_grad=True), \
        torch.tensor(v, dtype=torch.float64, requires_grad=True)
    tw = [torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in weights]
    allowed = torch.tensor(ref.attention_allowed(N, TQ, TV, am, qm, km, True))
    qp = torch.einsum("ntd,dhk->nthk", tq_, tw[0]) + tw[1]
    kp = torch.einsum("ntd,dhk->nthk", tv_, tw[2]) + tw[3]
    vp = torch.einsum("ntd,dhk->nthk", tv_, tw[4]) + tw[5]
    s = torch.einsum("nihk,njhk->nhij", qp, kp) / np.sqrt(K)
    # a fully masked row: Keras 3.15's float32 -1e9 adder makes its scores equal (uniform
    # weights) while autodiff still sees the softmax: s - s.detach() has that value and gradient
    uniform = torch.softmax(s - s.detach(), -1)
    s = s.masked_fill(~allowed[:, None], float("-inf"))
    empty = ~allowed[:, None].any(-1, keepdim=True)
    p = torch.where(empty, uniform, torch.nan_to_num(torch.softmax(s, -1), nan=0.0))
    y = torch.einsum("nihv,hvo->nio", torch.einsum("nhij,njhv->nihv", p, vp), tw[6]) + tw[7]
    y.backward(torch.tensor(dy, dtype=torch.float64))
    np.testing.assert_allclose(out, y.detach().numpy(), rtol=1e-4, atol=1e-5)
    for g, t in zip(grads, [tq_, tv_] + tw):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-4, atol=1e-5)


# ---- graph models, masks, saving ------------------------------------------------------------

def test_self_attention_in_a_model_sums_both_input_gradients():
    rng = np.random.default_rng(8)
    inp = layers.Input(shape=(TV, D))
    mha = layers.MultiHeadAttention(H, K)
    model = corenn.Model(inp, mha(inp, inp))
    weights = [w + 0.2 * rand(rng, *w.shape) for w in mha.get_weights()]
    mha.set_weights(weights)
    x = rand(rng, N, TV, D)
    dy = rand(rng, N, TV, D)
    xt = corenn.Tensor.from_numpy(x)
    with corenn.GradientTape() as tape:
        tape.watch(xt)
        y = model(xt)
    dx, *dws = tape.gradient(y, [xt] + model.trainable_weights, output_gradients=corenn.Tensor.from_numpy(dy))
    allowed = ref.attention_allowed(N, TV, TV)
    np.testing.assert_allclose(np.asarray(y), ref.mha_forward(x, x, None, weights, allowed)[0], rtol=1e-4, atol=1e-5)
    dq, dv, _, want_ws = ref.mha_backward(dy, x, x, None, weights, allowed)
    np.testing.assert_allclose(np.asarray(dx), dq + dv, rtol=1e-4, atol=1e-5)
    for g, w in zip(dws, want_ws):
        np.testing.assert_allclose(np.asarray(g), w, rtol=1e-4, atol=1e-5)


def masked_classifier(vocab, t, d=8, causal=False, positions=False):
    """Embedding(mask_zero) (+ a learned positional embedding on a second input of positions) ->
    attention block -> masked mean -> softmax."""
    inp = layers.Input(shape=(t,), dtype="int32")
    x = layers.Embedding(vocab, d, mask_zero=True)(inp)
    if positions:
        pos = layers.Input(shape=(t,), dtype="int32")
        x = layers.Add()([x, layers.Embedding(t, d)(pos)])   # keeps the tokens' mask
    a = layers.MultiHeadAttention(2, 4)(x, x, use_causal_mask=causal)
    x = layers.LayerNormalization()(layers.Add()([x, a]))
    x = layers.GlobalAveragePooling1D()(layers.Dense(d, activation="relu")(x))
    return corenn.Model([inp, pos] if positions else inp, layers.Dense(2, activation="softmax")(x))


def test_mask_zero_keys_and_padding_do_not_change_the_prediction():
    rng = np.random.default_rng(9)
    model = masked_classifier(20, 7)
    ids = rng.integers(1, 20, (4, 7))
    ids[0, 4:] = 0
    ids[2, 2:] = 0
    p1 = model.predict(ids, verbose=0)
    emb = model.layers[1]
    w = emb.get_weights()[0]
    w[0] = 100 * rng.standard_normal(w.shape[1])   # the padding row: masked everywhere
    emb.set_weights([w])
    p2 = model.predict(ids, verbose=0)
    np.testing.assert_allclose(p1, p2, rtol=1e-5, atol=1e-6)
    # the same sequence without its padding gives the same output as a model on the short input
    short = masked_classifier(20, 4)
    short.set_weights(model.get_weights())
    np.testing.assert_allclose(short.predict(ids[:1, :4], verbose=0), model.predict(ids[:1], verbose=0),
                               rtol=1e-4, atol=1e-6)



def test_masked_model_saves_and_loads_with_its_masks(tmp_path):
    rng = np.random.default_rng(13)
    model = masked_classifier(20, 7)
    ids = rng.integers(1, 20, (3, 7))
    ids[1, 3:] = 0
    model.save(tmp_path / "masked.keras")
    again = corenn.models.load_model(tmp_path / "masked.keras")
    np.testing.assert_allclose(again.predict(ids, verbose=0), model.predict(ids, verbose=0), rtol=1e-6)
    emb = again.layers[1]
    assert emb.mask_zero and emb.output._keras_mask is not None


def test_mha_key_padding_from_mask_zero_matches_reference():
    rng = np.random.default_rng(10)
    inp = layers.Input(shape=(TV,), dtype="int32")
    emb = layers.Embedding(12, D, mask_zero=True)
    mha = layers.MultiHeadAttention(H, K)
    model = corenn.Model(inp, mha(emb(inp), emb(inp), use_causal_mask=True))
    ids = rng.integers(1, 12, (N, TV))
    ids[1, 3:] = 0
    x = np.asarray(emb(ids))
    mask = (ids != 0).astype(np.float32)
    weights = mha.get_weights()
    allowed = ref.attention_allowed(N, TV, TV, query_mask=mask, key_mask=mask, causal=True)
    np.testing.assert_allclose(model.predict(ids, verbose=0), ref.mha_forward(x, x, None, weights, allowed)[0],
                               rtol=1e-4, atol=1e-5)


def test_mha_model_with_attention_mask_input_saves_and_loads(tmp_path):
    rng = np.random.default_rng(11)
    q_in, v_in = layers.Input(shape=(TQ, D)), layers.Input(shape=(TV, D))
    m_in = layers.Input(shape=(TQ, TV))
    out = layers.MultiHeadAttention(H, K, value_dim=3, output_shape=5)(q_in, v_in, attention_mask=m_in,
                                                                        use_causal_mask=True)
    model = corenn.Model([q_in, v_in, m_in], out)
    xs = [rand(rng, N, TQ, D), rand(rng, N, TV, D), (rng.random((N, TQ, TV)) > 0.3).astype(np.float32)]
    y = model.predict(xs, verbose=0)
    assert y.shape == (N, TQ, 5)
    path = tmp_path / "mha.keras"
    model.save(path)
    again = corenn.models.load_model(path)
    np.testing.assert_allclose(again.predict(xs, verbose=0), y, rtol=1e-6)
    allowed = ref.attention_allowed(N, TQ, TV, xs[2], causal=True)
    mha = model.layers[-1]
    np.testing.assert_allclose(y, ref.mha_forward(xs[0], xs[1], None, mha.get_weights(), allowed)[0],
                               rtol=1e-4, atol=1e-5)


def test_transformer_classifier_trains():
    rng = np.random.default_rng(12)
    corenn.utils.set_random_seed(0)
    vocab, t = 16, 10
    ids = rng.integers(1, vocab, (256, t))
    for i, n in enumerate(rng.integers(3, t + 1, 256)):
        ids[i, n:] = 0
    y = (ids == 5).any(1).astype(np.int64)
    pos = np.broadcast_to(np.arange(t), ids.shape).copy()
    model = masked_classifier(vocab, t, d=16, positions=True)
    model.compile(optimizer=corenn.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    hist = model.fit([ids, pos], y, epochs=6, batch_size=32, verbose=0)
    assert hist.history["accuracy"][-1] > 0.9
    assert hist.history["loss"][-1] < hist.history["loss"][0] / 2


def test_mha_errors_name_the_layer():
    mha = layers.MultiHeadAttention(2, 4, name="att")
    with pytest.raises(ValueError, match="att.*query must have shape"):
        mha(np.zeros((2, 3), np.float32), np.zeros((2, 3), np.float32))
    mha(np.zeros((2, 3, 4), np.float32), np.zeros((2, 5, 4), np.float32))
    with pytest.raises(ValueError, match="att.*value has 6 features"):
        mha(np.zeros((2, 3, 4), np.float32), np.zeros((2, 5, 6), np.float32))
    with pytest.raises(ValueError, match="att.*attention_mask"):
        mha(np.zeros((2, 3, 4), np.float32), np.zeros((2, 5, 4), np.float32),
            attention_mask=np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="num_heads"):
        layers.MultiHeadAttention(0, 4)
    with pytest.raises(ValueError, match="att2.*attention_axes"):
        layers.MultiHeadAttention(2, 4, attention_axes=(0, 1), name="att2")(
            np.zeros((2, 3, 4, 5), np.float32), np.zeros((2, 3, 4, 5), np.float32))
    with pytest.raises(ValueError, match="attention_axes must be"):
        layers.MultiHeadAttention(2, 4, attention_axes="rows")
    with pytest.raises(ValueError, match="att3.*agree on the axes"):
        layers.MultiHeadAttention(2, 4, attention_axes=2, name="att3")(
            np.zeros((2, 3, 4, 5), np.float32), np.zeros((2, 6, 4, 5), np.float32))


# ---- attention_axes: inputs of rank > 3 ---------------------------------------------------------

def _fold(x, other, att):
    """NumPy's (batch x other axes, attention positions, features) view of x."""
    perm = (0,) + other + att + (x.ndim - 1,)
    moved = np.transpose(x, perm)
    n = int(np.prod(moved.shape[:1 + len(other)]))
    return moved.reshape(n, -1, x.shape[-1]), perm, moved.shape


def _unfold(y, perm, moved_shape):
    return np.transpose(y.reshape(moved_shape[:-1] + (y.shape[-1],)), np.argsort(perm))


@pytest.mark.parametrize("shape,axes,other,att", [
    ((2, 3, 4, 5), None, (), (1, 2)),          # an image: attention over all positions
    ((2, 3, 4, 5), (2,), (1,), (2,)),          # axial: along the rows, each row apart
    ((2, 3, 4, 5), -3, (2,), (1,)),            # along the columns (a negative axis)
    ((2, 2, 3, 2, 5), (1, 3), (2,), (1, 3))])  # two axes jointly, one kept apart
def test_attention_axes_match_the_reference_forward_and_backward(shape, axes, other, att):
    rng = np.random.default_rng(5)
    q, v = rand(rng, *shape), rand(rng, *shape[:-1], 6)
    mha = layers.MultiHeadAttention(2, 3, attention_axes=axes)
    out, scores = mha(q, v, return_attention_scores=True)
    weights = [w + 0.2 * rand(rng, *w.shape) for w in mha.get_weights()]
    mha.set_weights(weights)
    dy = rand(rng, *shape)
    got, grads = tape_grads(mha, q, v, None, dy)
    q3, perm, q_moved = _fold(q, other, att)
    v3, _, v_moved = _fold(v, other, att)
    allowed = ref.attention_allowed(q3.shape[0], q3.shape[1], v3.shape[1])
    want, probs, _ = ref.mha_forward(q3, v3, None, weights, allowed)
    np.testing.assert_allclose(got, _unfold(want, perm, q_moved), rtol=1e-4, atol=1e-5)
    # Keras' scores: (batch, other axes, heads, query attention axes, value attention axes)
    want_scores_shape = (shape[0],) + tuple(shape[a] for a in other) + (2,) + tuple(
        shape[a] for a in att) * 2
    assert np.asarray(scores).shape == want_scores_shape
    _, scores = mha(q, v, return_attention_scores=True)
    np.testing.assert_allclose(np.asarray(scores).reshape(probs.shape), probs, rtol=1e-4, atol=1e-6)
    dq, dv, _, dws = ref.mha_backward(_fold(dy, other, att)[0], q3, v3, None, weights, allowed)
    np.testing.assert_allclose(grads[0], _unfold(dq, perm, q_moved), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(grads[1], _unfold(dv, perm, v_moved), rtol=1e-4, atol=1e-5)
    for g, w in zip(grads[2:], dws):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)


def test_attention_axes_mask_trains_and_saves(tmp_path):
    rng = np.random.default_rng(6)
    x_in = corenn.keras.Input((3, 4, 5))
    mask_in = corenn.keras.Input((3, 4, 4))   # (batch, other axis, query row, value row)
    y = layers.MultiHeadAttention(2, 3, attention_axes=2)(x_in, x_in, attention_mask=mask_in)
    model = corenn.keras.Model([x_in, mask_in], layers.Dense(1)(layers.Flatten()(y)))
    model.compile("adam", "mse")
    x = rand(rng, 16, 3, 4, 5)
    mask = (rng.random((16, 3, 4, 4)) < 0.7).astype(np.float32)
    mask[..., 0] = 1.0
    target = x.sum((1, 2, 3))[:, None]
    hist = model.fit([x, mask], target, epochs=15, batch_size=8, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    path = tmp_path / "axial.keras"
    model.save(path)
    loaded = corenn.keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict([x, mask], verbose=0), model.predict([x, mask], verbose=0),
                               rtol=1e-5, atol=1e-6)
    # the mask reaches the attention: masking everything but one value row changes the output
    only_first = np.zeros_like(mask)
    only_first[..., 0] = 1.0
    assert not np.allclose(model.predict([x, only_first], verbose=0), model.predict([x, mask], verbose=0))


# ---- GroupQueryAttention ------------------------------------------------------------------------

def _gqa_reference(q, v, weights, repeats, causal=False):
    """Keras 3's grouped-query attention in float64: key / value heads repeated (each serving
    ``repeats`` consecutive query heads), then multi-head attention."""
    wq, bq, wk, bk, wv, bv, wo, bo = [np.asarray(w, np.float64) for w in weights]
    qh = np.einsum("btd,dhk->bthk", q, wq) + bq
    kh = np.repeat(np.einsum("btd,dhk->bthk", v, wk) + bk, repeats, axis=2)
    vh = np.repeat(np.einsum("btd,dhk->bthk", v, wv) + bv, repeats, axis=2)
    s = np.einsum("bqhk,bvhk->bhqv", qh, kh) / np.sqrt(wq.shape[-1])
    if causal:
        s = np.where(np.tril(np.ones(s.shape[-2:], bool)), s, -np.inf)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    return np.einsum("bqhk,hkd->bqd", np.einsum("bhqv,bvhk->bqhk", p, vh), wo) + bo, p


@pytest.mark.parametrize("kv_heads", [1, 2, 6])
@pytest.mark.parametrize("causal", [False, True])
def test_group_query_attention_matches_the_reference_and_finite_differences(kv_heads, causal):
    rng = np.random.default_rng(7)
    q, v = rand(rng, 2, 5, 6), rand(rng, 2, 5, 4)
    gqa = layers.GroupQueryAttention(head_dim=3, num_query_heads=6, num_key_value_heads=kv_heads)
    gqa(q, v)
    weights = [w + 0.3 * rand(rng, *w.shape) for w in gqa.get_weights()]
    gqa.set_weights(weights)
    assert [tuple(w.shape) for w in weights] == [(6, 6, 3), (6, 3), (4, kv_heads, 3), (kv_heads, 3),
                                                  (4, kv_heads, 3), (kv_heads, 3), (6, 3, 6), (6,)]
    dy = rand(rng, 2, 5, 6)
    out, grads = tape_grads(gqa, q, v, None, dy, use_causal_mask=causal)
    want, probs = _gqa_reference(q, v, weights, 6 // kv_heads, causal)
    np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-5)
    _, scores = gqa(q, v, return_attention_scores=True, use_causal_mask=causal)
    np.testing.assert_allclose(np.asarray(scores), probs, rtol=1e-4, atol=1e-6)

    def loss(**arrays):
        ws = [arrays.get(f"w{i}", w) for i, w in enumerate(weights)]
        return float((_gqa_reference(arrays.get("q", q), arrays.get("v", v), ws, 6 // kv_heads, causal)[0]
                      * dy).sum())
    # the query, the value (it is the key too) and the key / value kernels the heads share
    for index, name, base in ((0, "q", q), (1, "v", v), (4, "w2", weights[2]), (6, "w4", weights[4])):
        num = ref.numerical_grad(lambda a: loss(**{name: a}), np.asarray(base, np.float64), 1e-5)
        np.testing.assert_allclose(grads[index], num, rtol=1e-3, atol=1e-4)


def test_group_query_attention_with_as_many_heads_is_multi_head_attention(tmp_path):
    rng = np.random.default_rng(8)
    q = rand(rng, 2, 4, 8)
    gqa = layers.GroupQueryAttention(head_dim=2, num_query_heads=4, num_key_value_heads=4, name="gqa")
    mha = layers.MultiHeadAttention(num_heads=4, key_dim=2)
    gqa(q, q), mha(q, q)
    mha.set_weights(gqa.get_weights())
    np.testing.assert_allclose(np.asarray(gqa(q, q)), np.asarray(mha(q, q)), rtol=1e-6, atol=1e-6)
    cfg = gqa.get_config()
    assert (cfg["head_dim"], cfg["num_query_heads"], cfg["num_key_value_heads"]) == (2, 4, 4)
    assert "num_heads" not in cfg and "key_dim" not in cfg
    inputs = corenn.keras.Input((4, 8))
    model = corenn.keras.Model(inputs, layers.GroupQueryAttention(2, 4, 2)(inputs, inputs))
    model.save(tmp_path / "gqa.keras")
    loaded = corenn.keras.models.load_model(tmp_path / "gqa.keras")
    np.testing.assert_allclose(loaded.predict(q, verbose=0), model.predict(q, verbose=0), rtol=1e-6)
    with pytest.raises(ValueError, match="num_key_value_heads must be a positive integer dividing"):
        layers.GroupQueryAttention(head_dim=2, num_query_heads=4, num_key_value_heads=3)
