"""Keras 3 names and behaviours found missing or wrong by the sweep-7 programs (tests/programs/
example_*.py): each is checked here against tests/reference.py in float64."""
import re

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
    # the progress bar shows the per-class array as its mean, one number, as Keras' does
    shown = re.findall(r"per_class: (\S+)", capsys.readouterr().out)
    assert shown and shown[-1] == f"{np.mean(per_class):.4f}"


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


# -- CTC: the C++ forward-backward kernel, keras.losses.CTC, keras.backend's tf.keras 2 forms ----

def _ctc_case(rng, batch=5, time=11, classes=6, max_label=4):
    x = rng.normal(size=(batch, time, classes)).astype(np.float32)
    labels = rng.integers(1, classes, size=(batch, max_label))
    labels[0, 1] = labels[0, 0]      # a repeated label needs a blank between its copies
    label_len = np.array([4, 3, 0, 1, 2][:batch])
    time_len = np.array([11, 8, 5, 1, 6][:batch])
    return x, labels, label_len, time_len


def test_ctc_kernel_matches_the_float64_reference(rng):
    x, labels, ll, tl = _ctc_case(rng)
    loss, grad = corenn.kernels.ctc_loss(x, labels, ll, tl, blank=0)
    want_loss, want_grad = ref.ctc_loss(x, labels, ll, tl, blank=0)
    np.testing.assert_allclose(np.asarray(loss), want_loss, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(grad), want_grad, rtol=1e-4, atol=1e-6)
    assert np.all(np.asarray(grad)[1, 8:] == 0.0)   # steps past the sample's length
    # every step's gradient sums to zero (softmax minus an occupancy that sums to one)
    np.testing.assert_allclose(np.asarray(grad).sum(-1), 0.0, atol=1e-5)


def test_ctc_kernel_with_the_last_class_as_blank_and_an_impossible_label(rng):
    x = rng.normal(size=(2, 4, 5)).astype(np.float32)
    labels = np.array([[1, 1, 1, 0], [2, 0, 3, 1]])
    ll, tl = np.array([3, 4]), np.array([4, 4])   # '1 1 1' needs 5 steps: impossible in 4
    loss, grad = corenn.kernels.ctc_loss(x, labels, ll, tl, blank=4)
    want_loss, want_grad = ref.ctc_loss(x, labels, ll, tl, blank=4)
    assert np.isinf(np.asarray(loss)[0]) and np.all(np.asarray(grad)[0] == 0.0)
    np.testing.assert_allclose(np.asarray(loss)[1], want_loss[1], rtol=1e-5)
    np.testing.assert_allclose(np.asarray(grad), want_grad, rtol=1e-4, atol=1e-6)


def test_ctc_kernel_propagates_a_nan_logit_to_its_sample_only(rng):
    x, labels, ll, tl = _ctc_case(rng)
    x[1, 2, 3] = np.nan           # inside sample 1's 8 steps
    x[3, 5, 0] = np.nan           # past sample 3's single step: never read
    loss, grad = (np.asarray(v) for v in corenn.kernels.ctc_loss(x, labels, ll, tl))
    assert np.isnan(loss[1]) and np.isnan(grad[1, :8]).all() and np.all(grad[1, 8:] == 0.0)
    keep = [0, 2, 3, 4]
    want_loss, want_grad = ref.ctc_loss(x[keep], labels[keep], ll[keep], tl[keep])
    np.testing.assert_allclose(loss[keep], want_loss, rtol=1e-5)
    np.testing.assert_allclose(grad[keep], want_grad, rtol=1e-4, atol=1e-6)


def test_ctc_kernel_gradient_matches_finite_differences(rng):
    x, labels, ll, tl = _ctc_case(rng, batch=2, time=6, classes=4, max_label=3)
    ll, tl = np.array([3, 2]), np.array([6, 5])
    labels[0, :2] = [2, 2]
    w = rng.normal(size=2)
    _, grad = corenn.kernels.ctc_loss(x, labels, ll, tl)
    x64 = x.astype(np.float64)
    fd = np.zeros_like(x64)
    for i in np.ndindex(x.shape):
        xp, xm = x64.copy(), x64.copy()
        xp[i] += 1e-5
        xm[i] -= 1e-5
        fd[i] = ((ref.ctc_loss(xp, labels, ll, tl)[0] - ref.ctc_loss(xm, labels, ll, tl)[0]) * w).sum() / 2e-5
    np.testing.assert_allclose(np.asarray(grad) * w[:, None, None], fd, rtol=1e-3, atol=1e-5)


