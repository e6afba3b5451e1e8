"""Write the Keras model files that tests/interop reads: real files from real Keras 3.

Needs Keras 3 with a CPU backend and h5py, e.g.

    pip install torch   # a CPU build is enough
    pip install keras h5py
    KERAS_BACKEND=torch python tools/make_keras_fixtures.py [out_dir]

(``KERAS_BACKEND=jax`` with jax/jaxlib works as well. ``float64_mlp`` needs
``KERAS_BACKEND=tensorflow``: Keras' torch backend computes parts of a float64 model in float32.) The files go to
tests/interop/keras_fixtures/ by default. ``--only name,name`` writes only those models.

``--tf-keras`` writes the TF-Keras 2 files instead (``TFOpLambda`` ops, nested models, compiled
models with their optimizer state), with tensorflow and tf_keras installed:

    python tools/make_keras_fixtures.py --tf-keras [out_dir]

Compiled models (``compiled_*``) also get the inputs and targets of one more training step
(``step_x``, ``step_y``) and every weight after Keras took that step (``next_0``, ``next_1``, ...,
in ``model.get_weights()`` order): a model loaded compiled must take the same step. For each model <name> it writes

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
import zlib

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow" if "--tf-keras" in sys.argv else "torch")
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
        w.assign(value.astype("float64" if str(w.dtype) == "float64" else "float32"))


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


def ops_model():
    """Keras 3 operations on KerasTensors (serialized as keras.src.ops classes)."""
    from keras import ops
    a = keras.Input((6, 4), name="a")
    x = ops.squeeze(ops.expand_dims(a, -1) + 1.0, -1)
    first, mean = x[:, 0], ops.mean(x, axis=1)
    c = ops.concatenate([first, mean], axis=-1)
    c = keras.activations.tanh(ops.relu(c * 2.0 - ops.concatenate([mean, first], axis=-1)))
    s = ops.sum(ops.transpose(x, (0, 2, 1)), axis=-1)
    w = ops.reshape(x, (-1, 24))
    out = layers.Dense(3)(ops.concatenate([c, s, w[:, :5], x[..., 1:3, 0]], axis=1))
    return keras.Model(a, out, name="ops_model"), [RNG.normal(size=(3, 6, 4))]


def nested():
    """A Sequential block and a functional base used as layers of a functional model."""
    block = keras.Sequential([keras.Input((6,)), layers.Dense(6, activation="tanh")], name="block")
    base_in = keras.Input((6,))
    base = keras.Model(base_in, layers.Dense(5, activation="relu")(layers.BatchNormalization()(base_in)),
                       name="base")
    a = keras.Input((6,), name="a")
    out = layers.Dense(2, name="head")(base(block(a)))
    return keras.Model(a, out, name="nested"), [RNG.normal(size=(4, 6))]


def nested_sequential():
    inner = keras.Sequential([keras.Input((4,)), layers.BatchNormalization(), layers.Dense(3)], name="inner")
    return keras.Sequential([keras.Input((4,)), inner, layers.Dense(2)], name="nested_sequential"), \
        [RNG.normal(size=(3, 4))]


OPTIMIZERS = {"adam": lambda k: k.optimizers.Adam(learning_rate=0.01),
              "sgd": lambda k: k.optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
              "rmsprop": lambda k: k.optimizers.RMSprop(learning_rate=0.01, momentum=0.5, centered=True),
              "adamw": lambda k: k.optimizers.AdamW(learning_rate=0.01, weight_decay=0.05)}


def compiled(optimizer, k=keras):
    """A compiled model trained a few steps with ``optimizer`` (its state is in the files)."""
    model = k.Sequential([k.Input((4,)), k.layers.Dense(6, activation="relu"), k.layers.Dense(2)],
                         name=f"compiled_{optimizer}")
    model.compile(optimizer=OPTIMIZERS[optimizer](k), loss="mse", metrics=["mae"])
    return model, [RNG.normal(size=(5, 4))]


# written with a generator seeded by the name: adding one leaves the others' files as they are
@keras.saving.register_keras_serializable(package="CorennFixtures")
class Scale(layers.Layer):
    """A registered custom layer with a weight of its own (tests/interop defines the same class)."""

    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

    def call(self, x):
        return x * self.w * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class Block(layers.Layer):
    """An unregistered custom layer holding layers (Keras groups their weights by attribute)."""

    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.d1 = layers.Dense(units, activation="relu")
        self.d2 = layers.Dense(3)
        self.norm = layers.LayerNormalization()

    def call(self, x):
        return self.norm(self.d2(self.d1(x)) + x[..., :3])

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def custom_layers():
    """Custom layer classes: the loading program provides them (registered / custom_objects)."""
    inp = keras.Input((5,))
    out = layers.Dense(2, name="head")(Block(6, name="block")(Scale(3.0, name="scale")(inp)))
    return keras.Model(inp, out, name="custom_layers"), [RNG.normal(size=(4, 5))]


def applications_layers():
    """What real keras.applications files hold: a shortcut convolution called before the main
    branch (ResNet's block: Keras lists layers in another order than they are called), an adapted
    Normalization (its count is an int32 weight: EfficientNet), and the applications' own layers
    ConvNeXt LayerScale and InceptionResNetV2 CustomScaleLayer (module keras.src.applications)."""
    from keras.src.applications.convnext import LayerScale
    from keras.src.applications.inception_resnet_v2 import CustomScaleLayer
    i = keras.Input((6, 6, 3))
    norm = layers.Normalization(name="norm")
    norm.adapt(RNG.normal(2.0, 3.0, size=(32, 6, 6, 3)).astype("float32"))
    x = norm(i)
    shortcut = layers.Conv2D(8, 1, name="block_0_conv")(x)
    h = layers.Conv2D(4, 1, name="block_1_conv")(x)
    h = layers.Conv2D(8, 3, padding="same", name="block_2_conv")(h)
    h = LayerScale(0.5, 8, name="layer_scale")(h)
    x = CustomScaleLayer(0.17, name="scaled_sum")([shortcut, h])
    out = layers.GlobalAveragePooling2D()(layers.Conv2D(5, 1, name="block_3_conv")(x))
    return keras.Model(i, out, name="applications_layers"), [RNG.normal(size=(3, 6, 6, 3))]


def text_model():
    """Adapted lookup layers (needs Keras' TensorFlow backend, whose TextVectorization /
    StringLookup / IntegerLookup are built on tf): their vocabularies are assets of the archive
    (assets/layers/<group>/vocabulary.txt), and the Embedding(mask_zero=True) mask reaches
    GlobalAveragePooling1D as a NotEqual op and a mask= call argument in the config."""
    texts = np.array(["the cat sat on the mat", "a dog barked", "the quick brown fox", "cats and dogs"])
    tv = layers.TextVectorization(max_tokens=20, output_sequence_length=6, name="tv")
    tv.adapt(texts)
    words = keras.Input((1,), dtype="string", name="words")
    tags = keras.Input((3,), dtype="string", name="tags")
    ids = keras.Input((3,), dtype="int64", name="ids")
    sl = layers.StringLookup(name="sl")
    sl.adapt(np.array([["a", "b", "c"], ["c", "a", "a"]]))
    il = layers.IntegerLookup(name="il")
    il.adapt(np.array([[5, 7, 9], [9, 9, 5]], np.int64))
    x = layers.GlobalAveragePooling1D()(layers.Embedding(20, 4, mask_zero=True)(tv(words)))
    out = layers.Concatenate()([layers.Dense(2)(x),
                                layers.CategoryEncoding(num_tokens=5, output_mode="multi_hot")(sl(tags)),
                                layers.CategoryEncoding(num_tokens=5, output_mode="count")(il(ids))])
    return keras.Model([words, tags, ids], out, name="text_model"), \
        [np.array([["the cat barked"], ["unknown words here"], ["a quick fox"]]),
         np.array([["a", "c", "z"], ["b", "b", "a"], ["c", "c", "c"]]),
         np.array([[5, 9, 1], [7, 7, 7], [9, 5, 3]], np.int64)]


def dict_outputs():
    """Named outputs (a dict), compiled with a loss, a loss weight and metrics per output."""
    i = keras.Input((6,), name="inp")
    h = layers.Dense(8, activation="relu", name="hidden")(i)
    model = keras.Model(i, {"cls": layers.Dense(3, name="cls")(h), "reg": layers.Dense(1, name="reg")(h)},
                        name="dict_outputs")
    model.compile(optimizer="rmsprop", loss={"cls": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                                             "reg": "mse"},
                  loss_weights={"cls": 1.0, "reg": 0.5},
                  metrics={"cls": ["accuracy"], "reg": [keras.metrics.MeanAbsoluteError()]})
    return model, [RNG.normal(size=(5, 6))]


def attention():
    """A Transformer-style block: MultiHeadAttention (causal, called with key=), GroupQueryAttention,
    LayerNormalization(rms_scaling=True) (Keras' std scaling), SpectralNormalization, Discretization.
    Keras keeps the attention projections in named sub-layers (query_dense, ... / _query_dense)."""
    q = keras.Input((6, 8), name="q")
    v = keras.Input((5, 8), name="v")
    a = layers.MultiHeadAttention(num_heads=2, key_dim=4, name="mha")(q, v, key=v)
    s = layers.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=2, name="self_mha")(q, q, use_causal_mask=True)
    g = layers.GroupQueryAttention(head_dim=4, num_query_heads=4, num_key_value_heads=2, name="gqa")(q, v)
    h = layers.Add(name="sum")([q, a, s, g])
    h = layers.LayerNormalization(rms_scaling=True, name="norm")(h)
    h = layers.SpectralNormalization(layers.Dense(4), name="sn")(h)
    out = layers.Concatenate(name="out")([h, layers.Discretization(bin_boundaries=[-0.5, 0.0, 0.5],
                                                                    name="bins")(h)])
    return keras.Model([q, v], out, name="attention"), \
        [RNG.normal(size=(3, 6, 8)), RNG.normal(size=(3, 5, 8))]


def quantized():
    """Post-training int8 quantization (model.quantize("int8"), after randomize): Embedding,
    EinsumDense and Dense in their int8 form, int8 datasets in the archive, QuantizedDTypePolicy in the config;
    LayerNormalization, which Keras does not quantize, stays float."""
    x = RNG.integers(0, 12, size=(6, 5))
    return keras.Sequential([keras.Input((5,), dtype="int32"), layers.Embedding(12, 8),
                             layers.EinsumDense("abc,cd->abd", (5, 6), bias_axes="d", activation="relu"),
                             layers.Flatten(), layers.Dense(16, activation="relu"), layers.LayerNormalization(),
                             layers.Dense(4, activation="softmax")], name="quantized"), [x.astype("int32")]


@keras.saving.register_keras_serializable(package="CorennFixtures")
class QuantScale(layers.Layer):
    """The keras.io guide's SimpleScale (writing_quantization_compatible_layers): a user layer
    with its own int8 hooks and variable store (tests/interop defines the same class)."""

    def build(self, input_shape):
        if self.quantization_mode == "int8":
            self._int8_build((input_shape[-1],))
        else:
            self._kernel = self.add_weight(name="kernel", shape=(input_shape[-1],), initializer="random_uniform")

    def call(self, inputs, training=None):
        return keras.ops.multiply(inputs, self._kernel)

    def quantize(self, mode, **kwargs):
        if mode != "int8":
            raise NotImplementedError(f"Unsupported quantization mode: {mode}")
        q, scale = keras.quantizers.abs_max_quantize(self._kernel, axis=0, dtype="int8", to_numpy=True)
        shape = self._kernel.shape
        del self._kernel
        self._int8_build(shape)
        self._kernel.assign(q)
        self.scale.assign(keras.ops.squeeze(scale, axis=0))
        self._is_quantized = True
        if self.dtype_policy.quantization_mode is None:
            self.dtype_policy = keras.dtype_policies.get(f"{mode}_from_{self.dtype_policy.name}")

    def _int8_build(self, shape):
        self._kernel = self.add_weight(name="kernel", shape=shape, initializer="zeros", dtype="int8",
                                       trainable=False)
        self.scale = self.add_weight(name="scale", initializer="ones", trainable=False)

    def _int8_call(self, inputs, training=None):
        return keras.ops.divide(keras.ops.multiply(inputs, self._kernel), self.scale)

    def save_own_variables(self, store):
        if self.built:
            store["0"] = self._kernel
            if self.quantization_mode == "int8":
                store["1"] = self.scale

    def load_own_variables(self, store):
        if self.built:
            self._kernel.assign(store["0"])
            if self.quantization_mode == "int8":
                self.scale.assign(store["1"])


def custom_quantized_layer():
    """A user layer quantized by its own hooks (QuantScale) before an int8 Dense: the layer's
    QuantizedDTypePolicy in its config, its own store (int8 kernel, scale) in the archive."""
    return keras.Sequential([keras.Input((4,)), QuantScale(name="scale"), layers.Dense(3)],
                            name="custom_quantized_layer"), [RNG.normal(size=(5, 4))]


def quantized_int4(block_size):
    """Post-training int4 quantization (model.quantize("int4"), after randomize; Keras 3.15:
    weight-only, packed int4 kernels, per group of ``block_size`` rows with a zero point, or per
    channel for -1): Embedding, EinsumDense and Dense; LayerNormalization stays float."""
    x = RNG.integers(0, 12, size=(6, 5))
    model = keras.Sequential([keras.Input((5,), dtype="int32"), layers.Embedding(12, 8),
                              layers.EinsumDense("abc,cd->abd", (5, 6), bias_axes="d", activation="relu"),
                              layers.Flatten(), layers.Dense(16, activation="relu"), layers.LayerNormalization(),
                              layers.Dense(4, activation="softmax")], name=f"quantized_int4_{block_size}")
    model._int4_block_size = block_size   # read by main, which quantizes after randomize
    return model, [x.astype("int32")]


def weights_layout(name):
    """A model of tests/interop/keras_weights_models.py (custom layers' own variables, models
    cut out of a backbone), built from the same class code the test builds with corenn: only
    its weights file (<name>.weights.h5) and expected.npz are written."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "interop"))
    import keras_weights_models
    make, sample = keras_weights_models.builders(keras)[name]
    return make(), [RNG.normal(size=(3,) + sample)]


WEIGHTS_LAYOUTS = ("own_variables", "own_variables_subclassed", "backbone_cuts", "backbone_blocks")

def float64_mlp():
    """Layers of dtype float64 (weights and computation), a float64 Input: values to float64's
    precision. (Dense only: Keras' torch backend computes LayerNormalization partly in float32.)"""
    model = keras.Sequential([keras.Input((5,), dtype="float64"),
                              layers.Dense(8, activation="tanh", dtype="float64"),
                              layers.Dropout(0.1, dtype="float64"),
                              layers.Dense(6, activation="sigmoid", dtype="float64"),
                              layers.Dense(2, dtype="float64")])
    return model, [RNG.normal(size=(4, 5))]


NEW_MODELS = {"ops_model": (ops_model, ("keras",)), "nested": (nested, ("keras", "h5")),
              "attention": (attention, ("keras", "weights")),
              "custom_layers": (custom_layers, ("keras",)),
              "dict_outputs": (dict_outputs, ("keras",)),
              "text_model": (text_model, ("keras",)),   # KERAS_BACKEND=tensorflow (tf lookup layers)
              "applications_layers": (applications_layers, ("keras", "weights")),
              "nested_sequential": (nested_sequential, ("keras", "h5")),
              "quantized": (quantized, ("keras",)),
              "custom_quantized_layer": (custom_quantized_layer, ("keras",)),
              "float64_mlp": (float64_mlp, ("keras", "weights")),
              "quantized_int4_128": ((lambda: quantized_int4(128)), ("keras",)),
              "quantized_int4_b3": ((lambda: quantized_int4(3)), ("keras",)),
              "quantized_int4_pc": ((lambda: quantized_int4(-1)), ("keras",)),
              **{f"compiled_{opt}": ((lambda opt=opt: compiled(opt)), ("keras",)) for opt in OPTIMIZERS},
              **{name: ((lambda name=name: weights_layout(name)), ("weights",)) for name in WEIGHTS_LAYOUTS}}


def train_and_step(model, k=keras):
    """A few steps of fit (optimizer state in the files, BN statistics moved), then the
    arrays of one more step: {step_x, step_y, next_<i>}, the step taken after saving."""
    x = RNG.normal(size=(16,) + tuple(model.inputs[0].shape[1:])).astype("float32")
    model.fit(x, RNG.normal(size=(16,) + tuple(model.outputs[0].shape[1:])), epochs=2, batch_size=8,
              verbose=0)

    def step():
        sx = RNG.normal(size=(8,) + tuple(model.inputs[0].shape[1:])).astype("float32")
        sy = RNG.normal(size=(8,) + tuple(model.outputs[0].shape[1:])).astype("float32")
        model.train_on_batch(sx, sy)
        return {"step_x": sx, "step_y": sy,
                **{f"next_{i}": np.asarray(w, "float32") for i, w in enumerate(model.get_weights())}}
    return step


def main(out_dir, only=None):
    global RNG
    os.makedirs(out_dir, exist_ok=True)
    for name, (make, kinds) in {**MODELS, **NEW_MODELS}.items():
        if name in NEW_MODELS:
            if only and name not in only:
                continue   # seeded per name: skipping it changes no other model's draws
            RNG = np.random.default_rng(zlib.crc32(name.encode()))
        model, inputs = make()
        if only and name not in only:
            continue
        randomize(model)
        step = train_and_step(model) if name.startswith("compiled_") else None
        if name in ("quantized", "custom_quantized_layer"):
            model.quantize("int8")
        if name.startswith("quantized_int4"):
            model.quantize("int4", config=keras.quantizers.Int4QuantizationConfig(block_size=model._int4_block_size))
        if name == "dict_outputs":   # targets per output name: a class and a value
            model.fit(RNG.normal(size=(16, 6)).astype("float32"),
                      {"cls": RNG.integers(0, 3, 16), "reg": RNG.normal(size=(16, 1)).astype("float32")},
                      epochs=2, batch_size=8, verbose=0)
        elif model.compiled and step is None:   # a few Adam steps: optimizer state in the files, BN statistics moved
            x = RNG.normal(size=(16,) + tuple(model.inputs[0].shape[1:])).astype("float32")
            model.fit(x, RNG.normal(size=(16,) + tuple(model.outputs[0].shape[1:])),
                      epochs=2, batch_size=8, verbose=0)
        wide = name.startswith("float64")   # float64 inputs and prediction, kept as float64
        inputs = [x if x.dtype.kind in "iU" or wide else x.astype("float32") for x in inputs]
        fed = inputs
        if any(x.dtype.kind == "U" for x in inputs):   # string tensors: the TensorFlow backend's
            import tensorflow as tf
            fed = [tf.constant(x) for x in inputs]
        y = model(fed if len(fed) > 1 else fed[0], training=False)
        outs = {f"y_{k}": keras.ops.convert_to_numpy(v) for k, v in y.items()} if isinstance(y, dict) else {}
        y = keras.ops.convert_to_numpy(next(iter(y.values()))) if outs else keras.ops.convert_to_numpy(y)
        base = os.path.join(out_dir, name)
        if "keras" in kinds:
            model.save(base + ".keras")
        if "weights" in kinds:
            model.save_weights(base + ".weights.h5")
        if "h5" in kinds:
            model.save(base + ".h5")   # Keras 3 writes the legacy (TF-Keras 2) HDF5 format
        np.savez(base + ".expected.npz", y=np.asarray(y, "float64" if wide else "float32"), **outs,
                 **{f"x{i}": x for i, x in enumerate(inputs)}, **(step() if step else {}))
        print(name, [f for f in sorted(os.listdir(out_dir)) if f.startswith(name + ".")])
    print("keras", keras.__version__, "backend", keras.backend.backend())


def tf_keras_main(out_dir):
    """The TF-Keras 2 files (legacy HDF5, written by tf_keras): <name>.h5 and its expected.npz."""
    global RNG
    import tensorflow as tf
    import tf_keras as tk

    def tf_ops():
        a = tk.Input((6, 4), name="a")
        x = tf.squeeze(tf.expand_dims(a, -1) + 1.0, -1)
        first, mean = x[:, 0], tf.math.reduce_mean(x, axis=1)
        c = tf.nn.relu(tf.concat([first, mean], axis=-1) * 2.0 - tf.concat([mean, first], axis=-1))
        s = tf.reduce_sum(tf.transpose(x, (0, 2, 1)), axis=-1)
        w = tf.reshape(x, (-1, 24))
        out = tk.layers.Dense(3)(tf.concat([c, s, w[:, :5], x[..., 1:3, 0]], axis=1))
        return tk.Model(a, out, name="tf_ops"), [RNG.normal(size=(3, 6, 4))]

    def tf_nested():
        block = tk.Sequential([tk.Input((6,)), tk.layers.Dense(6, activation="tanh")], name="block")
        base_in = tk.Input((6,))
        base = tk.Model(base_in, tk.layers.Dense(5, activation="relu")(
            tk.layers.BatchNormalization()(base_in)), name="base")
        a = tk.Input((6,), name="a")
        return tk.Model(a, tk.layers.Dense(2, name="head")(base(block(a))), name="tf_nested"), \
            [RNG.normal(size=(4, 6))]

    def tf_layers():
        """TF-Keras 2's configs of layers Keras 3 writes otherwise: MultiHeadAttention (query_shape,
        its call's value as a keyword in the node), Conv2DTranspose (groups), SeparableConv1D (the
        base Conv's kernel_* options)."""
        q = tk.Input((6, 4), name="q")
        img = tk.Input((5, 5, 2), name="img")
        a = tk.layers.MultiHeadAttention(num_heads=2, key_dim=3, name="mha")(q, q)
        sep = tk.layers.SeparableConv1D(3, 3, padding="same", name="sep")(a)
        up = tk.layers.Flatten()(tk.layers.Conv2DTranspose(2, 3, strides=2, name="up")(img))
        out = tk.layers.Concatenate()([tk.layers.Flatten()(sep), up])
        return tk.Model([q, img], out, name="tf_layers"), [RNG.normal(size=(3, 6, 4)), RNG.normal(size=(3, 5, 5, 2))]

    def tf_bins():
        """Discretization, whose TF-Keras 2 config names its int64 output dtype."""
        return tk.Sequential([tk.Input((5,)), tk.layers.Discretization(bin_boundaries=[-0.5, 0.0, 0.5])],
                             name="tf_bins"), [RNG.normal(size=(4, 5))]

    def tf_applications_layers():
        """TF-Keras 2's applications layers: CustomScaleLayer (written 'Custom>CustomScaleLayer')
        and ConvNeXt's LayerScale, after a shortcut convolution called before the main branch."""
        from tf_keras.src.applications.convnext import LayerScale
        from tf_keras.src.applications.inception_resnet_v2 import CustomScaleLayer
        i = tk.Input((5, 5, 3))
        shortcut = tk.layers.Conv2D(6, 1, name="block_0_conv")(i)
        h = tk.layers.Conv2D(6, 3, padding="same", name="block_1_conv")(i)
        h = LayerScale(0.5, 6, name="layer_scale")(h)
        out = tk.layers.GlobalAveragePooling2D()(CustomScaleLayer(0.17, name="scaled_sum")([shortcut, h]))
        return tk.Model(i, out, name="tf_applications_layers"), [RNG.normal(size=(3, 5, 5, 3))]

    models = {"tf_ops": tf_ops, "tf_nested": tf_nested, "tf_layers": tf_layers, "tf_bins": tf_bins,
              "tf_applications_layers": tf_applications_layers,
              **{f"tf_compiled_{opt}": (lambda opt=opt: compiled(opt, tk)) for opt in OPTIMIZERS}}
    for name, make in models.items():
        RNG = np.random.default_rng(zlib.crc32(name.encode()))
        model, inputs = make()
        model.set_weights([RNG.uniform(0.5, 1.5, w.shape) if "variance" in w.name else
                           RNG.normal(0.0, 0.5, w.shape) for w in model.weights])
        step = train_and_step(model, tk) if name.startswith("tf_compiled_") else None
        inputs = [x.astype("float32") for x in inputs]
        y = model(inputs if len(inputs) > 1 else inputs[0], training=False).numpy()
        model.save(os.path.join(out_dir, name + ".h5"))
        np.savez(os.path.join(out_dir, name + ".expected.npz"), y=y, **{f"x{i}": x for i, x in enumerate(inputs)},
                 **(step() if step else {}))
        print(name)
    print("tf_keras", tk.__version__, "tensorflow", tf.__version__)


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    args = sys.argv[1:]
    only = None
    if "--only" in args:
        i = args.index("--only")
        only = set(args[i + 1].split(","))
        del args[i:i + 2]
    legacy = "--tf-keras" in args
    args = [a for a in args if a != "--tf-keras"]
    out = args[0] if args else os.path.join(here, "..", "tests", "interop", "keras_fixtures")
    if legacy:
        tf_keras_main(out)
    else:
        main(out, only)
