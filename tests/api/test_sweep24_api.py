"""Sweep 24: fixes found porting TF tutorials / Keras pages (tests/programs), each against NumPy
references or Keras 3's documented behaviour."""
import numpy as np
import pytest

import corenn as tf


@pytest.mark.parametrize("make", [
    lambda: tf.keras.layers.RandomFlip("horizontal", seed=4),
    lambda: tf.keras.layers.RandomFlip("horizontal_and_vertical", seed=4),
    lambda: tf.keras.layers.RandomRotation(0.2, seed=4),
    lambda: tf.keras.layers.RandomTranslation(0.2, 0.2, seed=4),
])
def test_image_layers_take_integer_tensors_like_numpy(make):
    # Keras 3 casts images to the compute dtype, so an integer mask Tensor (the segmentation
    # tutorial flips its uint8 labels) transforms like the same values given as NumPy
    x = np.random.default_rng(0).integers(0, 3, (2, 6, 6, 1))
    from_numpy = make()(x.astype("float32"))
    from_int = make()(tf.constant(x.astype("int32")))
    assert from_int.dtype == "float32"
    np.testing.assert_array_equal(np.asarray(from_int), np.asarray(from_numpy))


def test_random_flip_integer_mask_follows_image_with_shared_seed():
    # the tutorial's Augment layer: two RandomFlips with one seed flip image and mask together
    rng = np.random.default_rng(1)
    img = rng.uniform(size=(8, 5, 5, 1)).astype("float32")
    mask = (img > 0.5).astype("int32")
    out_img = tf.keras.layers.RandomFlip("horizontal", seed=42)(img)
    out_mask = tf.keras.layers.RandomFlip("horizontal", seed=42)(tf.constant(mask))
    np.testing.assert_array_equal(np.asarray(out_mask), (np.asarray(out_img) > 0.5).astype("float32"))
    flipped = [np.array_equal(np.asarray(out_img)[i], img[i, :, ::-1]) for i in range(8)]
    kept = [np.array_equal(np.asarray(out_img)[i], img[i]) for i in range(8)]
    assert all(f or k for f, k in zip(flipped, kept))
