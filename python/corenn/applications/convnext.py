"""ConvNeXt Tiny / Small / Base / Large / XLarge (Liu et al. 2022): a ResNet modernized with 7x7
depthwise convolutions, LayerNormalization, inverted MLP blocks and layer scale. The input
normalization is part of the model (``include_preprocessing``; it takes pixels in [0, 255]).
Keras' layer names, including its nested stem / downsampling Sequential models."""
import numpy as np

from .. import initializers, layers
from ..layers.base import Layer
from ._builder import keras_application_layer
from ..models import Sequential
from . import _builder as B
from . import imagenet_utils

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/convnext/"
# SHA-256 (Keras' hashes for these files are 64 hex digits)
WEIGHTS_HASHES = {
    "convnext_tiny": ("8ae6e78ce2933352b1ef4008e6dd2f17bc40771563877d156bc6426c7cf503ff",
                      "d547c096cabd03329d7be5562c5e14798aa39ed24b474157cef5e85ab9e49ef1"),
    "convnext_small": ("ce1277d8f1ee5a0ef0e171469089c18f5233860ceaf9b168049cb9263fd7483c",
                       "6fc8009faa2f00c1c1dfce59feea9b0745eb260a7dd11bee65c8e20843da6eab"),
    "convnext_base": ("52cbb006d3dadd03f6e095a8ca1aca47aecdd75acb4bc74bce1f5c695d0086e6",
                      "40a20c5548a5e9202f69735ecc06c990e6b7c9d2de39f0361e27baeb24cb7c45"),
    "convnext_large": ("070c5ed9ed289581e477741d3b34beffa920db8cf590899d6d2c67fba2a198a6",
                       "96f02b6f0753d4f543261bc9d09bed650f24dd6bc02ddde3066135b63d23a1cd"),
    "convnext_xlarge": ("c1f5ccab661354fc3a79a10fa99af82f0fbf10ec65cb894a3ae0815f17a889ee",
                        "de3f8a54174130e0cecdc71583354753d557fcf1f4487331558e2a16ba0cfe05"),
}
MODEL_CONFIGS = {
    "tiny": ((3, 3, 9, 3), (96, 192, 384, 768)),
    "small": ((3, 3, 27, 3), (96, 192, 384, 768)),
    "base": ((3, 3, 27, 3), (128, 256, 512, 1024)),
    "large": ((3, 3, 27, 3), (192, 384, 768, 1536)),
    "xlarge": ((3, 3, 27, 3), (256, 512, 1024, 2048)),
}
_LN_EPS = 1e-6


@keras_application_layer("keras.src.applications.convnext")
class LayerScale(Layer):
    """x times a learned per-channel vector ``gamma`` (initialized to ``init_values``)."""

    def __init__(self, init_values, projection_dim, **kwargs):
        super().__init__(**kwargs)
        self.init_values = float(init_values)
        self.projection_dim = int(projection_dim)

    def build(self, input_shape):
        self.gamma = self.add_weight(name="gamma", shape=(self.projection_dim,),
                                     initializer=initializers.Constant(self.init_values), trainable=True)
        super().build(input_shape)

    def call(self, x):
        from .. import ops
        return ops.multiply(x, self.gamma)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(init_values=self.init_values, projection_dim=self.projection_dim)
        return config


def ConvNeXtBlock(projection_dim, drop_path_rate=0.0, layer_scale_init_value=1e-6, name=None):
    """7x7 depthwise conv -> LayerNormalization -> Dense (4x) -> GELU -> Dense -> layer scale,
    plus the input (after stochastic depth)."""
    def apply(inputs):
        x = layers.Conv2D(projection_dim, kernel_size=7, padding="same", groups=projection_dim,
                          name=f"{name}_depthwise_conv")(inputs)
        x = layers.LayerNormalization(epsilon=_LN_EPS, name=f"{name}_layernorm")(x)
        x = layers.Dense(4 * projection_dim, name=f"{name}_pointwise_conv_1")(x)
        x = layers.Activation("gelu", name=f"{name}_gelu")(x)
        x = layers.Dense(projection_dim, name=f"{name}_pointwise_conv_2")(x)
        if layer_scale_init_value is not None:
            x = LayerScale(layer_scale_init_value, projection_dim, name=f"{name}_layer_scale")(x)
        if drop_path_rate:
            x = B.SampleDropout(drop_path_rate, name=f"{name}_stochastic_depth")(x)
        else:
            x = layers.Activation("linear", name=f"{name}_identity")(x)
        return layers.Add()([inputs, x])
    return apply


