"""Strings flowing through models (Input(dtype='string') into StringLookup / TextVectorization
as graph nodes, a Sequential fed raw text), TextVectorization's ngrams and tf_idf, and Keras 3's
input rank adjustment. Expected values are computed by hand from the definitions."""
import numpy as np
import pytest

import corenn as keras
from corenn import layers


def _string_model():
    inp = keras.Input(shape=(1,), dtype="string", name="colour")
    lookup = layers.StringLookup(vocabulary=["red", "green", "blue"])
    onehot = layers.CategoryEncoding(num_tokens=lookup.vocabulary_size(), output_mode="one_hot")
    out = layers.Dense(1, kernel_initializer="ones", bias_initializer="zeros")(onehot(lookup(inp)))
    return keras.Model(inp, out), lookup


def test_string_input_flows_into_a_lookup_node_and_predicts_on_raw_strings():
    model, lookup = _string_model()
    assert model.inputs[0].dtype == "string"
    assert lookup.output.dtype == "int64"
    # one-hot of [UNK, red, green, blue] summed by a ones kernel: 1 for every string
    w = np.array([[0.0], [1.0], [2.0], [3.0]], np.float32)
    model.layers[-1].set_weights([w, np.zeros(1, np.float32)])
    x = np.array([["blue"], ["red"], ["purple"]], dtype=object)
    np.testing.assert_array_equal(model.predict(x, verbose=0)[:, 0], [3.0, 1.0, 0.0])
    # (n,) strings for a (None, 1) input: Keras 3 adds the axis; a list and bytes work too
    np.testing.assert_array_equal(model.predict(np.array(["green", "blue"]), verbose=0)[:, 0], [2.0, 3.0])
    np.testing.assert_array_equal(np.asarray(model([b"red"]))[:, 0], [1.0])
    np.testing.assert_array_equal(model.predict(["red", "blue"], verbose=0)[:, 0], [1.0, 3.0])


def test_string_model_trains_and_saves(tmp_path):
    rng = np.random.default_rng(0)
    words = rng.choice(["cat", "dog", "cow"], 200)
    y = (words == "dog").astype(np.float32)
    inp = keras.Input(shape=(1,), dtype="string")
    lookup = layers.StringLookup()
    lookup.adapt(words)
    x = layers.CategoryEncoding(num_tokens=lookup.vocabulary_size())(lookup(inp))
    model = keras.Model(inp, layers.Dense(1, activation="sigmoid")(x))
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    keras.utils.set_random_seed(0)
    model.optimizer.learning_rate = 0.1
    model.fit(words[:, None], y, epochs=20, batch_size=32, verbose=0)
    assert model.evaluate(words[:, None], y, verbose=0)[1] == 1.0
    path = tmp_path / "m.keras"
    model.save(path)
    again = keras.models.load_model(path)
    np.testing.assert_allclose(again.predict(words[:5], verbose=0), model.predict(words[:5], verbose=0))
    assert again.inputs[0].dtype == "string"


def test_strings_into_a_numeric_input_and_numbers_into_a_string_input_are_refused():
    model, _ = _string_model()
    with pytest.raises(TypeError, match="'colour' takes strings"):
        model.predict(np.zeros((2, 1)), verbose=0)
    num = keras.Sequential([keras.Input(shape=(1,)), layers.Dense(1)])
    with pytest.raises(TypeError, match="takes numeric data"):
        num.predict(np.array([["a"]]), verbose=0)
    with pytest.raises(TypeError, match="TextVectorization .* takes strings"):
        layers.TextVectorization()(keras.Input(shape=(3,)))
    with pytest.raises(TypeError, match="StringLookup .* takes strings"):
        layers.StringLookup(vocabulary=["a"])(keras.Input(shape=(1,)))
    with pytest.raises(TypeError, match="takes strings"):
        layers.TextVectorization()(keras.ops.ones((2, 1)))
    with pytest.raises(TypeError, match="dtype must be"):
        keras.Input(shape=(1,), dtype="complex64")


