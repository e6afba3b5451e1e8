"""get_config / from_config round trips (through JSON) for every public class, with
non-default arguments so that a forgotten key shows up."""
import importlib
import importlib.util
import json

import numpy as np
import pytest

import corenn
from corenn import (activations, callbacks, initializers, layers, losses, metrics, optimizers,
                    regularizers)
from corenn.optimizers import schedules
from corenn import ops


def via_json(obj):
    return json.loads(json.dumps(obj))


def round_trip(obj):
    """(config, config of the object rebuilt from the JSON'd config)."""
    cfg = via_json(obj.get_config())
    rebuilt = type(obj).from_config(cfg)
    assert type(rebuilt) is type(obj)
    return cfg, via_json(rebuilt.get_config())


LAYER_ARGS = {
    "InputLayer": dict(shape=(3, 4)),
    "Dense": dict(units=3, activation="leaky_relu", use_bias=False, kernel_initializer="he_normal",
                  kernel_regularizer=regularizers.L1L2(0.1, 0.2), input_shape=(5,), trainable=False),
    "Activation": dict(activation=activations.get({"name": "elu", "alpha": 0.5})),
    "Flatten": dict(),
    "Reshape": dict(target_shape=(2, -1)),
    "Dropout": dict(rate=0.25, seed=4),
    "Conv2D": dict(filters=2, kernel_size=(3, 1), strides=2, padding="same", dilation_rate=1,
                   activation="tanh", bias_initializer=initializers.Constant(0.3)),
    "Conv1D": dict(filters=2, kernel_size=5, dilation_rate=2, bias_regularizer="l2"),
    "MaxPooling2D": dict(pool_size=3, strides=(1, 2), padding="same"),
    "AveragePooling2D": dict(pool_size=(2, 3)),
    "MaxPooling1D": dict(pool_size=3, strides=1),
    "AveragePooling1D": dict(pool_size=4, padding="same"),
    "GlobalAveragePooling2D": dict(keepdims=True),
    "GlobalMaxPooling2D": dict(),
    "GlobalAveragePooling1D": dict(),
    "GlobalMaxPooling1D": dict(keepdims=True),
    "ZeroPadding2D": dict(padding=((1, 2), (0, 3))),
    "BatchNormalization": dict(momentum=0.8, epsilon=1e-2, center=False,
                               gamma_initializer=initializers.RandomNormal(1.0, 0.1, seed=3)),
    "SpatialDropout2D": dict(rate=0.4, seed=9),
    "Identity": dict(name="identity_cfg"),
    "LayerNormalization": dict(axis=[-2, -1], epsilon=1e-5, scale=False,
                               beta_initializer=initializers.Constant(0.2), beta_regularizer="l1"),
    "Permute": dict(dims=(2, 3, 1)),
    "RepeatVector": dict(n=4),
    "Cropping1D": dict(cropping=(2, 1)),
    "Cropping2D": dict(cropping=((1, 2), (0, 3))),
    "UpSampling1D": dict(size=3),
    "UpSampling2D": dict(size=(2, 3), interpolation="bilinear"),
    "ReLU": dict(negative_slope=0.2),
    "LeakyReLU": dict(negative_slope=0.1),
    "ELU": dict(alpha=0.5),
    "Softmax": dict(axis=2),
    "Conv2DTranspose": dict(filters=2, kernel_size=(3, 2), strides=(2, 3), padding="same",
                            output_padding=(1, 2), activation="tanh", kernel_regularizer="l2"),
    "DepthwiseConv2D": dict(kernel_size=3, depth_multiplier=2, padding="same", dilation_rate=2,
                            use_bias=False, depthwise_initializer="he_normal"),
    "SeparableConv2D": dict(filters=3, kernel_size=(1, 3), strides=2, depth_multiplier=2,
                            activation="relu", pointwise_regularizer="l1",
                            bias_initializer=initializers.Constant(0.1)),
    "PReLU": dict(alpha_initializer=initializers.Constant(0.25), shared_axes=[1, 2]),
    "Rescaling": dict(scale=1 / 255, offset=-1.0),
    "Normalization": dict(axis=(1, 2), invert=True),
    "EinsumDense": dict(equation="abc,cde->abde", output_shape=(None, 2, 3), bias_axes="de",
                        activation="relu", kernel_regularizer="l2"),
    "DepthwiseConv1D": dict(kernel_size=3, depth_multiplier=2, padding="same", dilation_rate=2, use_bias=False),
    "SeparableConv1D": dict(filters=3, kernel_size=3, strides=2, depth_multiplier=2, activation="relu",
                            pointwise_regularizer="l1"),
    "ConvLSTM2D": dict(filters=3, kernel_size=(3, 2), padding="same", return_sequences=True,
                       recurrent_dropout=0.1, unit_forget_bias=False, go_backwards=True),
    "ConvLSTM1D": dict(filters=2, kernel_size=3, strides=2, return_state=True, stateful=True),
    "ConvLSTM3D": dict(filters=2, kernel_size=(2, 3, 1), padding="same", data_format="channels_first",
                       go_backwards=True, unit_forget_bias=False),
}