def test_ctc_kernel_refuses_bad_lengths_labels_and_blank(rng):
    x, labels, ll, tl = _ctc_case(rng)
    cases = [
        ((x, labels, ll + 1, tl), r"ctc_loss: label_lengths\[0\] = 5 is outside \[0, 4\]"),
        ((x, labels, ll, tl + 1), r"ctc_loss: logit_lengths\[0\] = 12 is outside \[0, 11\]"),
        ((x, labels * 0 + 6, ll, tl), r"ctc_loss: labels\[0, 0\] = 6 is outside \[0, 6\)"),
        ((x, labels, ll[:3], tl), "ctc_loss: label_lengths"),
        ((x[0], labels, ll, tl), "ctc_loss: logits"),
    ]
    for args, message in cases:
        with pytest.raises(ValueError, match=message):
            corenn.kernels.ctc_loss(*args)
    with pytest.raises(ValueError, match=r"ctc_loss: the blank index 6 is outside \[0, 6\)"):
        corenn.kernels.ctc_loss(x, labels, ll, tl, blank=6)
    with pytest.raises(TypeError, match="ctc_loss: labels must hold integers"):
        corenn.kernels.ctc_loss(x, labels + 0.5, ll, tl)


def test_keras_losses_ctc_counts_the_non_zero_labels_and_uses_class_zero_as_blank(rng):
    """Keras 3.15's keras.losses.ctc: all time steps, label_length = the non-zero entries of a
    0-padded label row (checked side by side with Keras: full lengths gave 7.17 for its 6.99)."""
    x = rng.normal(size=(4, 7, 5)).astype(np.float32)
    y = rng.integers(1, 5, size=(4, 3))
    y[1, 2] = 0
    y[3, 1:] = 0
    per_sample, _ = ref.ctc_loss(x, y, np.array([3, 2, 3, 1]), np.full(4, 7), blank=0)
    np.testing.assert_allclose(np.asarray(keras.losses.ctc(y, x)), per_sample, rtol=1e-5)
    np.testing.assert_allclose(float(keras.losses.CTC()(y, x)), per_sample.mean(), rtol=1e-5)
    np.testing.assert_allclose(float(keras.losses.CTC(reduction="sum")(y, x)), per_sample.sum(), rtol=1e-5)
    assert keras.losses.get("ctc") is keras.losses.ctc and keras.losses.get("CTC").name == "ctc"
    assert keras.losses.CTC().get_config() == {"name": "ctc", "reduction": "sum_over_batch_size"}
    with pytest.raises(ValueError, match=r"ctc: y_pred must be \(batch, time, classes\)"):
        keras.losses.ctc(y, x[0])
    # compile(loss=CTC()) trains a sequence model: the loss falls
    model = keras.Sequential([keras.Input((7, 5)), layers.Dense(5)])
    model.compile(keras.optimizers.Adam(0.05), loss=keras.losses.CTC())
    hist = model.fit(x, y.astype(np.float32), epochs=30, batch_size=4, verbose=0)
    assert hist.history["loss"][-1] < 0.5 * hist.history["loss"][0]


