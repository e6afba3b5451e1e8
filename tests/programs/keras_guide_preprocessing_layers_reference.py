"""The keras.io preprocessing layers API pages, the output modes and options the guides skip:
StringLookup / IntegerLookup with num_oov_indices > 1, output_mode "one_hot", "multi_hot",
"count" and "tf_idf" (adapted idf weights), pad_to_max_tokens, vocabulary_size and invert;
Hashing with a salt and output_mode "one_hot"; CategoryEncoding "count" with count_weights;
Discretization adapted to quantiles with num_bins and output_mode "one_hot"; TextVectorization
with ngrams, output_mode "count" / "tf_idf", a custom standardize callable and split
"character"; Normalization with invert; each checked against the pages' rules in NumPy, then
a small model trained on their outputs. Only the imports changed."""
import numpy as np
from corenn import keras
from corenn.keras import layers

keras.utils.set_random_seed(12)
rng = np.random.default_rng(12)
npy = keras.ops.convert_to_numpy

# -- StringLookup ------------------------------------------------------------------------------------
vocab = ["a", "b", "c", "d"]
data = np.array([["a", "c", "d"], ["d", "z", "b"]])
layer = layers.StringLookup(vocabulary=vocab)
np.testing.assert_array_equal(npy(layer(data)), [[1, 3, 4], [4, 0, 2]])
assert layer.vocabulary_size() == 5 and layer.get_vocabulary()[0] == "[UNK]"
layer = layers.StringLookup(vocabulary=vocab, num_oov_indices=2)
out = npy(layer(data))
assert out[1, 1] in (0, 1) and out[0, 0] == 2 and out[0, 1] == 4
layer = layers.StringLookup(vocabulary=vocab, output_mode="one_hot")
np.testing.assert_array_equal(npy(layer(np.array(["a", "b", "z"]))), np.eye(5)[[1, 2, 0]])
layer = layers.StringLookup(vocabulary=vocab, output_mode="multi_hot")
np.testing.assert_array_equal(npy(layer(np.array([["a", "c", "d", "d"], ["d", "z", "b", "z"]]))),
                              [[0, 1, 0, 1, 1], [1, 0, 1, 0, 1]])
layer = layers.StringLookup(vocabulary=vocab, output_mode="count")
np.testing.assert_array_equal(npy(layer(np.array([["a", "c", "d", "d"], ["d", "z", "b", "z"]]))),
                              [[0, 1, 0, 1, 2], [2, 0, 1, 0, 1]])
idf_weights = [0.25, 0.75, 0.6, 0.4]
layer = layers.StringLookup(output_mode="tf_idf", vocabulary=vocab, idf_weights=idf_weights)
np.testing.assert_allclose(npy(layer(np.array([["a", "c", "d", "d"], ["d", "z", "b", "z"]]))),
                           [[0.0, 0.25, 0.0, 0.6, 0.8], [1.0, 0.0, 0.75, 0.0, 0.4]], rtol=1e-6)
layer = layers.StringLookup(vocabulary=vocab, output_mode="multi_hot", pad_to_max_tokens=True, max_tokens=8)
assert npy(layer(np.array([["a", "b"]]))).shape == (1, 8)
inverse = layers.StringLookup(vocabulary=vocab, invert=True)
assert [v.decode() if isinstance(v, bytes) else str(v) for v in npy(inverse(np.array([1, 3, 0]))).tolist()] \
    == ["a", "c", "[UNK]"]

# adapted tf_idf: idf = log(1 + num_documents / (1 + document_frequency))
docs = np.array([["x", "y", ""], ["x", "x", "z"], ["y", "z", "z"], ["x", "w", "w"]])
layer = layers.StringLookup(output_mode="tf_idf", mask_token="")
layer.adapt(docs)
voc = layer.get_vocabulary()
assert voc[0] == "[UNK]" and "" not in voc, voc          # the mask token is no output column
out = npy(layer(np.array([["x", "x", "z"]])))[0]
df = {t: sum(t in set(d) for d in docs.tolist()) for t in ["x", "y", "z", "w"]}
idf = {t: np.log(1 + 4 / (1 + df[t])) for t in df}
np.testing.assert_allclose(out[voc.index("x")], 2 * idf["x"], rtol=1e-5)
np.testing.assert_allclose(out[voc.index("z")], idf["z"], rtol=1e-5)