# Layers whose modules exist but that layers/__init__ may not export yet: reached through
# their modules; the registry part of the round trip runs once they are exported.
_LAYER_MODULES = [importlib.import_module(f"corenn.layers.{m}") for m in
                  ("core", "convolutional", "pooling", "normalization", "regularization",
                   "reshaping", "base", "recurrent", "wrappers", "embedding", "activation", "merging",
                   "preprocessing", "attention", "image_preprocessing", "image_augmentation",
                   "text_preprocessing", "rnn_cells", "discretization", "einsum_dense", "conv_lstm", "kernelized", "audio",
                   "adaptive_pooling", "image_boxes", "image_enhance")
                  if importlib.util.find_spec(f"corenn.layers.{m}") is not None]
LAYER_CLASSES = {name: cls for mod in _LAYER_MODULES for name, cls in vars(mod).items()
                 if isinstance(cls, type) and issubclass(cls, layers.Layer) and not name.startswith("_")
                 and cls.__module__ == mod.__name__
                 and name not in ("Layer", "ActivatedLayer", "Lambda", "AbstractRNNCell")}   # abstract bases
LAYER_ARGS.update({
    "Wrapper": dict(layer=lambda: layers.Dense(2, activation="relu")),
    "SpectralNormalization": dict(layer=lambda: layers.Dense(3), power_iterations=2),
    "Embedding": dict(input_dim=20, output_dim=4, mask_zero=False, embeddings_initializer="normal"),
    "SimpleRNN": dict(units=3, activation="relu", return_sequences=True, go_backwards=True),
    "LSTM": dict(units=4, unit_forget_bias=False, dropout=0.1, return_sequences=True),
    "GRU": dict(units=2, recurrent_activation="tanh", recurrent_initializer="glorot_uniform"),
    "Bidirectional": dict(layer=lambda: LAYER_CLASSES["LSTM"](3, return_sequences=True), merge_mode="sum"),
    "TimeDistributed": dict(layer=lambda: layers.Dense(3, activation="relu")),
    "Add": dict(name="merge_add"), "Subtract": dict(trainable=False), "Multiply": dict(),
    "Average": dict(), "Maximum": dict(), "Minimum": dict(name="merge_min"),
    "Concatenate": dict(axis=1), "Dot": dict(axes=2, normalize=True),
    "Masking": dict(mask_value=-1.0),
    "ZeroPadding1D": dict(padding=(2, 1)),
    "SpatialDropout1D": dict(rate=0.25, seed=3),
    "MultiHeadAttention": dict(num_heads=3, key_dim=4, value_dim=5, dropout=0.1, use_bias=False,
                               output_shape=(7,), seed=3),
    "GroupedQueryAttention": dict(head_dim=3, num_query_heads=4, num_key_value_heads=2, dropout=0.1, seed=3),
    "GroupQueryAttention": dict(head_dim=2, num_query_heads=2, num_key_value_heads=1, use_bias=False),
    "Resizing": dict(height=3, width=5, interpolation="nearest", crop_to_aspect_ratio=True),
    "CenterCrop": dict(height=4, width=2),
    "RandomFlip": dict(mode="vertical", seed=5),
    "RandomCrop": dict(height=3, width=4, seed=2),
    "RandomTranslation": dict(height_factor=(-0.1, 0.2), width_factor=0.3, fill_mode="wrap",
                              interpolation="nearest", seed=3, fill_value=1.5),
    "RandomRotation": dict(factor=(-0.2, 0.1), fill_mode="constant", fill_value=2.0, seed=4),
    "RandomZoom": dict(height_factor=0.3, width_factor=(-0.2, 0.1), fill_mode="nearest", seed=6),
    "RandomContrast": dict(factor=(0.2, 0.4), value_range=(0, 1), seed=7),
    "RandomBrightness": dict(factor=(-0.1, 0.3), value_range=(-1, 1), seed=8),
    "RandomHeight": dict(factor=(-0.3, 0.2), interpolation="nearest", seed=3),
    "RandomWidth": dict(factor=0.25, seed=4),
    "RandomShear": dict(x_factor=(0.1, 0.3), y_factor=0.2, fill_mode="wrap", fill_value=1.0, seed=5),
    "RandomPerspective": dict(factor=(0.2, 0.7), scale=0.4, interpolation="nearest", fill_value=3.0, seed=6),
    "ContrastLimitedAdaptiveHistogramEqualization": dict(value_range=(0, 1), clip_limit=2.5, tile_grid_size=(4, 4)),
    "MaxNumBoundingBoxes": dict(max_number=7, fill_value=-2, bounding_box_format="xyxy"),
    "RandomElasticTransform": dict(factor=0.7, scale=0.5, interpolation="nearest", fill_mode="constant",
                                   fill_value=2.0, value_range=(0, 1), seed=3),
    "RandomGrayscale": dict(factor=0.3, data_format="channels_first", seed=7),
    "RandomSaturation": dict(factor=(0.2, 0.8), value_range=(0, 1), seed=8),
    "RandomHue": dict(factor=0.4, value_range=(-1, 1), seed=9),
    "RandomColorDegeneration": dict(factor=(0.1, 0.6), value_range=(0, 1), seed=10),
    "RandomSharpness": dict(factor=0.7, value_range=(0, 2), seed=11),
    "RandomPosterization": dict(factor=(2, 5), value_range=(0, 1), seed=12),
    "RandomInvert": dict(factor=0.6, value_range=(-1, 1), seed=13),
    "Solarization": dict(addition_factor=(0.1, 0.2), threshold_factor=0.7, value_range=(0, 1), seed=14),
    "AutoContrast": dict(value_range=(0, 1)),
    "Equalization": dict(value_range=(0, 1), bins=64, data_format="channels_first"),
    "RandomErasing": dict(factor=0.8, scale=(0.1, 0.4), fill_value=[1.0, 2.0, 3.0], value_range=(0, 9), seed=15),
    "RandomGaussianBlur": dict(factor=0.5, kernel_size=(3, 5), sigma=(0.5, 2.0), value_range=(0, 1), seed=16),
    "RandomColorJitter": dict(value_range=(0, 1), brightness_factor=0.2, contrast_factor=(0.1, 0.3),
                              hue_factor=0.1, seed=17),
    "MixUp": dict(alpha=0.4, seed=18),
    "CutMix": dict(factor=(0.2, 0.9), seed=19),
    "Pipeline": dict(layers=[layers.RandomFlip("vertical", seed=1), layers.RandomInvert(0.5, seed=2)],
                     name="augment_pipe"),
    "RandAugment": dict(value_range=(0, 1), num_ops=3, factor=(0.1, 0.4), interpolation="nearest", seed=20),
    "AugMix": dict(value_range=(0, 1), num_chains=2, chain_depth=4, factor=0.6, alpha=0.5, all_ops=False,
                   interpolation="nearest", seed=21),
    "CategoryEncoding": dict(num_tokens=7, output_mode="count"),
    "Hashing": dict(num_bins=6, mask_value="", output_mode="multi_hot"),
    "HashedCrossing": dict(num_bins=9, output_mode="one_hot"),
    "Discretization": dict(bin_boundaries=[-1.0, 0.5, 2.0], epsilon=0.05, output_mode="one_hot"),
    "StringLookup": dict(max_tokens=6, mask_token="", oov_token="?", vocabulary=["x", "y"]),
    "IntegerLookup": dict(num_oov_indices=0, vocabulary=[3, 1, 2], output_mode="multi_hot"),
    "TextVectorization": dict(max_tokens=9, standardize="lower", split="character",
                              output_sequence_length=5, vocabulary=["a", "b"]),
    "GroupNormalization": dict(groups=4, axis=1, epsilon=1e-5, center=False,
                               gamma_initializer="he_normal", gamma_regularizer="l2"),
    "UnitNormalization": dict(axis=[1, 2]),
    "RMSNormalization": dict(axis=[1, 2], epsilon=1e-4),
    "MelSpectrogram": dict(fft_length=64, sequence_stride=16, sequence_length=48, window="hamming",
                           sampling_rate=8000, num_mel_bins=12, min_freq=30.0, max_freq=3000,
                           power_to_db=False, top_db=60.0, mag_exp=1.0, min_power=1e-8, ref_power=2.0),
    "RandomFourierFeatures": dict(output_dim=5, kernel_initializer="laplacian", scale=2.0, trainable=True),
    "GaussianNoise": dict(stddev=0.25, seed=3),
    "GaussianDropout": dict(rate=0.2, seed=4),
    "AlphaDropout": dict(rate=0.1, seed=5),
    "Attention": dict(use_scale=True, dropout=0.2, seed=7, score_mode="concat"),
    "AdditiveAttention": dict(use_scale=False, dropout=0.1, seed=8),
    "ZeroPadding3D": dict(padding=(1, 2, 3)),
    "Cropping3D": dict(cropping=((1, 0), (2, 1), (0, 3))),
    "Conv1DTranspose": dict(filters=2, kernel_size=3, strides=2, padding="same", output_padding=1,
                            activation="relu", use_bias=False),
    "ActivityRegularization": dict(l1=0.25, l2=0.5),
    "Conv3D": dict(filters=4, kernel_size=(3, 1, 2), strides=(1, 2, 1), padding="same", groups=2,
                   dilation_rate=1, activation="elu", kernel_constraint="non_neg",
                   data_format="channels_first", activity_regularizer="l1"),
    "Conv3DTranspose": dict(filters=2, kernel_size=3, strides=2, padding="same", output_padding=(1, 0, 1),
                            use_bias=False, kernel_initializer="he_uniform"),
    "MaxPooling3D": dict(pool_size=(1, 2, 3), strides=(1, 1, 2), padding="same"),
    "AveragePooling3D": dict(pool_size=3, strides=2, data_format="channels_first"),
    "GlobalMaxPooling3D": dict(keepdims=True),
    "GlobalAveragePooling3D": dict(data_format="channels_first"),
    "UpSampling3D": dict(size=(1, 2, 3)),
    "AdaptiveAveragePooling1D": dict(output_size=5, data_format="channels_first"),
    "AdaptiveAveragePooling2D": dict(output_size=(2, 3)),
    "AdaptiveAveragePooling3D": dict(output_size=(1, 2, 3), data_format="channels_first"),
    "AdaptiveMaxPooling1D": dict(output_size=(4,)),
    "AdaptiveMaxPooling2D": dict(output_size=3, data_format="channels_first"),
    "AdaptiveMaxPooling3D": dict(output_size=2),
    "SpatialDropout3D": dict(rate=0.3, seed=2),
    "ReversibleEmbedding": dict(input_dim=12, output_dim=4, tie_weights=False, mask_zero=True,
                                logit_soft_cap=30.0, embeddings_initializer="normal"),
    "STFTSpectrogram": dict(mode="psd", frame_length=20, frame_step=5, fft_length=32, window="hamming",
                            periodic=True, scaling="spectrum", padding="same", expand_dims=True,
                            data_format="channels_first"),
    "SimpleRNNCell": dict(units=3, activation="relu", use_bias=False, dropout=0.2, seed=3),
    "LSTMCell": dict(units=4, unit_forget_bias=False, recurrent_activation="tanh"),
    "GRUCell": dict(units=2, reset_after=False, kernel_initializer="he_normal"),
    "StackedRNNCells": dict(cells=[layers.LSTMCell(3), layers.GRUCell(2)]),
    "RNN": dict(cell=layers.LSTMCell(3, dropout=0.1), return_sequences=True, return_state=True,
                go_backwards=True),
})