def test_backend_ctc_batch_cost_and_decode_use_the_last_class_as_blank(rng):
    logits = rng.normal(size=(3, 8, 4)).astype(np.float32)
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    y = np.array([[0, 1, 2], [2, 2, 0], [1, 0, 0]])
    ll, tl = np.array([[3], [2], [1]]), np.array([[8], [6], [8]])
    got = np.asarray(keras.backend.ctc_batch_cost(y, probs, tl, ll))
    want, _ = ref.ctc_loss(np.log(probs + 1e-7), y, ll[:, 0], tl[:, 0], blank=3)
    assert got.shape == (3, 1)
    np.testing.assert_allclose(got[:, 0], want, rtol=1e-5)
    # greedy decoding: best class per step, repeats merged, the blank (3) dropped, -1 padding
    probs = np.full((2, 6, 4), 0.01, np.float32)
    for b, path in enumerate([[0, 0, 3, 0, 1, 1], [2, 3, 3, 3, 3, 3]]):
        probs[b, np.arange(6), path] = 0.97
    decoded, log_prob = keras.backend.ctc_decode(probs, input_length=np.array([6, 6]), greedy=True)
    np.testing.assert_array_equal(np.asarray(decoded[0]), [[0, 0, 1], [2, -1, -1]])
    np.testing.assert_allclose(np.asarray(log_prob)[:, 0], -6 * np.log(0.97 + 1e-7), rtol=1e-5)
    beams, log_probs = keras.backend.ctc_decode(probs, input_length=np.array([6, 6]), greedy=False, beam_width=4,
                                                top_paths=2)
    assert len(beams) == 2 and tuple(log_probs.shape) == (2, 2)
    np.testing.assert_array_equal(np.asarray(beams[0]), [[0, 0, 1], [2, -1, -1]])   # the dominant paths
    assert (np.asarray(log_probs)[:, 0] > np.asarray(log_probs)[:, 1]).all()


def test_fit_on_a_dataset_of_inputs_alone_when_the_layers_add_the_loss(rng):
    """keras.io OCR: compile() without a loss, a dataset of {"image", "label"} dicts (no y)."""
    class AddedLoss(layers.Layer):
        def call(self, y_true, y_pred):
            self.add_loss(ops.mean(ops.square(y_pred - y_true)))
            return y_pred

    a, t = keras.Input((3,), name="a"), keras.Input((2,), name="t")
    out = AddedLoss()(t, layers.Dense(2)(a))
    model = keras.Model([a, t], out)
    model.compile(keras.optimizers.Adam(0.05))
    xa = rng.normal(size=(64, 3)).astype(np.float32)
    xt = xa[:, :2] * 2.0
    ds = corenn.data.Dataset.from_tensor_slices({"a": xa, "t": xt}).batch(16)
    hist = model.fit(ds, validation_data=ds, epochs=20, verbose=0)
    assert hist.history["loss"][-1] < 0.2 * hist.history["loss"][0]
    assert "val_loss" in hist.history


def test_string_ops_on_one_string_held_in_an_array_act_as_on_a_str():
    """A Dataset map gets each string as a 0-d array: unicode_split gives its characters."""
    element = next(iter(corenn.data.Dataset.from_tensor_slices(np.array(["abc", "de"]))))
    chars = corenn.strings.unicode_split(element, input_encoding="UTF-8")
    assert list(chars) == ["a", "b", "c"]
    lookup = layers.StringLookup(vocabulary=list("abcde"), mask_token=None)
    np.testing.assert_array_equal(np.asarray(lookup(chars)), [1, 2, 3])
    assert list(corenn.strings.split(np.array("x y"))) == ["x", "y"]


# -- HashedCrossing, FeatureSpace, Model(inputs=layer outputs) ----------------------------------

def test_hashed_crossing_gives_the_bins_keras_documents():
    """Keras' docstring example: ('A', 101) ... into 5 bins -> [1, 4, 1, 1, 3]."""
    feat1 = np.array(["A", "B", "A", "B", "A"])
    feat2 = np.array([101, 101, 101, 102, 102])
    np.testing.assert_array_equal(np.asarray(layers.HashedCrossing(num_bins=5)((feat1, feat2))), [1, 4, 1, 1, 3])
    one_hot = np.asarray(layers.HashedCrossing(num_bins=5, output_mode="one_hot")((feat1, feat2)))
    np.testing.assert_array_equal(one_hot, np.eye(5)[[1, 4, 1, 1, 3]])
    # in a model on two integer inputs, the same bins as eagerly
    a, b = keras.Input((1,), dtype="int64"), keras.Input((1,), dtype="int64")
    cross = layers.HashedCrossing(num_bins=7)
    model = keras.Model([a, b], cross([a, b]))
    xa, xb = np.arange(6).reshape(6, 1), np.array([3, 3, 4, 4, 5, 5]).reshape(6, 1)
    np.testing.assert_array_equal(model.predict([xa, xb], verbose=0), np.asarray(cross((xa, xb))))
    assert cross.get_config()["num_bins"] == 7


