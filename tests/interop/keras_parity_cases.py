"""The cases of the Keras parity fixture (tests/interop/keras_fixtures/parity.npz), shared by
its generator (tools/make_keras_parity_fixture.py, run with Keras 3 on the torch backend) and
tests/interop/test_keras_parity.py (run with corenn): the same code builds each case with either
framework's ``keras`` module.

- LAYER_CASES: a layer class with arguments, its input shapes and call arguments. Keras' weights
  go into corenn's layer by set_weights; the outputs and the gradients of sum(y * r) (r seeded)
  with respect to the inputs and the trainable weights must agree.
- OPTIMIZERS: a two-layer classifier from fixed weights, fit 5 epochs without shuffling; the loss
  history and the final weights must agree.
- LOSSES / METRICS: values (and the gradient with respect to y_pred) with and without sample
  weights; metric results after two update_state calls, the second weighted.
- FIT_MODELS: small functional and Sequential models (conv + batch norm, masked LSTM, per-step
  bidirectional GRU, a Transformer block, multi-input multi-output with loss weights, an
  autoencoder, regularizers, ConvLSTM2D) fit 2 epochs from Keras' initial weights.
- OPS_VALUES / OPS_GRADS: keras.ops expressions over the arrays of ops_env(); their values
  (compared as numbers; truth values must be bools on both sides, and integer results must have
  Keras' dtype, int32 indices and counts, but for the few cases test_keras_parity.INT_DTYPE_DIFFERS
  names; corenn's float results are float32 where Keras computes in float64 / float16, see
  the README) and the gradients of sum(out * r) with respect to
  every float input the expression names.

Left out, each for a reason: Activation('sparsemax'), asymmetric 'same' AveragePooling2D and
bicubic Resizing (Keras' torch backend differs from TensorFlow there, and corenn follows
TensorFlow; their own tests check them), Hashing / HashedCrossing / IntegerLookup (Keras runs them on
TensorFlow only), OneHotMeanIoU / MeanIoU with fractional weights (Keras 3.15 truncates them: 0.0 on its own docstring example);
among the ops, pad(mode='reflect') with a scalar width and where(condition) alone (the torch
backend's shapes differ from NumPy's, which corenn follows), argpartition (the order within a
part is unspecified), sparsemax (Keras' torch backend is wrong: 0 for [0.5, 1.2, -0.3, 1.0]),
and the gradients of pad(mode='symmetric') and of the cross-entropies of probabilities (Keras'
torch backend differs; corenn's match finite differences of the values both compute).
"""
import numpy as np

LAYER_CASES = []


def c(cls, kw=None, shape=(4, 8), name=None, call=None, dtype="float32", integer=None, fill_rows=None):
    """``fill_rows``: (rows, value): those rows of the first input set to value (Masking's masked samples)."""
    LAYER_CASES.append(dict(name=name or f"{len(LAYER_CASES):03d}_{cls}", cls=cls, kw=kw or {}, shape=shape,
                            call=call or {}, dtype=dtype, integer=integer, fill_rows=fill_rows))


# core
c("Dense", dict(units=5)); c("Dense", dict(units=5, activation="tanh", use_bias=False), shape=(2, 3, 8))
c("EinsumDense", dict(equation="ab,bc->ac", output_shape=6, bias_axes="c"))
c("EinsumDense", dict(equation="abc,cde->abde", output_shape=(None, 3, 4), bias_axes="de"), shape=(2, 5, 8))
c("Embedding", dict(input_dim=20, output_dim=4), shape=(3, 5), integer=20)
c("Identity", {})
# activations
for a in ["ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax"]: c(a, {})
c("ReLU", dict(max_value=0.5, negative_slope=0.1, threshold=0.2))
c("Activation", dict(activation="gelu")); c("Activation", dict(activation="silu")); c("Activation", dict(activation="selu"))
c("Activation", dict(activation="softplus")); c("Activation", dict(activation="hard_sigmoid")); c("Activation", dict(activation="mish"))
c("Activation", dict(activation="log_softmax")); c("Activation", dict(activation="relu6")); c("Activation", dict(activation="hard_silu"))
c("Activation", dict(activation="softsign")); c("Activation", dict(activation="exponential")); c("Activation", dict(activation="linear"))
c("Activation", dict(activation="celu")); 
c("Activation", dict(activation="tanh_shrink")); c("Activation", dict(activation="hard_tanh")); c("Activation", dict(activation="soft_shrink"))
c("Activation", dict(activation="hard_shrink")); c("Activation", dict(activation="squareplus")); c("Activation", dict(activation="log_sigmoid"))
# conv
c("Conv1D", dict(filters=4, kernel_size=3), shape=(2, 9, 3)); c("Conv1D", dict(filters=4, kernel_size=3, padding="causal", dilation_rate=2), shape=(2, 9, 3))
c("Conv1D", dict(filters=6, kernel_size=3, strides=2, padding="same", groups=3), shape=(2, 9, 6))
c("Conv2D", dict(filters=4, kernel_size=3), shape=(2, 7, 7, 3)); c("Conv2D", dict(filters=4, kernel_size=(3, 2), strides=2, padding="same"), shape=(2, 7, 8, 3))
c("Conv2D", dict(filters=4, kernel_size=3, dilation_rate=2, padding="same", groups=2), shape=(2, 8, 8, 4))
c("Conv3D", dict(filters=2, kernel_size=2), shape=(1, 4, 5, 6, 3))
c("Conv1DTranspose", dict(filters=3, kernel_size=3, strides=2), shape=(2, 5, 4))
c("Conv2DTranspose", dict(filters=3, kernel_size=3, strides=2, padding="same"), shape=(2, 5, 5, 4))
c("Conv2DTranspose", dict(filters=3, kernel_size=4, strides=2), shape=(2, 5, 5, 4))
c("Conv2DTranspose", dict(filters=3, kernel_size=3, strides=2, output_padding=1), shape=(2, 5, 5, 4))
c("Conv3DTranspose", dict(filters=2, kernel_size=2, strides=2), shape=(1, 3, 3, 3, 2))
c("DepthwiseConv2D", dict(kernel_size=3, depth_multiplier=2), shape=(2, 6, 6, 3))
c("DepthwiseConv1D", dict(kernel_size=3, padding="same"), shape=(2, 6, 3))
c("SeparableConv2D", dict(filters=5, kernel_size=3, depth_multiplier=2), shape=(2, 6, 6, 3))
c("SeparableConv1D", dict(filters=5, kernel_size=3), shape=(2, 6, 3))
# pooling
for p in ["MaxPooling1D", "AveragePooling1D"]: c(p, dict(pool_size=2), shape=(2, 7, 3)); c(p, dict(pool_size=3, strides=2, padding="same"), shape=(2, 7, 3))
for p in ["MaxPooling2D", "AveragePooling2D"]: c(p, dict(pool_size=2), shape=(2, 7, 7, 3)); c(p, dict(pool_size=3, strides=2, padding="same"), shape=(2, 7, 7, 3))
for p in ["MaxPooling3D", "AveragePooling3D"]: c(p, dict(pool_size=2), shape=(1, 4, 5, 4, 2))
for p in ["GlobalMaxPooling1D", "GlobalAveragePooling1D"]: c(p, {}, shape=(2, 7, 3)); c(p, dict(keepdims=True), shape=(2, 7, 3))
for p in ["GlobalMaxPooling2D", "GlobalAveragePooling2D"]: c(p, {}, shape=(2, 5, 5, 3))
for p in ["GlobalMaxPooling3D", "GlobalAveragePooling3D"]: c(p, {}, shape=(1, 3, 3, 3, 2))
# recurrent
for r in ["SimpleRNN", "LSTM", "GRU"]:
    c(r, dict(units=4), shape=(2, 5, 3)); c(r, dict(units=4, return_sequences=True, go_backwards=True), shape=(2, 5, 3))
