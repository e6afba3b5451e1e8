"""Keras guide "Understanding masking & padding"
(keras.io/guides/understanding_masking_and_padding), imports changed only."""
import numpy as np
import pytest

from corenn import keras, layers, ops


@pytest.fixture(autouse=True)
def _seeded():
    keras.utils.set_random_seed(7)


raw_inputs = [
    [711, 632, 71],
    [73, 8, 3215, 55, 927],
    [83, 91, 1, 645, 1253, 927],
]


def test_pad_sequences_and_mask_producers():
    padded_inputs = keras.utils.pad_sequences(raw_inputs, padding="post")
    assert padded_inputs.shape == (3, 6)
    expected_mask = np.array([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1]], bool)

    embedding = layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True)
    masked_output = embedding(padded_inputs)
    np.testing.assert_array_equal(np.asarray(masked_output._keras_mask), expected_mask)

    masking_layer = layers.Masking()
    unmasked_embedding = ops.cast(ops.tile(ops.expand_dims(padded_inputs, axis=-1), [1, 1, 10]),
                                  "float32")
    masked_embedding = masking_layer(unmasked_embedding)
    np.testing.assert_array_equal(np.asarray(masked_embedding._keras_mask), expected_mask)


def test_functional_and_sequential_mask_propagation():
    model = keras.Sequential([layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True),
                              layers.LSTM(32)])
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True)(inputs)
    outputs = layers.LSTM(32)(x)
    functional = keras.Model(inputs, outputs)
    padded = keras.utils.pad_sequences(raw_inputs, padding="post")
    out = model(padded).numpy()
    functional.set_weights([w for w in model.get_weights()])
    np.testing.assert_allclose(functional(padded).numpy(), out, rtol=1e-5, atol=1e-6)
    # padding after the real steps changes nothing: the LSTM skips masked steps
    np.testing.assert_allclose(functional(padded[:1, :3]).numpy(), out[:1], rtol=1e-5, atol=1e-6)


class MyLayer(layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.embedding = layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True)
        self.lstm = layers.LSTM(32)

    def call(self, inputs):
        x = self.embedding(inputs)
        mask = self.embedding.compute_mask(inputs)
        output = self.lstm(x, mask=mask)
        return output


def test_passing_masks_by_hand_in_a_subclassed_layer():
    layer = MyLayer()
    x = np.random.default_rng(0).random((32, 10)) * 100
    x = x.astype("int32")
    x[:, 6:] = 0
    out = layer(x).numpy()
    np.testing.assert_allclose(layer(x[:, :6]).numpy(), out, rtol=1e-5, atol=1e-6)
    mask = layer.embedding.compute_mask(x)
    np.testing.assert_array_equal(np.asarray(mask), x != 0)


class TemporalSplit(keras.layers.Layer):
    """Split the input tensor into 2 tensors along the time dimension."""

    def call(self, inputs):
        return ops.split(inputs, 2, axis=1)

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        return ops.split(mask, 2, axis=1)


class CustomEmbedding(keras.layers.Layer):
    def __init__(self, input_dim, output_dim, mask_zero=False, **kwargs):
        super().__init__(**kwargs)
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.mask_zero = mask_zero
        self.embeddings = self.add_weight(shape=(input_dim, output_dim), initializer="random_normal")

    def call(self, inputs):
        inputs = ops.cast(inputs, "int32")
        return ops.take(self.embeddings, inputs, axis=0)

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return ops.not_equal(inputs, 0)


def test_custom_mask_producing_layers():
    first_half, second_half = TemporalSplit()(masked_embedding_tensor())
    assert tuple(first_half.shape) == (3, 3, 16)
    np.testing.assert_array_equal(np.asarray(first_half._keras_mask), [[1, 1, 1]] * 3)
    np.testing.assert_array_equal(np.asarray(second_half._keras_mask), [[0, 0, 0], [1, 1, 0], [1, 1, 1]])

    layer = CustomEmbedding(10, 32, mask_zero=True)
    x = np.random.default_rng(0).random((3, 10)) * 9
    x = x.astype("int32")
    y = layer(x)
    mask = layer.compute_mask(x)
    np.testing.assert_array_equal(np.asarray(mask), x != 0)
    np.testing.assert_array_equal(np.asarray(y._keras_mask), x != 0)

    # in a functional model the custom mask reaches the LSTM
    inputs = keras.Input(shape=(None,), dtype="int32")
    h = CustomEmbedding(10, 8, mask_zero=True)(inputs)
    outputs = layers.LSTM(4)(h)
    model = keras.Model(inputs, outputs)
    seq = np.array([[3, 4, 5, 0, 0]])
    np.testing.assert_allclose(model(seq).numpy(), model(seq[:, :3]).numpy(), rtol=1e-5, atol=1e-6)


def masked_embedding_tensor():
    padded = keras.utils.pad_sequences(raw_inputs, padding="post")
    return layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True)(padded)


class MyActivation(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs):
        return ops.relu(inputs)


class TemporalSoftmax(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        assert mask is not None
        broadcast_float_mask = ops.expand_dims(ops.cast(mask, "float32"), -1)
        inputs_exp = ops.exp(inputs) * broadcast_float_mask
        # the guide sums over the last axis, which is 1 wide there; over time is the softmax meant
        inputs_sum = ops.sum(inputs_exp * broadcast_float_mask, axis=1, keepdims=True)
        return inputs_exp / inputs_sum


def test_layers_that_pass_and_read_masks():
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True)(inputs)
    x = MyActivation()(x)
    assert x._keras_mask is not None
    outputs = layers.LSTM(32)(x)
    model = keras.Model(inputs, outputs)
    y = model(np.random.default_rng(0).integers(0, 10, size=(32, 100)))
    assert tuple(y.shape) == (32, 32)

    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(input_dim=10, output_dim=32, mask_zero=True)(inputs)
    x = layers.Dense(1)(x)
    outputs = TemporalSoftmax()(x)
    model = keras.Model(inputs, outputs)
    seq = np.array([[1, 2, 3, 0, 0], [4, 5, 6, 7, 8]])
    y = model(seq).numpy()
    assert y.shape == (2, 5, 1)
    np.testing.assert_array_equal(y[0, 3:], 0.0)     # masked steps get nothing
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-5)
    logits = y[1, :, 0]
    assert np.all(logits > 0)
