"""Keras 3's further augmentation layers (layers/image_augmentation.py): each against a float64
reference with its random parameters pinned (a factor range of one value, probability 1), the
value range kept, shapes, inference identity, seeds, bad arguments, and use in models."""
import numpy as np
import pytest

import corenn as keras
from corenn import layers
from tests import reference as ref

N, H, W = 3, 5, 6


def images(rng, c=3, top=255.0):
    return (rng.random((N, H, W, c)) * top).astype(np.float32)


def run(layer, x, training=True):
    return np.asarray(layer(x, training=training), np.float64)


# -- geometry on the C++ kernels ---------------------------------------------------------------

@pytest.mark.parametrize("cls,axis", [(layers.RandomHeight, 1), (layers.RandomWidth, 2)])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_random_height_width_resize_by_the_drawn_factor(rng, cls, axis, interpolation):
    x = images(rng)
    y = run(cls((0.5, 0.5), interpolation=interpolation), x)
    size = [H, W]
    size[axis - 1] = int(1.5 * size[axis - 1])
    np.testing.assert_allclose(y, ref.resize2d(x, size, interpolation), rtol=1e-5, atol=1e-3)
    shrunk = run(cls((-0.5, -0.5)), x)
    assert shrunk.shape[axis] == [H, W][axis - 1] // 2
    layer = cls(0.4, seed=3)
    sizes = {run(layer, x).shape[axis] for _ in range(8)}
    assert len(sizes) > 1 and all(int(0.6 * [H, W][axis - 1]) <= s <= int(1.4 * [H, W][axis - 1]) for s in sizes)
    out_shape = list(layer.compute_output_shape((None, H, W, 3)))
    assert out_shape[axis] is None and out_shape[3 - axis] == [None, H, W][3 - axis]


def test_random_height_gradient_is_the_transposed_resize(rng):
    x = keras.Variable(images(rng))
    layer = layers.RandomHeight((0.4, 0.4))
    with keras.GradientTape() as tape:
        y = layer(x, training=True)
        dy = rng.random(tuple(y.shape)).astype(np.float32)
        loss = keras.ops.sum(y * dy)
    np.testing.assert_allclose(np.asarray(tape.gradient(loss, x)),
                               ref.resize2d_grad(dy, (N, H, W, 3)), rtol=1e-5, atol=1e-4)


def test_random_shear_is_the_affine_shear(rng):
    x = images(rng)
    layer = layers.RandomShear(x_factor=(0.3, 0.3), y_factor=(0.2, 0.2), fill_mode="constant",
                               fill_value=7.0, seed=2)
    y = run(layer, x)
    for b in range(N):
        candidates = [ref.image_transform(x[b:b + 1], [[1, s * 0.3, 0, s * 0.2, 1, 0, 0, 0]],
                                          fill_mode="constant", fill_value=7.0)[0] for s in (1, -1)]
        assert min(np.abs(y[b] - c).max() for c in candidates) < 1e-3


def test_homographies_map_the_output_corners_to_the_input_corners(rng):
    from corenn.layers.image_augmentation import homographies
    start = np.array([[[0, 0], [9, 0], [0, 7], [9, 7]]], np.float64)
    end = start + rng.uniform(-1, 1, (1, 4, 2))
    t = homographies(start, end)[0]
    for (xe, ye), (xs, ys) in zip(end[0], start[0]):
        k = t[6] * xe + t[7] * ye + 1
        assert np.allclose([(t[0] * xe + t[1] * ye + t[2]) / k, (t[3] * xe + t[4] * ye + t[5]) / k], [xs, ys])


def test_random_perspective_warps_with_its_transforms(rng):
    x = images(rng)
    layer = layers.RandomPerspective(factor=(1.0, 1.0), scale=0.5, fill_value=1.0, seed=4)
    y = run(layer, x)
    t = np.asarray(layer._t, np.float64)
    np.testing.assert_allclose(y, ref.image_transform(x, t, fill_mode="constant", fill_value=1.0),
                               rtol=1e-4, atol=2e-2)
    corners = np.array([[0, 0], [W - 1, 0], [0, H - 1], [W - 1, H - 1]], np.float64)
    for b in range(N):   # each corner comes from corner * (1 + u), |u| <= scale / 2
        m = np.linalg.inv(np.append(t[b], 1.0).reshape(3, 3))
        p = np.c_[corners, np.ones(4)] @ m.T
        end = p[:, :2] / p[:, 2:]
        assert np.all(np.abs(end - corners) <= 0.25 * corners + 1e-6)
        assert not np.allclose(end, corners)
    assert np.array_equal(run(layers.RandomPerspective(factor=0.0, seed=1), x), x)


