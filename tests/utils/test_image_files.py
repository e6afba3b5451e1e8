"""keras.utils.load_img / array_to_img / save_img / img_to_array round trips (Pillow)."""
import numpy as np
import pytest

pytest.importorskip("PIL")   # Pillow is the optional image reader (the plot extra); not a corenn dependency

from corenn import keras  # noqa: E402


def test_png_round_trip_and_resize(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (6, 10, 3)).astype(np.float32)
    keras.utils.save_img(tmp_path / "a.png", pixels, scale=False)
    img = keras.utils.load_img(tmp_path / "a.png")
    assert img.size == (10, 6)
    np.testing.assert_array_equal(keras.utils.img_to_array(img), pixels)
    small = keras.utils.img_to_array(keras.utils.load_img(tmp_path / "a.png", target_size=(3, 5)))
    np.testing.assert_array_equal(small, pixels[1::2, 1::2])   # nearest: every second pixel
    grey = keras.utils.img_to_array(keras.utils.load_img(tmp_path / "a.png", color_mode="grayscale"))
    assert grey.shape == (6, 10, 1)
    square = keras.utils.load_img(tmp_path / "a.png", target_size=(4, 4), keep_aspect_ratio=True)
    assert square.size == (4, 4)


def test_array_to_img_scales_like_keras():
    x = np.array([[[-1.0], [0.0]], [[1.0], [3.0]]])
    img = keras.utils.array_to_img(x)
    np.testing.assert_array_equal(np.asarray(img), np.array([[0, 63], [127, 255]], np.uint8))
    with pytest.raises(ValueError, match="1, 3 or 4 channels"):
        keras.utils.array_to_img(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="color_mode"):
        keras.utils.load_img("x.png", color_mode="cmyk")
