"""Subclassed layers, a custom regularizer, constraint, activation and model registered with
`keras.saving.register_keras_serializable`, each with `get_config`, a layer that owns a nested
sublayer serialized with `keras.saving.serialize_keras_object`, then saved to .keras and loaded
back without `custom_objects`; `from_config(get_config())` and `clone_model` rebuild the same
architecture. As the serialization guide and the layers API pages write it; only the imports changed."""
import numpy as np
from corenn import keras
from corenn.keras import layers, ops


@keras.saving.register_keras_serializable(package="sweep")
class L1Capped(keras.regularizers.Regularizer):
    def __init__(self, l1=0.01, cap=1.0):
        self.l1 = l1
        self.cap = cap

    def __call__(self, x):
        return ops.minimum(self.l1 * ops.sum(ops.abs(x)), self.cap)

    def get_config(self):
        return {"l1": float(self.l1), "cap": float(self.cap)}


@keras.saving.register_keras_serializable(package="sweep")
class ClipNorm(keras.constraints.Constraint):
    def __init__(self, max_value=2.0):
        self.max_value = max_value

    def __call__(self, w):
        norms = ops.sqrt(ops.sum(ops.square(w), axis=0, keepdims=True))
        return w * ops.minimum(1.0, self.max_value / (norms + 1e-7))

    def get_config(self):
        return {"max_value": self.max_value}


@keras.saving.register_keras_serializable(package="sweep")
def scaled_tanh(x):
    return 1.7159 * ops.tanh(2.0 / 3.0 * x)


@keras.saving.register_keras_serializable(package="sweep")
class GatedDense(layers.Layer):
    def __init__(self, units, activation=None, kernel_regularizer=None, kernel_constraint=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.activation = keras.activations.get(activation)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)

    def build(self, input_shape):
        d = input_shape[-1]
        self.kernel = self.add_weight(shape=(d, 2 * self.units), initializer="glorot_uniform",
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint, name="kernel")
        self.bias = self.add_weight(shape=(2 * self.units,), initializer="zeros", name="bias")

    def call(self, inputs):
        h = ops.matmul(inputs, self.kernel) + self.bias
        value, gate = ops.split(h, 2, axis=-1)
        return self.activation(value) * ops.sigmoid(gate)

    def compute_output_shape(self, input_shape):
        return input_shape[:-1] + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
            "activation": keras.activations.serialize(self.activation),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
        })
        return config


@keras.saving.register_keras_serializable(package="sweep")
class ResidualBlock(layers.Layer):
    """Owns a sublayer passed in by the caller: serialized into its own config."""

    def __init__(self, inner, dropout=0.1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(inner, dict):
            inner = keras.saving.deserialize_keras_object(inner)
        self.inner = inner
        self.dropout = layers.Dropout(dropout)
        self.norm = layers.LayerNormalization()
        self.rate = dropout

    def call(self, x, training=False):
        return self.norm(x + self.dropout(self.inner(x), training=training))

    def get_config(self):
        config = super().get_config()
        config.update({"inner": keras.saving.serialize_keras_object(self.inner), "dropout": self.rate})
        return config


@keras.saving.register_keras_serializable(package="sweep")
class Classifier(keras.Model):
    def __init__(self, hidden=16, num_classes=3, **kwargs):
        super().__init__(**kwargs)
        self.hidden = hidden
        self.num_classes = num_classes
        self.gated = GatedDense(hidden, activation=scaled_tanh, kernel_regularizer=L1Capped(1e-3, 0.5),
                                kernel_constraint=ClipNorm(2.0))
        self.block = ResidualBlock(GatedDense(hidden, activation="relu"), dropout=0.1)
        self.head = layers.Dense(num_classes, activation="softmax")

    def call(self, x, training=False):
        return self.head(self.block(self.gated(x), training=training))

    def get_config(self):
        return {**super().get_config(), "hidden": self.hidden, "num_classes": self.num_classes}


assert keras.saving.get_registered_name(GatedDense) == "sweep>GatedDense"
assert keras.saving.get_registered_object("sweep>scaled_tanh") is scaled_tanh

keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = rng.normal(size=(600, 8)).astype("float32")
y = np.argmax(x[:, :3] + 0.3 * x[:, 3:6], axis=1)

model = Classifier(hidden=16, num_classes=3)
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
history = model.fit(x, y, epochs=15, batch_size=32, verbose=0, validation_split=0.2)
print("accuracy", history.history["accuracy"][-1], "val", history.history["val_accuracy"][-1])
assert history.history["val_accuracy"][-1] > 0.8
assert len(model.losses) == 1 and 0 < float(model.losses[0]) <= 0.5     # the regularizer's penalty
col_norms = np.sqrt((model.gated.kernel.numpy() ** 2).sum(axis=0))
assert col_norms.max() <= 2.0 + 1e-4, col_norms.max()                   # the constraint held

config = model.gated.get_config()
assert config["activation"] == "sweep>scaled_tanh" or "scaled_tanh" in str(config["activation"]), config
clone = GatedDense.from_config(config)
assert isinstance(clone.kernel_regularizer, L1Capped) and clone.kernel_regularizer.cap == 0.5
assert isinstance(clone.kernel_constraint, ClipNorm)
probe = np.linspace(-3, 3, 7).astype("float32")
np.testing.assert_allclose(ops.convert_to_numpy(clone.activation(probe)), 1.7159 * np.tanh(2 / 3 * probe), rtol=1e-5)

block_config = model.block.get_config()
block_copy = ResidualBlock.from_config(block_config)
assert isinstance(block_copy.inner, GatedDense) and block_copy.inner.units == 16

expected = model.predict(x[:20], verbose=0)
model.save("classifier.keras")
loaded = keras.models.load_model("classifier.keras")
assert isinstance(loaded, Classifier) and isinstance(loaded.block.inner, GatedDense)
np.testing.assert_allclose(loaded.predict(x[:20], verbose=0), expected, rtol=1e-5, atol=1e-6)
assert isinstance(loaded.gated.kernel_constraint, ClipNorm)

# a functional model using the custom layers, reloaded and cloned
inp = keras.Input((8,))
out = layers.Dense(3, activation="softmax")(ResidualBlock(GatedDense(8), name="res")(GatedDense(8, name="g")(inp)))
functional = keras.Model(inp, out)
functional.save("functional.keras")
again = keras.models.load_model("functional.keras")
np.testing.assert_allclose(again.predict(x[:5], verbose=0), functional.predict(x[:5], verbose=0), rtol=1e-5, atol=1e-6)
cloned = keras.models.clone_model(functional)
assert [type(l).__name__ for l in cloned.layers] == [type(l).__name__ for l in functional.layers]
assert cloned.get_layer("res").inner is not functional.get_layer("res").inner

# the model's config names nothing unregistered: reloading inside an empty custom_object_scope works
with keras.saving.custom_object_scope({}):
    again = keras.models.load_model("classifier.keras")
np.testing.assert_allclose(again.predict(x[:20], verbose=0), expected, rtol=1e-5, atol=1e-6)
