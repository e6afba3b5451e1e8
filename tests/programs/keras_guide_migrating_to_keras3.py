"""Keras guide "Migrating Keras 2 code to multi-backend Keras 3" (Divyashree Sreepathihalli), as
one program with its imports changed: a tf.keras-2 custom layer rewritten with keras.ops and
add_weight, tf.nest replaced by keras.tree, a Lambda on ops (not saved: corenn never saves
Python code), SeedGenerator-driven randomness in
a layer, control flow with ops.cond / ops.while_loop / ops.fori_loop / ops.scan, a PyDataset
feeding fit, .keras saving of custom objects with register_keras_serializable and get_config,
and evaluate(return_dict=True)."""
import numpy as np

from corenn import keras
from corenn import ops

keras.utils.set_random_seed(1)


# -- A custom layer: tf ops -> keras.ops, tf.Variable -> add_weight ------------------------------
@keras.saving.register_keras_serializable(package="migration")
class MyDense(keras.layers.Layer):
    def __init__(self, units, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        input_dim = input_shape[-1]
        self.w = self.add_weight(shape=(input_dim, self.units), initializer="glorot_uniform", name="kernel",
                                 trainable=True)
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="bias", trainable=True)

    def call(self, inputs):
        # Keras 2: tf.matmul(inputs, self.w) + self.b
        return self.activation(ops.matmul(inputs, self.w) + self.b)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "activation": keras.activations.serialize(self.activation)})
        return config


# -- Randomness: Keras 3 layers draw from a SeedGenerator they own ---------------------------------
@keras.saving.register_keras_serializable(package="migration")
class RandomNoise(keras.layers.Layer):
    def __init__(self, stddev=0.1, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.stddev = stddev
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        if training:
            return inputs + keras.random.normal(ops.shape(inputs), stddev=self.stddev, seed=self.seed_generator)
        return inputs

    def get_config(self):
        config = super().get_config()
        config.update({"stddev": self.stddev, "seed": self.seed})
        return config


noise = RandomNoise(0.5, seed=3)
x = np.zeros((2, 4), "float32")
a, b = noise(x, training=True), noise(x, training=True)
assert not np.allclose(ops.convert_to_numpy(a), ops.convert_to_numpy(b))   # the generator advances
np.testing.assert_array_equal(ops.convert_to_numpy(noise(x)), x)            # inference: identity
g1, g2 = keras.random.SeedGenerator(42), keras.random.SeedGenerator(42)
np.testing.assert_array_equal(ops.convert_to_numpy(keras.random.uniform((3,), seed=g1)),
                              ops.convert_to_numpy(keras.random.uniform((3,), seed=g2)))

# -- tf.nest -> keras.tree ------------------------------------------------------------------------
structure = {"a": np.ones(2), "b": [np.zeros(1), (np.full(3, 2.0),)]}
flat = keras.tree.flatten(structure)
assert [f.shape for f in flat] == [(2,), (1,), (3,)]
doubled = keras.tree.map_structure(lambda t: t * 2, structure)
np.testing.assert_array_equal(doubled["b"][1][0], np.full(3, 4.0))
packed = keras.tree.pack_sequence_as(structure, [f + 1 for f in flat])
np.testing.assert_array_equal(packed["a"], np.full(2, 2.0))
assert keras.tree.is_nested(structure) and not keras.tree.is_nested(np.ones(2))

# -- Control flow with keras.ops --------------------------------------------------------------------
def halve_or_double(v):
    return ops.cond(ops.sum(v) > 0, lambda: v / 2, lambda: v * 2)


np.testing.assert_allclose(ops.convert_to_numpy(halve_or_double(ops.ones((3,)))), [0.5] * 3)
np.testing.assert_allclose(ops.convert_to_numpy(halve_or_double(-ops.ones((3,)))), [-2.0] * 3)
i, total = ops.while_loop(lambda i, t: i < 5, lambda i, t: (i + 1, t + i), (0, 0))
assert int(i) == 5 and int(total) == 10
fact = ops.fori_loop(1, 6, lambda k, acc: acc * k, 1)
assert int(fact) == 120


def cumulative(carry, xs):
    carry = carry + xs
    return carry, carry


last, running = ops.scan(cumulative, ops.zeros(()), ops.arange(1.0, 5.0))
np.testing.assert_allclose(ops.convert_to_numpy(running), [1, 3, 6, 10])
assert float(last) == 10.0

# -- A model with the migrated pieces, fed by a PyDataset -----------------------------------------
rng = np.random.default_rng(0)
X = rng.normal(size=(256, 8)).astype("float32")
true_w = rng.normal(size=(8, 1)).astype("float32")
Y = (X @ true_w > 0).astype("float32")


class DataSet(keras.utils.PyDataset):
    def __init__(self, x, y, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size = x, y, batch_size

    def __len__(self):
        return int(np.ceil(len(self.x) / self.batch_size))

    def __getitem__(self, idx):
        lo = idx * self.batch_size
        return self.x[lo:lo + self.batch_size], self.y[lo:lo + self.batch_size]


inputs = keras.Input(shape=(8,))
h = RandomNoise(0.05, seed=1)(inputs)
h = MyDense(16, activation="relu")(h)
h = keras.layers.ReLU(max_value=6.0)(h)
outputs = MyDense(1, activation="sigmoid")(h)
model = keras.Model(inputs, outputs)
model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy", metrics=["accuracy"],
              jit_compile=True)   # accepted; Keras 3 compiles per backend, corenn runs its kernels
history = model.fit(DataSet(X, Y, 32, workers=2), epochs=15, verbose=0)
assert history.history["loss"][-1] < history.history["loss"][0]
results = model.evaluate(X, Y, verbose=0, return_dict=True)
print(results)
assert set(results) == {"loss", "accuracy"} and results["accuracy"] > 0.85

# A Lambda written on keras.ops runs as in Keras 3. (corenn refuses to save one: its function
# would be Python code read back from a file; the model above uses ReLU(max_value=6) instead.)
clip6 = keras.layers.Lambda(lambda t: ops.clip(t, 0.0, 6.0), output_shape=(16,))
np.testing.assert_allclose(ops.convert_to_numpy(clip6(np.linspace(-2, 9, 16, dtype="float32")[None])),
                           np.clip(np.linspace(-2, 9, 16, dtype="float32"), 0, 6)[None])

# -- Saving: the .keras format with the custom objects registered ---------------------------------
model.save("migrated.keras")
restored = keras.saving.load_model("migrated.keras")
np.testing.assert_allclose(restored.predict(X[:16], verbose=0), model.predict(X[:16], verbose=0), rtol=1e-5)
assert isinstance(restored.layers[2], MyDense) and restored.layers[2].get_config()["units"] == 16
assert keras.saving.get_registered_name(MyDense) == "migration>MyDense"
