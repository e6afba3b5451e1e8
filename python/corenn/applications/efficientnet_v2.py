"""EfficientNetV2 B0..B3, S, M, L (Tan & Le 2021): Fused-MBConv blocks in the early stages,
MBConv with squeeze-and-excite later. The input rescaling is part of the model
(``include_preprocessing``; it takes pixels in [0, 255]). Keras' layer names."""
import copy
import math

from .. import initializers, layers
from . import _builder as B
from . import imagenet_utils

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/"
WEIGHTS_HASHES = {
    "b0": ("21ecbf6da12460d5c40bb2f29ceb2188", "893217f2bb855e2983157299931e43ff"),
    "b1": ("069f0534ff22adf035c89e2d9547a9dc", "0e80663031ca32d657f9caa404b6ec37"),
    "b2": ("424e49f28180edbde1e94797771950a7", "1dfe2e7a5d45b6632553a8961ea609eb"),
    "b3": ("1f1fc43bd98a6e4fd8fdfd551e02c7a0", "f6abf7b5849ac99a89b50dd3fd532856"),
    "-s": ("e1d88a8495beba45748fedd0cecbe016", "af0682fb74e8c54910f2d4393339c070"),
    "-m": ("a3bf6aa3276309f4fc6a34aa114c95cd", "1b8dc055df72dde80d614482840fe342"),
    "-l": ("27e6d408b53c7ebc868fefa357689935", "b0b66b5c863aef5b46e8608fe1711615"),
}

# per stage: (kernel, repeats, filters in, filters out, expansion, se ratio, stride, fused)
_STAGES = {
    "b": ((3, 1, 32, 16, 1, 0, 1, True), (3, 2, 16, 32, 4, 0, 2, True), (3, 2, 32, 48, 4, 0, 2, True),
          (3, 3, 48, 96, 4, 0.25, 2, False), (3, 5, 96, 112, 6, 0.25, 1, False),
          (3, 8, 112, 192, 6, 0.25, 2, False)),
    "-s": ((3, 2, 24, 24, 1, 0, 1, True), (3, 4, 24, 48, 4, 0, 2, True), (3, 4, 48, 64, 4, 0, 2, True),
           (3, 6, 64, 128, 4, 0.25, 2, False), (3, 9, 128, 160, 6, 0.25, 1, False),
           (3, 15, 160, 256, 6, 0.25, 2, False)),
    "-m": ((3, 3, 24, 24, 1, 0, 1, True), (3, 5, 24, 48, 4, 0, 2, True), (3, 5, 48, 80, 4, 0, 2, True),
           (3, 7, 80, 160, 4, 0.25, 2, False), (3, 14, 160, 176, 6, 0.25, 1, False),
           (3, 18, 176, 304, 6, 0.25, 2, False), (3, 5, 304, 512, 6, 0.25, 1, False)),
    "-l": ((3, 4, 32, 32, 1, 0, 1, True), (3, 7, 32, 64, 4, 0, 2, True), (3, 7, 64, 96, 4, 0, 2, True),
           (3, 10, 96, 192, 4, 0.25, 2, False), (3, 19, 192, 224, 6, 0.25, 1, False),
           (3, 25, 224, 384, 6, 0.25, 2, False), (3, 7, 384, 640, 6, 0.25, 1, False)),
}

CONV_KERNEL_INITIALIZER = {"class_name": "VarianceScaling",
                           "config": {"scale": 2.0, "mode": "fan_out", "distribution": "truncated_normal"}}
DENSE_KERNEL_INITIALIZER = {"class_name": "VarianceScaling",
                            "config": {"scale": 1.0 / 3.0, "mode": "fan_out", "distribution": "uniform"}}


def _init(spec):
    return initializers.get(copy.deepcopy(spec))


