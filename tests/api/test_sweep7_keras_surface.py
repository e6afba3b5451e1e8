"""Keras 3 names and behaviours found missing or wrong by the sweep-7 programs (tests/programs/
example_*.py): each is checked here against tests/reference.py in float64."""
import numpy as np
import pytest

import corenn
from corenn import keras
from corenn.keras import layers, ops

import reference as ref


# -- keras.ops semantics --------------------------------------------------------------------------

def test_arange_dtype_follows_its_arguments():
    assert str(ops.arange(5).dtype) == "int32"
    assert str(ops.arange(0, 10, 2).dtype) == "int32"
    assert str(ops.arange(0.0, 2.0, 0.5).dtype) == "float32"
    assert str(ops.arange(3, dtype="float32").dtype) == "float32"
    np.testing.assert_array_equal(np.asarray(ops.arange(1, 7, 2)), np.arange(1, 7, 2))
    # position indices straight into an Embedding, as the Transformer examples write it
    emb = layers.Embedding(10, 4)
    assert tuple(emb(ops.arange(0, 6, 1)).shape) == (6, 4)


def test_where_with_a_condition_alone_gives_one_index_tensor_per_axis():
    c = np.array([[0, 1, 0], [1, 1, 0]])
    rows, cols = ops.where(c)
    want_r, want_c = np.nonzero(c)
    np.testing.assert_array_equal(np.asarray(rows), want_r)
    np.testing.assert_array_equal(np.asarray(cols), want_c)
    # TensorFlow's tf.where keeps its (num_true, rank) coordinates
    np.testing.assert_array_equal(np.asarray(corenn.where(c)), np.argwhere(c))


def test_expand_dims_takes_a_tuple_of_axes_and_differentiates():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert tuple(ops.expand_dims(x, (0, 2)).shape) == (1, 3, 1, 4)
    assert tuple(ops.expand_dims(x, (-1, 0)).shape) == (1, 3, 4, 1)
    np.testing.assert_array_equal(np.asarray(ops.expand_dims(x, (0, 2))), np.expand_dims(x, (0, 2)))
    t = corenn.convert_to_tensor(x)
    with corenn.GradientTape() as tape:
        tape.watch(t)
        loss = ops.sum(ops.expand_dims(t, (0, -1)) * 2.0)
    np.testing.assert_allclose(np.asarray(tape.gradient(loss, t)), np.full((3, 4), 2.0))
    with pytest.raises(ValueError, match="expand_dims"):
        ops.expand_dims(x, (0, 0))
    with pytest.raises(ValueError, match="expand_dims"):
        ops.expand_dims(x, 5)


# -- F1Score / FBetaScore -------------------------------------------------------------------------

@pytest.mark.parametrize("average", [None, "micro", "macro", "weighted"])
@pytest.mark.parametrize("threshold", [None, 0.4])
@pytest.mark.parametrize("beta", [1.0, 0.5, 2.0])
def test_fbeta_matches_the_reference_over_several_batches(average, threshold, beta, rng):
    y = (rng.random((50, 4)) < 0.4).astype(np.float32)
    p = rng.random((50, 4)).astype(np.float32)
    w = rng.random(50).astype(np.float32)
    m = keras.metrics.FBetaScore(average=average, beta=beta, threshold=threshold)
    m.update_state(y[:20], p[:20], sample_weight=w[:20])
    m.update_state(y[20:], p[20:], sample_weight=w[20:])
    want = ref.fbeta_score(y, p, beta=beta, threshold=threshold, average=average, sample_weight=w)
    np.testing.assert_allclose(np.asarray(m.result(), np.float64), want, rtol=1e-5, atol=1e-6)
    m.reset_state()
    m.update_state(y, p)
    np.testing.assert_allclose(np.asarray(m.result(), np.float64),
                               ref.fbeta_score(y, p, beta=beta, threshold=threshold, average=average),
                               rtol=1e-5, atol=1e-6)