def test_sequential_starting_with_text_vectorization_trains_on_raw_text():
    rng = np.random.default_rng(1)
    good, bad = ["great", "fine", "nice"], ["awful", "bad", "poor"]
    labels = rng.integers(0, 2, 300)
    texts = np.array([" ".join(rng.choice(good if l else bad, 3)) + " movie" for l in labels])
    vec = layers.TextVectorization(max_tokens=20, output_sequence_length=4)
    vec.adapt(texts)
    model = keras.Sequential([vec, layers.Embedding(20, 8), layers.GlobalAveragePooling1D(),
                              layers.Dense(1, activation="sigmoid")])
    model.compile(keras.optimizers.Adam(0.05), "binary_crossentropy", metrics=["accuracy"])
    model.fit(texts, labels, epochs=8, verbose=0)
    assert model.input_shape == (None,) and model.inputs[0].dtype == "string"
    assert model.evaluate(texts, labels, verbose=0)[1] > 0.95
    p = model.predict(np.array(["great nice", "awful poor"]), verbose=0)
    assert p[0, 0] > 0.5 > p[1, 0]


def test_text_vectorization_callables_get_the_batch():
    seen = []

    def standardize(batch):
        seen.append(np.shape(batch))
        return keras.strings.lower(batch)

    vec = layers.TextVectorization(standardize=standardize, split=keras.strings.split,
                                   vocabulary=["a", "b"])
    out = vec(np.array(["A b", "B c a"])).numpy()
    assert seen == [(2,)]
    np.testing.assert_array_equal(out, [[2, 3, 0], [3, 1, 2]])   # "" 0, [UNK] 1, a 2, b 3


def test_ngrams_follow_keras_order():
    vec = layers.TextVectorization(ngrams=2, standardize=None)
    vec.adapt(np.array(["a b c", "a b"]))
    vocab = vec.get_vocabulary()
    # counts: a 2, b 2, "a b" 2, c 1, "b c" 1; ties by token descending
    assert vocab == ["", "[UNK]", "b", "a b", "a", "c", "b c"]
    ids = vec(np.array(["a b c"])).numpy()[0]
    # unigrams a b c, then bigrams "a b" "b c"
    assert [vocab[i] for i in ids] == ["a", "b", "c", "a b", "b c"]
    tri = layers.TextVectorization(ngrams=(3,), vocabulary=["x y z"], output_mode="multi_hot")
    np.testing.assert_array_equal(tri(np.array(["x y z", "x y"])).numpy(), [[0, 1], [0, 0]])
    with pytest.raises(ValueError, match="ngrams"):
        layers.TextVectorization(ngrams=0)


def test_tf_idf_weights_and_outputs_match_the_definition():
    docs = np.array(["a a b", "a c", "b b b d"])
    vec = layers.TextVectorization(output_mode="tf_idf")
    vec.adapt(docs)
    vocab = vec.get_vocabulary()
    assert vocab[0] == "[UNK]"
    n_docs = 3
    df = {"a": 2, "b": 2, "c": 1, "d": 1}
    idf = {t: np.log(1 + n_docs / (1 + df[t])) for t in df}
    oov = np.mean([idf[t] for t in vocab[1:]])
    out = vec(np.array(["a b b e"])).numpy()[0]
    want = [oov * 1] + [idf[t] * {"a": 1, "b": 2}.get(t, 0) for t in vocab[1:]]
    np.testing.assert_allclose(out, want, rtol=1e-6)
    # the weights travel in the config
    again = layers.TextVectorization.from_config(vec.get_config())
    np.testing.assert_allclose(again(np.array(["a b b e"])).numpy()[0], out, rtol=1e-6)
    # given weights for a vocabulary without the OOV entry: it gets their mean
    look = layers.StringLookup(vocabulary=["x", "y"], idf_weights=[1.0, 3.0], output_mode="tf_idf")
    np.testing.assert_allclose(look(np.array([["x", "x", "q"]])).numpy(), [[2.0, 2.0, 0.0]])
    with pytest.raises(ValueError, match="idf"):
        layers.StringLookup(vocabulary=["x"], output_mode="tf_idf")(np.array([["x"]]))
    count = layers.TextVectorization(output_mode="count", vocabulary=["a", "b"])
    np.testing.assert_array_equal(count(np.array(["a a b z"])).numpy(), [[1, 2, 1]])