def round_filters(filters, width_coefficient, min_depth, depth_divisor):
    filters *= width_coefficient
    minimum_depth = min_depth or depth_divisor
    return int(max(minimum_depth, int(filters + depth_divisor / 2) // depth_divisor * depth_divisor))


def round_repeats(repeats, depth_coefficient):
    return int(math.ceil(depth_coefficient * repeats))


def _bn(name, momentum):
    return layers.BatchNormalization(axis=B.channel_axis(), momentum=momentum, name=name)


def _se(x, input_filters, filters, se_ratio, activation, name):
    se = layers.GlobalAveragePooling2D(name=f"{name}se_squeeze")(x)
    se_shape = (filters, 1, 1) if B.channel_axis() == 1 else (1, 1, filters)
    se = layers.Reshape(se_shape, name=f"{name}se_reshape")(se)
    se = layers.Conv2D(max(1, int(input_filters * se_ratio)), 1, padding="same", activation=activation,
                       kernel_initializer=_init(CONV_KERNEL_INITIALIZER), name=f"{name}se_reduce")(se)
    se = layers.Conv2D(filters, 1, padding="same", activation="sigmoid",
                       kernel_initializer=_init(CONV_KERNEL_INITIALIZER), name=f"{name}se_expand")(se)
    return layers.multiply([x, se], name=f"{name}se_excite")


def _residual(x, inputs, input_filters, output_filters, strides, drop_rate, name):
    if strides == 1 and input_filters == output_filters:
        if drop_rate:
            x = B.SampleDropout(drop_rate, name=f"{name}drop")(x)
        x = layers.add([x, inputs], name=f"{name}add")
    return x


def mb_conv_block(inputs, input_filters, output_filters, expand_ratio, kernel_size, strides, se_ratio,
                  bn_momentum, activation, drop_rate, name):
    """1x1 expansion -> kxk depthwise (stride) -> squeeze-and-excite -> 1x1 projection."""
    filters = input_filters * expand_ratio
    x = inputs
    if expand_ratio != 1:
        x = layers.Conv2D(filters, kernel_size=1, strides=1, padding="same", use_bias=False,
                          kernel_initializer=_init(CONV_KERNEL_INITIALIZER), name=f"{name}expand_conv")(x)
        x = _bn(f"{name}expand_bn", bn_momentum)(x)
        x = layers.Activation(activation, name=f"{name}expand_activation")(x)
    x = layers.DepthwiseConv2D(kernel_size=kernel_size, strides=strides, padding="same", use_bias=False,
                               depthwise_initializer=_init(CONV_KERNEL_INITIALIZER), name=f"{name}dwconv2")(x)
    x = _bn(f"{name}bn", bn_momentum)(x)
    x = layers.Activation(activation, name=f"{name}activation")(x)
    if 0 < se_ratio <= 1:
        x = _se(x, input_filters, filters, se_ratio, activation, name)
    x = layers.Conv2D(output_filters, kernel_size=1, strides=1, padding="same", use_bias=False,
                      kernel_initializer=_init(CONV_KERNEL_INITIALIZER), name=f"{name}project_conv")(x)
    x = _bn(f"{name}project_bn", bn_momentum)(x)
    return _residual(x, inputs, input_filters, output_filters, strides, drop_rate, name)


def fused_mb_conv_block(inputs, input_filters, output_filters, expand_ratio, kernel_size, strides,
                        se_ratio, bn_momentum, activation, drop_rate, name):
    """A kxk expansion convolution (stride) in place of the 1x1 + depthwise pair."""
    filters = input_filters * expand_ratio
    x = inputs
    if expand_ratio != 1:
        x = layers.Conv2D(filters, kernel_size=kernel_size, strides=strides, padding="same", use_bias=False,
                          kernel_initializer=_init(CONV_KERNEL_INITIALIZER), name=f"{name}expand_conv")(x)
        x = _bn(f"{name}expand_bn", bn_momentum)(x)
        x = layers.Activation(activation, name=f"{name}expand_activation")(x)
    if 0 < se_ratio <= 1:
        x = _se(x, input_filters, filters, se_ratio, activation, name)
    x = layers.Conv2D(output_filters, kernel_size=1 if expand_ratio != 1 else kernel_size,
                      strides=1 if expand_ratio != 1 else strides, padding="same", use_bias=False,
                      kernel_initializer=_init(CONV_KERNEL_INITIALIZER), name=f"{name}project_conv")(x)
    x = _bn(f"{name}project_bn", bn_momentum)(x)
    if expand_ratio == 1:
        x = layers.Activation(activation, name=f"{name}project_activation")(x)
    return _residual(x, inputs, input_filters, output_filters, strides, drop_rate, name)


def EfficientNetV2(width_coefficient, depth_coefficient, default_size, dropout_rate=0.2,
                   drop_connect_rate=0.2, depth_divisor=8, min_depth=8, bn_momentum=0.9,
                   activation="swish", name="efficientnetv2", include_top=True, weights="imagenet",
                   input_tensor=None, input_shape=None, pooling=None, classes=1000,
                   classifier_activation="softmax", include_preprocessing=True, weights_name=None):
    B.check_weights(weights, include_top, classes, name)
    B.check_pooling(pooling, name)
    stages = _STAGES["b" if weights_name.startswith("b") else weights_name]
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape, default_size=default_size, min_size=32,
        data_format=B.backend.image_data_format(), require_flatten=include_top, weights=weights)
    img_input = B.model_input(input_shape, input_tensor, name)
    bn_axis = 3 if B.backend.image_data_format() == "channels_last" else 1

    def filters(n):
        return round_filters(n, width_coefficient, min_depth, depth_divisor)

    x = img_input
    if include_preprocessing:
        channels = input_shape[bn_axis - 1]
        if weights_name.startswith("b") and channels == 3:
            x = layers.Rescaling(scale=1.0 / 255)(x)
            x = layers.Normalization(mean=list(imagenet_utils.TORCH_MEAN_RGB),
                                     variance=[s ** 2 for s in imagenet_utils.TORCH_STD_RGB], axis=bn_axis)(x)
        else:
            x = layers.Rescaling(scale=1.0 / 128.0, offset=-1)(x)
    x = layers.Conv2D(filters(stages[0][2]), kernel_size=3, strides=2, padding="same", use_bias=False,
                      kernel_initializer=_init(CONV_KERNEL_INITIALIZER), name="stem_conv")(x)
    x = _bn("stem_bn", bn_momentum)(x)
    x = layers.Activation(activation, name="stem_activation")(x)

    b = 0
    blocks = float(sum(stage[1] for stage in stages))
    for i, (kernel, repeats, f_in, f_out, expand, se_ratio, stride, fused) in enumerate(stages):
        f_in, f_out = filters(f_in), filters(f_out)
        block = fused_mb_conv_block if fused else mb_conv_block
        for j in range(round_repeats(repeats, depth_coefficient)):
            if j > 0:
                stride, f_in = 1, f_out
            x = block(x, f_in, f_out, expand, kernel, stride, se_ratio, bn_momentum, activation,
                      drop_connect_rate * b / blocks, name=f"block{i + 1}{chr(j + 97)}_")
            b += 1

    x = layers.Conv2D(filters(1280), kernel_size=1, strides=1, padding="same", use_bias=False,
                      kernel_initializer=_init(CONV_KERNEL_INITIALIZER), name="top_conv")(x)
    x = _bn("top_bn", bn_momentum)(x)
    x = layers.Activation(activation, name="top_activation")(x)
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if dropout_rate > 0:
            x = layers.Dropout(dropout_rate, name="top_dropout")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Dense(classes, activation=classifier_activation,
                         kernel_initializer=_init(DENSE_KERNEL_INITIALIZER),
                         bias_initializer=initializers.Constant(0.0), name="predictions")(x)
    else:
        x = B.pool(x, pooling, "avg_pool", "max_pool")

    def imagenet_weights():
        # Keras names the file after the model (its default name, e.g. efficientnetv2-b0)
        file_name = name + (".h5" if include_top else "_notop.h5")
        return B.imagenet_file(file_name, BASE_WEIGHTS_PATH + file_name,
                               WEIGHTS_HASHES[weights_name][0 if include_top else 1])
    return B.finish(img_input, x, name, weights, imagenet_weights, input_tensor)


def _variant(width, depth, size, key, suffix):
    default_name = f"efficientnetv2{suffix}"

    def build(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
              classes=1000, classifier_activation="softmax", include_preprocessing=True, name=default_name):
        return EfficientNetV2(width, depth, size, name=name, include_top=include_top, weights=weights,
                              input_tensor=input_tensor, input_shape=input_shape, pooling=pooling,
                              classes=classes, classifier_activation=classifier_activation,
                              include_preprocessing=include_preprocessing, weights_name=key)
    label = suffix.replace("-", "").upper()
    build.__name__ = build.__qualname__ = f"EfficientNetV2{label}"
    build.__doc__ = (f"EfficientNetV2{label} (default input {size}x{size}). Takes pixels in [0, 255]: "
                     "the rescaling is in the model (``efficientnet_v2.preprocess_input`` is the identity).")
    return build


EfficientNetV2B0 = _variant(1.0, 1.0, 224, "b0", "-b0")
EfficientNetV2B1 = _variant(1.0, 1.1, 240, "b1", "-b1")
EfficientNetV2B2 = _variant(1.1, 1.2, 260, "b2", "-b2")
EfficientNetV2B3 = _variant(1.2, 1.4, 300, "b3", "-b3")
EfficientNetV2S = _variant(1.0, 1.0, 384, "-s", "-s")
EfficientNetV2M = _variant(1.0, 1.0, 480, "-m", "-m")
EfficientNetV2L = _variant(1.0, 1.0, 480, "-l", "-l")


def preprocess_input(x, data_format=None):
    """The identity: EfficientNetV2 rescales its inputs itself."""
    return x


def decode_predictions(preds, top=5):
    return imagenet_utils.decode_predictions(preds, top=top)