def test_hashed_crossing_bad_input_names_the_layer():
    with pytest.raises(ValueError, match="HashedCrossing 'hc': takes a list or tuple of at least two"):
        layers.HashedCrossing(num_bins=3, name="hc")(np.array([1, 2]))
    with pytest.raises(ValueError, match="same shape"):
        layers.HashedCrossing(num_bins=3)((np.array([1, 2]), np.array([1, 2, 3])))
    with pytest.raises(TypeError, match="strings or integers"):
        layers.HashedCrossing(num_bins=3)((np.array([0.5]), np.array([1])))
    with pytest.raises(ValueError, match="output_mode"):
        layers.HashedCrossing(num_bins=3, output_mode="multi_hot")


def _raw_table(rng, n=120):
    return {"num": rng.normal(3.0, 2.0, n).astype(np.float32),
            "small": rng.integers(0, 4, n).astype(np.int64),
            "color": rng.choice(np.array(["red", "green", "blue"]), n),
            "level": rng.uniform(0, 10, n).astype(np.float32)}


def test_feature_space_encodes_like_its_layers_in_keras_order(rng):
    from corenn.keras.utils import FeatureSpace
    table = _raw_table(rng)
    space = FeatureSpace(
        features={"num": "float_normalized", "small": "integer_categorical",
                  "color": FeatureSpace.string_categorical(num_oov_indices=0),
                  "level": FeatureSpace.float_discretized(num_bins=4)},
        crosses=[FeatureSpace.cross(("small", "color"), crossing_dim=8)], output_mode="concat")
    space.adapt(corenn.data.Dataset.from_tensor_slices(table).batch(16))
    got = np.asarray(space(table))
    # by hand, float64: sorted names color, level, num, small, then the cross
    vocab = ["red", "green", "blue"]
    counts = {c: int((table["color"] == c).sum()) for c in vocab}
    order = sorted(vocab, key=lambda c: (counts[c], c), reverse=True)
    color = np.eye(3)[[order.index(c) for c in table["color"]]]
    edges = np.asarray(space.preprocessors["level"].bin_boundaries)
    level = np.eye(4)[np.digitize(table["level"], edges)]
    num = (table["num"] - table["num"].astype(np.float64).mean()) / table["num"].astype(np.float64).std()
    small_vocab = space.preprocessors["small"].get_vocabulary()
    small = np.eye(len(small_vocab))[[small_vocab.index(v) for v in table["small"]]]
    small_idx = np.asarray(space.preprocessors["small"](table["small"][:, None]))
    color_idx = np.array([order.index(c) for c in table["color"]])[:, None]
    cross_bins = np.asarray(layers.HashedCrossing(num_bins=8)((small_idx, color_idx)))[:, 0]
    want = np.concatenate([color, level, num[:, None], small, np.eye(8)[cross_bins]], axis=1)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    # one sample (scalars) gives one vector; dict output names each part
    one = {k: v[0] for k, v in table.items()}
    np.testing.assert_allclose(np.asarray(space(one)), want[0], rtol=1e-4, atol=1e-4)


def test_feature_space_models_train_on_encoded_features_and_serve_raw_dicts(rng):
    from corenn.keras.utils import FeatureSpace
    table = _raw_table(rng, 200)
    y = ((table["color"] == "red") ^ (table["small"] >= 2)).astype(np.float32)
    space = FeatureSpace(features={"num": "float_normalized", "small": "integer_categorical",
                                   "color": "string_categorical", "level": "float"},
                         crosses=[("small", "color")], crossing_dim=16)
    space.adapt(corenn.data.Dataset.from_tensor_slices(table))     # unbatched scalars: batched for adapt
    encoded = space.get_encoded_features()
    hidden = layers.Dense(16, activation="relu")(encoded)
    out = layers.Dense(1, activation="sigmoid")(hidden)
    training_model = keras.Model(inputs=encoded, outputs=out)
    assert isinstance(training_model.layers[0], layers.InputLayer)
    assert len(training_model.layers) == 3 and training_model.count_params() == (encoded.shape[-1] + 1) * 16 + 17
    training_model.compile(keras.optimizers.Adam(0.05), "binary_crossentropy", metrics=["accuracy"])
    hist = training_model.fit(np.asarray(space(table)), y, epochs=30, batch_size=32, verbose=0)
    assert hist.history["accuracy"][-1] > 0.95   # the cross makes the XOR separable
    serving = keras.Model(inputs=space.get_inputs(), outputs=out)
    raw = {k: v[:, None] for k, v in table.items()}
    np.testing.assert_allclose(serving.predict(raw, verbose=0), training_model.predict(np.asarray(space(table)),
                                                                                        verbose=0), rtol=1e-5, atol=1e-6)


