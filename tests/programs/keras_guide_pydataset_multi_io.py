"""`keras.utils.PyDataset` feeding a functional model with two named inputs and two named outputs,
as the Keras 3 "Training & evaluation with the built-in methods" guide and the PyDataset API
page write it: batches of (dict of inputs, dict of targets, dict of sample weights), a dict of
losses with loss_weights, a dict of metrics, on_epoch_end reshuffling, `len()` steps; then the
same data from a plain Python generator with steps_per_epoch, and evaluate(return_dict=True).
Only the imports changed."""
import math

import numpy as np
from corenn import keras
from corenn.keras import layers

rng = np.random.default_rng(2)
N = 640
images = rng.normal(size=(N, 8, 8, 1)).astype("float32")
meta = rng.normal(size=(N, 4)).astype("float32")
bright = images.mean(axis=(1, 2, 3))
klass = (bright > 0).astype("int64") + (meta[:, 0] > 0.5)          # 0, 1 or 2
score = (2.0 * bright + meta[:, 1]).astype("float32")


class MultiIODataset(keras.utils.PyDataset):
    def __init__(self, batch_size, weighted=False, **kwargs):
        super().__init__(**kwargs)
        self.batch_size = batch_size
        self.weighted = weighted
        self.order = np.arange(N)
        self.epochs_seen = 0

    def __len__(self):
        return math.ceil(N / self.batch_size)

    def __getitem__(self, idx):
        sel = self.order[idx * self.batch_size:(idx + 1) * self.batch_size]
        x = {"image": images[sel], "meta": meta[sel]}
        y = {"class": klass[sel], "score": score[sel]}
        if self.weighted:
            w = {"class": np.where(klass[sel] == 2, 2.0, 1.0).astype("float32"),
                 "score": np.ones(len(sel), "float32")}
            return x, y, w
        return x, y

    def on_epoch_end(self):
        self.epochs_seen += 1
        self.order = np.random.default_rng(self.epochs_seen).permutation(N)


image_in = keras.Input((8, 8, 1), name="image")
meta_in = keras.Input((4,), name="meta")
h = layers.Conv2D(8, 3, activation="relu", padding="same")(image_in)
h = layers.GlobalAveragePooling2D()(h)
h = layers.concatenate([h, meta_in])
h = layers.Dense(32, activation="relu")(h)
class_out = layers.Dense(3, activation="softmax", name="class")(h)
score_out = layers.Dense(1, name="score")(h)
model = keras.Model(inputs={"image": image_in, "meta": meta_in},
                    outputs={"class": class_out, "score": score_out})
model.compile(optimizer=keras.optimizers.Adam(0.01),
              loss={"class": "sparse_categorical_crossentropy", "score": "mse"},
              loss_weights={"class": 1.0, "score": 0.5},
              metrics={"class": ["accuracy"], "score": [keras.metrics.MeanAbsoluteError(name="mae")]})

train = MultiIODataset(64, weighted=True)
assert len(train) == 10
history = model.fit(train, epochs=12, verbose=0)
print({k: round(v[-1], 3) for k, v in history.history.items()})
print("epochs_seen", train.epochs_seen)
assert train.epochs_seen >= 12   # Keras 3.15 calls it once more
keys = set(history.history)
assert {"loss", "class_loss", "score_loss", "class_accuracy", "score_mae"} <= keys, keys
assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]

results = model.evaluate(MultiIODataset(128), verbose=0, return_dict=True)
print(results)
assert results["class_accuracy"] > 0.8 and results["score_mae"] < 0.5

# the total loss is the weighted sum of the per-output losses (no regularizers here)
np.testing.assert_allclose(results["loss"], results["class_loss"] + 0.5 * results["score_loss"], rtol=1e-4)

pred = model.predict(MultiIODataset(100), verbose=0)
assert set(pred) == {"class", "score"} and pred["class"].shape == (N, 3) and pred["score"].shape == (N, 1)
manual_acc = np.mean(np.argmax(pred["class"], axis=1) == klass)
np.testing.assert_allclose(manual_acc, results["class_accuracy"], atol=1e-6)


def generator():
    while True:
        idx = rng.integers(0, N, 32)
        yield {"image": images[idx], "meta": meta[idx]}, {"class": klass[idx], "score": score[idx]}


h2 = model.fit(generator(), steps_per_epoch=5, epochs=2, verbose=0)
assert len(h2.history["loss"]) == 2
