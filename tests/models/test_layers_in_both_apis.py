"""Every public single-input layer works in both APIs: Sequential([Input(shape), layer]) and
keras.Model(inp, layer(inp)) with the same weights predict the same values, which are also what the
layer computes when called eagerly. A new layer class in corenn.layers.__all__ must be added to
the table (or to the list of layers that take several inputs)."""
import numpy as np
import pytest

from corenn import keras, layers

# name: (constructor, input shape of one sample, integer input)
TABLE = {
    "Dense": (lambda: layers.Dense(3, activation="tanh"), (5,), False),
    "Activation": (lambda: layers.Activation("sigmoid"), (5,), False),
    "Flatten": (lambda: layers.Flatten(), (3, 4), False),
    "Reshape": (lambda: layers.Reshape((4, 3)), (3, 4), False),
    "Dropout": (lambda: layers.Dropout(0.5), (5,), False),
    "Conv2D": (lambda: layers.Conv2D(3, 3, padding="same", activation="relu"), (6, 6, 2), False),
    "Conv1D": (lambda: layers.Conv1D(3, 3, strides=2), (7, 2), False),
    "MaxPooling2D": (lambda: layers.MaxPooling2D(2), (6, 6, 2), False),
    "AveragePooling2D": (lambda: layers.AveragePooling2D(3, strides=2, padding="same"), (6, 6, 2), False),
    "MaxPooling1D": (lambda: layers.MaxPooling1D(2), (6, 2), False),
    "AveragePooling1D": (lambda: layers.AveragePooling1D(2), (6, 2), False),
    "GlobalAveragePooling2D": (lambda: layers.GlobalAveragePooling2D(), (4, 4, 3), False),
    "GlobalMaxPooling2D": (lambda: layers.GlobalMaxPooling2D(), (4, 4, 3), False),
    "GlobalAveragePooling1D": (lambda: layers.GlobalAveragePooling1D(), (5, 3), False),
    "GlobalMaxPooling1D": (lambda: layers.GlobalMaxPooling1D(), (5, 3), False),
    "ZeroPadding2D": (lambda: layers.ZeroPadding2D(1), (4, 4, 2), False),
    "BatchNormalization": (lambda: layers.BatchNormalization(), (5,), False),
    "SpatialDropout2D": (lambda: layers.SpatialDropout2D(0.5), (4, 4, 2), False),
    "Embedding": (lambda: layers.Embedding(10, 3), (4,), True),
    "SimpleRNN": (lambda: layers.SimpleRNN(3), (5, 2), False),
    "LSTM": (lambda: layers.LSTM(3, return_sequences=True), (5, 2), False),
    "GRU": (lambda: layers.GRU(3), (5, 2), False),
    "RNN": (lambda: layers.RNN(layers.GRUCell(3), return_sequences=True), (5, 2), False),
    "Bidirectional": (lambda: layers.Bidirectional(layers.LSTM(3)), (5, 2), False),
    "TimeDistributed": (lambda: layers.TimeDistributed(layers.Dense(3)), (5, 2), False),
    "SpectralNormalization": (lambda: layers.SpectralNormalization(layers.Dense(3)), (5,), False),
    "Identity": (lambda: layers.Identity(), (5,), False),
    "LayerNormalization": (lambda: layers.LayerNormalization(), (6,), False),
    "Permute": (lambda: layers.Permute((2, 1)), (3, 4), False),
    "RepeatVector": (lambda: layers.RepeatVector(3), (4,), False),
    "Cropping1D": (lambda: layers.Cropping1D(1), (6, 2), False),
    "Cropping2D": (lambda: layers.Cropping2D(1), (6, 6, 2), False),
    "UpSampling1D": (lambda: layers.UpSampling1D(2), (4, 2), False),
    "UpSampling2D": (lambda: layers.UpSampling2D(2), (3, 3, 2), False),
    "ReLU": (lambda: layers.ReLU(negative_slope=0.1), (5,), False),
    "LeakyReLU": (lambda: layers.LeakyReLU(0.2), (5,), False),
    "ELU": (lambda: layers.ELU(), (5,), False),
    "Softmax": (lambda: layers.Softmax(), (5,), False),
    "Conv2DTranspose": (lambda: layers.Conv2DTranspose(3, 3, strides=2, padding="same"), (4, 4, 2), False),
    "DepthwiseConv2D": (lambda: layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same"), (5, 5, 2), False),
    "SeparableConv2D": (lambda: layers.SeparableConv2D(3, 3, activation="relu"), (5, 5, 2), False),
    "PReLU": (lambda: layers.PReLU(shared_axes=[1, 2]), (3, 3, 2), False),
    "Rescaling": (lambda: layers.Rescaling(0.5, offset=-1.0), (5,), False),
    "Normalization": (lambda: layers.Normalization(), (5,), False),
    "Masking": (lambda: layers.Masking(0.5), (4, 3), False),
    "Lambda": (lambda: layers.Lambda(lambda x: x * x - 1.0), (4, 3), False),
    "ZeroPadding1D": (lambda: layers.ZeroPadding1D((1, 2)), (4, 3), False),
    "SpatialDropout1D": (lambda: layers.SpatialDropout1D(0.5), (4, 3), False),
    "Resizing": (lambda: layers.Resizing(3, 5, crop_to_aspect_ratio=True), (6, 4, 2), False),
    "CenterCrop": (lambda: layers.CenterCrop(3, 2), (5, 4, 2), False),
    "RandomFlip": (lambda: layers.RandomFlip(seed=1), (4, 5, 2), False),
    "RandomCrop": (lambda: layers.RandomCrop(3, 3, seed=1), (5, 4, 2), False),
    "RandomTranslation": (lambda: layers.RandomTranslation(0.2, 0.3, seed=1), (4, 5, 2), False),
    "RandomRotation": (lambda: layers.RandomRotation(0.1, seed=1), (4, 5, 2), False),
    "RandomZoom": (lambda: layers.RandomZoom(0.2, seed=1), (4, 5, 2), False),
    "RandomContrast": (lambda: layers.RandomContrast(0.5, seed=1), (4, 5, 2), False),
    "RandomBrightness": (lambda: layers.RandomBrightness(0.2, seed=1), (4, 5, 2), False),
    "RandomHeight": (lambda: layers.RandomHeight(0.3, seed=1), (4, 5, 2), False),
    "RandomWidth": (lambda: layers.RandomWidth(0.3, seed=1), (4, 5, 2), False),
    "RandomShear": (lambda: layers.RandomShear(0.2, 0.3, seed=1), (4, 5, 2), False),
    "RandomPerspective": (lambda: layers.RandomPerspective(seed=1), (4, 5, 2), False),
    "RandomGrayscale": (lambda: layers.RandomGrayscale(seed=1), (4, 5, 3), False),
    "RandomSaturation": (lambda: layers.RandomSaturation(0.5, seed=1), (4, 5, 3), False),
    "RandomHue": (lambda: layers.RandomHue(0.5, seed=1), (4, 5, 3), False),
    "RandomColorDegeneration": (lambda: layers.RandomColorDegeneration(0.5, seed=1), (4, 5, 3), False),
    "RandomSharpness": (lambda: layers.RandomSharpness(0.5, seed=1), (4, 5, 2), False),
    "RandomPosterization": (lambda: layers.RandomPosterization(4, seed=1), (4, 5, 2), False),
    "RandomInvert": (lambda: layers.RandomInvert(seed=1), (4, 5, 2), False),
    "Solarization": (lambda: layers.Solarization(0.2, 0.5, seed=1), (4, 5, 2), False),
    "AutoContrast": (lambda: layers.AutoContrast(), (4, 5, 2), False),
    "Equalization": (lambda: layers.Equalization(), (4, 5, 2), False),
    "RandomElasticTransform": (lambda: layers.RandomElasticTransform(seed=1), (4, 5, 2), False),
    "ContrastLimitedAdaptiveHistogramEqualization": (
        lambda: layers.ContrastLimitedAdaptiveHistogramEqualization(tile_grid_size=(2, 2)), (4, 5, 2), False),
    "RandomErasing": (lambda: layers.RandomErasing(seed=1), (4, 5, 2), False),
    "RandomGaussianBlur": (lambda: layers.RandomGaussianBlur(seed=1), (4, 5, 2), False),
    "RandomColorJitter": (lambda: layers.RandomColorJitter(brightness_factor=0.2, seed=1), (4, 5, 3), False),
    "MixUp": (lambda: layers.MixUp(seed=1), (4, 5, 2), False),
    "CutMix": (lambda: layers.CutMix(seed=1), (4, 5, 2), False),
    "Pipeline": (lambda: layers.Pipeline([layers.RandomFlip(seed=1), layers.AutoContrast()]), (4, 5, 2), False),
    "RandAugment": (lambda: layers.RandAugment(seed=1), (4, 5, 3), False),
    "AugMix": (lambda: layers.AugMix(seed=1), (4, 5, 3), False),
    "CategoryEncoding": (lambda: layers.CategoryEncoding(10), (4,), True),
    "IntegerLookup": (lambda: layers.IntegerLookup(vocabulary=[0, 2, 4, 6, 8]), (4,), True),
    "Hashing": (lambda: layers.Hashing(5, mask_value=0), (4,), True),
    "Discretization": (lambda: layers.Discretization(bin_boundaries=[-0.5, 0.0, 0.7]), (4,), False),
    "GroupNormalization": (lambda: layers.GroupNormalization(groups=2), (3, 3, 4), False),
    "UnitNormalization": (lambda: layers.UnitNormalization(), (4, 3), False),
    "RMSNormalization": (lambda: layers.RMSNormalization(), (4, 3), False),
    "MelSpectrogram": (lambda: layers.MelSpectrogram(fft_length=32, sequence_stride=8, num_mel_bins=6,
                                                     sampling_rate=8000), (96,), False),
    "RandomFourierFeatures": (lambda: layers.RandomFourierFeatures(6, scale=2.0, trainable=True), (4,), False),
    "GaussianNoise": (lambda: layers.GaussianNoise(0.3, seed=1), (5,), False),
    "GaussianDropout": (lambda: layers.GaussianDropout(0.3, seed=1), (5,), False),
    "AlphaDropout": (lambda: layers.AlphaDropout(0.3, seed=1), (5,), False),
    "ZeroPadding3D": (lambda: layers.ZeroPadding3D(((1, 0), (0, 2), 1)), (2, 3, 2, 2), False),
    "Cropping3D": (lambda: layers.Cropping3D(((1, 0), (0, 1), 1)), (3, 3, 4, 2), False),
    "Conv1DTranspose": (lambda: layers.Conv1DTranspose(3, 3, strides=2, activation="tanh"), (5, 2), False),
    "ActivityRegularization": (lambda: layers.ActivityRegularization(l1=0.01, l2=0.02), (5,), False),
    "Conv3D": (lambda: layers.Conv3D(3, (2, 3, 2), padding="same", activation="relu"), (3, 4, 3, 2), False),
    "Conv3DTranspose": (lambda: layers.Conv3DTranspose(2, 2, strides=(1, 2, 2)), (2, 3, 3, 2), False),
    "MaxPooling3D": (lambda: layers.MaxPooling3D(2, padding="same"), (3, 4, 3, 2), False),
    "AveragePooling3D": (lambda: layers.AveragePooling3D((1, 2, 2)), (3, 4, 4, 2), False),
    "GlobalMaxPooling3D": (lambda: layers.GlobalMaxPooling3D(), (2, 3, 2, 3), False),
    "GlobalAveragePooling3D": (lambda: layers.GlobalAveragePooling3D(keepdims=True), (2, 3, 2, 3), False),
    "UpSampling3D": (lambda: layers.UpSampling3D((2, 1, 3)), (2, 3, 2, 2), False),
    "EinsumDense": (lambda: layers.EinsumDense("abc,cd->abd", (None, 4), bias_axes="d"), (5, 3), False),
    "DepthwiseConv1D": (lambda: layers.DepthwiseConv1D(3, depth_multiplier=2, padding="same"), (6, 2), False),
    "SeparableConv1D": (lambda: layers.SeparableConv1D(3, 3, activation="relu"), (6, 2), False),
    "ConvLSTM2D": (lambda: layers.ConvLSTM2D(2, 3, padding="same"), (3, 4, 4, 2), False),
    "ConvLSTM1D": (lambda: layers.ConvLSTM1D(2, 3, return_sequences=True), (3, 5, 2), False),
    "ConvLSTM3D": (lambda: layers.ConvLSTM3D(2, 2, padding="same"), (2, 2, 3, 3, 1), False),
    "AdaptiveAveragePooling1D": (lambda: layers.AdaptiveAveragePooling1D(3), (7, 2), False),
    "AdaptiveAveragePooling2D": (lambda: layers.AdaptiveAveragePooling2D((2, 3)), (5, 7, 2), False),
    "AdaptiveAveragePooling3D": (lambda: layers.AdaptiveAveragePooling3D(2), (3, 5, 4, 2), False),
    "AdaptiveMaxPooling1D": (lambda: layers.AdaptiveMaxPooling1D(3), (7, 2), False),
    "AdaptiveMaxPooling2D": (lambda: layers.AdaptiveMaxPooling2D((2, 3), data_format="channels_first"),
                             (2, 5, 7), False),
    "AdaptiveMaxPooling3D": (lambda: layers.AdaptiveMaxPooling3D((2, 1, 3)), (3, 5, 4, 2), False),
    "SpatialDropout3D": (lambda: layers.SpatialDropout3D(0.5, seed=1), (2, 3, 2, 4), False),
    "ReversibleEmbedding": (lambda: layers.ReversibleEmbedding(10, 3), (4,), True),
    "STFTSpectrogram": (lambda: layers.STFTSpectrogram(mode="magnitude", frame_length=16, frame_step=8),
                        (64, 2), False),
}

# Not single-input layers: the base class, the input declaration, and the merge layers (another
# branch) that take a list of tensors.
NOT_SINGLE_INPUT = {"Layer", "InputLayer", "Input", "Add", "Subtract", "Multiply", "Average", "Maximum",
                    "Minimum", "Concatenate", "Dot", "MultiHeadAttention", "GroupedQueryAttention", "Attention",
                    "AdditiveAttention", "HashedCrossing"}   # HashedCrossing: tests/api/test_sweep7_keras_surface.py
# Layers on strings: they run on NumPy arrays of text before a model (tests/layers/test_preprocessing_more.py).
NOT_SINGLE_INPUT |= {"StringLookup", "TextVectorization"}
# RNN cells: one call takes (x_t, states) and returns (output, states); RNN(cell) is in TABLE.
NOT_SINGLE_INPUT |= {"SimpleRNNCell", "LSTMCell", "GRUCell", "StackedRNNCells", "AbstractRNNCell"}
# Not layers one uses as is: InputSpec describes inputs; Wrapper is the base class of a user's wrapper
# (tests/api/test_input_spec_wrapper_tree.py).
NOT_SINGLE_INPUT |= {"InputSpec", "Wrapper"}
# MaxNumBoundingBoxes takes Keras' dict {"images", "bounding_boxes"} only (tests/layers/test_image_boxes.py).
NOT_SINGLE_INPUT |= {"MaxNumBoundingBoxes"}


def test_the_table_covers_every_public_layer():
    # Keras' short aliases (GlobalAvgPool2D, MaxPool2D ...) are the same classes under other names
    classes = {n for n in layers.__all__ if isinstance(getattr(layers, n), type) and getattr(layers, n).__name__ == n}
    missing = classes - set(TABLE) - NOT_SINGLE_INPUT
    assert not missing, f"add these layers to TABLE in {__file__}: {sorted(missing)}"
    assert set(TABLE) <= classes


@pytest.mark.parametrize("name", sorted(TABLE))
def test_layer_gives_the_same_values_in_sequential_and_functional(rng, name):
    make, shape, integer = TABLE[name]
    dtype = "int32" if integer else None
    seq_layer = make()
    seq = keras.Sequential([keras.Input(shape, dtype=dtype), seq_layer])
    # a separate layer of the same config (a Lambda has none to serialize: Python code)
    fun_layer = make() if name == "Lambda" else layers.deserialize(layers.serialize(seq_layer))
    assert fun_layer is not seq_layer and type(fun_layer) is type(seq_layer)
    inp = keras.Input(shape, dtype=dtype)
    fun = keras.Model(inp, fun_layer(inp))
    assert fun.output_shape == seq.output_shape
    weights = [rng.normal(0.0, 0.5, w.shape).astype(np.float32) for w in seq.get_weights()]
    if name == "BatchNormalization":  # gamma, beta, moving mean, moving variance > 0
        weights[3] = np.abs(weights[3]) + 0.5
    if name == "Normalization":  # mean, variance > 0, count
        weights[1] = np.abs(weights[1]) + 0.5
    seq.set_weights(weights)
    fun.set_weights(weights)
    if integer:
        x = rng.integers(0, 10, (4,) + shape)
    else:
        x = rng.standard_normal((4,) + shape).astype(np.float32)
    got_seq = seq.predict(x, verbose=0)
    got_fun = fun.predict(x, verbose=0)
    # a None size (RandomHeight / RandomWidth: a new size per training call) matches any
    want = (4,) + tuple(seq.output_shape[1:])
    assert len(got_seq.shape) == len(want) and all(w in (None, g) for g, w in zip(got_seq.shape, want))
    np.testing.assert_array_equal(got_fun, got_seq)
    # eager call; inference is training=False (augmentation layers default to training=True)
    np.testing.assert_allclose(np.asarray(seq_layer(x, training=False)), got_seq, rtol=1e-6, atol=1e-6)
    if weights:
        assert np.abs(got_seq).sum() > 0