def make_layer(name):
    args = {k: (v() if callable(v) and k == "layer" else v) for k, v in LAYER_ARGS[name].items()}
    return LAYER_CLASSES[name](**args)


def test_every_layer_has_arguments_here():
    assert sorted(n for n in LAYER_ARGS if n in LAYER_CLASSES) == sorted(LAYER_CLASSES)
    # Keras' short aliases (GlobalAvgPool2D, MaxPool2D ...) are the same classes under other names
    exported = [n for n in layers.__all__ if isinstance(getattr(layers, n), type)
                and n not in ("Layer", "Lambda", "AbstractRNNCell")
                and getattr(layers, n).__name__ == n and issubclass(getattr(layers, n), layers.Layer)]
    assert set(exported) <= set(LAYER_CLASSES)


@pytest.mark.parametrize("name", sorted(n for n in LAYER_ARGS if n in LAYER_CLASSES))
def test_layer_round_trip(name):
    layer = make_layer(name)
    cfg, again = round_trip(layer)
    assert cfg == again
    if name in layers.__all__:  # through the registry, as a model file does
        rebuilt = layers.deserialize(via_json(layers.serialize(layer)))
        assert via_json(rebuilt.get_config()) == cfg
    for key, value in LAYER_ARGS[name].items():  # every non-default argument is kept
        if isinstance(value, (int, float, str, bool)) and not isinstance(cfg.get(key, {}), dict):
            assert cfg[key] == value or cfg[key] == [value] * len(cfg[key]), key