def test_input_rank_adjustment_as_keras_3():
    inp = keras.Input(shape=(1,))
    model = keras.Model(inp, layers.Dense(1, kernel_initializer="ones", use_bias=False)(inp))
    np.testing.assert_array_equal(model.predict(np.array([1.0, 2.0]), verbose=0), [[1.0], [2.0]])
    inp3 = keras.Input(shape=(3,))
    model3 = keras.Model(inp3, layers.Dense(1, kernel_initializer="ones", use_bias=False)(inp3))
    np.testing.assert_allclose(model3.predict(np.ones((2, 3, 1)), verbose=0), [[3.0], [3.0]])
    with pytest.raises(ValueError, match="expects shape"):
        model3.predict(np.ones((2, 4)), verbose=0)
    # a dict of (n,) columns into (None, 1) inputs, as the structured-data tutorial feeds them
    a, b = keras.Input(shape=(1,), name="a"), keras.Input(shape=(1,), name="b")
    two = keras.Model({"a": a, "b": b}, layers.Add()([a, b]))
    np.testing.assert_array_equal(two.predict({"a": np.array([1.0]), "b": np.array([2.0])}, verbose=0), [[3.0]])


def test_functional_text_model_with_tf_idf_saves_and_loads(tmp_path):
    docs = np.array(["red apple", "green apple pie", "red red wine", "pie"])
    vec = layers.TextVectorization(output_mode="tf_idf", ngrams=2)
    vec.adapt(docs)
    inp = keras.Input(shape=(1,), dtype="string", name="text")
    out = layers.Dense(2, kernel_initializer="glorot_uniform")(vec(inp))
    model = keras.Model(inp, out)
    expected = model.predict(docs, verbose=0)
    np.testing.assert_allclose(expected, np.asarray(vec(docs)) @ model.layers[-1].get_weights()[0]
                               + model.layers[-1].get_weights()[1], rtol=1e-5, atol=1e-6)
    path = tmp_path / "text.keras"
    model.save(path)
    again = keras.models.load_model(path)
    np.testing.assert_allclose(again.predict(docs, verbose=0), expected, rtol=1e-6)
    assert again.get_layer(vec.name).get_vocabulary() == vec.get_vocabulary()
    assert again.get_layer(vec.name).ngrams == (1, 2)


def test_target_rank_adjustment_both_ways():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = x @ np.array([1.0, -2.0, 0.5], np.float32)
    inp = keras.Input(shape=(3,))
    flat = keras.Model(inp, layers.Reshape(())(layers.Dense(1)(inp)))   # (n,) outputs
    flat.compile(keras.optimizers.SGD(0.1), "mse")
    column = keras.Model(inp, layers.Dense(1)(inp))                     # (n, 1) outputs
    column.compile(keras.optimizers.SGD(0.1), "mse")
    flat.set_weights(column.get_weights())
    a = flat.fit(x, y[:, None], epochs=3, verbose=0).history["loss"]    # (n, 1) targets
    b = column.fit(x, y, epochs=3, verbose=0, shuffle=False).history["loss"]   # (n,) targets
    assert a[-1] < a[0] and b[-1] < b[0]
    np.testing.assert_allclose(flat.evaluate(x, y[:, None], verbose=0),
                               np.mean((flat.predict(x, verbose=0) - y) ** 2), rtol=1e-4)


def test_lookups_map_ragged_token_lists_and_back():
    texts = np.array(["abc", "de"])
    chars = keras.strings.unicode_split(texts, "UTF-8")
    ids_from_chars = layers.StringLookup(vocabulary=list("abcde"), mask_token=None)
    ids = ids_from_chars(chars)
    assert ids.dtype == object and [r.tolist() for r in ids] == [[1, 2, 3], [4, 5]]
    chars_from_ids = layers.StringLookup(vocabulary=ids_from_chars.get_vocabulary(), invert=True,
                                         mask_token=None)
    back = keras.strings.reduce_join(chars_from_ids(ids), axis=-1)
    assert back.tolist() == ["abc", "de"]
    words = keras.strings.split(np.array(["x y", "y z w"]))
    look = layers.StringLookup(vocabulary=["x", "y", "z"])
    assert [r.tolist() for r in look(words)] == [[1, 2], [2, 3, 0]]
    # multi_hot encodes each row into one dense row (Keras' multi-label targets, sweep 7)
    np.testing.assert_array_equal(np.asarray(layers.StringLookup(vocabulary=["x"], output_mode="multi_hot")(words)),
                                  [[1, 1], [1, 0]])
    with pytest.raises(ValueError, match="different lengths"):
        layers.StringLookup(vocabulary=["x"], output_mode="one_hot")(words)