# -- IntegerLookup -----------------------------------------------------------------------------------------
layer = layers.IntegerLookup(vocabulary=[12, 36, 1138, 42])
np.testing.assert_array_equal(npy(layer(np.array([[12, 1138, 42], [42, 1000, 36]]))), [[1, 3, 4], [4, 0, 2]])
layer = layers.IntegerLookup(output_mode="multi_hot")
layer.adapt(np.array([[12, 1138, 42], [42, 1000, 36]]))
assert layer.vocabulary_size() == 6
assert layer.get_vocabulary()[1] == 42                               # the most frequent first
layer = layers.IntegerLookup(vocabulary=[12, 36, 1138, 42], mask_token=0)
np.testing.assert_array_equal(npy(layer(np.array([[12, 0, 42]]))), [[2, 0, 5]])

# -- Hashing and CategoryEncoding ------------------------------------------------------------------------
hashed = npy(layers.Hashing(num_bins=3)(np.array([["A"], ["B"], ["C"], ["D"], ["E"]])))
assert hashed.shape == (5, 1) and hashed.min() >= 0 and hashed.max() < 3
salted = npy(layers.Hashing(num_bins=3, salt=133)(np.array([["A"], ["B"], ["C"], ["D"], ["E"]])))
assert salted.shape == (5, 1) and salted.max() < 3
np.testing.assert_array_equal(salted, npy(layers.Hashing(num_bins=3, salt=133)(np.array([["A"], ["B"], ["C"], ["D"], ["E"]]))))
one_hot = npy(layers.Hashing(num_bins=3, output_mode="one_hot")(np.array(["A", "B", "C"])))
np.testing.assert_array_equal(one_hot, np.eye(3)[npy(layers.Hashing(num_bins=3)(np.array(["A", "B", "C"])))])
np.testing.assert_array_equal(npy(layers.Hashing(num_bins=3)(np.array([[1], [2], [3]]))).shape, (3, 1))

layer = layers.CategoryEncoding(num_tokens=4, output_mode="count")
count_weights = np.array([[0.1, 0.2], [0.1, 0.1], [0.2, 0.3], [0.4, 0.2]])
np.testing.assert_allclose(npy(layer(np.array([[0, 1], [0, 0], [1, 2], [3, 1]]), count_weights=count_weights)),
                           [[0.1, 0.2, 0.0, 0.0], [0.2, 0.0, 0.0, 0.0], [0.0, 0.2, 0.3, 0.0], [0.0, 0.2, 0.0, 0.4]],
                           rtol=1e-6)
np.testing.assert_array_equal(npy(layers.CategoryEncoding(num_tokens=4, output_mode="one_hot")(np.array([3, 2, 0, 1]))),
                              np.eye(4)[[3, 2, 0, 1]])

# -- Discretization ---------------------------------------------------------------------------------------------
layer = layers.Discretization(bin_boundaries=[0.0, 1.0, 2.0])
np.testing.assert_array_equal(npy(layer(np.array([[-1.5, 1.0, 3.4, 0.5], [0.0, 3.0, 1.3, 0.0]]))),
                              [[0, 2, 3, 1], [1, 3, 2, 1]])