c("GRU", dict(units=4, reset_after=False), shape=(2, 5, 3))
c("LSTM", dict(units=4, unit_forget_bias=False, activation="relu"), shape=(2, 5, 3))
c("Bidirectional", dict(layer=("LSTM", dict(units=3, return_sequences=True))), shape=(2, 5, 3))
c("Bidirectional", dict(layer=("GRU", dict(units=3)), merge_mode="sum"), shape=(2, 5, 3))
c("ConvLSTM1D", dict(filters=2, kernel_size=3), shape=(1, 3, 6, 2))
c("ConvLSTM2D", dict(filters=2, kernel_size=3, padding="same"), shape=(1, 3, 5, 5, 2))
c("TimeDistributed", dict(layer=("Dense", dict(units=3))), shape=(2, 4, 5))
# normalization
c("BatchNormalization", {}, shape=(4, 6)); c("BatchNormalization", dict(axis=1, center=False), shape=(2, 3, 4, 4))
c("LayerNormalization", {}, shape=(2, 5, 6)); c("LayerNormalization", dict(axis=[1, 2], scale=False), shape=(2, 5, 6))
c("LayerNormalization", dict(rms_scaling=True), shape=(2, 5, 6))
c("GroupNormalization", dict(groups=2), shape=(2, 4, 4, 6))
c("UnitNormalization", {}, shape=(3, 6))
c("RMSNormalization", {}, shape=(3, 6))
c("SpectralNormalization", dict(layer=("Dense", dict(units=3))), shape=(2, 5))
# attention
c("MultiHeadAttention", dict(num_heads=2, key_dim=3), shape=[(2, 4, 6), (2, 5, 6)])
c("MultiHeadAttention", dict(num_heads=2, key_dim=3, value_dim=2, output_shape=7, use_bias=False), shape=[(2, 4, 6), (2, 5, 6)])
c("GroupQueryAttention", dict(head_dim=3, num_query_heads=4, num_key_value_heads=2), shape=[(2, 4, 6), (2, 5, 6)])
c("Attention", {}, shape=[(2, 4, 6), (2, 5, 6)]); c("Attention", dict(use_scale=True, score_mode="concat"), shape=[(2, 4, 6), (2, 5, 6)])
c("AdditiveAttention", {}, shape=[(2, 4, 6), (2, 5, 6)])
# reshaping
c("Flatten", {}, shape=(2, 3, 4)); c("Reshape", dict(target_shape=(2, -1)), shape=(2, 3, 4)); c("Permute", dict(dims=(2, 1)), shape=(2, 3, 4))
c("RepeatVector", dict(n=3), shape=(2, 4)); c("Cropping1D", dict(cropping=(1, 2)), shape=(2, 6, 3))
c("Cropping2D", dict(cropping=((1, 0), (2, 1))), shape=(2, 6, 6, 3)); c("Cropping3D", dict(cropping=1), shape=(1, 4, 4, 4, 2))
c("ZeroPadding1D", dict(padding=2), shape=(2, 4, 3)); c("ZeroPadding2D", dict(padding=((1, 0), (0, 2))), shape=(2, 4, 4, 3))
c("ZeroPadding3D", dict(padding=1), shape=(1, 2, 2, 2, 2))
c("UpSampling1D", dict(size=2), shape=(2, 4, 3)); c("UpSampling2D", dict(size=2), shape=(2, 3, 3, 2))
c("UpSampling2D", dict(size=2, interpolation="bilinear"), shape=(2, 3, 3, 2)); c("UpSampling3D", dict(size=2), shape=(1, 2, 2, 2, 2))
# merging
for m in ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"]: c(m, {}, shape=[(2, 4), (2, 4)])
c("Concatenate", {}, shape=[(2, 3), (2, 4)]); c("Concatenate", dict(axis=1), shape=[(2, 3, 4), (2, 2, 4)])
c("Dot", dict(axes=1), shape=[(2, 4), (2, 4)]); c("Dot", dict(axes=(1, 2), normalize=True), shape=[(2, 3, 4), (2, 5, 3)])
# preprocessing-ish / numeric
c("Rescaling", dict(scale=1 / 255.0, offset=-1.0)); c("CenterCrop", dict(height=3, width=4), shape=(2, 6, 6, 3))
c("Resizing", dict(height=5, width=3), shape=(2, 6, 6, 3)); c("Resizing", dict(height=5, width=3, interpolation="nearest"), shape=(2, 6, 6, 3))
c("Resizing", dict(height=4, width=4, crop_to_aspect_ratio=True), shape=(2, 6, 8, 3))
c("Discretization", dict(bin_boundaries=[-0.5, 0.0, 0.5]))
c("CategoryEncoding", dict(num_tokens=6, output_mode="multi_hot"), shape=(3, 4), integer=6)
c("CategoryEncoding", dict(num_tokens=6, output_mode="count"), shape=(3, 4), integer=6)
# noise (inference = identity)
for n in ["Dropout", "GaussianNoise", "GaussianDropout", "AlphaDropout", "SpatialDropout1D"]:
    kw = dict(rate=0.3) if n != "GaussianNoise" else dict(stddev=0.3)
    c(n, kw, shape=(2, 4, 3))
c("ActivityRegularization", dict(l1=0.1))

