"""Structured data classification with embeddings of categorical features, as keras.io's
structured-data examples build them without FeatureSpace: StringLookup / IntegerLookup turn the raw
columns into indices inside a tf.data map, one Embedding per categorical column (its size from
the lookup's vocabulary), Normalization for the numeric columns, Concatenate, an MLP; then an
end-to-end model that takes raw strings and integers is built by calling the preprocessing
layers and the trained model on new Inputs, saved to .keras and reloaded. Only the imports changed."""
import math

import numpy as np
import corenn as tf
from corenn import keras
from corenn.keras import layers

keras.utils.set_random_seed(7)
rng = np.random.default_rng(5)
n = 1200
colors = np.array(["red", "green", "blue", "black", "white"])
cities = np.array(["paris", "oslo", "rome", "lima", "kyiv", "pune", "nice"])
data = {
    "color": rng.choice(colors, n),
    "city": rng.choice(cities, n),
    "rooms": rng.integers(1, 7, n).astype("int64"),
    "area": rng.normal(80, 25, n).astype("float32"),
    "age": rng.uniform(0, 60, n).astype("float32"),
}
score = ((data["color"] == "red") * 1.5 + np.isin(data["city"], ["oslo", "lima"]) * 1.2
         + (data["rooms"] >= 4) * 1.0 + 0.02 * (data["area"] - 80) - 0.02 * (data["age"] - 30) - 1.3)
labels = (score + rng.normal(0, 0.3, n) > 0).astype("int64")
print("positive rate", labels.mean())

CATEGORICAL = {"color": list(colors), "city": list(cities), "rooms": list(range(1, 7))}
NUMERIC = ["area", "age"]

lookups = {}
for name, vocab in CATEGORICAL.items():
    if isinstance(vocab[0], str):
        lookups[name] = layers.StringLookup(vocabulary=vocab, num_oov_indices=1, name=f"{name}_lookup")
    else:
        lookups[name] = layers.IntegerLookup(vocabulary=vocab, num_oov_indices=1, name=f"{name}_lookup")
normalizers = {}
for name in NUMERIC:
    norm = layers.Normalization(axis=None, name=f"{name}_norm")
    norm.adapt(data[name])
    normalizers[name] = norm

assert lookups["color"].vocabulary_size() == 6
assert lookups["rooms"].vocabulary_size() == 7
assert lookups["city"]("rome").numpy() == 3
print(lookups["city"].get_vocabulary())


def preprocess(features, label):
    out = {}
    for name in CATEGORICAL:
        out[name] = lookups[name](features[name])
    for name in NUMERIC:
        out[name] = normalizers[name](features[name])
    return out, label


split = int(n * 0.8)
train = {k: v[:split] for k, v in data.items()}
val = {k: v[split:] for k, v in data.items()}
train_ds = (tf.data.Dataset.from_tensor_slices((train, labels[:split])).shuffle(split, seed=1)
            .batch(64).map(preprocess, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE))
val_ds = tf.data.Dataset.from_tensor_slices((val, labels[split:])).batch(64).map(preprocess)

for x, y in train_ds.take(1):
    assert x["color"].dtype == "int64", x["color"].dtype
    assert x["area"].shape == (64,), x["area"].shape

inputs, encoded = {}, []
for name in CATEGORICAL:
    inputs[name] = keras.Input(shape=(), name=name, dtype="int64")
    vocab_size = lookups[name].vocabulary_size()
    dim = int(math.sqrt(vocab_size)) + 1
    emb = layers.Embedding(input_dim=vocab_size, output_dim=dim, name=f"{name}_embedding")(inputs[name])
    encoded.append(emb)
for name in NUMERIC:
    inputs[name] = keras.Input(shape=(), name=name, dtype="float32")
    encoded.append(layers.Reshape((1,))(inputs[name]))
features = layers.Concatenate()(encoded)
x = layers.Dense(32, activation="relu")(features)
x = layers.Dropout(0.2)(x)
x = layers.Dense(16, activation="relu")(x)
output = layers.Dense(1, activation="sigmoid")(x)
model = keras.Model(inputs=inputs, outputs=output)
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy",
              metrics=["accuracy", keras.metrics.AUC(name="auc")])
assert model.get_layer("city_embedding").get_weights()[0].shape == (8, 3)
history = model.fit(train_ds, validation_data=val_ds, epochs=12, verbose=0)
print({k: round(v[-1], 3) for k, v in history.history.items()})
assert history.history["val_accuracy"][-1] > 0.85, history.history["val_accuracy"]
assert history.history["val_auc"][-1] > 0.9

# end-to-end model on raw features
raw_inputs = {
    "color": keras.Input(shape=(), name="color", dtype="string"),
    "city": keras.Input(shape=(), name="city", dtype="string"),
    "rooms": keras.Input(shape=(), name="rooms", dtype="int64"),
    "area": keras.Input(shape=(), name="area", dtype="float32"),
    "age": keras.Input(shape=(), name="age", dtype="float32"),
}
processed, _ = preprocess(raw_inputs, None)
end_to_end = keras.Model(raw_inputs, model(processed))

sample = {"color": np.array(["red", "black", "purple"]), "city": np.array(["oslo", "rome", "nowhere"]),
          "rooms": np.array([5, 1, 9]), "area": np.array([100.0, 50.0, 80.0], "float32"),
          "age": np.array([5.0, 55.0, 30.0], "float32")}
sample = {name: tf.convert_to_tensor(value) for name, value in sample.items()}
probs = end_to_end.predict(sample, verbose=0)
assert probs.shape == (3, 1), probs.shape
print("probabilities", probs.ravel())
assert probs[0, 0] > 0.8 and probs[1, 0] < 0.2, probs   # red/oslo/5 rooms vs black/rome/1 room

# the same as running the preprocessing by hand and the trained model
manual = model.predict(preprocess(sample, None)[0], verbose=0)
np.testing.assert_allclose(probs, manual, rtol=1e-5, atol=1e-6)

end_to_end.save("end_to_end.keras")
reloaded = keras.models.load_model("end_to_end.keras")
np.testing.assert_allclose(reloaded.predict(sample, verbose=0), probs, rtol=1e-5, atol=1e-6)
