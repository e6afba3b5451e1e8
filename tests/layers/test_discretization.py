"""Discretization (Keras 3): bucket indices and encodings against tests/reference.py, adapt's
boundaries against the reference of Keras' approximate quantile summary (and the true quantiles
on large data), in a model, its config, and its errors."""
import numpy as np
import pytest

import corenn as keras
from corenn import layers
import reference as ref


def test_buckets_match_the_reference(rng):
    bounds = [-1.0, 0.0, 0.5, 2.0]
    x = rng.normal(size=(6, 5)).astype(np.float32)
    x[0, :4] = bounds                       # a value on a boundary goes to the bucket above
    out = layers.Discretization(bin_boundaries=bounds)(x)
    assert out.dtype == "int32"   # Keras 3.15 (TF and torch backends): int32
    np.testing.assert_array_equal(np.asarray(out), ref.discretize(x, bounds))
    hot = np.asarray(layers.Discretization(bin_boundaries=bounds, output_mode="one_hot")(x[:, :1]))
    np.testing.assert_array_equal(hot, np.eye(5)[ref.discretize(x[:, 0], bounds)])
    counts = np.asarray(layers.Discretization(bin_boundaries=bounds, output_mode="count")(x))
    want = np.stack([np.bincount(r, minlength=5) for r in ref.discretize(x, bounds)])
    np.testing.assert_array_equal(counts, want)


@pytest.mark.parametrize("n, batch, num_bins, eps", [(37, None, 4, 0.01), (1000, 128, 5, 0.01),
                                                    (3000, 700, 3, 0.05), (3, None, 5, 0.01)])
def test_adapt_matches_keras_summary_reference(rng, n, batch, num_bins, eps):
    data = rng.gamma(2.0, size=n).astype(np.float32)
    layer = layers.Discretization(num_bins=num_bins, epsilon=eps)
    layer.adapt(data, batch_size=batch)
    batches = [data] if batch is None else [data[i:i + batch] for i in range(0, n, batch)]
    want = ref.discretization_boundaries(batches, num_bins, eps)
    np.testing.assert_allclose(layer.bin_boundaries, want, rtol=1e-5, atol=1e-6)
    if n == 3:   # too little data to re-sample: the boundaries are the values but the largest
        np.testing.assert_allclose(layer.bin_boundaries, np.sort(data)[:-1], rtol=1e-6)


def test_adapt_on_large_data_finds_the_quantiles(rng):
    data = rng.uniform(size=(20000, 1))
    layer = layers.Discretization(num_bins=4)
    layer.adapt(keras.data.Dataset.from_tensor_slices(data).batch(1000))
    np.testing.assert_allclose(layer.bin_boundaries, [0.25, 0.5, 0.75], atol=0.02)
    counts = np.bincount(np.asarray(layer(data)).reshape(-1), minlength=4) / data.size
    np.testing.assert_allclose(counts, 0.25, atol=0.03)


def test_in_a_model_and_saved(tmp_path, rng):
    disc = layers.Discretization(num_bins=6)
    x = rng.normal(size=(200, 1)).astype(np.float32)
    disc.adapt(x)
    inp = keras.Input((1,))
    model = keras.Model(inp, layers.Dense(1)(layers.Flatten()(layers.Embedding(6, 2)(disc(inp)))))
    model.compile("adam", "mse")
    model.fit(x, (x > 0).astype(np.float32), epochs=1, verbose=0)
    model.save(tmp_path / "d.keras")
    back = keras.models.load_model(tmp_path / "d.keras")
    np.testing.assert_array_equal(back.predict(x, verbose=0), model.predict(x, verbose=0))
    cfg = disc.get_config()
    assert cfg["bin_boundaries"] == disc.bin_boundaries and cfg["num_bins"] is None
    again = layers.Discretization.from_config(cfg)
    np.testing.assert_array_equal(np.asarray(again(x)), np.asarray(disc(x)))


def test_errors_name_the_layer():
    with pytest.raises(ValueError, match="Discretization.*not both"):
        layers.Discretization(bin_boundaries=[0.0], num_bins=3)
    with pytest.raises(ValueError, match="sorted"):
        layers.Discretization(bin_boundaries=[1.0, 0.0])
    with pytest.raises(ValueError, match="adapt needs a layer made with num_bins"):
        layers.Discretization(bin_boundaries=[0.0]).adapt(np.zeros(3))
    with pytest.raises(ValueError, match="no bin_boundaries yet"):
        layers.Discretization(num_bins=3)(np.zeros((2, 1), np.float32))
    with pytest.raises(ValueError, match="finite"):
        layers.Discretization(num_bins=3).adapt(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="output_mode"):
        layers.Discretization(num_bins=3, output_mode="tf_idf")