def test_lookups_with_several_oov_buckets_hash_as_keras():
    """num_oov_indices = n > 1: an unknown string goes to OOV bucket FarmHash64(token) % n (the
    buckets of tf.strings.to_hash_bucket_fast), an unknown integer to token % n; the vocabulary
    lists n OOV tokens first (Keras 3.15 gave the same indices side by side)."""
    from corenn.layers._farmhash import fingerprint64
    s = layers.StringLookup(num_oov_indices=4, vocabulary=["a", "b"])
    tokens = ["a", "x", "yy", "zzz", "b", "w"]
    want = [4 if t == "a" else 5 if t == "b" else fingerprint64(t.encode()) % 4 for t in tokens]
    assert np.asarray(s(np.array(tokens))).tolist() == want == [4, 2, 1, 0, 5, 3]
    assert s.get_vocabulary() == ["[UNK]"] * 4 + ["a", "b"]
    i = layers.IntegerLookup(num_oov_indices=3, vocabulary=[7, 3, 9])
    assert np.asarray(i(np.array([3, 10, 11, 12, 9, -4]))).tolist() == [4, 10 % 3, 11 % 3, 12 % 3, 5, -4 % 3]
    masked = layers.StringLookup(num_oov_indices=2, mask_token="", vocabulary=["c"])
    assert np.asarray(masked(np.array(["c", "", "z"]))).tolist() == [3, 0, 1 + fingerprint64(b"z") % 2]
    with pytest.raises(ValueError, match="num_oov_indices"):
        layers.StringLookup(num_oov_indices=-1)


class _QuotientRemainder(layers.Layer):
    """keras.io's QREmbedding: a layer written with call that takes strings."""

    def __init__(self, vocabulary, dim, buckets, **kwargs):
        super().__init__(**kwargs)
        self.buckets = buckets
        self.lookup = layers.StringLookup(vocabulary=vocabulary, mask_token=None, num_oov_indices=0)
        self.q = layers.Embedding(buckets, dim)
        self.r = layers.Embedding(buckets, dim)

    def call(self, inputs):
        i = self.lookup(inputs)
        return self.q(keras.ops.floor_divide(i, self.buckets)) * self.r(keras.ops.mod(i, self.buckets))


