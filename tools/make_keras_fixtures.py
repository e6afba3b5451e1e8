"""Write the Keras model files that tests/interop reads: real files from real Keras 3.

Needs Keras 3 with a CPU backend and h5py, e.g.

    pip install torch   # a CPU build is enough
    pip install keras h5py
    KERAS_BACKEND=torch python tools/make_keras_fixtures.py [out_dir]

(``KERAS_BACKEND=jax`` with jax/jaxlib works as well.) The files go to
tests/interop/keras_fixtures/ by default. For each model <name> it writes

    <name>.keras           Keras 3's archive: config.json, metadata.json, model.weights.h5
    <name>.weights.h5      (some models) Keras 3's weights file, model.save_weights(...)
    <name>.h5              (some models) the legacy HDF5 full-model file, written by Keras 3's
                           model.save("<name>.h5") -- the format TF-Keras 2 wrote: attribute
                           model_config, group model_weights/<layer>/... with layer_names and
                           weight_names attributes
    <name>.expected.npz    the inputs the tests feed (x0, x1, ...) and Keras' prediction on them
                           (y), plain arrays saved with np.savez (no pickle)

Weights are set from a seeded generator (not left at their initial values: biases and
BatchNormalization statistics would be zeros and ones, and would test nothing). The test suite
never imports Keras: it reads these files only.
"""
import os
import sys

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "torch")
import keras  # noqa: E402
from keras import layers  # noqa: E402

RNG = np.random.default_rng(1234)


def randomize(model):
    """Every weight from the seeded generator; variances positive."""
    for w in model.weights:
        shape = tuple(w.shape)
        if "variance" in w.path:
            value = RNG.uniform(0.5, 1.5, shape)
        else:
            value = RNG.normal(0.0, 0.5, shape)
        w.assign(value.astype("float32"))


def mlp():
    return keras.Sequential([keras.Input((8,)), layers.Dense(16, activation="relu"),
                             layers.Dropout(0.2), layers.Dense(8, activation="tanh"),
                             layers.Dense(4, activation="softmax")], name="mlp"), \
        [RNG.normal(size=(5, 8))]