def test_non_default_layer_values_survive():
    dense = layers.Dense.from_config(via_json(layers.Dense(**LAYER_ARGS["Dense"]).get_config()))
    assert (dense.units, dense.use_bias, dense.trainable) == (3, False, False)
    assert dense.activation.name == "leaky_relu"
    assert type(dense.kernel_initializer).__name__ == "HeNormal"
    assert (dense.kernel_regularizer.l1, dense.kernel_regularizer.l2) == (0.1, 0.2)
    act = layers.Activation.from_config(via_json(layers.Activation(**LAYER_ARGS["Activation"]).get_config()))
    assert (act.activation.name, act.activation.alpha) == ("elu", 0.5)


def public_classes(module, base):
    return [getattr(module, n) for n in module.__all__
            if isinstance(getattr(module, n), type) and issubclass(getattr(module, n), base)]


@pytest.mark.parametrize("cls", [c for c in public_classes(losses, losses.Loss)
                                 if c not in (losses.Loss, losses.LossFunctionWrapper)],   # wraps a function: below
                         ids=lambda c: c.__name__)
def test_loss_round_trip(cls):
    cfg, again = round_trip(cls())
    assert cfg == again
    assert type(losses.deserialize(losses.serialize(cls()))) is cls


def _halved_mse(y_true, y_pred):
    return 0.5 * ops.mean(ops.square(y_true - y_pred), axis=-1)


