"""tf.data for variable-length sequences, as the tf.data guide writes it: a Python generator read
through `Dataset.from_generator(output_signature=...)`, `padded_batch` and
`bucket_by_sequence_length` (batches of similar lengths, each padded to its own longest), then a
masked GRU classifier trained on the bucketed batches. Label: whether the sequence's tokens sum to
more than its length times the middle token id. Only the imports changed."""
import numpy as np

import corenn as tf

tf.keras.utils.set_random_seed(3)
VOCAB = 20


def gen():
    rng = np.random.default_rng(0)
    for _ in range(480):
        n = int(rng.integers(3, 25))
        seq = rng.integers(1, VOCAB, size=n)
        yield seq.astype("int32"), np.int32(int(np.mean(seq) > VOCAB / 2))


ds = tf.data.Dataset.from_generator(
    gen, output_signature=(tf.TensorSpec(shape=(None,), dtype=tf.int32),
                           tf.TensorSpec(shape=(), dtype=tf.int32)))
assert ds.element_spec[0].shape.as_list() == [None]

# padded_batch: every batch padded to its longest sequence with 0
first = next(iter(ds.padded_batch(4)))
x0, y0 = first
assert x0.shape[0] == 4 and y0.shape == (4,)
lengths = [len(s) for s, _ in ds.take(4).as_numpy_iterator()]
assert x0.shape[1] == max(lengths), (x0.shape, lengths)
assert (x0.numpy()[np.argmin(lengths), min(lengths):] == 0).all()

# the guide's bucketing: boundaries [8, 16] -> three buckets, batch sizes per bucket
buckets = ds.bucket_by_sequence_length(
    element_length_func=lambda elem, label: tf.shape(elem)[0],
    bucket_boundaries=[8, 16],
    bucket_batch_sizes=[32, 24, 16])
widths = []
for x, y in buckets.take(8):
    widths.append(x.shape[1])
    n_rows = x.shape[0]
    if x.shape[1] < 8:
        assert n_rows <= 32
    elif x.shape[1] < 16:
        assert n_rows <= 24
    else:
        assert n_rows <= 16
    assert y.shape == (n_rows,)
assert min(widths) < 8 and max(widths) >= 16, widths

model = tf.keras.Sequential([
    tf.keras.layers.Embedding(VOCAB, 16, mask_zero=True),
    tf.keras.layers.GRU(24),
    tf.keras.layers.Dense(1, activation="sigmoid"),
])
model.compile(optimizer=tf.keras.optimizers.Adam(1e-2), loss="binary_crossentropy", metrics=["accuracy"])
hist = model.fit(buckets.prefetch(tf.data.AUTOTUNE), epochs=6, verbose=0)
acc = hist.history["accuracy"]
print("accuracy per epoch", [round(a, 3) for a in acc])
assert hist.history["loss"][-1] < hist.history["loss"][0]
assert acc[-1] > 0.75, acc

# padding does not change a masked prediction
seq = np.array([[5, 17, 3, 9]], "int32")
padded = np.array([[5, 17, 3, 9, 0, 0, 0]], "int32")
np.testing.assert_allclose(model.predict(seq, verbose=0), model.predict(padded, verbose=0), atol=1e-5)
