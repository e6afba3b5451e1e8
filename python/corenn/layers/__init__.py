"""corenn.layers: Keras-style layers. Each calls corenn.kernels for its math."""
from .activation import ELU, LeakyReLU, PReLU, ReLU, Softmax
from .attention import AdditiveAttention, Attention, GroupedQueryAttention, GroupQueryAttention, MultiHeadAttention
from .base import Input, InputLayer, Layer
from .convolutional import (Conv1D, Conv1DTranspose, Conv2D, Conv2DTranspose, Conv3D,
                            Conv3DTranspose, DepthwiseConv1D, DepthwiseConv2D, SeparableConv1D,
                            SeparableConv2D)
from .core import Activation, Dense, Dropout, Flatten, Identity, Lambda, Masking, Reshape
from .einsum_dense import EinsumDense
from .embedding import Embedding, ReversibleEmbedding
from .kernelized import RandomFourierFeatures   # tf.keras 2's (layers.experimental in its scripts)
from .merging import (Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract, add,
                      average, concatenate, dot, maximum, minimum, multiply, subtract)
from .normalization import (BatchNormalization, GroupNormalization, LayerNormalization, RMSNormalization,
                            UnitNormalization)
from .preprocessing import Normalization, Rescaling
from .image_preprocessing import (CenterCrop, RandomBrightness, RandomContrast, RandomCrop, RandomFlip,
                                  RandomRotation, RandomTranslation, RandomZoom, Resizing)
from .image_augmentation import (AugMix, AutoContrast, CutMix, Equalization, MixUp, Pipeline, RandAugment,
                                 RandomColorDegeneration, RandomColorJitter, RandomErasing,
                                 RandomGaussianBlur, RandomGrayscale, RandomHeight, RandomHue,
                                 RandomInvert, RandomPerspective, RandomPosterization,
                                 RandomSaturation, RandomSharpness, RandomShear, RandomWidth,
                                 Solarization)
from .image_boxes import MaxNumBoundingBoxes
from .image_enhance import ContrastLimitedAdaptiveHistogramEqualization, RandomElasticTransform
from .text_preprocessing import (CategoryEncoding, Hashing, HashedCrossing, IntegerLookup, StringLookup,
                                 TextVectorization)
from .discretization import Discretization
from .pooling import (AveragePooling1D, AveragePooling2D, AveragePooling3D, GlobalAveragePooling1D,
                      GlobalAveragePooling2D, GlobalAveragePooling3D, GlobalMaxPooling1D,
                      GlobalMaxPooling2D, GlobalMaxPooling3D, MaxPooling1D, MaxPooling2D,
                      MaxPooling3D)
from .recurrent import GRU, LSTM, Bidirectional, SimpleRNN
from .conv_lstm import ConvLSTM1D, ConvLSTM2D, ConvLSTM3D
from .rnn_cells import RNN, AbstractRNNCell, GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells
from .regularization import (ActivityRegularization, AlphaDropout, GaussianDropout, GaussianNoise, SpatialDropout1D,
                             SpatialDropout2D, SpatialDropout3D)
from .reshaping import (Cropping1D, Cropping2D, Cropping3D, Permute, RepeatVector, UpSampling1D,
                        UpSampling2D, UpSampling3D, ZeroPadding1D, ZeroPadding2D, ZeroPadding3D)
from .wrappers import SpectralNormalization, TimeDistributed, Wrapper
from .input_spec import InputSpec

# Keras' long names (Keras 2 scripts and Keras 3 keep them as aliases)
Convolution1D, Convolution2D = Conv1D, Conv2D
Convolution1DTranspose, Convolution2DTranspose = Conv1DTranspose, Conv2DTranspose
SeparableConvolution1D, SeparableConvolution2D = SeparableConv1D, SeparableConv2D
Convolution3D, Convolution3DTranspose = Conv3D, Conv3DTranspose

__all__ = ["Layer", "InputLayer", "Input", "Dense", "Activation", "Flatten", "Reshape", "Dropout",
           "Conv2D", "Conv1D", "MaxPooling2D", "AveragePooling2D", "MaxPooling1D",
           "AveragePooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "GlobalAveragePooling1D",
           "GlobalMaxPooling1D", "ZeroPadding1D", "ZeroPadding2D", "BatchNormalization", "SpatialDropout1D", "SpatialDropout2D",
           "Embedding", "SimpleRNN", "LSTM", "GRU", "Bidirectional", "TimeDistributed",
           "Identity", "LayerNormalization", "Permute", "RepeatVector", "Cropping1D", "Cropping2D",
           "UpSampling1D", "UpSampling2D", "ReLU", "LeakyReLU", "ELU", "Softmax",
           "MultiHeadAttention", "GroupQueryAttention", "GroupedQueryAttention", "Masking", "Lambda",
           "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot",
           "add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate", "dot",
           "get", "serialize", "deserialize"]
__all__ += ["Conv2DTranspose", "DepthwiseConv2D", "SeparableConv2D", "PReLU", "Rescaling",
            "Normalization"]
__all__ += ["Resizing", "CenterCrop", "RandomFlip", "RandomCrop", "RandomTranslation",
            "RandomRotation", "RandomZoom", "RandomContrast", "RandomBrightness",
            "CategoryEncoding", "Hashing", "StringLookup", "IntegerLookup", "TextVectorization"]
__all__ += ["GroupNormalization", "UnitNormalization", "GaussianNoise", "GaussianDropout",
            "AlphaDropout", "Conv1DTranspose", "Attention",
            "AdditiveAttention", "ZeroPadding3D", "Cropping3D"]