# -- colour ------------------------------------------------------------------------------------

def test_random_grayscale(rng):
    x = images(rng)
    np.testing.assert_allclose(run(layers.RandomGrayscale(1.0), x), np.repeat(ref.luma(x), 3, -1), rtol=1e-6)
    np.testing.assert_array_equal(run(layers.RandomGrayscale(0.0), x), x)
    first = run(layers.RandomGrayscale(1.0, data_format="channels_first"), x.transpose(0, 3, 1, 2))
    np.testing.assert_allclose(first.transpose(0, 2, 3, 1), np.repeat(ref.luma(x), 3, -1), rtol=1e-6)


def test_random_saturation(rng):
    x = images(rng)
    for f in (0.0, 0.3, 0.5, 0.8):
        scale = f / (1 - f + 1e-7)
        want = ref.map_hsv(x, lambda h, s, v: (h, min(s * scale, 1.0), v))
        np.testing.assert_allclose(run(layers.RandomSaturation((f, f)), x), want, rtol=1e-5, atol=1e-3)


def test_random_hue(rng):
    x = images(rng, top=1.0)
    y = run(layers.RandomHue((0.4, 0.4), value_range=(0, 1), seed=1), x)
    for b in range(N):
        candidates = [ref.map_hsv(x[b:b + 1], lambda h, s, v, d=d: ((h + d) % 1.0, s, v))[0] for d in (0.2, -0.2)]
        assert min(np.abs(y[b] - c).max() for c in candidates) < 1e-5


def test_random_color_degeneration(rng):
    x = images(rng)
    want = np.clip(x + 0.4 * (ref.luma(x) - x), 0, 255)
    np.testing.assert_allclose(run(layers.RandomColorDegeneration((0.4, 0.4)), x), want, rtol=1e-5, atol=1e-3)


def test_random_sharpness(rng):
    x = images(rng, c=2)
    kernel = np.full((3, 3), 1 / 13)
    kernel[1, 1] = 5 / 13
    for f in (0.1, 0.9):
        want = np.clip(x + (1 - 2 * f) * (ref.conv2d_same_zero(x, kernel) - x), 0, 255)
        np.testing.assert_allclose(run(layers.RandomSharpness((f, f)), x), want, rtol=1e-5, atol=1e-3)