def test_f1_is_fbeta_with_beta_one_and_an_all_zero_row_predicts_nothing(rng):
    y = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], np.float32)
    p = np.array([[0.9, 0.1, 0.0], [0.0, 0.0, 0.0], [0.2, 0.3, 0.5]], np.float32)
    f1 = keras.metrics.F1Score()
    f1.update_state(y, p)
    np.testing.assert_allclose(f1.result(), ref.fbeta_score(y, p), atol=1e-6)
    assert f1.result()[1] == 0.0   # the zero row did not count as predicting every class
    assert f1.name == "f1_score" and keras.metrics.FBetaScore().name == "fbeta_score"
    cfg = keras.metrics.F1Score(average="macro", threshold=0.3).get_config()
    assert cfg == {"name": "f1_score", "average": "macro", "threshold": 0.3}
    again = keras.metrics.F1Score.from_config(cfg)
    assert again.average == "macro" and again.threshold == 0.3


def test_fbeta_bad_input_names_the_metric():
    with pytest.raises(ValueError, match="FBetaScore: average"):
        keras.metrics.FBetaScore(average="samples")
    with pytest.raises(ValueError, match="beta"):
        keras.metrics.FBetaScore(beta=0)
    with pytest.raises(ValueError, match="F1Score: threshold"):
        keras.metrics.F1Score(threshold=1.5)
    m = keras.metrics.F1Score()
    with pytest.raises(ValueError, match=r"F1Score: y_true and y_pred must both be \(batch, num_classes\)"):
        m.update_state(np.zeros((4,)), np.zeros((4,)))
    m.update_state(np.zeros((2, 3)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="expected 3 classes"):
        m.update_state(np.zeros((2, 4)), np.ones((2, 4)))


def test_f1_in_fit_logs_a_float_or_one_value_per_class(rng, capsys):
    x = rng.normal(size=(64, 5)).astype(np.float32)
    y = (x[:, :3] > 0).astype(np.float32)
    model = keras.Sequential([keras.Input((5,)), layers.Dense(3, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy",
                  metrics=[keras.metrics.F1Score(average="micro", threshold=0.5),
                           keras.metrics.F1Score(threshold=0.5, name="per_class")])
    hist = model.fit(x, y, epochs=2, batch_size=32, verbose=1)
    assert isinstance(hist.history["f1_score"][-1], float)
    per_class = hist.history["per_class"][-1]
    assert np.shape(per_class) == (3,)
    pred = model.predict(x, verbose=0)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    np.testing.assert_allclose(logs["per_class"], ref.fbeta_score(y, pred, threshold=0.5), atol=1e-5)
    np.testing.assert_allclose(logs["f1_score"], ref.fbeta_score(y, pred, threshold=0.5, average="micro"),
                               atol=1e-5)
    assert "per_class: [" in capsys.readouterr().out


# -- StringLookup on label lists of different lengths --------------------------------------------

def test_string_lookup_adapts_on_and_multi_hot_encodes_ragged_label_lists():
    terms = [["cs.LG", "cs.CV"], ["cs.CV"], ["stat.ML", "cs.LG", "cs.AI"], ["cs.AI"], []]
    lookup = layers.StringLookup(output_mode="multi_hot")
    lookup.adapt(terms)
    # counts 2, 2, 2, 1: ties by token descending, after the OOV entry (Keras' order)
    assert lookup.get_vocabulary() == ["[UNK]", "cs.LG", "cs.CV", "cs.AI", "stat.ML"]
    got = np.asarray(lookup(terms + [["new.XX", "cs.AI"]]))
    want = np.zeros((6, 5), np.float32)
    for i, row in enumerate(terms + [["[UNK]", "cs.AI"]]):
        for t in row:
            want[i, lookup.get_vocabulary().index(t)] = 1.0
    np.testing.assert_array_equal(got, want)
    counts = layers.StringLookup(vocabulary=["a", "b"], output_mode="count")
    np.testing.assert_array_equal(np.asarray(counts([["a", "a", "b"], ["b"]])), [[0, 2, 1], [0, 0, 1]])
    with pytest.raises(ValueError, match="output_mode='int', 'multi_hot'"):
        layers.StringLookup(vocabulary=["a"], output_mode="one_hot")([["a"], ["a", "a"]])
