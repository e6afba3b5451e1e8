"""keras.preprocessing.image.ImageDataGenerator (tf.keras 2): the transforms against direct NumPy
constructions, the standardization order, flow / flow_from_directory iterators and training with
them, as the classic tutorials do."""
import os

import numpy as np
import pytest

from corenn import keras
from corenn.keras.preprocessing.image import ImageDataGenerator


def _images(rng, n=8, h=9, w=11, c=3):
    return rng.uniform(0, 255, (n, h, w, c)).astype(np.float32)


def test_identity_generator_and_rescale(rng):
    x = _images(rng)
    gen = ImageDataGenerator(rescale=1 / 255.0)
    xb = next(gen.flow(x, batch_size=8, shuffle=False))
    np.testing.assert_allclose(xb, x / 255.0, rtol=1e-6)


def test_shift_rotation_flip_match_numpy(rng):
    x = _images(rng, n=1)
    original = x.copy()
    gen = ImageDataGenerator(fill_mode="constant", cval=-1.0)
    base = {"theta": 0.0, "tx": 0.0, "ty": 0.0, "shear": 0.0, "zx": 1.0, "zy": 1.0, "flip_horizontal": False,
            "flip_vertical": False, "channel_shift_intensity": None, "brightness": None}
    # a shift of 2 rows (tx) and 3 columns (ty): output (r, c) reads input (r + 2, c + 3)
    out = gen.apply_transform(x[0], dict(base, tx=2.0, ty=3.0))
    want = np.full_like(x[0], -1.0)
    want[:-2, :-3] = x[0, 2:, 3:]
    np.testing.assert_allclose(out, want, atol=1e-3)
    # 180 degrees about the centre is both flips
    np.testing.assert_allclose(gen.apply_transform(x[0], dict(base, theta=180.0)), x[0, ::-1, ::-1], atol=1e-2)
    np.testing.assert_array_equal(gen.apply_transform(x[0], dict(base, flip_horizontal=True)), x[0, :, ::-1])
    np.testing.assert_array_equal(gen.apply_transform(x[0], dict(base, flip_vertical=True)), x[0, ::-1])
    np.testing.assert_allclose(gen.apply_transform(x[0], dict(base, brightness=0.5)), 0.5 * x[0], rtol=1e-6)
    np.testing.assert_array_equal(x, original)   # the caller's images are never written
    # zoom 0.5 about the centre: the output is the centre magnified
    zoomed = gen.apply_transform(np.ones((9, 9, 1), np.float32), dict(base, zx=0.5, zy=0.5))
    assert np.all(zoomed == 1.0)


def test_random_transform_ranges(rng):
    gen = ImageDataGenerator(rotation_range=30, width_shift_range=0.2, height_shift_range=3, zoom_range=0.1,
                             shear_range=5, horizontal_flip=True, channel_shift_range=10.0, brightness_range=(0.8, 1.2))
    for seed in range(20):
        p = gen.get_random_transform((20, 30, 3), seed=seed)
        assert abs(p["theta"]) <= 30 and abs(p["ty"]) <= 0.2 * 30 and abs(p["tx"]) <= 3
        assert 0.9 <= p["zx"] <= 1.1 and abs(p["shear"]) <= 5 and 0.8 <= p["brightness"] <= 1.2
    flips = [gen.get_random_transform((4, 4, 1), seed=s)["flip_horizontal"] for s in range(40)]
    assert 5 < sum(flips) < 35
    x = _images(rng)
    out = gen.random_transform(x[0], seed=1)
    assert out.shape == x[0].shape and np.all(np.isfinite(out))


def test_featurewise_and_samplewise_standardization(rng):
    x = _images(rng, n=16)
    gen = ImageDataGenerator(featurewise_center=True, featurewise_std_normalization=True)
    with pytest.raises(ValueError, match="fit"):
        next(gen.flow(x, batch_size=4))
    gen.fit(x)
    xb = next(gen.flow(x, batch_size=16, shuffle=False))
    np.testing.assert_allclose(xb.mean(axis=(0, 1, 2)), 0.0, atol=1e-3)
    np.testing.assert_allclose(xb.std(axis=(0, 1, 2)), 1.0, rtol=1e-3)
    sgen = ImageDataGenerator(samplewise_center=True, samplewise_std_normalization=True,
                              preprocessing_function=lambda im: im * 2.0)
    xs = next(sgen.flow(x, batch_size=16, shuffle=False))
    np.testing.assert_allclose(xs.mean(axis=(1, 2, 3)), 0.0, atol=1e-3)


def test_flow_batches_labels_subsets_and_epochs(rng):
    x, y = _images(rng, n=10), np.arange(10)
    gen = ImageDataGenerator(validation_split=0.3)
    train = gen.flow(x, y, batch_size=4, shuffle=True, seed=0, subset="training")
    val = gen.flow(x, y, batch_size=4, shuffle=False, subset="validation")
    assert train.n == 7 and val.n == 3 and len(train) == 2
    seen = np.concatenate([train[i][1] for i in range(len(train))])
    assert sorted(seen) == list(range(3, 10))
    np.testing.assert_array_equal(val[0][1], [0, 1, 2])
    it = gen.flow(x, y, batch_size=4, shuffle=False, sample_weight=np.ones(10))
    assert len(next(it)) == 3
    assert sum(len(next(it)[1]) for _ in range(2)) == 6   # the epoch ends with a short batch, then loops


def test_flow_trains_a_model(rng):
    keras.utils.set_random_seed(0)
    x = rng.uniform(0, 1, (96, 8, 8, 1)).astype(np.float32)
    y = (x[:, :, :4].mean(axis=(1, 2, 3)) > x[:, :, 4:].mean(axis=(1, 2, 3))).astype(np.int64)
    gen = ImageDataGenerator(rotation_range=5, zoom_range=0.05, fill_mode="nearest")
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
                              keras.layers.Flatten(), keras.layers.Dense(2)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    hist = model.fit(gen.flow(x, y, batch_size=16), epochs=12, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]


def test_flow_from_directory(rng, tmp_path):
    pytest.importorskip("PIL.Image", reason="reading image files needs Pillow (the 'plot' extra)")
    for cls in ("cats", "dogs"):
        os.makedirs(tmp_path / cls)
        for i in range(3):
            keras.utils.save_img(str(tmp_path / cls / f"{i}.png"), rng.uniform(0, 255, (12, 10, 3)).astype(np.uint8))
    gen = ImageDataGenerator(rescale=1 / 255.0, validation_split=1 / 3)
    it = gen.flow_from_directory(str(tmp_path), target_size=(8, 6), batch_size=4, class_mode="categorical",
                                 shuffle=False, subset="training")
    assert it.class_indices == {"cats": 0, "dogs": 1} and it.samples == 4
    xb, yb = it[0]
    assert xb.shape == (4, 8, 6, 3) and xb.max() <= 1.0 and yb.shape == (4, 2)
    np.testing.assert_array_equal(yb.argmax(axis=1), [0, 0, 1, 1])
    binary = gen.flow_from_directory(str(tmp_path), target_size=(8, 6), class_mode="binary", subset="validation",
                                     shuffle=False, color_mode="grayscale")
    xb, yb = binary[0]
    assert xb.shape == (2, 8, 6, 1) and list(yb) == [0.0, 1.0]
    with pytest.raises(ValueError, match="class_mode"):
        gen.flow_from_directory(str(tmp_path), class_mode="onehot")
