"""The table of layer class -> converter (by class name: a subclass of a layer is not assumed
to compute what its base class does, so it must be listed itself)."""
from __future__ import annotations

from . import _conv_lstm as cl
from . import _convert as c
from . import _masks as m
from . import _ops as o
from . import _preprocessing as p
from . import _recurrent as r

CONVERTERS = {
    "Dense": c.convert_dense, "EinsumDense": c.convert_einsum_dense,
    "Conv1D": c.convert_conv, "Conv2D": c.convert_conv, "Conv3D": c.convert_conv,
    "Conv3DTranspose": c.convert_conv_transpose,
    "Conv2DTranspose": c.convert_conv_transpose, "DepthwiseConv2D": c.convert_depthwise, "SeparableConv2D": c.convert_separable,
    "DepthwiseConv1D": c.convert_depthwise, "SeparableConv1D": c.convert_separable,
    "MaxPooling1D": c.convert_pooling, "MaxPooling2D": c.convert_pooling,
    "AveragePooling1D": c.convert_pooling, "AveragePooling2D": c.convert_pooling,
    "GlobalAveragePooling1D": c.convert_global_pooling, "GlobalAveragePooling2D": c.convert_global_pooling,
    "GlobalMaxPooling1D": c.convert_global_pooling, "GlobalMaxPooling2D": c.convert_global_pooling,
    "MaxPooling3D": c.convert_pooling, "AveragePooling3D": c.convert_pooling,
    "GlobalAveragePooling3D": c.convert_global_pooling, "GlobalMaxPooling3D": c.convert_global_pooling,
    "BatchNormalization": c.convert_batch_norm, "LayerNormalization": c.convert_layer_norm,
    "Dropout": c.convert_passthrough, "SpatialDropout1D": c.convert_passthrough,
    "SpatialDropout2D": c.convert_passthrough, "Identity": c.convert_passthrough,
    "ActivityRegularization": c.convert_passthrough,   # a training-time loss only
    "GaussianNoise": c.convert_passthrough, "GaussianDropout": c.convert_passthrough,   # training only
    "AlphaDropout": c.convert_passthrough,
    # keras.applications' own layers: EfficientNet's stochastic depth, ConvNeXt's layer scale
    "SampleDropout": c.convert_passthrough, "LayerScale": c.convert_layer_scale,
    "RMSNormalization": c.convert_layer_norm, "SpectralNormalization": c.convert_spectral_norm,
    "Resizing": c.convert_resizing, "Masking": m.convert_masking, "UnitNormalization": c.convert_unit_norm,
    "Flatten": c.convert_flatten, "Reshape": c.convert_reshape, "Permute": c.convert_permute,
    "RepeatVector": c.convert_repeat_vector,
    "ZeroPadding1D": c.convert_zero_padding, "ZeroPadding2D": c.convert_zero_padding,
    "Cropping1D": c.convert_cropping, "Cropping2D": c.convert_cropping,
    "UpSampling1D": c.convert_upsampling1d, "UpSampling2D": c.convert_upsampling2d,
    "UpSampling3D": c.convert_upsampling3d,
    "Embedding": c.convert_embedding,
    "Activation": c.convert_activation,
    "ReLU": c._kernel_activation("relu"), "LeakyReLU": c._kernel_activation("leaky_relu", "negative_slope"),
    "ELU": c._kernel_activation("elu", "alpha"), "Softmax": c._kernel_activation("softmax"),
    "PReLU": c.convert_prelu,
    "Rescaling": c.convert_affine, "Normalization": c.convert_affine,
    "Add": c._merge("Sum"), "Subtract": c._merge("Sub"), "Multiply": c._merge("Mul"),
    "Average": c._merge("Mean"), "Maximum": c._merge("Max"), "Minimum": c._merge("Min"),
    "Concatenate": c.convert_concatenate, "Dot": c.convert_dot,
    "SimpleRNN": r.convert_rnn, "LSTM": r.convert_rnn, "GRU": r.convert_rnn,
    "RNN": r.convert_rnn,
    "Bidirectional": r.convert_bidirectional,
    "ConvLSTM1D": cl.convert_conv_lstm, "ConvLSTM2D": cl.convert_conv_lstm, "ConvLSTM3D": cl.convert_conv_lstm,
    "TimeDistributed": c.convert_time_distributed,
    "MultiHeadAttention": c.convert_attention, "GroupedQueryAttention": c.convert_attention,
    "Attention": c.convert_dot_attention, "AdditiveAttention": c.convert_dot_attention,
    "Discretization": p.convert_discretization, "CategoryEncoding": p.convert_category_encoding,
    "IntegerLookup": p.convert_lookup, "StringLookup": p.convert_lookup,
    "OpLayer": o.convert_op_layer,   # an op called on KerasTensors (x + table, ops.expand_dims, x[:, 0])
}