# options and call arguments
c("MultiHeadAttention", dict(num_heads=2, key_dim=3), shape=[(2, 4, 6), (2, 4, 6)], call=dict(use_causal_mask=True))
c("MultiHeadAttention", dict(num_heads=2, key_dim=3), shape=[(2, 4, 6), (2, 5, 6)], call=dict(attention_mask=("mask", (2, 4, 5))))
c("MultiHeadAttention", dict(num_heads=3, key_dim=2, attention_axes=(1,)), shape=[(2, 4, 6), (2, 5, 6)])
c("MultiHeadAttention", dict(num_heads=2, key_dim=2, attention_axes=(1, 2)), shape=[(2, 3, 4, 6), (2, 3, 4, 6)])
c("GroupQueryAttention", dict(head_dim=3, num_query_heads=4, num_key_value_heads=2), shape=[(2, 4, 6), (2, 4, 6)], call=dict(use_causal_mask=True))
c("Attention", dict(), shape=[(2, 4, 6), (2, 4, 6)], call=dict(use_causal_mask=True))
c("LSTM", dict(units=4, return_sequences=True), shape=(2, 5, 3), call=dict(mask=("mask", (2, 5))))
c("GRU", dict(units=4), shape=(2, 5, 3), call=dict(mask=("mask", (2, 5))))
c("SimpleRNN", dict(units=4, return_sequences=True, go_backwards=True), shape=(2, 5, 3), call=dict(mask=("mask", (2, 5))))
c("GlobalAveragePooling1D", {}, shape=(2, 5, 3), call=dict(mask=("mask", (2, 5))))
c("BatchNormalization", dict(momentum=0.5), shape=(6, 4), call=dict(training=True))
c("BatchNormalization", dict(), shape=(3, 4, 4, 2), call=dict(training=True))
c("GroupNormalization", dict(groups=3, axis=-1, epsilon=0.01), shape=(2, 5, 6))
c("GroupNormalization", dict(groups=-1), shape=(2, 5, 6))
c("Conv2D", dict(filters=3, kernel_size=3, data_format="channels_first"), shape=(2, 4, 6, 6))
c("Conv1D", dict(filters=3, kernel_size=2, strides=2, dilation_rate=1, padding="valid", activation="relu"), shape=(2, 9, 4))
c("Conv2D", dict(filters=3, kernel_size=(1, 5), padding="same"), shape=(2, 5, 9, 2))
c("Conv2DTranspose", dict(filters=2, kernel_size=3, dilation_rate=2), shape=(2, 4, 4, 3))
c("Conv2DTranspose", dict(filters=2, kernel_size=(2, 3), strides=(1, 2), padding="same"), shape=(2, 4, 5, 3))
c("Conv1DTranspose", dict(filters=2, kernel_size=4, strides=3, padding="same"), shape=(2, 4, 3))
c("DepthwiseConv2D", dict(kernel_size=3, strides=2, padding="same"), shape=(2, 7, 7, 3))
c("DepthwiseConv2D", dict(kernel_size=3, dilation_rate=2), shape=(2, 7, 7, 3))
c("SeparableConv2D", dict(filters=4, kernel_size=3, strides=2, padding="same"), shape=(2, 7, 7, 3))
c("MaxPooling2D", dict(pool_size=2, data_format="channels_first"), shape=(2, 3, 6, 6))
c("AveragePooling1D", dict(pool_size=3, strides=1, padding="same"), shape=(2, 6, 3))
c("GlobalAveragePooling2D", dict(data_format="channels_first", keepdims=True), shape=(2, 3, 4, 4))
c("Bidirectional", dict(layer=("LSTM", dict(units=3)), merge_mode="concat"), shape=(2, 5, 3), call=dict(mask=("mask", (2, 5))))
c("Bidirectional", dict(layer=("SimpleRNN", dict(units=3, return_sequences=True)), merge_mode="mul"), shape=(2, 5, 3))
c("Bidirectional", dict(layer=("GRU", dict(units=3, return_sequences=True)), merge_mode="ave"), shape=(2, 5, 3))
c("ConvLSTM2D", dict(filters=2, kernel_size=3, return_sequences=True), shape=(1, 3, 5, 5, 2))
c("Conv3D", dict(filters=2, kernel_size=(2, 3, 1), strides=(1, 2, 1), padding="same"), shape=(1, 4, 5, 3, 2))
c("UpSampling2D", dict(size=(2, 3), interpolation="bilinear"), shape=(2, 3, 4, 2))
c("UpSampling2D", dict(size=2, data_format="channels_first"), shape=(2, 2, 3, 3))
c("Embedding", dict(input_dim=10, output_dim=3, mask_zero=True), shape=(2, 5), integer=10)
c("Dense", dict(units=3, kernel_regularizer="l2"), shape=(2, 3, 4, 5))
c("EinsumDense", dict(equation="abcd,de->abce", output_shape=(None, None, 4), bias_axes="e", activation="relu"), shape=(2, 3, 4, 5))
c("PReLU", dict(shared_axes=[1, 2]), shape=(2, 3, 3, 4))
c("LeakyReLU", dict(negative_slope=0.2)); c("ELU", dict(alpha=0.5)); c("Softmax", dict(axis=1), shape=(2, 3, 4))
c("Softmax", dict(), shape=(2, 4), call=dict(mask=("mask", (2, 4))))
c("Dot", dict(axes=(2, 2)), shape=[(2, 3, 4), (2, 5, 4)])
c("Concatenate", dict(axis=-1), shape=[(2, 3, 4), (2, 3, 2), (2, 3, 1)])
c("Add", {}, shape=[(2, 3, 4), (2, 3, 4), (2, 3, 4)])
c("Reshape", dict(target_shape=(-1, 2, 2)), shape=(2, 4, 3))
c("Permute", dict(dims=(3, 1, 2)), shape=(2, 3, 4, 5))
c("Flatten", dict(data_format="channels_first"), shape=(2, 3, 4, 5))
c("Cropping2D", dict(cropping=1, data_format="channels_first"), shape=(2, 3, 6, 6))
c("ZeroPadding2D", dict(padding=1, data_format="channels_first"), shape=(2, 3, 4, 4))
c("TimeDistributed", dict(layer=("Conv2D", dict(filters=2, kernel_size=3))), shape=(2, 3, 5, 5, 1))
c("RepeatVector", dict(n=1), shape=(2, 5))
c("SpatialDropout2D", dict(rate=0.5), shape=(2, 4, 4, 3))
c("RandomFlip", dict(mode="horizontal"), shape=(2, 4, 4, 3), call=dict(training=False))
# eighteenth session: glu halves the last axis; Masking of (batch, features) masks whole samples
c("Activation", dict(activation="glu")); c("Activation", dict(activation="glu"), shape=(2, 3, 6))
c("Masking", dict(mask_value=0.5), fill_rows=((0, 2), 0.5))


# Layers whose call takes the data only (no training flag), as Keras' preprocessing layers.
_NO_TRAINING = ("Rescaling", "CenterCrop", "Resizing", "Discretization", "CategoryEncoding", "ActivityRegularization")


def make_layer(keras, case):
    def build(spec):
        if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str):
            return getattr(keras.layers, spec[0])(**{k: build(v) for k, v in spec[1].items()})
        return spec
    return getattr(keras.layers, case["cls"])(**{k: build(v) for k, v in case["kw"].items()})


def layer_inputs(case, seed):
    rng = np.random.default_rng(seed)
    shapes = case["shape"] if isinstance(case["shape"], list) else [case["shape"]]
    if case["integer"]:
        return [rng.integers(0, case["integer"], s).astype("int32") for s in shapes]
    xs = [rng.standard_normal(s).astype("float32") for s in shapes]
    if case.get("fill_rows"):
        rows, value = case["fill_rows"]
        xs[0][list(rows)] = value
    return xs


def _call_kwargs(case):
    out = {}
    for k, v in case["call"].items():
        if isinstance(v, tuple) and v and v[0] == "mask":
            out[k] = np.random.default_rng(7).random(v[1]) > 0.3
        else:
            out[k] = v
    return out


def call_layer(layer, case, xs):
    n, kw = case["cls"], _call_kwargs(case)
    if len(xs) == 1:
        if kw:
            return layer(xs[0], **kw)
        return layer(xs[0]) if n in _NO_TRAINING else layer(xs[0], training=False)
    if n in ("MultiHeadAttention", "GroupQueryAttention"):
        return layer(xs[0], xs[1], **kw)
    return layer(list(xs), **kw)