def test_feature_space_dict_mode_and_errors(rng):
    from corenn.keras.utils import FeatureSpace
    table = _raw_table(rng, 40)
    space = FeatureSpace(features={"small": FeatureSpace.integer_categorical(output_mode="int"),
                                   "num": FeatureSpace.float_rescaled(scale=2.0, offset=1.0)},
                         output_mode="dict")
    space.adapt(corenn.data.Dataset.from_tensor_slices(table).batch(8))
    out = space(table)
    assert set(out) == {"small", "num"}
    np.testing.assert_allclose(np.asarray(out["num"])[:, 0], table["num"] * 2.0 + 1.0, rtol=1e-6)
    vocab = space.preprocessors["small"].get_vocabulary()
    np.testing.assert_array_equal(np.asarray(out["small"])[:, 0], [vocab.index(v) for v in table["small"]])
    with pytest.raises(ValueError, match="unknown type 'floaty'"):
        FeatureSpace(features={"a": "floaty"})
    with pytest.raises(ValueError, match="names features that are not in features"):
        FeatureSpace(features={"a": "float"}, crosses=[("a", "b")])
    with pytest.raises(ValueError, match="output_mode must be 'concat' or 'dict'"):
        FeatureSpace(features={"a": "float"}, output_mode="stack")
    unadapted = FeatureSpace(features={"a": "float_normalized"})
    with pytest.raises(ValueError, match=r"call adapt\(dataset\)"):
        unadapted({"a": np.zeros(3)})
    with pytest.raises(ValueError, match="takes a Dataset"):
        unadapted.adapt({"a": np.zeros(3)})
    concat_int = FeatureSpace(features={"small": FeatureSpace.integer_categorical(output_mode="int")})
    with pytest.raises(ValueError, match="cannot concatenate feature 'small'"):
        concat_int.adapt(corenn.data.Dataset.from_tensor_slices({"small": table["small"]}))


