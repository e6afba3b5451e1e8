"""Resizing with 'bicubic', 'lanczos3' and 'lanczos5' (Keras 3 has them; the resize kernel has
bilinear and nearest): the layer resamples as keras.ops.image.resize (whose weights
tests/api/test_ops_image_keras315.py checks against a reference), on a batch and on one image,
with crop_to_aspect_ratio or pad_to_aspect_ratio; its gradient against finite differences; in a
model that trains, saves and loads; 'area' refused by name."""
import numpy as np
import pytest

import corenn as tf
from corenn import keras
from reference import numerical_grad


@pytest.mark.parametrize("interp", ["bicubic", "lanczos3", "lanczos5"])
@pytest.mark.parametrize("kw", [{}, {"crop_to_aspect_ratio": True}, {"pad_to_aspect_ratio": True}])
def test_layer_resamples_as_the_op_and_differentiates(rng, interp, kw):
    x = rng.standard_normal((2, 6, 7, 2)).astype(np.float32)
    layer = keras.layers.Resizing(5, 3, interpolation=interp, **kw)
    y = np.asarray(layer(x))
    assert y.shape == (2, 5, 3, 2)
    np.testing.assert_array_equal(y, np.asarray(keras.ops.image.resize(x, (5, 3), interpolation=interp, **kw)))
    np.testing.assert_allclose(np.asarray(layer(x[1])), y[1], atol=1e-6)   # one unbatched image
    r = rng.standard_normal(y.shape)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        loss = tf.reduce_sum(layer(xt) * r.astype(np.float32))
    got = np.asarray(tape.gradient(loss, xt), np.float64)
    want = numerical_grad(lambda a: float(np.sum(np.asarray(layer(a.astype(np.float32)), np.float64) * r)),
                          x.astype(np.float64), eps=1e-2)
    np.testing.assert_allclose(got, want, rtol=1e-2, atol=2e-3)


def test_bicubic_resizing_in_a_model_trains_saves_and_loads(rng, tmp_path):
    x = rng.standard_normal((8, 6, 6, 3)).astype(np.float32)
    y = rng.standard_normal((8, 1)).astype(np.float32)
    inp = keras.Input((6, 6, 3))
    out = keras.layers.Dense(1)(keras.layers.Flatten()(keras.layers.Resizing(4, 4, interpolation="bicubic")(inp)))
    model = keras.Model(inp, out)
    model.compile(keras.optimizers.SGD(0.05), "mse")
    hist = model.fit(x, y, epochs=5, batch_size=8, verbose=0).history["loss"]
    assert hist[-1] < hist[0]
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    assert again.layers[1].interpolation == "bicubic"
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6, atol=1e-6)


def test_area_is_refused_by_name():
    with pytest.raises(NotImplementedError, match="'area'"):
        keras.layers.Resizing(4, 4, interpolation="area")