def optimizers(keras):
    O, S = keras.optimizers, keras.optimizers.schedules
    return {
        "sgd": lambda: O.SGD(0.05), "sgd_momentum": lambda: O.SGD(0.05, momentum=0.9),
        "sgd_nesterov": lambda: O.SGD(0.05, momentum=0.9, nesterov=True),
        "sgd_weight_decay": lambda: O.SGD(0.05, weight_decay=0.01),
        "adam": lambda: O.Adam(0.01), "adam_amsgrad": lambda: O.Adam(0.01, amsgrad=True),
        "adamw": lambda: O.AdamW(0.01, weight_decay=0.1), "rmsprop": lambda: O.RMSprop(0.01),
        "rmsprop_centered": lambda: O.RMSprop(0.01, centered=True, momentum=0.5),
        "adagrad": lambda: O.Adagrad(0.1), "adadelta": lambda: O.Adadelta(1.0), "adamax": lambda: O.Adamax(0.01),
        "nadam": lambda: O.Nadam(0.01),
        "ftrl": lambda: O.Ftrl(0.1, l1_regularization_strength=0.01, l2_regularization_strength=0.01),
        "lion": lambda: O.Lion(0.001), "adafactor": lambda: O.Adafactor(0.01), "lamb": lambda: O.Lamb(0.01),
        "muon": lambda: O.Muon(0.01),
        "adam_clipnorm": lambda: O.Adam(0.01, clipnorm=0.1), "adam_clipvalue": lambda: O.Adam(0.01, clipvalue=0.01),
        "adam_global_clipnorm": lambda: O.Adam(0.01, global_clipnorm=0.1),
        "sgd_ema": lambda: O.SGD(0.05, use_ema=True, ema_momentum=0.9),
        "adam_exponential_decay": lambda: O.Adam(S.ExponentialDecay(0.01, 5, 0.5)),
        "sgd_cosine_warmup": lambda: O.SGD(S.CosineDecay(0.05, 20, warmup_target=0.1, warmup_steps=5)),
        "adam_accumulation": lambda: O.Adam(0.01, gradient_accumulation_steps=2),
    }


