"""Keras 3's image layers take one unbatched image (H, W, C) as well as a batch: the result is
the batch-of-one result without its batch axis, and the gradient too."""
import numpy as np
import pytest

import corenn as tf
from corenn.keras import layers
from tests import reference as ref

IMG = np.random.default_rng(0).random((6, 8, 3)).astype(np.float32)


@pytest.mark.parametrize("make", [
    lambda: layers.Resizing(4, 5),
    lambda: layers.CenterCrop(4, 4),
    lambda: layers.RandomFlip("horizontal", seed=1),
    lambda: layers.RandomRotation(0.2, seed=1),
    lambda: layers.RandomContrast(0.3, seed=1),
])
def test_one_image_is_a_batch_of_one(make):
    one = make()(IMG, training=False)
    batch = make()(IMG[None], training=False)
    np.testing.assert_allclose(np.asarray(one), np.asarray(batch)[0], rtol=0, atol=0)


def test_resizing_one_image_matches_reference_with_its_gradient():
    layer = layers.Resizing(4, 5)
    x = tf.constant(IMG)
    w = np.random.default_rng(1).random((4, 5, 3)).astype(np.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        loss = tf.reduce_sum(y * w)
    np.testing.assert_allclose(np.asarray(y), ref.resize2d(IMG[None], (4, 5))[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(tape.gradient(loss, x)), ref.resize2d_grad(w[None], (1,) + IMG.shape)[0],
                               rtol=1e-5, atol=1e-6)


def test_a_sequential_built_on_one_image_is_reused_on_batches():
    front = tf.keras.Sequential([layers.Resizing(4, 4), layers.Rescaling(1 / 2)])
    assert tuple(front(IMG).shape) == (4, 4, 3)
    model = tf.keras.Sequential([front, layers.Conv2D(2, 3, padding="same")])
    out = model(np.stack([IMG, IMG]))
    assert tuple(out.shape) == (2, 4, 4, 2)
    with pytest.raises(ValueError, match="rank 4.*or one image"):
        layers.Resizing(2, 2)(np.zeros((3, 3), np.float32))