def ConvNeXt(depths, projection_dims, drop_path_rate=0.0, layer_scale_init_value=1e-6,
             default_size=224, name="convnext", include_preprocessing=True, include_top=True,
             weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
             classifier_activation="softmax", weights_name=None):
    if B.backend.image_data_format() == "channels_first":
        raise ValueError(f"{name}: ConvNeXt does not support the channels_first image data format "
                         "(as in Keras); use channels_last")
    B.check_weights(weights, include_top, classes, name)
    B.check_pooling(pooling, name)
    if weights == "imagenet":
        variant = weights_name.split("convnext_")[-1]
        if (tuple(depths), tuple(projection_dims)) != MODEL_CONFIGS[variant]:
            raise ValueError(f"{name}: ImageNet weights of {weights_name} need depths "
                             f"{list(MODEL_CONFIGS[variant][0])} and projection_dims "
                             f"{list(MODEL_CONFIGS[variant][1])}")
        if weights_name not in name:
            raise ValueError(f"{name}: with ImageNet weights the model name must contain "
                             f"{weights_name!r} (Keras names the weight file after the model)")
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape, default_size=default_size, min_size=32,
        data_format=B.backend.image_data_format(), require_flatten=include_top, weights=weights)
    img_input = B.model_input(input_shape, input_tensor, name)

    x = img_input
    if include_preprocessing and input_shape[-1] == 3:
        x = layers.Normalization(mean=[m * 255 for m in imagenet_utils.TORCH_MEAN_RGB],
                                 variance=[(s * 255) ** 2 for s in imagenet_utils.TORCH_STD_RGB],
                                 name=f"{name}_prestem_normalization")(x)
    stem = Sequential([
        layers.Conv2D(projection_dims[0], kernel_size=4, strides=4, name=f"{name}_stem_conv"),
        layers.LayerNormalization(epsilon=_LN_EPS, name=f"{name}_stem_layernorm"),
    ], name=f"{name}_stem")
    downsample = [stem] + [
        Sequential([
            layers.LayerNormalization(epsilon=_LN_EPS, name=f"{name}_downsampling_layernorm_{i}"),
            layers.Conv2D(projection_dims[i + 1], kernel_size=2, strides=2,
                          name=f"{name}_downsampling_conv_{i}"),
        ], name=f"{name}_downsampling_block_{i}")
        for i in range(3)]
    drop_rates = [float(r) for r in np.linspace(0.0, drop_path_rate, sum(depths))]
    cur = 0
    for i in range(4):
        x = downsample[i](x)
        for j in range(depths[i]):
            x = ConvNeXtBlock(projection_dims[i], drop_rates[cur + j], layer_scale_init_value,
                              name=f"{name}_stage_{i}_block_{j}")(x)
        cur += depths[i]
    if include_top:
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.GlobalAveragePooling2D(name=f"{name}_head_gap")(x)
        x = layers.LayerNormalization(epsilon=_LN_EPS, name=f"{name}_head_layernorm")(x)
        x = layers.Dense(classes, activation=classifier_activation, name=f"{name}_head_dense")(x)
    else:
        x = B.pool(x, pooling)
        x = layers.LayerNormalization(epsilon=_LN_EPS)(x)

    def imagenet_weights():
        file_name = name + (".h5" if include_top else "_notop.h5")
        return B.imagenet_file(file_name, BASE_WEIGHTS_PATH + file_name,
                               WEIGHTS_HASHES[weights_name][0 if include_top else 1])
    return B.finish(img_input, x, name, weights, imagenet_weights, input_tensor)


def _variant(variant, default_drop=0.0):
    key = f"convnext_{variant}"

    def build(include_top=True, include_preprocessing=True, weights="imagenet", input_tensor=None,
              input_shape=None, pooling=None, classes=1000, classifier_activation="softmax", name=key):
        depths, dims = MODEL_CONFIGS[variant]
        return ConvNeXt(depths, dims, drop_path_rate=default_drop, layer_scale_init_value=1e-6,
                        default_size=224, name=name, include_preprocessing=include_preprocessing,
                        include_top=include_top, weights=weights, input_tensor=input_tensor,
                        input_shape=input_shape, pooling=pooling, classes=classes,
                        classifier_activation=classifier_activation, weights_name=key)
    build.__name__ = build.__qualname__ = f"ConvNeXt{variant.capitalize().replace('Xlarge', 'XLarge')}"
    build.__doc__ = (f"{build.__name__}. Takes pixels in [0, 255]: the normalization is in the model "
                     "(``convnext.preprocess_input`` is the identity). Conv2D(groups=...) is its "
                     "depthwise convolution, as in Keras.")
    return build


ConvNeXtTiny = _variant("tiny")
ConvNeXtSmall = _variant("small")
ConvNeXtBase = _variant("base")
ConvNeXtLarge = _variant("large")
ConvNeXtXLarge = _variant("xlarge")


def preprocess_input(x, data_format=None):
    """The identity: ConvNeXt normalizes its inputs itself."""
    return x


def decode_predictions(preds, top=5):
    return imagenet_utils.decode_predictions(preds, top=top)