def test_loss_function_wrapper_round_trip():
    from corenn import saving
    registered = saving.register_keras_serializable(package="roundtrip")(_halved_mse)
    loss = losses._to_loss(registered)
    cfg = via_json(loss.get_config())
    assert cfg["fn"] == "roundtrip>_halved_mse"
    again = losses.LossFunctionWrapper.from_config(cfg)
    assert again.fn is _halved_mse and again.get_config() == cfg
    y, p = np.ones((2, 3), np.float32), np.zeros((2, 3), np.float32)
    assert float(again(y, p)) == pytest.approx(0.5)


def test_loss_non_defaults():
    loss = losses.CategoricalCrossentropy.from_config(via_json(losses.CategoricalCrossentropy(
        from_logits=True, name="cce").get_config()))
    assert loss.from_logits and loss.name == "cce"
    assert losses.Huber.from_config(via_json(losses.Huber(delta=2.5).get_config())).get_config()["delta"] == 2.5


# the metrics whose Keras constructors take required arguments
METRIC_ARGS = {"MeanMetricWrapper": dict(fn=metrics.mean_absolute_error), "IoU": dict(num_classes=3, target_class_ids=[1]),
               "MeanIoU": dict(num_classes=3), "OneHotIoU": dict(num_classes=3, target_class_ids=[0, 2]),
               "OneHotMeanIoU": dict(num_classes=4), "PrecisionAtRecall": dict(recall=0.8),
               "RecallAtPrecision": dict(precision=0.7), "SensitivityAtSpecificity": dict(specificity=0.6),
               "SpecificityAtSensitivity": dict(sensitivity=0.9)}