def optimizer_problem():
    """x, y and the classifier's initial weights (6 -> 8 tanh -> 3 logits)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 6)).astype("float32")
    y = rng.integers(0, 3, 64)
    w0 = [rng.standard_normal((6, 8)).astype("float32") * 0.4, rng.standard_normal(8).astype("float32") * 0.1,
          rng.standard_normal((8, 3)).astype("float32") * 0.4, rng.standard_normal(3).astype("float32") * 0.1]
    return x, y, w0


def optimizer_model(keras, w0):
    m = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(3)])
    m.set_weights(w0)
    return m


def _targets():
    rng = np.random.default_rng(0)
    n, k = 6, 4
    logits = rng.standard_normal((n, k)).astype("float32")
    prob = (np.exp(logits) / np.exp(logits).sum(1, keepdims=True)).astype("float32")
    sig = (1 / (1 + np.exp(-logits))).astype("float32")
    lab = rng.integers(0, k, n)
    onehot = np.eye(k, dtype="float32")[lab]
    binary = (rng.random((n, k)) > 0.5).astype("float32")
    reg = rng.standard_normal((n, k)).astype("float32")
    pos = np.abs(reg) + 0.1
    weights = rng.random(n).astype("float32")
    seq_lab, seq_logits = rng.integers(0, k, (n, 3)), rng.standard_normal((n, 3, k)).astype("float32")
    return dict(logits=logits, prob=prob, sig=sig, lab=lab, onehot=onehot, binary=binary, reg=reg,
                rev=reg[::-1].copy(), pos=pos, pos_rev=pos[::-1].copy(), prob_rev=prob[::-1].copy(),
                pm1=binary * 2 - 1, weights=weights, seq_lab=seq_lab, seq_logits=seq_logits,
                lab_rev=lab[::-1].copy())


TARGETS = _targets()

# name: (class name, arguments, y_true key, y_pred key)
LOSSES = {
    "mse": ("MeanSquaredError", {}, "reg", "rev"), "mae": ("MeanAbsoluteError", {}, "reg", "rev"),
    "mape": ("MeanAbsolutePercentageError", {}, "pos", "pos_rev"),
    "msle": ("MeanSquaredLogarithmicError", {}, "pos", "pos_rev"),
    "huber": ("Huber", dict(delta=0.7), "reg", "rev"), "logcosh": ("LogCosh", {}, "reg", "rev"),
    "cce": ("CategoricalCrossentropy", {}, "onehot", "prob"),
    "cce_logits_smoothing": ("CategoricalCrossentropy", dict(from_logits=True, label_smoothing=0.1), "onehot", "logits"),
    "scce": ("SparseCategoricalCrossentropy", {}, "lab", "prob"),
    "scce_logits": ("SparseCategoricalCrossentropy", dict(from_logits=True), "lab", "logits"),
    "scce_ignore_class": ("SparseCategoricalCrossentropy", dict(from_logits=True, ignore_class=1), "lab", "logits"),
    "bce": ("BinaryCrossentropy", {}, "binary", "sig"),
    "bce_logits_smoothing": ("BinaryCrossentropy", dict(from_logits=True, label_smoothing=0.2), "binary", "logits"),
    "binary_focal": ("BinaryFocalCrossentropy", dict(gamma=2.0), "binary", "sig"),
    "binary_focal_balanced": ("BinaryFocalCrossentropy", dict(apply_class_balancing=True, alpha=0.3, from_logits=True),
                              "binary", "logits"),
    "categorical_focal": ("CategoricalFocalCrossentropy", {}, "onehot", "prob"),
    "kld": ("KLDivergence", {}, "prob_rev", "prob"), "poisson": ("Poisson", {}, "pos", "pos_rev"),
    "cosine": ("CosineSimilarity", {}, "reg", "rev"), "hinge": ("Hinge", {}, "pm1", "reg"),
    "squared_hinge": ("SquaredHinge", {}, "pm1", "reg"), "categorical_hinge": ("CategoricalHinge", {}, "onehot", "reg"),
    "tversky": ("Tversky", {}, "binary", "sig"), "dice": ("Dice", {}, "binary", "sig"),
    "mse_sum": ("MeanSquaredError", dict(reduction="sum"), "reg", "rev"),
    "mse_none": ("MeanSquaredError", dict(reduction="none"), "reg", "rev"),
    "circle": ("Circle", {}, "lab", "reg"),
}

METRICS = {
    "accuracy": ("Accuracy", {}, "lab", "lab_rev"), "categorical_accuracy": ("CategoricalAccuracy", {}, "onehot", "prob"),
    "sparse_categorical_accuracy": ("SparseCategoricalAccuracy", {}, "lab", "prob"),
    "binary_accuracy": ("BinaryAccuracy", dict(threshold=0.4), "binary", "sig"),
    "top_k": ("TopKCategoricalAccuracy", dict(k=2), "onehot", "prob"),
    "sparse_top_k": ("SparseTopKCategoricalAccuracy", dict(k=2), "lab", "prob"),
    "auc": ("AUC", {}, "binary", "sig"), "auc_pr": ("AUC", dict(curve="PR", num_thresholds=50), "binary", "sig"),
    "auc_multi_label": ("AUC", dict(multi_label=True), "binary", "sig"),
    "precision": ("Precision", {}, "binary", "sig"), "recall_thresholds": ("Recall", dict(thresholds=[0.3, 0.6]), "binary", "sig"),
    "precision_top_k": ("Precision", dict(top_k=2), "binary", "sig"), "recall_class": ("Recall", dict(class_id=1), "binary", "sig"),
    "true_positives": ("TruePositives", {}, "binary", "sig"), "false_negatives": ("FalseNegatives", dict(thresholds=0.3), "binary", "sig"),
    "precision_at_recall": ("PrecisionAtRecall", dict(recall=0.5), "binary", "sig"),
    "recall_at_precision": ("RecallAtPrecision", dict(precision=0.5), "binary", "sig"),
    "sensitivity_at_specificity": ("SensitivityAtSpecificity", dict(specificity=0.5), "binary", "sig"),
    "specificity_at_sensitivity": ("SpecificityAtSensitivity", dict(sensitivity=0.5), "binary", "sig"),
    "mse": ("MeanSquaredError", {}, "reg", "rev"), "rmse": ("RootMeanSquaredError", {}, "reg", "rev"),
    "mae": ("MeanAbsoluteError", {}, "reg", "rev"), "mape": ("MeanAbsolutePercentageError", {}, "pos", "pos_rev"),
    "msle": ("MeanSquaredLogarithmicError", {}, "pos", "pos_rev"), "cosine": ("CosineSimilarity", {}, "reg", "rev"),
    "logcosh": ("LogCoshError", {}, "reg", "rev"), "kld": ("KLDivergence", {}, "prob_rev", "prob"),
    "poisson": ("Poisson", {}, "pos", "pos_rev"), "hinge": ("Hinge", {}, "pm1", "reg"),
    "squared_hinge": ("SquaredHinge", {}, "pm1", "reg"), "categorical_hinge": ("CategoricalHinge", {}, "onehot", "reg"),
    "cce": ("CategoricalCrossentropy", {}, "onehot", "prob"),
    "scce": ("SparseCategoricalCrossentropy", dict(from_logits=True), "lab", "logits"),
    "bce": ("BinaryCrossentropy", dict(label_smoothing=0.1), "binary", "sig"),
    "f1_macro": ("F1Score", dict(average="macro", threshold=0.5), "binary", "sig"),
    "fbeta_weighted": ("FBetaScore", dict(beta=2.0, average="weighted"), "binary", "sig"),
    "f1_per_class": ("F1Score", {}, "onehot", "prob"), "r2": ("R2Score", {}, "reg", "rev"),
    "r2_adjusted": ("R2Score", dict(num_regressors=2, class_aggregation="variance_weighted_average"), "reg", "rev"),
    "pearson": ("PearsonCorrelation", {}, "reg", "rev"), "concordance": ("ConcordanceCorrelation", {}, "reg", "rev"),
}


def fit_models(keras):
    """name: builder() -> (model, loss, x, y, compile arguments, fit sample weights or None). Each
    builder draws its data from its own seeded generator."""
    L = keras.layers

    def cnn(rng):
        # no conv bias before the batch norm: its gradient is rounding noise, which Adam's
        # normalised step turns into lr-sized moves of either sign
        i = keras.Input((10, 10, 2))
        x = L.ReLU()(L.BatchNormalization()(L.Conv2D(6, 3, padding="same", use_bias=False)(i)))
        x = L.GlobalAveragePooling2D()(L.Conv2D(8, 3, activation="relu")(L.MaxPooling2D()(x)))
        return (keras.Model(i, L.Dense(3, activation="softmax")(x)), "sparse_categorical_crossentropy",
                rng.standard_normal((32, 10, 10, 2)).astype("float32"), rng.integers(0, 3, 32),
                dict(metrics=["accuracy"]), np.linspace(0.5, 1.5, 32).astype("float32"))

    def lstm_mask(rng):
        i = keras.Input((7,), dtype="int32")
        x = L.LSTM(6)(L.Embedding(12, 5, mask_zero=True)(i))
        ids = rng.integers(1, 12, (32, 7))
        ids[::3, 4:] = 0
        ids[1::4, :2] = 0
        return (keras.Model(i, L.Dense(1, activation="sigmoid")(x)), "binary_crossentropy", ids.astype("int32"),
                (rng.random((32, 1)) > 0.5).astype("float32"), {}, None)

    def bigru_per_step(rng):
        i = keras.Input((6, 3))
        o = L.TimeDistributed(L.Dense(5))(L.Bidirectional(L.GRU(4, return_sequences=True))(i))
        return (keras.Model(i, o), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                rng.standard_normal((32, 6, 3)).astype("float32"), rng.integers(0, 5, (32, 6)), {}, None)

    def transformer(rng):
        i = keras.Input((5, 8))
        x = L.LayerNormalization()(L.Add()([i, L.MultiHeadAttention(2, 4)(i, i)]))
        f = L.Dense(8)(L.Dense(16, activation="gelu")(x))
        x = L.LayerNormalization()(L.Add()([x, f]))
        return (keras.Model(i, L.Dense(1)(L.GlobalAveragePooling1D()(x))), "mse",
                rng.standard_normal((32, 5, 8)).astype("float32"), rng.standard_normal((32, 1)).astype("float32"), {}, None)

    def causal_conv1d(rng):
        i = keras.Input((12, 3))
        x = L.GlobalMaxPooling1D()(L.Conv1D(5, 3, dilation_rate=2, padding="causal", activation="elu")(i))
        return (keras.Model(i, L.Dense(2)(x)), keras.losses.Huber(0.5), rng.standard_normal((32, 12, 3)).astype("float32"),
                rng.standard_normal((32, 2)).astype("float32"), {}, np.linspace(0.5, 1.5, 32).astype("float32"))

    def multi_io(rng):
        a, b = keras.Input((4,), name="a"), keras.Input((3,), name="b")
        h = L.Concatenate()([L.Dense(5, activation="relu")(a), b])
        model = keras.Model([a, b], [L.Dense(1, name="reg")(h), L.Dense(3, activation="softmax", name="cls")(h)])
        return (model, ["mse", "sparse_categorical_crossentropy"],
                [rng.standard_normal((32, 4)).astype("float32"), rng.standard_normal((32, 3)).astype("float32")],
                [rng.standard_normal((32, 1)).astype("float32"), rng.integers(0, 3, 32)], dict(loss_weights=[0.3, 1.0]), None)

    def autoencoder(rng):
        i = keras.Input((8, 8, 2))
        x = L.DepthwiseConv2D(3, strides=2, padding="same")(L.SeparableConv2D(4, 3, padding="same", activation="relu")(i))
        x = L.Conv2DTranspose(4, 3, strides=2, padding="same", activation="relu")(x)
        x = L.UpSampling2D()(L.AveragePooling2D(2)(x))
        xs = rng.standard_normal((32, 8, 8, 2)).astype("float32")
        return keras.Model(i, L.Conv2D(2, 1)(x)), "mae", xs, xs, {}, None

    def regularized(rng):
        m = keras.Sequential([keras.Input((6,)), L.Dense(8, activation="tanh", bias_regularizer="l2",
                                                         kernel_regularizer=keras.regularizers.L1L2(0.01, 0.02)),
                              L.Dense(3, activity_regularizer="l2")])
        return (m, keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
                rng.standard_normal((32, 6)).astype("float32"), np.eye(3, dtype="float32")[rng.integers(0, 3, 32)], {}, None)

    def conv_lstm(rng):
        i = keras.Input((3, 5, 5, 1))
        x = L.Flatten()(L.ConvLSTM2D(2, 3, padding="same")(i))
        return (keras.Model(i, L.Dense(1)(x)), "mse", rng.standard_normal((16, 3, 5, 5, 1)).astype("float32"),
                rng.standard_normal((16, 1)).astype("float32"), {}, None)

    builders = dict(cnn=cnn, lstm_mask=lstm_mask, bigru_per_step=bigru_per_step, transformer=transformer,
                    causal_conv1d=causal_conv1d, multi_io=multi_io, autoencoder=autoencoder, regularized=regularized,
                    conv_lstm=conv_lstm)
    return {name: (lambda b=b, k=k: b(np.random.default_rng(100 + k))) for k, (name, b) in enumerate(builders.items())}


def ops_env():
    """The named arrays the ops expressions read (float32 unless said)."""
    rng = np.random.default_rng(0)
    f = lambda *shape: rng.standard_normal(shape).astype("float32")   # noqa: E731
    e = dict(x=f(3, 4), y=f(3, 4), i=rng.integers(0, 5, (3, 4)).astype("int32"), b=rng.random((3, 4)) > 0.5,
             c=rng.random((3, 4)) > 0.5, v=f(4), m=f(4, 4), u=(rng.random((3, 4)) * 2 - 1).astype("float32"),
             p=(rng.random((3, 4)) + 0.1).astype("float32"), z=np.array([[0, 1, 0, 2]] * 3, "float32"), t3=f(2, 3, 4),
             a3=f(2, 3), b3=f(2, 3), iv=np.array([0, 2, 1, 3, 3]), iidx=rng.integers(0, 4, (3, 2)))
    e.update(sv=np.sort(e["v"]), iv2=np.array([[0, 2], [1, 4]]), bt=(rng.random((3, 4)) > 0.5).astype("float32"),
             sg=(1 / (1 + np.exp(-e["x"]))).astype("float32"), oh=np.eye(4, dtype="float32")[[0, 3, 1]],
             iv3=np.array([0, 3, 1]), img=f(2, 6, 6, 3), ker=f(3, 3, 3, 2), dker=f(3, 3, 3, 2), pker=f(1, 1, 6, 4),
             tker=f(2, 2, 5, 3), p4=(rng.random(4) + 0.5).astype("float32"), sid=np.array([0, 0, 1]), v8=f(8), v16=f(16))
    e["sm"] = (np.exp(e["x"]) / np.exp(e["x"]).sum(1, keepdims=True)).astype("float32")
    a = rng.standard_normal((4, 4))
    e.update(spd=(a @ a.T + 4 * np.eye(4)).astype("float32"), idx2=np.array([[1], [3]]), vals2=np.ones((2, 2), "float32"),
             pt2=np.array([[1, 0], [2, 3]]), q4=f(2, 3, 2, 4), k4=f(2, 3, 2, 4),
             tr=np.array([[1.1, 0.1, 0.5, -0.1, 0.9, 0.2, 0.0, 0.0]] * 2, "float32"))
    # small integer tensors (uint8 pixels, int8 / int16 values), from their own generator so the
    # arrays above stay as they were
    r8 = np.random.default_rng(8)
    e.update(u8=r8.integers(0, 256, (3, 4)).astype("uint8"), s8=r8.integers(-128, 128, (3, 4)).astype("int8"),
             s16=r8.integers(-3000, 3000, (3, 4)).astype("int16"))
    return e


# float inputs an expression may be differentiated in (OPS_GRADS)
DIFFERENTIABLE = ("x", "y", "v", "m", "u", "p", "t3", "img", "ker", "dker", "pker", "tker", "spd", "q4", "k4",
                  "a3", "b3", "sg", "sm", "p4")


def ops_namespace(keras):
    """keras.ops' names (and those of its submodules) for evaluating the expressions."""
    ops = keras.ops
    names = {k: getattr(ops, k) for k in dir(ops) if not k.startswith("_")}
    for sub in ("nn", "linalg", "math", "numpy", "core"):
        mod = getattr(ops, sub, None)
        for k in dir(mod) if mod is not None else ():
            if not k.startswith("_"):
                names.setdefault(k, getattr(mod, k))
    names["image"] = ops.image
    return names