__all__ += ["RNN", "SimpleRNNCell", "LSTMCell", "GRUCell", "StackedRNNCells", "AbstractRNNCell"]
__all__ += ["Discretization"]
__all__ += ["RandomHeight", "RandomWidth", "RandomShear", "RandomPerspective", "RandomGrayscale",
            "RandomSaturation", "RandomHue", "RandomColorDegeneration", "RandomSharpness",
            "RandomPosterization", "RandomInvert", "Solarization", "AutoContrast", "Equalization",
            "RandomErasing", "RandomGaussianBlur", "RandomColorJitter", "MixUp", "CutMix",
            "Pipeline", "RandAugment", "AugMix"]
__all__ += ["EinsumDense", "DepthwiseConv1D", "SeparableConv1D", "SeparableConvolution1D",
            "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"]
__all__ += ["HashedCrossing", "RMSNormalization", "MelSpectrogram"]
from .audio import MelSpectrogram, STFTSpectrogram  # noqa: E402
from .adaptive_pooling import (AdaptiveAveragePooling1D, AdaptiveAveragePooling2D,  # noqa: E402
                               AdaptiveAveragePooling3D, AdaptiveMaxPooling1D, AdaptiveMaxPooling2D,
                               AdaptiveMaxPooling3D)
__all__ += ["AdaptiveAveragePooling1D", "AdaptiveAveragePooling2D", "AdaptiveAveragePooling3D",
            "AdaptiveMaxPooling1D", "AdaptiveMaxPooling2D", "AdaptiveMaxPooling3D", "SpatialDropout3D",
            "ReversibleEmbedding", "STFTSpectrogram"]
__all__ += ["Wrapper", "SpectralNormalization", "InputSpec", "Convolution1D", "Convolution2D", "Convolution1DTranspose",
            "Convolution2DTranspose", "SeparableConvolution2D"]


def serialize(layer) -> dict:
    spec = {"class_name": type(layer).__name__, "config": layer.get_config()}
    registered = type(layer).__dict__.get("_registered_name")
    if registered is not None:   # Keras' key for a registered class: deserialize looks it up first
        spec["registered_name"] = registered
    # a class with its own get_build_config / build_from_config (Keras 3's build customization:
    # a build that takes more than the input shape) is rebuilt from what it records
    cls = type(layer)
    if layer.built and (cls.get_build_config is not Layer.get_build_config
                        or cls.build_from_config is not Layer.build_from_config):
        build_config = layer.get_build_config()
        if build_config is not None:
            spec["build_config"] = build_config
    return spec


def deserialize(config, custom_objects=None, prepare_layer=None):
    """Inverse of serialize: {'class_name': 'Dense', 'config': {...}} -> a new layer (a user class:
    registered, or named in ``custom_objects``). ``prepare_layer(layer)`` runs before a
    ``build_config`` the spec carries is handed to ``layer.build_from_config``."""
    from ..saving import CustomObjectScope, custom_class
    cls = globals().get(config["class_name"])
    if cls is None:
        with CustomObjectScope(custom_objects):
            # the registered name first, as Keras 3: two classes of one short name registered
            # under different packages stay apart (the short name holds the later one)
            cls = custom_class(config.get("registered_name")) or custom_class(config["class_name"])
    if not (isinstance(cls, type) and issubclass(cls, Layer)):
        raise ValueError(f"layers.deserialize: unknown layer class {config['class_name']!r}")
    with CustomObjectScope(custom_objects):
        layer = cls.from_config(dict(config.get("config", {})))
        if prepare_layer is not None:
            prepare_layer(layer)
        if config.get("build_config") is not None:
            layer.build_from_config(config["build_config"])
        return layer


get = deserialize
__all__ += ["ActivityRegularization"]
__all__ += ["RandomFourierFeatures"]
__all__ += ["MaxNumBoundingBoxes", "RandomElasticTransform", "ContrastLimitedAdaptiveHistogramEqualization"]   # tf.keras 2's kernel-approximation layer (Keras 3 has none)

# ops called on KerasTensors record one node each; not a Keras name, but configs name it
from .op_layer import OpLayer  # noqa: E402,F401

from . import experimental  # noqa: E402  TF 2.3-2.5 paths: layers.experimental.preprocessing.Rescaling
# Keras' short aliases of the pooling layers (keras.io examples write GlobalAvgPool2D, MaxPool2D):
# the same classes, so a saved model names the long class, as Keras does
MaxPool1D, MaxPool2D, AvgPool1D, AvgPool2D = MaxPooling1D, MaxPooling2D, AveragePooling1D, AveragePooling2D
GlobalAvgPool1D, GlobalAvgPool2D = GlobalAveragePooling1D, GlobalAveragePooling2D
GlobalMaxPool1D, GlobalMaxPool2D = GlobalMaxPooling1D, GlobalMaxPooling2D
MaxPool3D, AvgPool3D = MaxPooling3D, AveragePooling3D
GlobalMaxPool3D, GlobalAvgPool3D = GlobalMaxPooling3D, GlobalAveragePooling3D
__all__ += ["MaxPool1D", "MaxPool2D", "AvgPool1D", "AvgPool2D", "GlobalAvgPool1D", "GlobalAvgPool2D",
            "GlobalMaxPool1D", "GlobalMaxPool2D"]
# the 3-D convolution family (issue 13)
__all__ += ["Conv3D", "Conv3DTranspose", "MaxPooling3D", "AveragePooling3D", "GlobalMaxPooling3D",
            "GlobalAveragePooling3D", "UpSampling3D", "Convolution3D", "Convolution3DTranspose",
            "MaxPool3D", "AvgPool3D", "GlobalMaxPool3D", "GlobalAvgPool3D"]
from . import _float64  # noqa: E402,F401  (registers the layers' float64 forms)
