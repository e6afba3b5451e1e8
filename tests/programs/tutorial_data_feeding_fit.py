"""Feeding `model.fit` the ways the tf.data guide and the Keras training guide do: a
`tf.data.Dataset.from_generator` with an `output_signature`, `keras.utils.split_dataset`, an
infinite `.repeat()` dataset with `steps_per_epoch` and `validation_steps`, variable-length
sequences through `padded_batch` into a masked GRU, and a threaded `keras.utils.PyDataset`
(`workers=2`). Each way must train the same small models to the expected accuracy.
Only the imports changed."""
import numpy as np
import corenn as tf
from corenn import keras
from corenn.keras import layers

keras.utils.set_random_seed(9)
rng = np.random.default_rng(9)
X = rng.normal(size=(1000, 6)).astype("float32")
Y = (X[:, 0] * X[:, 1] > 0).astype("int64")


def gen():
    for x, y in zip(X, Y):
        yield x, y


ds = tf.data.Dataset.from_generator(
    gen, output_signature=(tf.TensorSpec(shape=(6,), dtype=tf.float32), tf.TensorSpec(shape=(), dtype=tf.int64)))
first = next(iter(ds))
assert first[0].shape == (6,) and int(first[1]) == Y[0]

train_ds, val_ds = keras.utils.split_dataset(ds, left_size=0.8, shuffle=False)
assert sum(1 for _ in train_ds) == 800 and sum(1 for _ in val_ds) == 200


def make_mlp():
    m = keras.Sequential([keras.Input((6,)), layers.Dense(32, activation="relu"), layers.Dense(32, activation="relu"),
                          layers.Dense(1, activation="sigmoid")])
    m.compile(keras.optimizers.Adam(0.01), "binary_crossentropy", metrics=["accuracy"])
    return m


model = make_mlp()
h = model.fit(train_ds.shuffle(800, seed=1).batch(32).repeat(), steps_per_epoch=25, epochs=12,
              validation_data=val_ds.batch(50).repeat(), validation_steps=4, verbose=0)
assert len(h.history["val_accuracy"]) == 12
print("generator dataset val accuracy", h.history["val_accuracy"][-1])
assert h.history["val_accuracy"][-1] > 0.85
np.testing.assert_allclose(model.evaluate(val_ds.batch(50), verbose=0)[1], h.history["val_accuracy"][-1], atol=1e-6)

# variable-length sequences, padded per batch; the label is whether the sum is positive
lengths = rng.integers(3, 15, size=600)
seqs = [rng.normal(size=(n,)).astype("float32") for n in lengths]
labels = np.array([s.sum() > 0 for s in seqs], "int64")
seq_ds = tf.data.Dataset.from_generator(
    lambda: ((s[:, None], l) for s, l in zip(seqs, labels)),
    output_signature=(tf.TensorSpec(shape=(None, 1), dtype=tf.float32), tf.TensorSpec(shape=(), dtype=tf.int64)))
padded = seq_ds.padded_batch(32, padded_shapes=([None, 1], []), padding_values=(0.0, np.int64(0)))
xb, yb = next(iter(padded))
assert xb.shape[0] == 32 and xb.shape[1] == lengths[:32].max()
rnn = keras.Sequential([keras.Input((None, 1)), layers.Masking(mask_value=0.0), layers.GRU(16),
                        layers.Dense(1, activation="sigmoid")])
rnn.compile(keras.optimizers.Adam(0.01), "binary_crossentropy", metrics=["accuracy"])
h = rnn.fit(padded.take(15), validation_data=padded.skip(15), epochs=10, verbose=0)
print("padded GRU val accuracy", h.history["val_accuracy"][-1])
assert h.history["val_accuracy"][-1] > 0.85


class Batches(keras.utils.PyDataset):
    def __init__(self, x, y, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size = x, y, batch_size

    def __len__(self):
        return int(np.ceil(len(self.x) / self.batch_size))

    def __getitem__(self, idx):
        lo = idx * self.batch_size
        return self.x[lo:lo + self.batch_size], self.y[lo:lo + self.batch_size]


threaded = Batches(X[:800], Y[:800], 32, workers=2, use_multiprocessing=False)
assert threaded.workers == 2 and len(threaded) == 25
model = make_mlp()
h = model.fit(threaded, epochs=12, validation_data=Batches(X[800:], Y[800:], 100), verbose=0)
print("PyDataset val accuracy", h.history["val_accuracy"][-1])
assert h.history["val_accuracy"][-1] > 0.85
pred = model.predict(Batches(X[800:], Y[800:], 64, workers=2), verbose=0)
assert pred.shape == (200, 1)
np.testing.assert_allclose(np.mean((pred[:, 0] > 0.5) == Y[800:]), h.history["val_accuracy"][-1], atol=1e-6)