@pytest.mark.parametrize("cls", [c for c in public_classes(metrics, metrics.Metric) if c is not metrics.Metric],
                         ids=lambda c: c.__name__)
def test_metric_round_trip(cls):
    cfg, again = round_trip(cls(name="m", **METRIC_ARGS.get(cls.__name__, {})))
    assert cfg == again and cfg["name"] == "m"
    m = metrics.get({"class_name": cls.__name__, "config": cfg})
    assert type(m) is cls


def test_metric_non_default():
    m = metrics.BinaryAccuracy.from_config(via_json(metrics.BinaryAccuracy(threshold=0.7).get_config()))
    assert m.threshold == 0.7


INITIALIZERS = [initializers.GlorotUniform(seed=1), initializers.GlorotNormal(), initializers.HeUniform(),
                initializers.HeNormal(seed=2), initializers.LecunUniform(), initializers.LecunNormal(),
                initializers.RandomNormal(0.5, 2.0, seed=3), initializers.TruncatedNormal(0.1, 0.2),
                initializers.RandomUniform(-2, 3, seed=4), initializers.Constant(1.5), initializers.Zeros(),
                initializers.Ones(), initializers.Orthogonal(gain=2.0, seed=5), initializers.Identity(gain=0.5),
                initializers.VarianceScaling(3.0, "fan_out", "uniform", seed=6),
                initializers.STFT("imag", "blackman", "spectrum", periodic=True)]


def test_every_initializer_is_listed():
    listed = {type(i) for i in INITIALIZERS}
    assert set(public_classes(initializers, initializers.Initializer)) - {initializers.Initializer} == listed


@pytest.mark.parametrize("init", INITIALIZERS, ids=lambda i: type(i).__name__)
def test_initializer_round_trip(init):
    cfg, again = round_trip(init)
    assert cfg == again
    rebuilt = initializers.deserialize(via_json(initializers.serialize(init)))
    # same config, same numbers (seeded ones)
    if cfg.get("seed") is not None or not hasattr(init, "seed"):
        np.testing.assert_array_equal(rebuilt((4, 3)), init((4, 3)))


