"""keras.ops.image against NumPy: extract_patches (values and the scattered gradient), resize,
pad_images / crop_images."""
import numpy as np
import pytest

import corenn as tf
from corenn import keras
from corenn.keras import ops
from tests import reference as ref

IMG = np.random.default_rng(0).random((2, 6, 8, 3)).astype(np.float32)


def _patches(x, ph, pw, sh, sw):
    n, h, w, c = x.shape
    oh, ow = (h - ph) // sh + 1, (w - pw) // sw + 1
    out = np.zeros((n, oh, ow, ph * pw * c))
    for i in range(oh):
        for j in range(ow):
            out[:, i, j] = x[:, i * sh:i * sh + ph, j * sw:j * sw + pw].reshape(n, -1)
    return out


@pytest.mark.parametrize("size, strides", [(2, None), ((3, 2), (1, 2)), (4, 2)])
def test_extract_patches_values_and_gradient(size, strides):
    got = ops.image.extract_patches(IMG, size, strides)
    ph, pw = (size, size) if isinstance(size, int) else size
    sh, sw = (ph, pw) if strides is None else ((strides, strides) if isinstance(strides, int) else strides)
    want = _patches(ref.f64(IMG), ph, pw, sh, sw)
    np.testing.assert_allclose(np.asarray(got), want, rtol=0, atol=0)
    x = tf.constant(IMG)
    w = np.random.default_rng(1).random(want.shape).astype(np.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(ops.image.extract_patches(x, size, strides) * w)
    g = np.asarray(tape.gradient(loss, x))
    # the gradient of a gather is the scatter-add of w back to the pixels each patch read
    eps = np.zeros_like(IMG, dtype=np.float64)
    n, oh, ow, _ = want.shape
    for i in range(oh):
        for j in range(ow):
            eps[:, i * sh:i * sh + ph, j * sw:j * sw + pw] += w[:, i, j].reshape(n, ph, pw, 3)
    np.testing.assert_allclose(g, eps, rtol=1e-5, atol=1e-6)


def test_extract_patches_same_padding_and_one_image():
    got = np.asarray(ops.image.extract_patches(IMG[0], 4, padding="same"))
    padded = np.pad(IMG[0], [(1, 1), (0, 0), (0, 0)])
    np.testing.assert_allclose(got, _patches(padded[None], 4, 4, 4, 4)[0])
    with pytest.raises(ValueError, match="do not fit"):
        ops.image.extract_patches(IMG, 7)
    # channels_first: the same patches, channels moved first in and out
    cf = np.asarray(ops.image.extract_patches(IMG.transpose(0, 3, 1, 2), 2, data_format="channels_first"))
    np.testing.assert_allclose(cf, _patches(IMG, 2, 2, 2, 2).transpose(0, 3, 1, 2))
    with pytest.raises(ValueError, match="data_format must be"):
        ops.image.extract_patches(IMG, 2, data_format="nhwc")


def test_resize_pad_and_crop():
    np.testing.assert_allclose(np.asarray(ops.image.resize(IMG, (3, 5))), ref.resize2d(IMG, (3, 5)),
                               rtol=1e-5, atol=1e-6)
    padded = np.asarray(ops.image.pad_images(IMG, 1, 2, target_height=9, target_width=11))
    want = np.zeros((2, 9, 11, 3), np.float32)
    want[:, 1:7, 2:10] = IMG
    np.testing.assert_array_equal(padded, want)
    np.testing.assert_array_equal(np.asarray(ops.image.crop_images(padded, 1, 2, target_height=6, target_width=8)), IMG)
    assert keras.ops.image is tf.ops.image