def test_random_posterization(rng):
    x = images(rng, c=2, top=1.0)
    y = run(layers.RandomPosterization((3, 3), value_range=(0, 1)), x)
    want = (np.floor(x.astype(np.float64) * 255) // 32 * 32) / 255
    np.testing.assert_allclose(y, want, rtol=1e-6, atol=1e-6)
    assert np.unique(np.round(y * 255)).size <= 8


def test_random_invert_and_solarization(rng):
    x = images(rng, c=2, top=2.0) - 1.0
    np.testing.assert_allclose(run(layers.RandomInvert((1.0, 1.0), value_range=(-1, 1)), x), -x, rtol=1e-6)
    np.testing.assert_array_equal(run(layers.RandomInvert(0.0), x), x)
    u = images(rng, c=2)
    y = run(layers.Solarization(addition_factor=(0.1, 0.1), threshold_factor=(0.5, 0.5)), u)
    shifted = np.clip(u.astype(np.float64) + 25.5, 0, 255)
    np.testing.assert_allclose(y, np.where(shifted < 127.5, shifted, 255 - shifted), rtol=1e-5, atol=1e-3)


def test_auto_contrast_applies_at_inference_too(rng):
    x = images(rng, c=2) * 0.5 + 40
    x[0, :, :, 1] = 3.0   # a constant channel is kept
    lo, hi = x.min(axis=(1, 2), keepdims=True), x.max(axis=(1, 2), keepdims=True)
    want = np.where(hi > lo, (x - lo) / np.where(hi > lo, hi - lo, 1) * 255, x)
    layer = layers.AutoContrast()
    np.testing.assert_allclose(run(layer, x, training=False), want, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(run(layer, x), want, rtol=1e-5, atol=1e-3)


def test_equalization(rng):
    x = images(rng, c=2)
    x[1, :, :, 0] = 9.0
    np.testing.assert_allclose(run(layers.Equalization(), x), ref.equalize(x), rtol=1e-6)
    np.testing.assert_allclose(run(layers.Equalization(bins=16), x), ref.equalize(x, 16), rtol=1e-6)
    unit = run(layers.Equalization(value_range=(0, 1)), x / 255)
    np.testing.assert_allclose(unit, ref.equalize(x) / 255, rtol=1e-5, atol=1e-6)


def test_random_erasing(rng):
    x = images(rng)
    y = run(layers.RandomErasing((1.0, 1.0), scale=(0.25, 0.25), fill_value=[1.0, 2.0, 3.0], seed=3), x)
    erased = np.all(y == np.array([1.0, 2.0, 3.0]), axis=-1) & np.any(y != x, axis=-1)
    for b in range(N):   # a box of about H / 2 by W / 2 (the half-open span of 2.5 x 3.0)
        rows, cols = np.nonzero(erased[b])
        assert rows.size and rows.size == (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
        assert rows.max() - rows.min() + 1 in (2, 3) and cols.max() - cols.min() + 1 in (3, 4)
    np.testing.assert_array_equal(y[~erased], x[~erased].astype(np.float64))
    noise = run(layers.RandomErasing((1.0, 1.0), scale=(0.3, 0.3), value_range=(0, 1), seed=1), x / 255)
    assert noise.min() >= 0 and noise.max() <= 1


def test_random_gaussian_blur(rng):
    x = images(rng, c=2)
    y = run(layers.RandomGaussianBlur((1.0, 1.0), kernel_size=(3, 5), sigma=(0.8, 0.8)), x)
    want = ref.conv2d_same_zero(x, ref.gaussian_kernel2d((3, 5), (0.8 + 1e-6, 0.8 + 1e-6)))
    np.testing.assert_allclose(y, np.clip(want, 0, 255), rtol=1e-5, atol=1e-3)


def test_random_color_jitter_chains_the_colour_layers(rng):
    x = images(rng)
    jitter = layers.RandomColorJitter(brightness_factor=(0.1, 0.1))
    np.testing.assert_allclose(run(jitter, x), np.clip(x + 25.5, 0, 255), rtol=1e-6, atol=1e-4)
    both = layers.RandomColorJitter(brightness_factor=(0.1, 0.1), saturation_factor=(0.0, 0.0))
    grey = ref.map_hsv(np.clip(x + 25.5, 0, 255), lambda h, s, v: (h, 0.0, v))
    np.testing.assert_allclose(run(both, x), grey, rtol=1e-5, atol=1e-3)


# -- mixing ------------------------------------------------------------------------------------

def test_mixup_mixes_images_and_labels_alike(rng):
    x = images(rng)
    out = layers.MixUp(alpha=0.5, seed=2)({"images": x, "labels": np.eye(N)})
    y, labels = np.asarray(out["images"], np.float64), np.asarray(out["labels"], np.float64)
    for b in range(N):
        w = labels[b, b]
        other = int(np.argmax(labels[b] - w * np.eye(N)[b])) if w < 1 else b
        np.testing.assert_allclose(y[b], w * x[b] + (1 - w) * x[other], rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(labels.sum(axis=1), 1.0, rtol=1e-6)


def test_cutmix_pastes_a_box_and_weights_labels_by_area(rng):
    x = images(rng) + 1.0
    out = layers.CutMix(seed=5)({"images": x, "labels": np.eye(N)})
    y, labels = np.asarray(out["images"], np.float64), np.asarray(out["labels"], np.float64)
    mixed = False
    for b in range(N):
        other = [j for j in range(N) if j != b and labels[b, j] > 0]
        own = np.all(y[b] == x[b], axis=-1)
        if other:
            pasted = np.all(y[b] == x[other[0]], axis=-1)
            assert np.all(own | pasted)
            mixed |= pasted.any()
            assert 0 <= labels[b, b] < 1 and labels[b, b] + labels[b, other[0]] == pytest.approx(1.0, abs=1e-6)
        else:   # mixed with itself: its own label, its own pixels
            assert labels[b, b] == pytest.approx(1.0) and own.all()
    assert mixed
    single = x[0]
    np.testing.assert_array_equal(np.asarray(layers.CutMix(seed=1)(single)), single)


# -- composition -------------------------------------------------------------------------------

def test_pipeline_runs_its_layers_in_order(rng):
    x = images(rng)
    pipe = layers.Pipeline([layers.RandomInvert((1.0, 1.0)), layers.RandomPosterization((2, 2))])
    want = np.floor(255.0 - x.astype(np.float64)) // 64 * 64
    np.testing.assert_allclose(run(pipe, x), want, rtol=1e-6)
    np.testing.assert_array_equal(run(pipe, x, training=False), x)
    again = layers.deserialize(layers.serialize(pipe))
    assert [type(l).__name__ for l in again.layers] == ["RandomInvert", "RandomPosterization"]
    np.testing.assert_allclose(run(again, x), want, rtol=1e-6)


def test_rand_augment_keeps_the_value_range_and_is_seeded(rng):
    x = images(rng, top=1.0)
    first = run(layers.RandAugment(value_range=(0, 1), num_ops=3, seed=7), x)
    second = run(layers.RandAugment(value_range=(0, 1), num_ops=3, seed=7), x)
    np.testing.assert_array_equal(first, second)
    assert first.shape == x.shape and first.min() >= 0 and first.max() <= 1 + 1e-6
    assert not np.allclose(first, x)
    np.testing.assert_array_equal(run(layers.RandAugment(num_ops=0), x), x)
    twice = layers.RandAugment(value_range=(0, 1), num_ops=2)
    twice._ops = [layers.RandomRotation((0.25, 0.25), fill_mode="wrap")]   # one op drawn twice
    square = x[:, :5, :5]
    np.testing.assert_allclose(run(twice, square), square[:, ::-1, ::-1], atol=1e-5)
    pinned = layers.RandAugment(value_range=(0, 1), num_ops=3)
    pinned._ops = [layers.RandomInvert((1.0, 1.0), value_range=(0, 1)),
                   layers.RandomPosterization((1, 1), value_range=(0, 1))]
    y = run(pinned, x)   # three of invert / keep the top bit, drawn per call
    invert = lambda v: 1.0 - v   # noqa: E731
    top_bit = lambda v: np.floor(v * 255.0) // 128 * 128 / 255.0   # noqa: E731
    outcomes = []
    for first in (invert, top_bit):
        for second in (invert, top_bit):
            for third in (invert, top_bit):
                outcomes.append(third(np.float32(second(np.float32(first(x.astype(np.float64)))))))
    assert any(np.allclose(y, o, atol=1e-6) for o in outcomes)


def test_augmix_is_a_convex_mix_of_its_chains(rng):
    x = images(rng, top=1.0)
    layer = layers.AugMix(value_range=(0, 1), num_chains=3, chain_depth=1, seed=3)
    layer._ops = [layers.RandomInvert((1.0, 1.0), value_range=(0, 1))]   # each chain: x or 1 - x
    y = run(layer, x)
    # y = c1 x + c0 (1 - x) with c0 + c1 = 1: the same affine map of every pixel
    slope, intercept = np.polyfit(x.ravel(), y.ravel(), 1)
    np.testing.assert_allclose(y, slope * x + intercept, atol=1e-5)
    assert 0 <= intercept <= 1 and slope == pytest.approx(1 - 2 * intercept, abs=1e-5)
    assert intercept > 1e-3   # some chain inverted


# -- what every layer does ---------------------------------------------------------------------

ALL = {
    "RandomHeight": lambda: layers.RandomHeight((0.2, 0.5), seed=1),
    "RandomWidth": lambda: layers.RandomWidth((0.2, 0.5), seed=1),
    "RandomShear": lambda: layers.RandomShear(0.3, 0.3, seed=1),
    "RandomPerspective": lambda: layers.RandomPerspective(seed=1),
    "RandomGrayscale": lambda: layers.RandomGrayscale(0.7, seed=1),
    "RandomSaturation": lambda: layers.RandomSaturation(0.9, seed=1),
    "RandomHue": lambda: layers.RandomHue(0.6, seed=1),
    "RandomColorDegeneration": lambda: layers.RandomColorDegeneration(0.7, seed=1),
    "RandomSharpness": lambda: layers.RandomSharpness(0.9, seed=1),
    "RandomPosterization": lambda: layers.RandomPosterization(5, seed=1),
    "RandomInvert": lambda: layers.RandomInvert(seed=1),
    "Solarization": lambda: layers.Solarization(0.4, 0.6, seed=1),
    "Equalization": lambda: layers.Equalization(),
    "RandomErasing": lambda: layers.RandomErasing(seed=1),
    "RandomGaussianBlur": lambda: layers.RandomGaussianBlur(sigma=(0.5, 1.5), seed=1),
    "RandomColorJitter": lambda: layers.RandomColorJitter(brightness_factor=0.3, contrast_factor=0.4,
                                                          saturation_factor=0.6, hue_factor=0.3, seed=1),
    "MixUp": lambda: layers.MixUp(seed=2),
    "CutMix": lambda: layers.CutMix(seed=2),
    "RandAugment": lambda: layers.RandAugment(seed=1),
    "AugMix": lambda: layers.AugMix(seed=1),
}


@pytest.mark.parametrize("name", sorted(ALL))
def test_augments_in_training_only_within_the_range_and_seeded(rng, name):
    x = images(rng)
    layer = ALL[name]()
    np.testing.assert_array_equal(run(layer, x, training=False), x)
    y = run(layer, x)
    assert not np.array_equal(y, x) and np.isfinite(y).all()
    if name not in ("RandomHeight", "RandomWidth", "RandomShear", "RandomPerspective"):
        assert y.shape == x.shape and y.min() >= -1e-3 and y.max() <= 255 + 1e-3
    np.testing.assert_array_equal(run(ALL[name](), x), y)   # the same seed, the same draws
    np.testing.assert_array_equal(np.asarray(layer(x[0], training=False)), x[0])
    one = np.asarray(layer(x[0]))   # one image (H, W, C)
    assert one.ndim == 3 and one.shape[2] == 3


@pytest.mark.parametrize("name", ["RandomSaturation", "RandomSharpness", "RandomErasing", "MixUp",
                                  "RandomGaussianBlur", "Equalization"])
def test_channels_first_is_channels_last_transposed(rng, name):
    x = images(rng)
    last = ALL[name]()
    config = dict(last.get_config(), data_format="channels_first")
    first = type(last).from_config(config)
    got = run(first, x.transpose(0, 3, 1, 2)).transpose(0, 2, 3, 1)
    np.testing.assert_allclose(got, run(last, x), rtol=1e-6, atol=1e-4)


@pytest.mark.parametrize("make", [
    lambda: layers.RandomHeight((0.5, 0.1)), lambda: layers.RandomWidth(-1.5),
    lambda: layers.RandomHeight(0.1, interpolation="bicubic"),
    lambda: layers.RandomShear(1.5), lambda: layers.RandomShear(0.1, y_factor=(-0.1, 0.2)),
    lambda: layers.RandomPerspective(scale=2.0), lambda: layers.RandomPerspective(1.5),
    lambda: layers.RandomGrayscale(1.2), lambda: layers.RandomSaturation(1.5),
    lambda: layers.RandomHue((0.1, 0.2, 0.3)), lambda: layers.RandomColorDegeneration(-0.2),
    lambda: layers.RandomSharpness("much"), lambda: layers.RandomPosterization(9),
    lambda: layers.RandomPosterization((0, 4)), lambda: layers.RandomInvert(value_range=(1, 1)),
    lambda: layers.Solarization(addition_factor=2.0), lambda: layers.Equalization(bins=0),
    lambda: layers.RandomErasing(scale=(0.1, 1.5)), lambda: layers.RandomErasing(fill_value="red"),
    lambda: layers.RandomGaussianBlur(kernel_size=4), lambda: layers.RandomGaussianBlur(sigma=-1.0),
    lambda: layers.MixUp(alpha=0.0), lambda: layers.CutMix(factor=1.5),
    lambda: layers.RandAugment(num_ops=-1), lambda: layers.RandAugment(factor=2.0),
    lambda: layers.RandAugment(interpolation="area"), lambda: layers.AugMix(num_chains=0),
    lambda: layers.AugMix(chain_depth=1.5), lambda: layers.AugMix(alpha=-1.0),
    lambda: layers.Pipeline([lambda x: x]), lambda: layers.RandomGrayscale(data_format="nchw"),
])
def test_bad_arguments_raise(make):
    with pytest.raises((ValueError, NotImplementedError)):
        make()


def test_bad_inputs_raise(rng):
    with pytest.raises(ValueError, match="3 channels"):
        layers.RandomHue(0.2)(images(rng, c=2))
    with pytest.raises(ValueError, match="rank 4"):
        layers.RandomSharpness(0.2)(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="2 values for 3 channels"):
        layers.RandomErasing(fill_value=[1.0, 2.0])(images(rng))
    with pytest.raises(ValueError, match="'images'"):
        layers.MixUp()({"pictures": images(rng)})


def test_not_differentiable_while_augmenting_but_passes_gradients_at_inference(rng):
    x = keras.Variable(images(rng))
    layer = layers.RandomSharpness(0.8, seed=1)
    with keras.GradientTape() as tape:
        loss = keras.ops.sum(layer(x, training=False) * 2.0)
    np.testing.assert_allclose(np.asarray(tape.gradient(loss, x)), 2.0)
    with keras.GradientTape() as tape:
        loss = keras.ops.sum(layer(x, training=True))
    with pytest.raises(NotImplementedError, match="not differentiable"):
        tape.gradient(loss, x)


def _front_end_model(augment):
    inputs = keras.Input((8, 8, 3))
    h = augment(inputs)
    h = layers.Resizing(8, 8)(h)
    h = layers.Conv2D(4, 3, activation="relu")(h)
    h = layers.GlobalAveragePooling2D()(h)
    outputs = layers.Dense(2, activation="softmax")(h)
    return keras.Model(inputs, outputs)


def test_augmentation_front_end_trains_saves_and_predicts(rng, tmp_path):
    augment = keras.Sequential([layers.RandomHeight(0.2, seed=1), layers.RandomShear(0.2, seed=2),
                                layers.RandomSaturation(0.7, seed=3), layers.RandomSharpness(0.6, seed=4),
                                layers.CutMix(seed=5), layers.RandAugment(num_ops=1, seed=6),
                                layers.Rescaling(1 / 255.0)])
    model = _front_end_model(augment)
    model.compile("adam", "sparse_categorical_crossentropy")
    x = (rng.random((16, 8, 8, 3)) * 255).astype(np.float32)
    y = rng.integers(0, 2, 16)
    before = [w.copy() for w in model.get_weights()]
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    p = model.predict(x, verbose=0)
    np.testing.assert_allclose(model.predict(x, verbose=0), p)   # inference: no augmentation
    path = str(tmp_path / "augment.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), p, rtol=1e-5, atol=1e-6)
    names = [type(l).__name__ for l in loaded.layers[1].layers]
    assert names[:6] == ["RandomHeight", "RandomShear", "RandomSaturation", "RandomSharpness",
                         "CutMix", "RandAugment"]


def test_a_custom_training_step_takes_gradients_through_an_augmenting_front_end(rng):
    model = keras.Sequential([keras.Input((H, W, 3)), layers.RandomSaturation(0.8, seed=1),
                              layers.RandomErasing(seed=2), layers.RandomShear(0.2, seed=3),
                              layers.Conv2D(2, 3), layers.GlobalAveragePooling2D(), layers.Dense(1)])
    x = images(rng)
    for training in (True, False):
        with keras.GradientTape() as tape:
            loss = keras.ops.mean(keras.ops.square(model(x, training=training)))
        grads = tape.gradient(loss, model.trainable_weights)
        assert len(grads) == 4 and all(np.isfinite(np.asarray(g)).all() for g in grads)
        assert any(np.abs(np.asarray(g)).sum() > 0 for g in grads)