@pytest.mark.parametrize("reg", [regularizers.L1(0.3), regularizers.L2(0.2), regularizers.L1L2(0.1, 0.4)],
                         ids=lambda r: type(r).__name__)
def test_regularizer_round_trip(reg):
    cfg, again = round_trip(reg)
    assert cfg == again
    rebuilt = regularizers.deserialize(via_json(regularizers.serialize(reg)))
    assert (rebuilt.l1, rebuilt.l2) == (reg.l1, reg.l2)


@pytest.mark.parametrize("spec", ["relu", "softmax", "linear", {"name": "leaky_relu", "alpha": 0.1}])
def test_activation_round_trip(spec):
    act = activations.get(spec)
    cfg, again = round_trip(act)
    assert cfg == again
    assert activations.deserialize(via_json(activations.serialize(act))) == act


OPTIMIZERS = [optimizers.SGD(0.05, momentum=0.9, nesterov=True, clipvalue=0.5),
              optimizers.RMSprop(0.002, rho=0.8, momentum=0.1, centered=True),
              optimizers.Adam(0.003, beta_1=0.8, amsgrad=True, global_clipnorm=2.0),
              optimizers.AdamW(0.004, weight_decay=0.01),
              optimizers.Adagrad(0.1, initial_accumulator_value=0.2, clipnorm=1.0),
              optimizers.Adamax(0.02, beta_1=0.8, clipvalue=0.3),
              optimizers.Nadam(0.002, beta_2=0.99, weight_decay=0.01),
              optimizers.Lion(0.0003, beta_1=0.95),
              optimizers.Adadelta(1.0, rho=0.9, epsilon=1e-6),
              optimizers.Ftrl(0.1, learning_rate_power=-0.6, l1_regularization_strength=0.01, beta=0.5),
              optimizers.Lamb(0.002, beta_2=0.99, weight_decay=0.01),
              optimizers.Adafactor(0.01, beta_2_decay=-0.7, clip_threshold=2.0, relative_step=False),
              optimizers.SGD(schedules.ExponentialDecay(0.1, 10, 0.5, staircase=True)),
              optimizers.Muon(0.01, exclude_layers=["head"], nesterov=False, rms_rate=None, ns_steps=3),
              optimizers.ScheduleFreeAdamW(0.01, beta_1=0.8, warmup_steps=10, weight_decay=0.01),
              optimizers.MultiOptimizer(optimizers.OptimizerMap(optimizers.SGD(0.02),
                                                                {"encoder/.*": optimizers.Adam(0.003)}))]


def test_every_optimizer_is_listed():
    listed = {type(o) for o in OPTIMIZERS}
    assert set(public_classes(optimizers, optimizers.Optimizer)) - {optimizers.Optimizer} == listed


@pytest.mark.parametrize("opt", OPTIMIZERS, ids=lambda o: type(o).__name__)
def test_optimizer_round_trip(opt):
    cfg, again = round_trip(opt)
    assert cfg == again
    rebuilt = optimizers.deserialize(via_json(optimizers.serialize(opt)))
    # a MultiOptimizer has no rate of its own (Keras): its sub-optimizers' rates are compared
    pairs = zip(opt.optimizers, rebuilt.optimizers) if isinstance(opt, optimizers.MultiOptimizer) else \
        [(opt, rebuilt)]
    for a, b in pairs:
        for step in (0, 7, 25):
            a.iterations = b.iterations = step
            assert b.learning_rate == a.learning_rate