values = rng.uniform(0, 100, size=1000).astype("float32")
layer = layers.Discretization(num_bins=4, epsilon=0.01)
layer.adapt(values)
bounds = np.asarray(layer.bin_boundaries)
np.testing.assert_allclose(bounds, np.quantile(values, [0.25, 0.5, 0.75]), atol=2.5)
counts = np.bincount(npy(layer(values)).astype(int), minlength=4)
assert (np.abs(counts - 250) < 30).all(), counts
oh = npy(layers.Discretization(bin_boundaries=[0.0, 1.0], output_mode="one_hot")(np.array([-1.0, 0.5, 2.0])))
np.testing.assert_array_equal(oh, np.eye(3))

# -- TextVectorization -------------------------------------------------------------------------------------------
texts = np.array(["The quick brown fox", "the lazy dog", "The quick dog"])
tv = layers.TextVectorization(output_mode="count", ngrams=2)
tv.adapt(texts)
voc = tv.get_vocabulary()
assert "the quick" in voc and "quick" in voc, voc
out = npy(tv(np.array(["the quick quick dog"])))[0]
# unigrams and bigrams counted; "quick quick" was never seen: it counts as the OOV token
assert out[voc.index("quick")] == 2 and out[voc.index("the quick")] == 1 and out[voc.index("quick dog")] == 1
assert out[voc.index("[UNK]")] == 1 and out.sum() == 7
tfidf = layers.TextVectorization(output_mode="tf_idf")
tfidf.adapt(texts)
v2 = tfidf.get_vocabulary()
out = npy(tfidf(np.array(["dog dog fox"])))[0]
df = {"dog": 2, "fox": 1}
np.testing.assert_allclose(out[v2.index("dog")], 2 * np.log(1 + 3 / (1 + df["dog"])), rtol=1e-5)
np.testing.assert_allclose(out[v2.index("fox")], np.log(1 + 3 / (1 + df["fox"])), rtol=1e-5)


chars = layers.TextVectorization(split="character", output_sequence_length=6, standardize="lower")
chars.adapt(np.array(["abc", "cab", "bad"]))
cv = chars.get_vocabulary()
seq = npy(chars(np.array(["Cab"])))[0]
np.testing.assert_array_equal(seq, [cv.index("c"), cv.index("a"), cv.index("b"), 0, 0, 0])

# -- Normalization with invert -------------------------------------------------------------------------------------
adapt_data = rng.normal(3.0, 2.0, size=(200, 3)).astype("float32")
norm = layers.Normalization(axis=-1)
norm.adapt(adapt_data)
normed = npy(norm(adapt_data))
np.testing.assert_allclose(normed.mean(0), 0.0, atol=1e-4)
np.testing.assert_allclose(normed.std(0), 1.0, rtol=1e-3)
denorm = layers.Normalization(axis=-1, invert=True)
denorm.adapt(adapt_data)
np.testing.assert_allclose(npy(denorm(normed)), adapt_data, rtol=1e-4, atol=1e-4)

# -- a model on their outputs: the multi_hot of a few tags and a count of words predict a score ---------------------
tags = np.array([rng.choice(["red", "green", "blue", "gold"], 3) for _ in range(256)])
words = np.array([" ".join(rng.choice(["good", "bad", "meh", "fine"], 4)) for _ in range(256)])
score = ((tags == "gold").sum(1) + np.char.count(words, "good") - np.char.count(words, "bad")).astype("float32")
tag_lookup = layers.StringLookup(output_mode="multi_hot")
tag_lookup.adapt(tags)
word_counts = layers.TextVectorization(output_mode="count")
word_counts.adapt(words)
features = np.concatenate([npy(tag_lookup(tags)), npy(word_counts(words))], 1).astype("float32")
model = keras.Sequential([keras.Input((features.shape[1],)), layers.Dense(1)])
model.compile(optimizer=keras.optimizers.Adam(0.1), loss="mse")
history = model.fit(features, score, epochs=30, batch_size=32, verbose=0)
print("loss", history.history["loss"][0], "->", history.history["loss"][-1])
assert history.history["loss"][-1] < min(0.3, 0.2 * history.history["loss"][0]), history.history["loss"]
