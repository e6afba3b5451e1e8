"""Keras 3.15's ReversibleEmbedding: the lookup and the reverse projection against NumPy in
float64, the tied table's gradient (both uses) against finite differences, a model that calls
the layer both ways, trains and saves, and the untied variant."""
import numpy as np
import pytest

import corenn
from corenn import keras
from reference import numerical_grad


def _forward_reference(table, ids, hidden_w, cap=None, reverse_table=None):
    """ids -> rows -> (times hidden_w) -> logits against table^T (or reverse_table), float64."""
    table = np.asarray(table, np.float64)
    h = table[ids] @ hidden_w
    logits = h @ (table.T if reverse_table is None else np.asarray(reverse_table, np.float64))
    return cap * np.tanh(logits / cap) if cap else logits


@pytest.mark.parametrize("cap", [None, 1.5])
def test_lookup_and_reverse_match_numpy(cap):
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 11, (4, 6))
    layer = keras.layers.ReversibleEmbedding(11, 5, logit_soft_cap=cap)
    rows = np.asarray(layer(ids))
    table = np.asarray(layer.embeddings, np.float64)
    np.testing.assert_array_equal(rows, table[ids].astype(np.float32))
    h = rng.standard_normal((4, 6, 5))
    logits = np.asarray(layer(h.astype(np.float32), reverse=True))
    want = h @ table.T
    want = cap * np.tanh(want / cap) if cap else want
    assert logits.shape == (4, 6, 11) == tuple(layer.compute_output_shape((4, 6, 5), reverse=True))
    np.testing.assert_allclose(logits, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("tie_weights", [True, False])
def test_the_tables_gradients_match_finite_differences(tie_weights):
    rng = np.random.default_rng(1)
    ids = rng.integers(0, 7, (2, 3))
    hidden_w = rng.standard_normal((4, 4))
    layer = keras.layers.ReversibleEmbedding(7, 4, tie_weights=tie_weights, logit_soft_cap=3.0,
                                             embeddings_initializer="glorot_uniform")
    layer(ids)
    weights = [layer.embeddings] + ([] if tie_weights else [layer.reverse_embeddings])
    probe = rng.standard_normal((2, 3, 7))
    with corenn.GradientTape() as tape:
        logits = layer(keras.ops.matmul(layer(ids), hidden_w.astype(np.float32)), reverse=True)
        loss = keras.ops.sum(keras.ops.multiply(logits, probe.astype(np.float32)))
    grads = tape.gradient(loss, weights)
    table = np.asarray(layer.embeddings, np.float64)
    rev = None if tie_weights else np.asarray(layer.reverse_embeddings, np.float64)
    want = numerical_grad(lambda t: float((_forward_reference(t, ids, hidden_w, 3.0, rev) * probe).sum()), table)
    np.testing.assert_allclose(np.asarray(grads[0]), want, rtol=1e-4, atol=1e-5)
    if not tie_weights:
        want_r = numerical_grad(lambda r: float((_forward_reference(table, ids, hidden_w, 3.0, r) * probe).sum()),
                                rev)
        np.testing.assert_allclose(np.asarray(grads[1]), want_r, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("tie_weights", [True, False])
def test_a_tied_language_model_trains_and_saves(tmp_path, tie_weights):
    rng = np.random.default_rng(2)
    ids = rng.integers(1, 9, (32, 5))
    targets = (ids + 1) % 9                       # predict the next token id
    emb = keras.layers.ReversibleEmbedding(9, 8, tie_weights=tie_weights, mask_zero=True)
    inputs = keras.Input((5,), dtype="int32")
    h = keras.layers.Dense(8, activation="tanh")(emb(inputs))
    logits = emb(h, reverse=True)
    assert logits.shape == (None, 5, 9)
    model = keras.Model(inputs, logits)
    assert len(model.weights) == (3 if tie_weights else 4)
    model.compile(keras.optimizers.Adam(0.05), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = model.evaluate(ids, targets, verbose=0)
    model.fit(ids, targets, epochs=30, batch_size=8, verbose=0)
    assert model.evaluate(ids, targets, verbose=0) < 0.5 * before
    model.save(tmp_path / "tied.keras")
    again = keras.models.load_model(tmp_path / "tied.keras")
    np.testing.assert_allclose(again.predict(ids[:4], verbose=0), model.predict(ids[:4], verbose=0), rtol=1e-5,
                               atol=1e-6)
    cfg = emb.get_config()
    assert (cfg["tie_weights"], cfg["reverse_dtype"], cfg["logit_soft_cap"]) == (tie_weights, None, None)


def test_reversible_embedding_masks_and_errors():
    layer = keras.layers.ReversibleEmbedding(5, 3, mask_zero=True)
    out = layer(np.array([[0, 2, 1]]))
    np.testing.assert_array_equal(np.asarray(out._keras_mask), [[0, 1, 1]])
    assert getattr(layer(np.ones((1, 3, 3), np.float32), reverse=True), "_keras_mask", None) is None
    with pytest.raises(ValueError, match="output_dim=3"):
        layer(np.ones((1, 3, 4), np.float32), reverse=True)
    with pytest.raises(ValueError, match="reverse_dtype"):
        keras.layers.ReversibleEmbedding(5, 3, reverse_dtype="float16")


def test_a_tied_model_goes_through_keras_3s_file_format(tmp_path):
    """Keras 3 writes the reverse call's reverse=True in the node's kwargs; the Keras-file reader
    passes such plain options on to the call."""
    pytest.importorskip("h5py")
    emb = keras.layers.ReversibleEmbedding(20, 8, logit_soft_cap=5.0)
    inputs = keras.Input((6,), dtype="int32")
    model = keras.Model(inputs, emb(keras.layers.Dense(8, activation="tanh")(emb(inputs)), reverse=True))
    model.save(tmp_path / "tied.keras", save_format="keras3")
    again = keras.models.load_model(tmp_path / "tied.keras")
    ids = np.random.default_rng(3).integers(0, 20, (4, 6))
    assert again.output_shape == (None, 6, 20)
    np.testing.assert_allclose(again.predict(ids, verbose=0), model.predict(ids, verbose=0), rtol=1e-6, atol=1e-7)