def names_in(expr):
    """The DIFFERENTIABLE arrays an expression reads."""
    import re
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", expr))
    return [k for k in DIFFERENTIABLE if k in words]


OPS_VALUES = [
    'abs(x)', 'absolute(i)', 'add(x, y)', 'add(i, 1.5)', 'add(i, x)', 'all(b)', 'all(b, axis=1)',
    'any(b, axis=0, keepdims=True)', 'amax(x, axis=1)', 'amin(x)', 'append(x, y, axis=0)', 'arange(5)',
    'arange(1, 7, 2)', 'arange(0.5, 3.0, 0.5)', 'arccos(u)', 'arccosh(p + 1)', 'arcsin(u)', 'arcsinh(x)',
    'arctan(x)', 'arctan2(x, y)', 'arctanh(u * 0.9)', 'argmax(x)', 'argmax(x, axis=1)', 'argmin(x, axis=0)',
    'argsort(x, axis=-1)', 'argsort(v)', 'array([[1, 2], [3, 4]])', 'average(x, axis=1, weights=v)',
    'bincount(iv)', 'bitwise_and(i, 3)', 'broadcast_to(v, (3, 4))', 'ceil(x)', 'clip(x, -0.5, 0.5)',
    'concatenate([x, y], axis=1)', 'conj(x)', 'copy(x)', 'cos(x)', 'cosh(x)', 'count_nonzero(i)',
    'count_nonzero(i, axis=1)', 'cross(a3, b3)', 'cumprod(x, axis=1)', 'cumsum(i, axis=0)', 'diag(v)',
    'diagonal(m)', 'diff(x, axis=1)', 'digitize(v, [0.0, 0.5])', 'divide(x, p)', 'divide(i, 2)',
    'divide_no_nan(x, z)', 'dot(x, m)', 'einsum("ij,jk->ik", x, m)', 'equal(i, 2)', 'exp(x)',
    'expand_dims(x, 1)', 'expm1(x)', 'eye(3)', 'eye(3, 4, k=1)', 'flip(x, axis=1)', 'floor(x)',
    'floor_divide(i, 3)', 'floor_divide(x, 0.7)', 'full((2, 2), 3)', 'full_like(x, 2.5)', 'full_like(i, 7)',
    'greater(x, y)', 'greater_equal(i, 2)', 'hstack([x, y])', 'identity(3)', 'isclose(x, x + 1e-9)',
    'isfinite(x)', 'isinf(x / z)', 'isnan(x)', 'less(x, 0.1)', 'linspace(0, 1, 5)', 'log(p)', 'log10(p)',
    'log1p(p)', 'log2(p)', 'logaddexp(x, y)', 'logical_and(b, c)', 'logical_not(b)', 'logical_or(b, c)',
    'logical_xor(b, c)', 'logspace(0, 2, 3)', 'matmul(x, m)', 'max(x, axis=0)', 'maximum(x, y)',
    'maximum(i, 2)', 'mean(x)', 'mean(x, axis=1, keepdims=True)', 'mean(i)', 'median(x, axis=1)',
    'meshgrid(v, v)[0]', 'min(i, axis=1)', 'minimum(x, 0.0)', 'mod(i, 3)', 'mod(x, 0.5)',
    'moveaxis(t3, 0, -1)', 'multiply(x, i)', 'nan_to_num(x / z)', 'ndim(x)', 'negative(i)', 'nonzero(b)[0]',
    'not_equal(x, y)', 'ones((2, 3))', 'ones_like(i)', 'outer(v, v)', 'pad(x, ((1, 0), (0, 2)))',
    'power(p, 2.5)', 'power(i, 2)', 'prod(x, axis=1)', 'quantile(x, 0.3, axis=1)', 'ravel(x)', 'real(x)',
    'reciprocal(p)', 'repeat(x, 2, axis=0)', 'reshape(x, (4, 3))', 'reshape(x, (-1,))', 'roll(x, 1, axis=1)',
    'round(x * 10)', 'round(x, 2)', 'sign(x)', 'sin(x)', 'sinh(x)', 'size(x)', 'sort(x, axis=0)',
    'split(x, 2, axis=1)[1]', 'sqrt(p)', 'square(i)', 'squeeze(x[:1])', 'stack([x, y], axis=1)',
    'std(x, axis=0)', 'subtract(i, x)', 'sum(x, axis=(0, 1))', 'sum(b)', 'swapaxes(t3, 0, 2)',
    'take(x, [0, 2], axis=1)', 'take_along_axis(x, iidx, axis=1)', 'tan(u)', 'tanh(x)',
    'tensordot(x, m, axes=1)', 'tile(v, (2, 1))', 'trace(m)', 'transpose(t3, (2, 0, 1))', 'tri(3)',
    'tril(m)', 'triu(m, k=1)', 'true_divide(x, p)', 'var(x)', 'vdot(v, v)', 'vstack([x, y])',
    'where(b, x, y)', 'zeros((2,))', 'zeros_like(i)', 'cbrt(x)', 'deg2rad(x)', 'rad2deg(x)',
    'heaviside(x, 0.5)', 'hypot(x, y)', 'kron(m[:2, :2], m[:2, :2])', 'lcm(i + 1, 4)', 'gcd(i, 4)',
    'left_shift(i, 1)', 'right_shift(i, 1)', 'logical_and(i, b)', 'correlate(v, v, mode="full")',
    'histogram(v, bins=3)[0]', 'isin(i, [1, 2])', 'searchsorted(sv, v)', 'unravel_index(iv, (2, 3))[0]',
    'vectorize(lambda a: a * 2)(x)', 'trunc(x)', 'signbit(x)', 'slogdet(m)[1]', 'exp2(x)', 'inner(v, v)',
    'sum(x)', 'rot90(x)', 'relu(x)', 'relu6(x * 10)', 'sigmoid(x)', 'softplus(x)', 'softsign(x)', 'silu(x)',
    'swish(x)', 'log_sigmoid(x)', 'leaky_relu(x, 0.2)', 'hard_sigmoid(x)', 'hard_silu(x)', 'elu(x, 0.5)',
    'selu(x)', 'gelu(x)', 'gelu(x, approximate=False)', 'softmax(x)', 'softmax(x, axis=0)',
    'log_softmax(x, axis=-1)', 'celu(x)', 'glu(x)', 'tanh_shrink(x)', 'hard_tanh(x)', 'soft_shrink(x)',
    'hard_shrink(x)', 'squareplus(x)', 'sparse_plus(x)', 'one_hot(iv, 4)', 'multi_hot(iv2, 5)',
    'binary_crossentropy(bt, sg)', 'categorical_crossentropy(oh, sm)',
    'sparse_categorical_crossentropy(iv3, sm)', 'binary_crossentropy(bt, x, from_logits=True)',
    'moments(x, axes=[0])[1]', 'normalize(x, axis=1)', 'normalize(x, order=1)', 'conv(img, ker)',
    'conv(img, ker, strides=2, padding="same")', 'depthwise_conv(img, dker)', 'max_pool(img, 2)',
    'average_pool(img, 2, padding="same")', 'conv_transpose(img, tker, strides=2)',
    'separable_conv(img, dker, pker)',
    'batch_normalization(x, v, p4, axis=-1, offset=v, scale=p4, epsilon=1e-3)', 'one_hot(iv, 4, axis=0)',
    'logsumexp(x, axis=1)', 'top_k(v, 2)[0]', 'top_k(x, 2)[1]', 'in_top_k(iv3, sm, 2)',
    'segment_sum(x, sid)', 'segment_max(x, sid)', 'extract_sequences(v8, 3, 2)', 'rsqrt(p)', 'erf(x)',
    'erfinv(u * 0.9)', 'qr(m)[1].shape', 'det(m)', 'inv(spd)', 'solve(spd, v)', 'norm(x)',
    'norm(x, axis=1, ord=1)', 'eigh(spd)[0]', 'cholesky(spd)', 'svd(m)[1]', 'logdet(spd)', 'fft((x, y))[0]',
    'rfft(v8)[0]', 'stft(v16, 8, 4, 8)[0]', 'rfft(v8)[1]', 'cast(x, "int32")', 'convert_to_tensor([1, 2])',
    'convert_to_tensor([1.5, 2])', 'shape(x)', 'is_tensor(x)', 'cast(b, "float32")',
    'cond(True, lambda: x, lambda: y)', 'fori_loop(0, 3, lambda k, a: a + k, x)', 'slice(x, (1, 0), (2, 2))',
    'slice_update(x, (0, 0), ones((1, 2)))', 'scatter(idx2, vals2, (4, 2))',
    'unstack(convert_to_tensor(x))[1]', 'while_loop(lambda a: sum(a) < 100, lambda a: (a * 2,), (p,))[0]',
    'map(lambda r: r * 2, x)', 'associative_scan(lambda a, b: a + b, v)',
    'scan(lambda c, r: (c + r, c), zeros((4,)), x)[0]', 'switch(1, [lambda a: a, lambda a: -a], x)',
    'saturate_cast(x * 300, "uint8")', 'searchsorted(sv, v, side="right")',
    # bools meeting ints, counted, multiplied and moved (Keras' TF and torch backends agree on these)
    'add(b, i)', 'subtract(i, b)', 'multiply(b, 2)', 'maximum(b, i)', 'power(b, i)', 'mod(b, 2)',
    'bitwise_and(b, i)', 'gcd(i, b)', 'clip(b, i, i)', 'concatenate([b, i])', 'outer(b, i)', 'kron(b, i)',
    'cumsum(b, axis=1)', 'cumprod(b)', 'prod(b, axis=0)', 'nansum(b, axis=0)', 'square(b)', 'trace(b)',
    'abs(b)', 'sort(b, axis=0)', 'diff(b)', 'flipud(b)', 'nanmax(b, axis=1)', 'full_like(b, 2)',
    'inner(b, c)', 'matmul(b, transpose(c))', 'outer(b, c)', 'vdot(b[0], c[0])', 'multiply(b, x)',
    # small integer tensors: their dtypes kept, wrapping as Keras', promoted where they meet others
    'add(u8, u8)', 'subtract(u8, 200)', 'multiply(u8, 3)', 'multiply(u8, 1.5)', 'divide(u8, 2)',
    'add(u8, i)', 'add(u8, x)', 'add(u8, s8)', 'maximum(u8, 100)', 'sum(u8, axis=0)', 'sum(s8)', 'sum(s16, axis=1)',
    'prod(s8[:, :2], axis=1)', 'mean(u8, axis=1)', 'max(s8, axis=0)', 'cumsum(u8, axis=1)', 'argmax(u8, axis=1)',
    'clip(u8, 10, 200)', 'concatenate([u8, u8])', 'where(b, u8, 0)', 'abs(s8)', 'negative(s16)', 'square(s8)',
    'floor_divide(u8, 7)', 'mod(s16, 7)', 'bitwise_and(u8, 15)', 'right_shift(u8, 2)', 'sort(u8, axis=1)',
    'equal(u8, u8[0])', 'cast(u8, "float32") / 255.0', 'cast(s16, "uint8")', 'reshape(u8, (4, 3))',
    'transpose(s8)', 'one_hot(u8 % 4, 4)', 'take(x, u8 % 4, axis=1)',
    # float64 / float16 tensors: Keras 3's result dtypes (float64 wins; float16 stays float16 with
    # itself, Python numbers and integers; meets float32 as float32) and float64's precision
    # (the first: x's low bits survive the round trip only in float64); checked with their dtypes
    # (WIDE_FLOAT_VALUES)
    'subtract(add(cast(x, "float64"), 1000.0), 1000.0)', 'sum(cast(x, "float64"), axis=1)',
    'mean(cast(x, "float64"))', 'max(cast(x, "float64"), axis=0)', 'min(cast(x, "float64"), axis=1)',
    'exp(cast(x, "float64"))', 'sqrt(cast(p, "float64"))', 'log1p(cast(p, "float64"))', 'matmul(cast(x, "float64"), m)',
    'add(cast(x, "float64"), y)', 'divide(y, cast(p, "float64"))', 'power(cast(p, "float64"), 1.5)',
    'maximum(cast(x, "float64"), y)', 'sigmoid(cast(x, "float64"))', 'tanh(cast(x, "float64"))',
    'relu(cast(x, "float64"))', 'softmax(cast(x, "float64"))', 'log_softmax(cast(x, "float64"), axis=0)',
    'add(cast(x, "float16"), cast(y, "float16"))', 'multiply(cast(x, "float16"), 2.5)', 'add(cast(x, "float16"), y)',
    'sum(cast(x, "float16"), axis=0)', 'sigmoid(cast(x, "float16"))', 'matmul(cast(x, "float16"), cast(m, "float16"))',
    'exp(cast(x, "float16"))',
]