SCHEDULES = [schedules.ExponentialDecay(0.1, 10, 0.5, staircase=True),
             schedules.PiecewiseConstantDecay([5, 12], [0.3, 0.2, 0.05]),
             schedules.CosineDecay(0.01, 20, alpha=0.1, warmup_target=0.1, warmup_steps=5),
             schedules.InverseTimeDecay(0.2, 4, 0.5),
             schedules.PolynomialDecay(0.1, 15, end_learning_rate=0.01, power=2.0, cycle=True),
             schedules.CosineDecayRestarts(0.1, 20, t_mul=1.5, m_mul=0.8, alpha=0.05)]


def test_every_schedule_is_listed():
    listed = {type(s) for s in SCHEDULES}
    assert set(public_classes(schedules, schedules.LearningRateSchedule)) - {schedules.LearningRateSchedule} == listed


@pytest.mark.parametrize("sched", SCHEDULES, ids=lambda s: type(s).__name__)
def test_schedule_round_trip(sched):
    cfg, again = round_trip(sched)
    assert cfg == again
    rebuilt = schedules.deserialize(via_json(schedules.serialize(sched)))
    assert [rebuilt(s) for s in range(40)] == [sched(s) for s in range(40)]
    opt = optimizers.Adam(sched)  # inside an optimizer config, as a model file stores it
    again = optimizers.deserialize(via_json(optimizers.serialize(opt)))
    again.iterations = opt.iterations = 17
    assert again.learning_rate == opt.learning_rate


def plain_callbacks(tmp_path):
    return [callbacks.EarlyStopping(monitor="loss", min_delta=0.1, patience=3, mode="max",
                                    baseline=0.5, restore_best_weights=True, start_from_epoch=2),
            callbacks.History(), callbacks.ProgbarLogger(stateful_metrics=["acc"]),
            callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=2, min_lr=1e-4),
            callbacks.CSVLogger(str(tmp_path / "log.csv"), separator=";", append=True),
            callbacks.TerminateOnNaN(),
            callbacks.LearningRateScheduler(schedules.CosineDecay(0.1, 10), verbose=1),
            callbacks.ModelCheckpoint(str(tmp_path / "{epoch}.weights.npz"), monitor="val_acc",
                                      save_best_only=True, save_weights_only=True, save_freq=3),
            callbacks.BackupAndRestore(str(tmp_path), delete_checkpoint=False),
            callbacks.TensorBoard(str(tmp_path / "tb"), update_freq=5),
            callbacks.SwapEMAWeights(swap_on_epoch=True),
            callbacks.RemoteMonitor(root="http://localhost:9", path="/p/", field="f",
                                    headers={"X-Run": "1"}, send_as_json=True, timeout=2.0)]


def test_every_callback_is_listed(tmp_path):
    listed = {type(c) for c in plain_callbacks(tmp_path)}
    every = set(public_classes(callbacks, callbacks.Callback))
    assert every - listed == {callbacks.Callback, callbacks.LambdaCallback}  # LambdaCallback holds functions


def test_callback_round_trip(tmp_path):
    for cb in plain_callbacks(tmp_path):
        cfg, again = round_trip(cb)
        assert cfg == again, type(cb).__name__


def test_early_stopping_config_values(tmp_path):
    cfg = plain_callbacks(tmp_path)[0].get_config()
    assert cfg["patience"] == 3 and cfg["mode"] == "max" and cfg["restore_best_weights"] is True
    assert cfg["start_from_epoch"] == 2 and cfg["baseline"] == 0.5


def test_sequential_round_trip():
    corenn.utils.set_random_seed(0)
    model = corenn.Sequential([layers.Conv2D(3, 3, input_shape=(6, 6, 2)), layers.Flatten(),
                               layers.Dense(4, activation="softmax")], name="net")
    cfg = via_json(model.get_config())
    again = corenn.Sequential.from_config(cfg)
    assert via_json(again.get_config()) == cfg
    assert again.name == "net" and again.built and again.output_shape == (None, 4)
    assert [w.shape for w in again.get_weights()] == [w.shape for w in model.get_weights()]
