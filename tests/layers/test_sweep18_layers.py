"""Layer fixes from the sweep 18 programs: Normalization(axis=None) and Rescaling on a batch of
scalars (inputs of shape (None,), as a tf.data map over one table column gives them)."""
import numpy as np
import pytest

from corenn import keras
from corenn.keras import layers


def test_normalization_axis_none_on_rank_one_inputs():
    values = np.array([1.0, 2.0, 4.0, 9.0], "float32")
    norm = layers.Normalization(axis=None)
    norm.adapt(values)
    got = np.asarray(norm(np.array([2.0, 5.0], "float32")))
    np.testing.assert_allclose(got, (np.array([2.0, 5.0]) - values.mean()) / values.std(), rtol=1e-5)
    assert got.shape == (2,)
    # the same layer still takes other ranks (one scalar mean and variance)
    assert np.asarray(norm(np.ones((3, 2), "float32"))).shape == (3, 2)
    inv = layers.Normalization(axis=None, invert=True, mean=2.0, variance=4.0)
    np.testing.assert_allclose(np.asarray(inv(np.array([0.0, 1.0], "float32"))), [2.0, 4.0], rtol=1e-6)


def test_normalization_axis_none_in_a_model_with_scalar_inputs():
    values = np.random.default_rng(0).normal(3.0, 2.0, size=64).astype("float32")
    norm = layers.Normalization(axis=None)
    norm.adapt(values)
    inp = keras.Input(shape=(), dtype="float32")
    model = keras.Model(inp, layers.Dense(1)(layers.Reshape((1,))(norm(inp))))
    assert model.predict(values, verbose=0).shape == (64, 1)


@pytest.mark.parametrize("offset", [0.0, 1.0])
def test_rescaling_a_batch_of_scalars(offset):
    x = np.arange(5, dtype="float32")
    got = np.asarray(layers.Rescaling(0.5, offset=offset)(x))
    assert got.shape == (5,)
    np.testing.assert_allclose(got, x * 0.5 + offset)


def test_tf_keras_losses_reduction_constants():
    from corenn import losses
    R = keras.losses.Reduction
    assert R.all() == ("auto", "none", "sum", "sum_over_batch_size")
    y, p = np.array([[1.0, 2.0], [0.0, 0.0]], "float32"), np.zeros((2, 2), "float32")
    per_sample = np.asarray(losses.MeanSquaredError(reduction=R.NONE)(y, p))
    np.testing.assert_allclose(per_sample, [2.5, 0.0])
    np.testing.assert_allclose(float(losses.MeanSquaredError(reduction=R.SUM)(y, p)), 2.5)
    with pytest.raises(ValueError, match="Invalid Reduction Key"):
        R.validate("mean-ish")
