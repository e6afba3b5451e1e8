"""MobileNetV2 (Sandler et al. 2018): inverted residual blocks with linear bottlenecks; Keras'
layer names."""
import warnings

from .. import layers
from . import _builder as B
from . import imagenet_utils

BASE_WEIGHT_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"
_SIZES = (96, 128, 160, 192, 224)
_BN = dict(epsilon=1e-3, momentum=0.999)


def _make_divisible(v, divisor, min_value=None):
    """``v`` rounded to a multiple of ``divisor``, never more than 10% below ``v``."""
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


def _spatial(shape):
    if B.backend.image_data_format() == "channels_first":
        return shape[-2], shape[-1]
    return shape[-3], shape[-2]


def MobileNetV2(input_shape=None, alpha=1.0, include_top=True, weights="imagenet",
                input_tensor=None, pooling=None, classes=1000, classifier_activation="softmax",
                name=None):
    """MobileNetV2 (3,538,984 parameters at alpha=1 with the classifier). Inputs:
    ``mobilenet_v2.preprocess_input`` (to [-1, 1])."""
    where = name or "MobileNetV2"
    B.check_weights(weights, include_top, classes, where)
    B.check_pooling(pooling, where)
    if input_shape is not None and input_tensor is not None:
        B.check_tensor_matches(input_shape, input_tensor, where)
    if input_shape is None and input_tensor is not None:
        rows, cols = _spatial(tuple(input_tensor.shape))
    elif input_shape is not None:
        rows, cols = _spatial(tuple(input_shape))
    else:
        rows = cols = None
    default_size = rows if rows == cols and rows in _SIZES else 224
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape, default_size=default_size, min_size=32,
        data_format=B.backend.image_data_format(), require_flatten=include_top, weights=weights)
    rows, cols = _spatial(input_shape)
    if weights == "imagenet":
        if alpha not in (0.35, 0.50, 0.75, 1.0, 1.3, 1.4):
            raise ValueError(f"{where}: ImageNet weights exist for alpha 0.35, 0.5, 0.75, 1.0, 1.3 "
                             f"or 1.4; got alpha={alpha}")
        if rows != cols or rows not in _SIZES:
            rows = 224
            warnings.warn("input_shape is undefined or non-square, or its rows are not in "
                          "[96, 128, 160, 192, 224]; the weights for input shape (224, 224) are "
                          "loaded.", stacklevel=2)
    img_input = B.model_input(input_shape, input_tensor, where)
    axis = B.channel_axis()

    x = layers.Conv2D(_make_divisible(32 * alpha, 8), kernel_size=3, strides=(2, 2), padding="same",
                      use_bias=False, name="Conv1")(img_input)
    x = layers.BatchNormalization(axis=axis, name="bn_Conv1", **_BN)(x)
    x = layers.ReLU(6.0, name="Conv1_relu")(x)
    # (filters, stride, expansion) of blocks 0..16
    plan = ([(16, 1, 1)] + [(24, 2, 6), (24, 1, 6)] + [(32, 2, 6)] + [(32, 1, 6)] * 2
            + [(64, 2, 6)] + [(64, 1, 6)] * 3 + [(96, 1, 6)] * 3 + [(160, 2, 6)] + [(160, 1, 6)] * 2
            + [(320, 1, 6)])
    for block_id, (filters, stride, expansion) in enumerate(plan):
        x = _inverted_res_block(x, expansion, stride, alpha, filters, block_id)
    last_filters = _make_divisible(1280 * alpha, 8) if alpha > 1.0 else 1280
    x = layers.Conv2D(last_filters, kernel_size=1, use_bias=False, name="Conv_1")(x)
    x = layers.BatchNormalization(axis=axis, name="Conv_1_bn", **_BN)(x)
    x = layers.ReLU(6.0, name="out_relu")(x)
    if include_top:
        x = layers.GlobalAveragePooling2D()(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = B.pool(x, pooling)
    if name is None:
        name = f"mobilenetv2_{alpha:0.2f}_{rows}"

    def imagenet_weights():
        stem = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels"
        file_name = (f"{stem}_{float(alpha)}_{rows}.h5" if include_top
                     else f"{stem}_{float(alpha)}_{rows}_no_top.h5")
        return B.imagenet_file(file_name, BASE_WEIGHT_PATH + file_name)
    return B.finish(img_input, x, name, weights, imagenet_weights, input_tensor)


def _inverted_res_block(inputs, expansion, stride, alpha, filters, block_id):
    """1x1 expansion -> 3x3 depthwise (stride) -> 1x1 linear projection, plus the input when the
    shapes allow it. Block 0 has no expansion and the prefix 'expanded_conv_'."""
    axis = B.channel_axis()
    in_channels = inputs.shape[axis]
    pointwise_filters = _make_divisible(int(filters * alpha), 8)
    x = inputs
    prefix = f"block_{block_id}_"
    if block_id:
        x = layers.Conv2D(expansion * in_channels, kernel_size=1, padding="same", use_bias=False,
                          activation=None, name=f"{prefix}expand")(x)
        x = layers.BatchNormalization(axis=axis, name=f"{prefix}expand_BN", **_BN)(x)
        x = layers.ReLU(6.0, name=f"{prefix}expand_relu")(x)
    else:
        prefix = "expanded_conv_"
    if stride == 2:
        x = layers.ZeroPadding2D(padding=imagenet_utils.correct_pad(x, 3), name=f"{prefix}pad")(x)
    x = layers.DepthwiseConv2D(kernel_size=3, strides=stride, activation=None, use_bias=False,
                               padding="same" if stride == 1 else "valid",
                               name=f"{prefix}depthwise")(x)
    x = layers.BatchNormalization(axis=axis, name=f"{prefix}depthwise_BN", **_BN)(x)
    x = layers.ReLU(6.0, name=f"{prefix}depthwise_relu")(x)
    x = layers.Conv2D(pointwise_filters, kernel_size=1, padding="same", use_bias=False,
                      activation=None, name=f"{prefix}project")(x)
    x = layers.BatchNormalization(axis=axis, name=f"{prefix}project_BN", **_BN)(x)
    if in_channels == pointwise_filters and stride == 1:
        return layers.Add(name=f"{prefix}add")([inputs, x])
    return x


def preprocess_input(x, data_format=None):
    """'tf' mode: pixels scaled to [-1, 1]."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    return imagenet_utils.decode_predictions(preds, top=top)