def test_model_from_a_layer_output_replays_the_calls_on_a_new_input(rng):
    a = keras.Input((4,))
    h = layers.Dense(6, activation="relu")(a)
    head = layers.Dense(2)
    out = head(layers.Dropout(0.5)(h, training=False))
    tail = keras.Model(h, out)
    full = keras.Model(a, out)
    assert tail.inputs[0].shape == (None, 6) and tail.inputs[0] is not h
    x = rng.normal(size=(5, 4)).astype(np.float32)
    hx = np.maximum(x @ full.layers[1].get_weights()[0] + full.layers[1].get_weights()[1], 0)
    np.testing.assert_allclose(tail.predict(hx, verbose=0), full.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    # the replayed layers are the same objects: training the tail moves the full model's head
    tail.compile("sgd", "mse")
    before = head.get_weights()[0].copy()
    tail.fit(hx, rng.normal(size=(5, 2)).astype(np.float32), epochs=1, verbose=0)
    assert not np.allclose(head.get_weights()[0], before)
    np.testing.assert_allclose(tail.predict(hx, verbose=0), full.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_convert_to_tensor_keeps_strings_as_a_string_array():
    s = ops.convert_to_tensor(["fixed", "normal"])
    assert list(np.asarray(s)) == ["fixed", "normal"]
    assert not isinstance(s, corenn.Tensor)
    t = ops.convert_to_tensor([1.5, 2.0])
    assert isinstance(t, corenn.Tensor) and str(t.dtype) == "float32"


# -- the training flag of a call without training=, batches a custom step takes as they are ----

class _Flag(layers.Layer):
    """Records the training flag its call receives (default True, as the SimCLR augmenter)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seen = []

    def call(self, x, training=True):
        self.seen.append(training)
        return x * 1.0


class _Outer(layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.inner = _Flag()
        self.drop = layers.Dropout(0.5, seed=1)

    def call(self, x, training=None):
        return self.drop(self.inner(x))   # neither sublayer call passes training=


def test_a_call_without_training_uses_the_call_signature_default():
    flag = _Flag()
    x = np.ones((2, 3), np.float32)
    flag(x)
    flag(x, training=False)
    assert flag.seen[-2:] == [True, False]


def test_sublayer_calls_without_training_inherit_the_enclosing_call():
    outer = _Outer()
    x = np.ones((64, 8), np.float32)
    y = np.asarray(outer(x, training=True))
    assert outer.inner.seen[-1] is True
    assert (y == 0).mean() > 0.3          # the Dropout inside ran in training mode
    y = np.asarray(outer(x, training=False))
    assert outer.inner.seen[-1] is False and np.array_equal(y, x)
    # no flag anywhere: the enclosing call's None leaves each sublayer its own default (Keras 3:
    # the inner call's True; Dropout's None, inference)
    y = np.asarray(outer(x))
    assert outer.inner.seen[-1] is True and np.array_equal(y, x)


def test_custom_train_step_gets_a_zipped_batch_as_it_is(rng):
    seen = []

    class Two(keras.Model):   # SimCLR's shape: sub-models as attributes, no call of its own
        def __init__(self):
            super().__init__()
            self.head = keras.Sequential([keras.Input((3,)), layers.Dense(1)])

        def train_step(self, data):
            (xa, _), (xb, yb) = data
            seen.append((tuple(xa.shape), str(xa.dtype), tuple(xb.shape), str(yb.dtype)))
            with corenn.GradientTape() as tape:
                loss = ops.mean(ops.square(self.head(xb) - ops.cast(yb, "float32")))
            grads = tape.gradient(loss, self.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
            return {"loss": loss}

    a = corenn.data.Dataset.from_tensor_slices((rng.integers(0, 255, (12, 3)).astype(np.uint8), np.zeros(12))).batch(4)
    b = corenn.data.Dataset.from_tensor_slices((rng.normal(size=(6, 3)).astype(np.float32),
                                                np.arange(6, dtype=np.int64))).batch(2)
    model = Two()
    model.compile(keras.optimizers.SGD(0.01))
    hist = model.fit(corenn.data.Dataset.zip((a, b)), epochs=1, verbose=0)
    assert len(seen) == 3 and len(hist.history["loss"]) == 1
    # uint8 images become float32 as model inputs do; int64 labels stay integers
    assert seen[0] == ((4, 3), "float32", (2, 3), "int64")


# -- subclasses of built-in layers: their own call, Keras 3's convolution_op hook --------------

def _numeric_grad(f, w, eps=1e-6):
    """Central differences of a float64 function (a small step: a max-pool or relu switch
    within a larger one would make the difference quotient wrong, not the gradient)."""
    g = np.zeros(w.shape)
    for i in np.ndindex(w.shape):
        up, down = w.copy(), w.copy()
        up[i] += eps
        down[i] -= eps
        g[i] = (f(up) - f(down)) / (2 * eps)
    return g


def test_a_builtin_layer_subclass_with_its_own_call_computes_that_call(rng):
    class Doubled(layers.Dense):
        def call(self, inputs):
            return 2.0 * ops.matmul(inputs, self.kernel) + self.bias

    layer = Doubled(3, activation="softmax")   # its call ignores the activation, as in Keras
    x = rng.normal(size=(4, 5)).astype(np.float32)
    y = np.asarray(layer(x))
    k, b = layer.get_weights()
    np.testing.assert_allclose(y, 2.0 * x.astype(np.float64) @ k + b, rtol=1e-5, atol=1e-6)
    # in a model trained with a softmax loss: no logits fusion, the gradient is the call's
    model = keras.Sequential([keras.Input((5,)), Doubled(3, activation="softmax")])
    model.compile("sgd", keras.losses.CategoricalCrossentropy(from_logits=True))
    t = np.eye(3)[[0, 1, 2, 0]].astype(np.float32)
    w0 = model.layers[0].get_weights()
    loss, grads = model.compute_gradients(x, t)

    def loss_of(kernel):
        z = 2.0 * x.astype(np.float64) @ kernel + w0[1]
        z = z - z.max(-1, keepdims=True)
        return float(-(t * (z - np.log(np.exp(z).sum(-1, keepdims=True)))).sum(-1).mean())
    np.testing.assert_allclose(float(loss), loss_of(w0[0].astype(np.float64)), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(grads[0]), _numeric_grad(loss_of, w0[0].astype(np.float64)),
                               rtol=1e-3, atol=1e-5)


def test_conv_convolution_op_hook_keeps_bias_activation_and_gradients(rng):
    class Standardized(layers.Conv2D):
        def convolution_op(self, inputs, kernel):
            mean, var = ops.moments(kernel, axes=[0, 1, 2], keepdims=True)
            return ops.conv(inputs, (kernel - mean) / ops.sqrt(var + 1e-10), padding="valid",
                            strides=list(self.strides), dilation_rate=list(self.dilation_rate))

    x = rng.normal(size=(2, 6, 6, 2)).astype(np.float32)
    model = keras.Sequential([keras.Input((6, 6, 2)),
                              Standardized(3, 3, activation="relu", bias_initializer="random_normal"),
                              layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(1)])
    model.compile("sgd", "mse")
    target = rng.normal(size=(2, 1)).astype(np.float32)
    conv, dense = model.layers[0], model.layers[3]
    k0, b0 = (w.astype(np.float64) for w in conv.get_weights())
    wd, bd = (w.astype(np.float64) for w in dense.get_weights())
    windows = np.lib.stride_tricks.sliding_window_view(x.astype(np.float64), (3, 3), axis=(1, 2))

    def loss_of(kernel):
        ks = (kernel - kernel.mean(axis=(0, 1, 2), keepdims=True)) / np.sqrt(
            kernel.var(axis=(0, 1, 2), keepdims=True) + 1e-10)
        z = np.maximum(np.einsum("nhwcij,ijcf->nhwf", windows, ks) + b0, 0)
        pooled = z.reshape(2, 2, 2, 2, 2, 3).max(axis=(2, 4)).reshape(2, -1)
        return float(((pooled @ wd + bd - target) ** 2).mean())
    loss, grads = model.compute_gradients(x, target)
    np.testing.assert_allclose(float(loss), loss_of(k0), rtol=1e-4)
    np.testing.assert_allclose(np.asarray(grads[0]), _numeric_grad(loss_of, k0), rtol=2e-3, atol=1e-4)
    assert not conv.can_fuse_max_pool(model.layers[1])   # the fused conv+relu+pool kernel would skip the hook


def test_super_call_of_a_builtin_layer_subclass_runs_the_builtin_computation(rng):
    """The saving guide's LayerWithCustomVariable: Dense's computation plus a variable of its own."""
    class Shifted(layers.Dense):
        def __init__(self, units, **kwargs):
            super().__init__(units, **kwargs)
            self.shift = keras.Variable(np.full((units,), 0.5, np.float32), name="shift")

        def call(self, inputs):
            return super().call(inputs) + self.shift

    layer = Shifted(2, activation="tanh")
    x = rng.normal(size=(4, 3)).astype(np.float32)
    y = np.asarray(layer(x))
    k, b = (w.astype(np.float64) for w in layer.get_weights()[:2])
    np.testing.assert_allclose(y, np.tanh(x.astype(np.float64) @ k + b) + 0.5, rtol=1e-5, atol=1e-6)
    assert len(layer.trainable_weights) == 3
    t = corenn.convert_to_tensor(x)
    with corenn.GradientTape() as tape:
        tape.watch(t)
        loss = ops.sum(ops.square(layer(t)))
    gx, gk, gb, gs = tape.gradient(loss, [t] + layer.trainable_weights)

    def loss_of(x64=x.astype(np.float64), k64=k, b64=b, s64=np.full(2, 0.5)):
        return float(((np.tanh(x64 @ k64 + b64) + s64) ** 2).sum())
    np.testing.assert_allclose(np.asarray(gk), _numeric_grad(lambda v: loss_of(k64=v), k), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(np.asarray(gb), _numeric_grad(lambda v: loss_of(b64=v), b), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(np.asarray(gs), _numeric_grad(lambda v: loss_of(s64=v), np.full(2, 0.5)),
                               rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(np.asarray(gx), _numeric_grad(lambda v: loss_of(x64=v), x.astype(np.float64)),
                               rtol=1e-3, atol=1e-4)
    # and it trains in fit: the shift moves too
    model = keras.Sequential([keras.Input((3,)), Shifted(2)])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    model.fit(x, np.ones((4, 2), np.float32), epochs=3, verbose=0)
    assert not np.allclose(np.asarray(model.layers[0].shift), 0.5)