# the OPS_VALUES whose float dtype is checked against Keras' (float64 / float16 results)
WIDE_FLOAT_VALUES = frozenset(e for e in OPS_VALUES if '"float64")' in e or '"float16")' in e)

OPS_GRADS = [
    'abs(x)', 'arccos(u)', 'arcsinh(x)', 'arctan2(x, y)', 'arctanh(u * 0.9)',
    'average(x, axis=1, weights=v)', 'clip(x, -0.5, 0.5)', 'concatenate([x, y], axis=1)', 'cos(x)',
    'cosh(x)', 'cumprod(x, axis=1)', 'cumsum(x, axis=0)', 'diag(v)', 'diagonal(m)', 'diff(x, axis=1)',
    'divide(x, p)', 'dot(x, m)', 'einsum("ij,jk->ik", x, m)', 'einsum("ij,ij->i", x, y)', 'exp(x)',
    'expand_dims(x, 1)', 'expm1(x)', 'flip(x, axis=1)', 'hstack([x, y])', 'log(p)', 'log1p(p)',
    'logaddexp(x, y)', 'matmul(x, m)', 'max(x, axis=0)', 'maximum(x, y)', 'mean(x, axis=1, keepdims=True)',
    'median(x, axis=1)', 'minimum(x, 0.0)', 'moveaxis(t3, 0, -1)', 'multiply(x, y)', 'outer(v, v)',
    'pad(x, ((1, 0), (0, 2)))', 'power(p, 2.5)', 'power(p, y)', 'prod(x, axis=1)',
    'quantile(x, 0.3, axis=1)', 'reciprocal(p)', 'repeat(x, 2, axis=0)', 'reshape(x, (4, 3))',
    'roll(x, 1, axis=1)', 'sin(x)', 'sinh(x)', 'sort(x, axis=0)', 'split(x, 2, axis=1)[1]', 'sqrt(p)',
    'square(x)', 'stack([x, y], axis=1)', 'std(x, axis=0)', 'subtract(x, y)', 'sum(x, axis=(0, 1))',
    'swapaxes(t3, 0, 2)', 'take(x, [0, 2, 2], axis=1)', 'take_along_axis(x, iidx, axis=1)', 'tan(u)',
    'tanh(x)', 'tensordot(x, m, axes=1)', 'tile(v, (2, 1))', 'trace(m)', 'transpose(t3, (2, 0, 1))',
    'tril(m)', 'triu(m, k=1)', 'var(x)', 'vdot(v, v)', 'vstack([x, y])', 'where(b, x, y)', 'cbrt(p)',
    'hypot(x, y)', 'kron(m[:2, :2], m[:2, :2])', 'trunc(x) * 0 + x', 'inner(v, v)', 'rot90(x)', 'norm(x)',
    'norm(x, axis=1, ord=1)', 'norm(m, ord="fro")', 'norm(m, ord="nuc")', 'relu(x)', 'relu6(x * 10)',
    'sigmoid(x)', 'softplus(x)', 'softsign(x)', 'silu(x)', 'log_sigmoid(x)', 'leaky_relu(x, 0.2)',
    'hard_sigmoid(x)', 'hard_silu(x)', 'elu(x, 0.5)', 'selu(x)', 'gelu(x)', 'gelu(x, approximate=False)',
    'softmax(x)', 'softmax(x, axis=0)', 'log_softmax(x, axis=-1)', 'celu(x)', 'glu(x)', 'tanh_shrink(x)',
    'hard_tanh(x)', 'soft_shrink(x)', 'hard_shrink(x)', 'squareplus(x)', 'sparse_plus(x)',
    'binary_crossentropy(bt, sg)', 'binary_crossentropy(bt, x, from_logits=True)',
    'categorical_crossentropy(oh, x, from_logits=True)', 'moments(x, axes=[0])[1]', 'normalize(x, axis=1)',
    'normalize(x, order=1)', 'conv(img, ker)', 'conv(img, ker, strides=2, padding="same")',
    'depthwise_conv(img, dker)', 'max_pool(img, 2)', 'average_pool(img, 2, padding="same")',
    'conv_transpose(img, tker, strides=2)', 'separable_conv(img, dker, pker)',
    'batch_normalization(x, v, p4, axis=-1, offset=v, scale=p4, epsilon=1e-3)', 'logsumexp(x, axis=1)',
    'top_k(v, 2)[0]', 'segment_sum(x, sid)', 'segment_max(x, sid)', 'rsqrt(p)', 'erf(x)', 'erfinv(u * 0.9)',
    'det(m)', 'inv(m + 4 * eye(4))', 'solve(m + 4 * eye(4), v)', 'eigh(m + transpose(m))[0]',
    'cholesky(spd)', 'svd(m)[1]', 'logdet(spd)', 'slogdet(m)[1]', 'qr(m)[1]', 'solve(spd, m)',
    'dot_product_attention(q4, k4, k4)', 'dot_product_attention(q4, k4, k4, is_causal=True)',
    'rms_normalization(x)', 'layer_normalization(x)', 'sum(x)', 'cross(a3, b3)', 'image.resize(img, (4, 9))',
    'image.affine_transform(img, tr)', 'image.extract_patches(img, 2)', 'image.rgb_to_grayscale(img)',
    'slice_update(x, (0, 0), y[:1, :2])', 'scatter_update(x, pt2, y[0, :2])', 'unstack(x)[1]',
    'associative_scan(lambda a, bb: a + bb, v)', 'scan(lambda c, r: (c + r, c * r), zeros((4,)), x)[1]',
    'fori_loop(0, 3, lambda k, a: a * x, x)', 'map(lambda r: r * r, x)',
    'cond(True, lambda: x * 2, lambda: y)',
    'while_loop(lambda a: sum(a) < 100, lambda a: (a * 2,), (p,))[0]', 'nan_to_num(x)',
    'signbit(x) * 0 + x * x', 'deg2rad(x)', 'rad2deg(x)', 'amax(x, axis=1)', 'amin(x)',
    'append(x, y, axis=0)', 'round(x) * 0 + x', 'floor(x) * 0 + x * 3', 'sum(x * y)',
    # gradients through float64 / float16 math back to the float32 sources
    'exp(cast(x, "float64"))', 'matmul(cast(x, "float64"), m)', 'softmax(cast(x, "float64"))',
    'max(cast(x, "float64"), axis=0)', 'divide(cast(x, "float64"), p)', 'multiply(cast(x, "float16"), y)',
]
