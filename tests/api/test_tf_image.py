"""tf.image (corenn.image) against NumPy: resize against tests/reference.py's resize (values and
the tape's gradient), dtype conversion with TensorFlow's scaling, flips, crops, pads, colour
functions, and the errors for what does not fit."""
import numpy as np
import pytest

import corenn as tf
from tests import reference as ref

RNG = np.random.default_rng(0)
IMG = RNG.random((2, 5, 6, 3)).astype(np.float32)


@pytest.mark.parametrize("method", ["bilinear", "nearest"])
def test_resize_matches_reference_for_images_and_batches(method):
    out = tf.image.resize(IMG, (7, 4), method=method)
    np.testing.assert_allclose(np.asarray(out), ref.resize2d(IMG, (7, 4), method), rtol=1e-5, atol=1e-6)
    one = tf.image.resize(IMG[0], (7, 4), method=method)
    np.testing.assert_allclose(np.asarray(one), np.asarray(out)[0], rtol=0, atol=0)
    kept = tf.image.resize(IMG, (10, 4), preserve_aspect_ratio=True)
    assert tuple(kept.shape) == (2, 3, 4, 3)   # 5x6 scaled by 2/3 (3.33 rows) fits in 10x4


def test_resize_gradient_is_the_reference_transpose():
    x = tf.constant(IMG)
    w = RNG.random((2, 7, 4, 3)).astype(np.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(tf.image.resize(x, (7, 4)) * w)
    g = np.asarray(tape.gradient(loss, x))
    np.testing.assert_allclose(g, ref.resize2d_grad(w, IMG.shape), rtol=1e-5, atol=1e-6)


def test_convert_image_dtype_scales_like_tensorflow():
    u8 = np.array([[[0], [128], [255]]], np.uint8)
    f = tf.image.convert_image_dtype(u8, tf.float32)
    np.testing.assert_allclose(np.asarray(f), u8 / 255.0, rtol=1e-6)
    back = tf.image.convert_image_dtype(np.array([[[0.0], [0.5], [1.0]]], np.float32), tf.uint8)
    assert np.asarray(back).reshape(-1).tolist() == [0, 127, 255]   # TensorFlow: 0.5 * 255.5 truncated
    f64 = tf.image.convert_image_dtype(u8, tf.float64)
    assert f64.dtype == "float64"
    np.testing.assert_array_equal(np.asarray(f64), u8 / 255.0)   # scaled in float64, as TensorFlow


def test_flips_rotations_and_colour_against_numpy():
    np.testing.assert_array_equal(np.asarray(tf.image.flip_left_right(IMG)), IMG[:, :, ::-1])
    np.testing.assert_array_equal(np.asarray(tf.image.flip_up_down(IMG[0])), IMG[0, ::-1])
    np.testing.assert_array_equal(np.asarray(tf.image.rot90(IMG[0])), np.rot90(IMG[0], 1, axes=(0, 1)))
    np.testing.assert_array_equal(np.asarray(tf.image.transpose(IMG)), IMG.transpose(0, 2, 1, 3))
    gray = np.asarray(tf.image.rgb_to_grayscale(IMG))
    np.testing.assert_allclose(gray, ref.f64(IMG) @ np.array([[0.2989], [0.5870], [0.1140]]), rtol=1e-5)
    assert tuple(tf.image.grayscale_to_rgb(gray).shape) == IMG.shape
    np.testing.assert_allclose(np.asarray(tf.image.adjust_brightness(IMG, 0.25)), IMG + 0.25, rtol=1e-6)
    mean = ref.f64(IMG).mean(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(np.asarray(tf.image.adjust_contrast(IMG, 2.0)), (IMG - mean) * 2 + mean,
                               rtol=1e-5, atol=1e-6)
    x = ref.f64(IMG[0])
    want = (x - x.mean()) / max(x.std(), 1 / np.sqrt(x.size))
    np.testing.assert_allclose(np.asarray(tf.image.per_image_standardization(IMG[0])), want, rtol=1e-4, atol=1e-5)


def test_crops_and_pads_against_numpy():
    np.testing.assert_array_equal(np.asarray(tf.image.crop_to_bounding_box(IMG, 1, 2, 3, 4)), IMG[:, 1:4, 2:6])
    padded = np.asarray(tf.image.pad_to_bounding_box(IMG[0], 1, 0, 8, 7))
    want = np.zeros((8, 7, 3), np.float32)
    want[1:6, 0:6] = IMG[0]
    np.testing.assert_array_equal(padded, want)
    # 5x6 -> 3x8: rows centre-cropped (offset 1), columns centre-padded (1 each side)
    out = np.asarray(tf.image.resize_with_crop_or_pad(IMG[0], 3, 8))
    want = np.zeros((3, 8, 3), np.float32)
    want[:, 1:7] = IMG[0, 1:4]
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(np.asarray(tf.image.central_crop(IMG[0], 0.5)), IMG[0, 1:4, 1:5])
    crop = np.asarray(tf.image.random_crop(IMG[0], (3, 3, 3), seed=1))
    assert any(np.array_equal(crop, IMG[0, i:i + 3, j:j + 3]) for i in range(3) for j in range(4))
    with pytest.raises(ValueError, match="crop_to_bounding_box: box .* does not fit an image of 5x6"):
        tf.image.crop_to_bounding_box(IMG, 3, 0, 3, 6)
    with pytest.raises(ValueError, match="expected an image"):
        tf.image.flip_left_right(np.zeros((4, 4)))


def test_random_flips_flip_each_image_or_leave_it():
    out = np.asarray(tf.image.random_flip_left_right(IMG, seed=3))
    for i in range(len(IMG)):
        assert np.array_equal(out[i], IMG[i]) or np.array_equal(out[i], IMG[i, :, ::-1])
    b = np.asarray(tf.image.random_brightness(IMG[0], 0.2, seed=0)) - IMG[0]
    assert np.ptp(b) < 1e-6 and abs(b.mean()) <= 0.2


def test_uint8_data_keeps_its_dtype_where_tensorflow_does():
    mask = np.array([[1, 2], [3, 1]], np.uint8)[:, :, None]
    big = tf.image.resize(mask, (4, 4), method="nearest")
    assert isinstance(big, np.ndarray) and big.dtype == np.uint8
    np.testing.assert_array_equal(big[..., 0], np.repeat(np.repeat(mask[..., 0], 2, 0), 2, 1))
    assert tf.image.flip_left_right(mask).dtype == np.uint8
    same = tf.image.convert_image_dtype(big, "uint8")
    assert same.dtype == np.uint8 and np.array_equal(same, big)
    np.testing.assert_allclose(np.asarray(tf.image.convert_image_dtype(big, "float32")), big / 255.0, rtol=1e-6)
    # bilinear resizing gives floats, as in TensorFlow
    assert tf.image.resize(mask, (4, 4)).dtype == "float32"


def test_hsv_and_saturation_against_colorsys():
    import colorsys
    pix = RNG.random((4, 3))
    hsv = np.asarray(tf.image.rgb_to_hsv(pix.astype(np.float32)))
    want = np.array([colorsys.rgb_to_hsv(*p) for p in pix])
    np.testing.assert_allclose(hsv, want, rtol=1e-5, atol=1e-6)
    sat = np.asarray(tf.image.adjust_saturation(pix[None].astype(np.float32), 1.7))[0]
    want = [colorsys.hsv_to_rgb(h, min(s * 1.7, 1.0), v) for h, s, v in want]
    np.testing.assert_allclose(sat, want, rtol=1e-5, atol=1e-6)


def test_stateless_random_functions_are_functions_of_the_seed():
    a = tf.image.stateless_random_brightness(IMG[0], 0.5, seed=(1, 2))
    b = tf.image.stateless_random_brightness(IMG[0], 0.5, seed=(1, 2))
    c = tf.image.stateless_random_brightness(IMG[0], 0.5, seed=(2, 1))
    assert np.array_equal(np.asarray(a), np.asarray(b)) and not np.array_equal(np.asarray(a), np.asarray(c))
    crop = np.asarray(tf.image.stateless_random_crop(IMG[0], (3, 4, 3), seed=[5, 6]))
    np.testing.assert_array_equal(crop, np.asarray(tf.image.stateless_random_crop(IMG[0], (3, 4, 3), seed=[5, 6])))
    s1, s2 = np.asarray(tf.random.split((7, 8), num=2))
    assert not np.array_equal(s1, s2) and np.array_equal(np.asarray(tf.random.split((7, 8), 2)), [s1, s2])
    gen = tf.random.Generator.from_seed(3)
    seeds = np.asarray(gen.make_seeds(4))
    assert seeds.shape == (2, 4) and len({tuple(c) for c in seeds.T}) == 4
    assert np.array_equal(seeds, np.asarray(tf.random.Generator.from_seed(3).make_seeds(4)))
    with pytest.raises(ValueError, match="pair of integers"):
        tf.image.stateless_random_brightness(IMG[0], 0.5, seed=3)


def test_counter_dataset_zips_with_a_finite_one():
    ds = tf.data.Dataset.zip((tf.data.Dataset.range(3), tf.data.experimental.Counter(start=10, step=5)))
    assert [(int(a), int(b)) for a, b in ds] == [(0, 10), (1, 15), (2, 20)]