def test_a_layer_written_with_call_takes_strings_eagerly_symbolically_and_in_fit():
    import corenn as tf
    keras.utils.set_random_seed(2)
    vocab = [f"id{k}" for k in range(10)]
    qr = _QuotientRemainder(vocab, 3, 4)
    ids = np.array(["id0", "id9", "id6"])
    for given in (ids, tf.constant(ids), list(ids)):
        got = np.asarray(qr(given))
        q, r = qr.q.get_weights()[0], qr.r.get_weights()[0]
        np.testing.assert_allclose(got, np.stack([q[k // 4] * r[k % 4] for k in (0, 9, 6)]), rtol=1e-6)
    # under a tape the embeddings it called get their gradients: d sum(q * r) / dq = r
    with tf.GradientTape() as tape:
        out = tf.reduce_sum(qr(ids))
    gq, gr = tape.gradient(out, [qr.q.embeddings, qr.r.embeddings])
    want_q = np.zeros((4, 3), np.float32)
    for k in (0, 9, 6):
        want_q[k // 4] += r[k % 4]
    np.testing.assert_allclose(np.asarray(gq), want_q, rtol=1e-6)
    # a functional model on a string Input: built by a probe with placeholder strings, then fit
    inp = keras.Input(shape=(), dtype="string")
    model = keras.Model(inp, layers.Dense(1)(_QuotientRemainder(vocab, 4, 4)(inp)))
    assert tuple(model.output.shape) == (None, 1)
    x = np.array(vocab * 20)
    y = (np.arange(len(x)) % 10 >= 5).astype(np.float32)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    hist = model.fit(x, y, epochs=15, batch_size=40, verbose=0)
    assert hist.history["loss"][-1] < 0.2 * hist.history["loss"][0]
    np.testing.assert_allclose(model.predict(np.array(["id1", "id8"]), verbose=0)[:, 0], [0.0, 1.0], atol=0.25)


def test_text_vectorization_ragged_gives_unpadded_rows_of_ids():
    tv = layers.TextVectorization(ragged=True)
    tv.adapt(np.array(["a b c", "b c", "c"]))
    vocab = tv.get_vocabulary()
    rows = tv(np.array(["a b c", "c b", "zz"]))
    want = [[vocab.index(w) for w in "a b c".split()], [vocab.index("c"), vocab.index("b")], [1]]
    assert rows.to_list() == want
    np.testing.assert_array_equal(np.asarray(rows.to_tensor()), [want[0], want[1] + [0], [1, 0, 0]])
    assert tv.get_config()["ragged"] is True
    with pytest.raises(ValueError, match="ragged"):
        layers.TextVectorization(ragged=True, output_sequence_length=4)


def test_string_lookup_of_one_string_is_a_scalar():
    # TensorFlow 2.21: StringLookup(...)('b') -> int64 tensor of shape () (the NMT tutorial's
    # start / end tokens); a list of one keeps its axis
    lk = layers.StringLookup(vocabulary=["a", "b"], mask_token="", oov_token="[UNK]")
    assert tuple(lk("b").shape) == () and int(lk("b")) == 3
    assert tuple(lk(["b"]).shape) == (1,)


def test_lookup_of_one_split_string_stays_ragged():
    # the text-generation tutorial: ids_from_chars(tf.strings.unicode_split(['ROMEO:'], 'UTF-8')).to_tensor()
    import corenn as tf
    lk = layers.StringLookup(vocabulary=list("ROME:"), mask_token=None)
    ids = lk(tf.strings.unicode_split(tf.constant(["ROMEO:"]), "UTF-8"))
    np.testing.assert_array_equal(np.asarray(ids.to_tensor()), [[1, 2, 3, 4, 2, 5]])
    assert [row.numpy().tolist() for row in ids] == [[1, 2, 3, 4, 2, 5]]


@pytest.mark.parametrize("mode", ["one_hot", "multi_hot", "count", "tf_idf"])
def test_lookup_mask_token_in_the_encoding_modes(mode):
    """Keras: outside output_mode='int' the mask token has no column (get_vocabulary leaves it
    out) and masked inputs add nothing; checked against an encoding of the same rows with the
    masked entries removed, written here in NumPy; the config round trip keeps the layout."""
    vocab = ["a", "b", "c"]
    idf = [0.5, 0.25, 2.0] if mode == "tf_idf" else None
    layer = keras.layers.StringLookup(vocabulary=vocab, mask_token="", output_mode=mode, idf_weights=idf)
    assert layer.get_vocabulary() == ["[UNK]", "a", "b", "c"] and layer.vocabulary_size() == 4
    col = {"[UNK]": 0, "a": 1, "b": 2, "c": 3}
    if mode == "one_hot":
        data = np.array(["a", "", "z", "c"])
        want = np.zeros((4, 4), np.float32)
        for i, t in enumerate(data):
            if t:
                want[i, col.get(t, 0)] = 1.0
    else:
        data = np.array([["a", "a", "", "z"], ["", "", "c", "b"]])
        want = np.zeros((2, 4), np.float32)
        for i, row in enumerate(data):
            for t in row:
                if t:
                    want[i, col.get(t, 0)] += 1.0
        if mode == "multi_hot":
            want = (want > 0).astype(np.float32)
        if mode == "tf_idf":   # the OOV column's weight is the mean of the vocabulary's
            want *= np.array([np.mean(idf)] + idf, np.float32)
    np.testing.assert_allclose(np.asarray(layer(data)), want, rtol=1e-6)
    again = keras.layers.StringLookup.from_config(layer.get_config())
    np.testing.assert_allclose(np.asarray(again(data)), want, rtol=1e-6)
    int_layer = keras.layers.StringLookup(vocabulary=vocab, mask_token="")
    assert int_layer.get_vocabulary() == ["", "[UNK]", "a", "b", "c"]   # 'int' keeps index 0 for it
    with pytest.raises(NotImplementedError, match="invert"):
        keras.layers.StringLookup(vocabulary=vocab, output_mode=mode, invert=True)
