"""Structured data with the hashing and binning preprocessing layers, as the preprocessing-layers
guide's recipes and keras.io's structured-data examples use them: `Discretization` adapted to a
numeric column's quantiles, `Hashing` of a high-cardinality string column (the salted variant
too), `HashedCrossing` of two categorical columns (a feature cross), `CategoryEncoding` one-hot /
multi-hot; the encoded features feed a wide-and-deep functional model trained with fit. Hash
buckets are compared with the values TensorFlow's Keras gives (FarmHash fingerprints). Only the
imports changed."""
import numpy as np

from corenn import keras
from corenn.keras import layers

keras.utils.set_random_seed(4)

# the hash values Keras (TensorFlow 2.21) gives for these inputs
hashing = layers.Hashing(num_bins=8)
h = np.asarray(hashing(np.array([["cat"], ["dog"], ["bird"], ["fish"]])))
assert h.ravel().tolist() == [0, 0, 4, 2], h.ravel().tolist()
salted = layers.Hashing(num_bins=8, salt=133)
hs = np.asarray(salted(np.array([["cat"], ["dog"], ["bird"], ["fish"]])))
assert hs.ravel().tolist() == [5, 6, 5, 6], hs.ravel().tolist()
cross = layers.HashedCrossing(num_bins=16)
hc = np.asarray(cross((np.array(["A", "B", "A", "C"]), np.array([1, 2, 2, 3]))))
assert hc.ravel().tolist() == [11, 6, 15, 11], hc.ravel().tolist()

# Discretization: adapt learns quantile boundaries
disc = layers.Discretization(num_bins=4)
ages = np.random.default_rng(0).uniform(18, 80, 400).astype("float32")
disc.adapt(ages)
bins = np.asarray(disc(ages))
counts = np.bincount(bins.astype(int), minlength=4)
assert counts.min() > 60, counts                    # roughly equal-frequency bins

# synthetic tabular data: label depends on the (city, plan) cross and the age band
rng = np.random.default_rng(1)
n = 1200
cities = np.array([f"city_{i}" for i in range(40)])
city = cities[rng.integers(0, 40, n)]
plan = rng.integers(0, 3, n)
age = rng.uniform(18, 80, n).astype("float32")
city_id = np.array([int(c.split("_")[1]) for c in city])
label = (((city_id % 2) == (plan == 1)) ^ (age > 50)).astype("float32")

city_in = keras.Input(shape=(1,), dtype="string", name="city")
plan_in = keras.Input(shape=(1,), dtype="int32", name="plan")
age_in = keras.Input(shape=(1,), name="age")

city_hash = layers.Hashing(num_bins=64, name="city_hash")(city_in)
city_onehot = layers.CategoryEncoding(num_tokens=64, output_mode="one_hot")(city_hash)
plan_onehot = layers.CategoryEncoding(num_tokens=3, output_mode="one_hot")(plan_in)
age_disc = layers.Discretization(bin_boundaries=[30.0, 40.0, 50.0, 60.0, 70.0])
age_bin = layers.CategoryEncoding(num_tokens=6, output_mode="one_hot")(age_disc(age_in))
crossed = layers.HashedCrossing(num_bins=256, output_mode="one_hot", name="city_x_plan")((city_hash, plan_in))

wide = layers.concatenate([crossed, age_bin])
deep = layers.concatenate([city_onehot, plan_onehot, age_bin])
deep = layers.Dense(32, activation="relu")(deep)
deep = layers.Dense(16, activation="relu")(deep)
merged = layers.concatenate([wide, deep])
out = layers.Dense(1, activation="sigmoid")(merged)
model = keras.Model([city_in, plan_in, age_in], out)
model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy", metrics=["accuracy"])
data = {"city": city.reshape(-1, 1), "plan": plan.reshape(-1, 1).astype("int32"), "age": age.reshape(-1, 1)}
hist = model.fit(data, label, batch_size=64, epochs=12, validation_split=0.2, verbose=0)
print("val accuracy", [round(a, 3) for a in hist.history["val_accuracy"][::3]])
assert hist.history["loss"][-1] < hist.history["loss"][0]
assert hist.history["val_accuracy"][-1] > 0.85, hist.history["val_accuracy"]