def cnn():
    return keras.Sequential([
        keras.Input((8, 8, 2)),
        layers.Conv2D(4, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(2),
        layers.BatchNormalization(),
        layers.Conv2D(3, (2, 3), strides=(1, 2), use_bias=False),
        layers.AveragePooling2D(pool_size=(1, 2), padding="same"),
        layers.Flatten(),
        layers.Dense(5),
        layers.Activation("sigmoid"),
    ], name="cnn"), [RNG.normal(size=(3, 8, 8, 2))]


def lstm():
    return keras.Sequential([keras.Input((6, 3)), layers.LSTM(5, return_sequences=True),
                             layers.LSTM(4), layers.Dense(2)], name="lstm"), \
        [RNG.normal(size=(4, 6, 3))]


def gru():
    return keras.Sequential([keras.Input((6, 3)), layers.GRU(5, return_sequences=True),
                             layers.GRU(4, reset_after=False), layers.Dense(2)], name="gru"), \
        [RNG.normal(size=(4, 6, 3))]


def bidirectional():
    return keras.Sequential([
        keras.Input((5, 3)),
        layers.Bidirectional(layers.LSTM(4, return_sequences=True)),
        layers.Bidirectional(layers.GRU(3), merge_mode="sum"),
        layers.Dense(2)], name="bidirectional"), [RNG.normal(size=(3, 5, 3))]


def embedding():
    x = RNG.integers(1, 20, size=(4, 7))
    x[0, 4:] = 0   # padding: masked by mask_zero
    x[2, 5:] = 0
    return keras.Sequential([keras.Input((7,), dtype="int32"),
                             layers.Embedding(20, 6, mask_zero=True),
                             layers.SimpleRNN(5, return_sequences=True),
                             layers.GlobalAveragePooling1D(),
                             layers.Dense(3)], name="embedding"), [x.astype("int32")]


def conv1d():
    return keras.Sequential([keras.Input((12, 3)), layers.Conv1D(4, 3, activation="relu"),
                             layers.MaxPooling1D(2), layers.Reshape((5, 4)),
                             layers.LayerNormalization(), layers.GlobalMaxPooling1D(),
                             layers.LeakyReLU(negative_slope=0.1), layers.Dense(2)],
                            name="conv1d"), [RNG.normal(size=(3, 12, 3))]


def residual():
    a = keras.Input((8,), name="a")
    b = keras.Input((6,), name="b")
    h = layers.Dense(8, activation="relu", name="hidden")(a)
    h = layers.Add(name="skip")([h, a])
    h = layers.LayerNormalization(name="norm")(h)
    c = layers.Concatenate(name="join")([h, b])
    m = layers.Multiply(name="gate")([layers.Dense(14, activation="sigmoid")(c), c])
    out = layers.Dense(3, name="out")(m)
    return keras.Model([a, b], out, name="residual"), \
        [RNG.normal(size=(4, 8)), RNG.normal(size=(4, 6))]


def lambda_model():
    """Serialized Python code: corenn must refuse it (the test checks the message)."""
    return keras.Sequential([keras.Input((3,)), layers.Lambda(lambda x: x * 2.0),
                             layers.Dense(2)], name="lambda_model"), [RNG.normal(size=(2, 3))]


def siamese():
    """One Dense layer called twice (a layer with two inbound nodes) and more merge layers."""
    a = keras.Input((5,), name="left")
    b = keras.Input((5,), name="right")
    tower = layers.Dense(6, activation="tanh", name="tower")
    ta, tb = tower(a), tower(b)
    diff = layers.Subtract(name="diff")([ta, tb])
    big = layers.Maximum(name="big")([ta, tb])
    mean = layers.Average(name="mean")([diff, big])
    out = layers.Dense(2, activation="softmax", name="out")(mean)
    return keras.Model([a, b], out, name="siamese"), \
        [RNG.normal(size=(4, 5)), RNG.normal(size=(4, 5))]


def trained():
    """Compiled and trained: the files also hold the optimizer's state (Adam's moments)."""
    model = keras.Sequential([keras.Input((4,)), layers.Dense(6, activation="relu"),
                              layers.BatchNormalization(), layers.Dense(2)], name="trained")
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    return model, [RNG.normal(size=(5, 4))]


MODELS = {"mlp": (mlp, ("keras", "weights", "h5")), "cnn": (cnn, ("keras", "weights", "h5")),
          "lstm": (lstm, ("keras", "h5")), "gru": (gru, ("keras", "weights", "h5")),
          "bidirectional": (bidirectional, ("keras", "weights", "h5")),
          "embedding": (embedding, ("keras", "weights")), "conv1d": (conv1d, ("keras", "h5")),
          "residual": (residual, ("keras", "weights", "h5")),
          "lambda_model": (lambda_model, ("keras",)),
          "siamese": (siamese, ("keras", "weights", "h5")),
          "trained": (trained, ("keras", "weights", "h5"))}


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    for name, (make, kinds) in MODELS.items():
        model, inputs = make()
        randomize(model)
        if model.compiled:   # a few Adam steps: optimizer state in the files, BN statistics moved
            x = RNG.normal(size=(16,) + tuple(model.inputs[0].shape[1:])).astype("float32")
            model.fit(x, RNG.normal(size=(16,) + tuple(model.outputs[0].shape[1:])),
                      epochs=2, batch_size=8, verbose=0)
        inputs = [x if x.dtype.kind == "i" else x.astype("float32") for x in inputs]
        y = keras.ops.convert_to_numpy(model(inputs if len(inputs) > 1 else inputs[0], training=False))
        base = os.path.join(out_dir, name)
        if "keras" in kinds:
            model.save(base + ".keras")
        if "weights" in kinds:
            model.save_weights(base + ".weights.h5")
        if "h5" in kinds:
            model.save(base + ".h5")   # Keras 3 writes the legacy (TF-Keras 2) HDF5 format
        np.savez(base + ".expected.npz", y=np.asarray(y, "float32"),
                 **{f"x{i}": x for i, x in enumerate(inputs)})
        print(name, [f for f in sorted(os.listdir(out_dir)) if f.startswith(name + ".")])
    print("keras", keras.__version__, "backend", keras.backend.backend())


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    main(sys.argv[1] if len(sys.argv) > 1 else
         os.path.join(here, "..", "tests", "interop", "keras_fixtures"))
