"""Image preprocessing and augmentation layers (issue 13): Resizing, CenterCrop, RandomFlip,
RandomCrop, RandomTranslation, RandomRotation, RandomZoom, RandomContrast, RandomBrightness.
Values and gradients against the float64 references in tests/reference.py and against transforms
worked out by hand (a quarter turn is np.rot90, a flip is a reversed axis); inference is the
identity; seeds reproduce; the layers train in a model and save with it."""
import numpy as np
import pytest

import corenn
from corenn import keras, layers
import reference as ref


def images(rng, shape=(2, 6, 5, 3)):
    return rng.uniform(0, 255, size=shape).astype(np.float32)


# ---- Resizing, CenterCrop ----------------------------------------------------------------------

@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("crop", [False, True])
def test_resizing_forward_backward(rng, interpolation, crop):
    x = images(rng)
    layer = layers.Resizing(4, 9, interpolation=interpolation, crop_to_aspect_ratio=crop)
    y = layer(x)
    window = layers.image_preprocessing.aspect_ratio_window(6, 5, 4, 9) if crop else None
    if crop:
        assert window == (2, 0, 2, 5)  # int(5 * 4 / 9) = 2 rows of 6, centred; all 5 columns
    np.testing.assert_allclose(np.asarray(y), ref.resize2d(x, (4, 9), interpolation, window),
                               rtol=1e-5, atol=1e-3)
    dy = rng.normal(size=y.shape).astype(np.float32)
    layer.forward(corenn.Tensor.from_numpy(x))
    dx = layer.backward(corenn.Tensor.from_numpy(dy))
    np.testing.assert_allclose(np.asarray(dx), ref.resize2d_grad(dy, x.shape, interpolation, window),
                               rtol=1e-5, atol=1e-5)


def test_resizing_refuses_what_it_does_not_build():
    with pytest.raises(NotImplementedError, match="interpolation"):
        layers.Resizing(2, 2, interpolation="area")
    with pytest.raises(ValueError, match="only one of pad_to_aspect_ratio"):
        layers.Resizing(2, 2, pad_to_aspect_ratio=True, crop_to_aspect_ratio=True)
    with pytest.raises(ValueError, match="height must be a positive int"):
        layers.Resizing(0, 2)
    with pytest.raises(ValueError, match=r"rank 4"):   # rank 3 is one image (Keras 3), rank 2 neither
        keras.Sequential([keras.Input((4,)), layers.Resizing(2, 2)])


@pytest.mark.parametrize("size", [(9, 4), (4, 9), (9, 9), (12, 5), (5, 12)])
def test_resizing_pads_to_the_aspect_ratio_then_resizes(rng, size):
    """Keras' pad_to_aspect_ratio: fill_value margins, the same on both sides (half the
    shortfall rounded down), then the resize; the gradient is the resize's, cut back out."""
    x = images(rng, (2, 6, 5, 3))
    layer = layers.Resizing(*size, pad_to_aspect_ratio=True, fill_value=7.0)
    top, left = layer._margins(6, 5)
    assert (top, left) == {(9, 4): (2, 0), (4, 9): (0, 4), (9, 9): (0, 0), (12, 5): (3, 0), (5, 12): (0, 4)}[size]
    padded = np.pad(x, ((0, 0), (top, top), (left, left), (0, 0)), constant_values=7.0)
    np.testing.assert_allclose(np.asarray(layer(x)), ref.resize2d(padded, size, "bilinear", None),
                               rtol=1e-5, atol=1e-3)
    dy = rng.normal(size=(2,) + size + (3,)).astype(np.float32)
    layer.forward(corenn.Tensor.from_numpy(x))
    dx = np.asarray(layer.backward(corenn.Tensor.from_numpy(dy)))
    full = ref.resize2d_grad(dy, padded.shape, "bilinear", None)
    np.testing.assert_allclose(dx, full[:, top:top + 6, left:left + 5], rtol=1e-5, atol=1e-5)
    assert layers.Resizing.from_config(layer.get_config()).pad_to_aspect_ratio
    one = layers.Resizing(*size, pad_to_aspect_ratio=True, fill_value=7.0)   # one image (H, W, C)
    np.testing.assert_allclose(np.asarray(one(x[0])), np.asarray(layer(x))[0], rtol=1e-6)
    one.forward(corenn.Tensor.from_numpy(x[0]))
    np.testing.assert_allclose(np.asarray(one.backward(corenn.Tensor.from_numpy(dy[0]))), dx[0], rtol=1e-5, atol=1e-6)


def test_center_crop_crops_the_centre_and_resizes_small_images(rng):
    x = images(rng, (2, 7, 6, 2))
    np.testing.assert_array_equal(np.asarray(layers.CenterCrop(3, 4)(x)), x[:, 2:5, 1:5])
    small = layers.CenterCrop(8, 4)(x)  # taller than the input: resize its 7 x 3 centre
    np.testing.assert_allclose(np.asarray(small), ref.resize2d(x, (8, 4), "bilinear", (0, 1, 7, 3)),
                               rtol=1e-5, atol=1e-3)
    layer = layers.CenterCrop(3, 4)
    layer.forward(corenn.Tensor.from_numpy(x))
    dy = rng.normal(size=(2, 3, 4, 2)).astype(np.float32)
    dx = np.asarray(layer.backward(corenn.Tensor.from_numpy(dy)))
    want = np.zeros_like(x)
    want[:, 2:5, 1:5] = dy
    np.testing.assert_array_equal(dx, want)


# ---- geometric augmentation --------------------------------------------------------------------

RANDOM = {
    "RandomFlip": lambda **kw: layers.RandomFlip(**kw),
    "RandomTranslation": lambda **kw: layers.RandomTranslation(0.3, 0.2, **kw),
    "RandomRotation": lambda **kw: layers.RandomRotation(0.2, **kw),
    "RandomZoom": lambda **kw: layers.RandomZoom(0.3, **kw),
    "RandomContrast": lambda **kw: layers.RandomContrast(0.5, **kw),
    "RandomBrightness": lambda **kw: layers.RandomBrightness(0.3, **kw),
}


@pytest.mark.parametrize("name", sorted(RANDOM))
def test_random_layers_are_the_identity_at_inference_and_seeded_in_training(rng, name):
    """Inference is training=False (predict / evaluate pass it)."""
    x = images(rng, (4, 6, 5, 3))
    np.testing.assert_array_equal(np.asarray(RANDOM[name](seed=3)(x, training=False)), x)
    # Keras 3: called without training=, an augmentation layer augments (training=True default)
    np.testing.assert_array_equal(np.asarray(RANDOM[name](seed=3)(x)),
                                  np.asarray(RANDOM[name](seed=3)(x, training=True)))
    a = np.asarray(RANDOM[name](seed=3)(x, training=True))
    b = np.asarray(RANDOM[name](seed=3)(x, training=True))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, x)
    layer = RANDOM[name](seed=3)
    first, second = (np.asarray(layer(x, training=True)) for _ in range(2))
    assert not np.array_equal(first, second)  # a new draw per call
    corenn.utils.set_random_seed(11)
    c = np.asarray(RANDOM[name]()(x, training=True))
    corenn.utils.set_random_seed(11)
    np.testing.assert_array_equal(np.asarray(RANDOM[name]()(x, training=True)), c)


def test_random_flip_flips_whole_images(rng):
    x = images(rng, (16, 4, 5, 2))
    y = np.asarray(layers.RandomFlip("horizontal", seed=0)(x, training=True))
    flipped = [np.array_equal(y[i], x[i, :, ::-1]) for i in range(16)]
    kept = [np.array_equal(y[i], x[i]) for i in range(16)]
    assert all(f or k for f, k in zip(flipped, kept)) and any(flipped) and any(kept)
    y = np.asarray(layers.RandomFlip("horizontal_and_vertical", seed=0)(x, training=True))
    options = lambda i: [x[i], x[i, ::-1], x[i, :, ::-1], x[i, ::-1, ::-1]]
    assert all(any(np.array_equal(y[i], o) for o in options(i)) for i in range(16))


def test_random_rotation_of_a_quarter_turn_is_rot90(rng):
    x = images(rng, (2, 5, 5, 3))
    y = np.asarray(layers.RandomRotation((0.25, 0.25), seed=0)(x, training=True))
    # counter-clockwise as Keras: np.rot90 turns rows into columns the same way
    np.testing.assert_allclose(y, np.rot90(x, 1, axes=(1, 2)), atol=1e-3)


def test_random_translation_and_zoom_with_fixed_factors(rng):
    x = images(rng, (2, 6, 4, 1))
    y = np.asarray(layers.RandomTranslation((0.5, 0.5), (0.0, 0.0), fill_mode="constant",
                                            seed=0)(x, training=True))
    np.testing.assert_array_equal(y[:, 3:], x[:, :3])   # down by 0.5 * 6 rows
    np.testing.assert_array_equal(y[:, :3], 0.0)
    zoom = layers.RandomZoom((0.5, 0.5), seed=0, fill_mode="constant")
    y = np.asarray(zoom(x, training=True))
    t = np.tile([1.5, 0, -0.75, 0, 1.5, -1.25, 0, 0], (2, 1))  # step 1.5 about the centre
    np.testing.assert_allclose(y, ref.image_transform(x, t, None, "bilinear", "constant"),
                               rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("name", ["RandomTranslation", "RandomRotation", "RandomZoom"])
def test_affine_layers_match_the_reference_with_their_transforms(rng, name):
    x = images(rng)
    layer = RANDOM[name](seed=5)
    y = layer.forward(corenn.Tensor.from_numpy(x), training=True)
    t = np.asarray(layer._t)
    np.testing.assert_allclose(np.asarray(y), ref.image_transform(x, t, None, "bilinear", "reflect"),
                               rtol=1e-4, atol=1e-2)
    dy = rng.normal(size=y.shape).astype(np.float32)
    dx = layer.backward(corenn.Tensor.from_numpy(dy))
    np.testing.assert_allclose(np.asarray(dx), ref.image_transform_grad(dy, t, x.shape, "bilinear", "reflect"),
                               rtol=1e-4, atol=1e-4)


def test_random_crop_crops_in_training_and_resizes_at_inference(rng):
    x = images(rng, (6, 7, 8, 2))
    layer = layers.RandomCrop(3, 4, seed=2)
    y = np.asarray(layer(x, training=True))
    assert y.shape == (6, 3, 4, 2)
    windows = lambda i: [x[i, r:r + 3, c:c + 4] for r in range(5) for c in range(5)]
    assert all(any(np.array_equal(y[i], wnd) for wnd in windows(i)) for i in range(6))
    window = layers.image_preprocessing.aspect_ratio_window(7, 8, 3, 4)
    np.testing.assert_allclose(np.asarray(layer(x, training=False)), ref.resize2d(x, (3, 4), "bilinear", window),
                               rtol=1e-5, atol=1e-3)


# ---- colour augmentation ----------------------------------------------------------------------

def test_random_brightness_and_contrast_values_and_gradients(rng):
    x = rng.uniform(0, 1, size=(2, 3, 4, 2)).astype(np.float32)
    b = layers.RandomBrightness((0.5, 0.5), value_range=(0, 1), seed=0)
    np.testing.assert_allclose(np.asarray(b(x, training=True)), np.clip(x + 0.5, 0, 1), atol=1e-6)
    fixed = layers.RandomContrast((0.5, 0.0), value_range=(-10, 10), seed=0)  # c in [0.5, 1.0]
    y = fixed.forward(corenn.Tensor.from_numpy(x), training=True)
    factor = fixed._c.reshape(-1)
    mean = ref.f64(x).mean(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(np.asarray(y), (x - mean) * factor[:, None, None, None] + mean, atol=1e-5)
    # gradient of sum(dy * y) against finite differences of the formula with the drawn factor
    dy = rng.normal(size=x.shape)
    f = lambda v: float((((v - v.mean(axis=(1, 2), keepdims=True)) * factor[:, None, None, None]
                          + v.mean(axis=(1, 2), keepdims=True)) * dy).sum())
    dx = fixed.backward(corenn.Tensor.from_numpy(dy.astype(np.float32)))
    np.testing.assert_allclose(np.asarray(dx), ref.numerical_grad(f, ref.f64(x)), rtol=1e-4, atol=1e-5)
    b.forward(corenn.Tensor.from_numpy(x), training=True)
    dx = np.asarray(b.backward(corenn.Tensor.from_numpy(np.ones_like(x))))
    np.testing.assert_array_equal(dx, (x + 0.5 <= 1.0).astype(np.float32))  # clipped: no gradient


def test_colour_layers_check_their_arguments():
    with pytest.raises(ValueError, match="value_range"):
        layers.RandomBrightness(0.2, value_range=(1, 0))
    with pytest.raises(ValueError, match="factor"):
        layers.RandomBrightness(1.5)
    with pytest.raises(ValueError, match="factor"):
        layers.RandomContrast(-0.1)
    with pytest.raises(NotImplementedError, match="fill_mode"):
        layers.RandomRotation(0.1, fill_mode="mirror")
    with pytest.raises(ValueError, match="seed"):
        layers.RandomFlip(seed=-1)


# ---- in models --------------------------------------------------------------------------------

def test_augmentation_trains_in_a_model_and_saves_with_it(rng, tmp_path):
    x = images(rng, (16, 8, 8, 3))
    y = rng.integers(0, 2, 16)
    model = keras.Sequential([
        keras.Input((8, 8, 3)), layers.Resizing(6, 6), layers.RandomFlip("horizontal", seed=1),
        layers.RandomRotation(0.1, seed=2), layers.RandomZoom(0.1, seed=3),
        layers.RandomTranslation(0.1, 0.1, seed=4), layers.RandomContrast(0.2, seed=5),
        layers.RandomBrightness(0.1, seed=6), layers.Rescaling(1 / 255),
        layers.Conv2D(2, 3, activation="relu"), layers.Flatten(), layers.Dense(2)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    path = tmp_path / "aug.keras"
    model.save(path)
    again = keras.models.load_model(path)
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
    assert [type(l).__name__ for l in again.layers][:7] == ["Resizing", "RandomFlip", "RandomRotation",
                                                            "RandomZoom", "RandomTranslation",
                                                            "RandomContrast", "RandomBrightness"]


def test_gradient_tape_reaches_through_a_random_rotation(rng):
    x = images(rng, (2, 5, 5, 1)) / 255
    layer = layers.RandomRotation((0.1, 0.1), fill_mode="nearest", seed=0)
    xt = corenn.Tensor.from_numpy(x)
    with corenn.GradientTape() as tape:
        tape.watch(xt)
        loss = corenn.ops.sum(layer(xt, training=True))
    dx = np.asarray(tape.gradient(loss, xt))
    t = layers.image_preprocessing.rotation_transforms(np.full(2, 0.2 * np.pi), 5, 5)
    np.testing.assert_allclose(dx, ref.image_transform_grad(np.ones_like(x), t, x.shape, "bilinear", "nearest"),
                               rtol=1e-4, atol=1e-5)


# ---- category and text layers ----------------------------------------------------------------

def test_category_encoding_modes():
    one = np.asarray(layers.CategoryEncoding(4, output_mode="one_hot")(np.array([3, 2, 0, 1])))
    np.testing.assert_array_equal(one, np.eye(4, dtype=np.float32)[[3, 2, 0, 1]])
    multi = np.asarray(layers.CategoryEncoding(4)(np.array([[0, 1], [0, 0], [1, 2], [3, 1]])))
    np.testing.assert_array_equal(multi, [[1, 1, 0, 0], [1, 0, 0, 0], [0, 1, 1, 0], [0, 1, 0, 1]])
    count = layers.CategoryEncoding(4, output_mode="count")
    np.testing.assert_array_equal(np.asarray(count(np.array([[0, 1], [0, 0], [1, 2], [3, 1]]))),
                                  [[1, 1, 0, 0], [2, 0, 0, 0], [0, 1, 1, 0], [0, 1, 0, 1]])
    weighted = count(np.array([[0, 1], [0, 0]]), count_weights=np.array([[0.5, 2.0], [1.0, 3.0]]))
    np.testing.assert_array_equal(np.asarray(weighted), [[0.5, 2, 0, 0], [4, 0, 0, 0]])
    with pytest.raises(ValueError, match=r"index 4 is outside \[0, 4\)"):
        layers.CategoryEncoding(4)(np.array([[0, 4]]))


def test_string_lookup_layout_adapt_invert_and_encodings():
    lookup = layers.StringLookup(vocabulary=["a", "b", "c"])
    np.testing.assert_array_equal(np.asarray(lookup(np.array([["a", "c", "d"], ["d", "z", "b"]]))),
                                  [[1, 3, 0], [0, 0, 2]])
    assert lookup.get_vocabulary() == ["[UNK]", "a", "b", "c"] and lookup.vocabulary_size() == 4
    masked = layers.StringLookup(vocabulary=["a", "b"], mask_token="")
    np.testing.assert_array_equal(np.asarray(masked(np.array(["", "b", "q", "a"]))), [0, 3, 1, 2])
    inverse = layers.StringLookup(vocabulary=["a", "b", "c"], invert=True)
    np.testing.assert_array_equal(inverse(np.array([[1, 3, 0]])), [["a", "c", "[UNK]"]])
    multi = layers.StringLookup(vocabulary=["a", "b", "c"], output_mode="multi_hot")
    np.testing.assert_array_equal(np.asarray(multi(np.array([["a", "c", "d"]]))), [[1, 1, 0, 1]])
    count = layers.StringLookup(vocabulary=["a", "b"], output_mode="count", pad_to_max_tokens=True,
                                max_tokens=5)
    np.testing.assert_array_equal(np.asarray(count(np.array([["a", "a", "x"]]))), [[1, 2, 0, 0, 0]])
    learned = layers.StringLookup(max_tokens=4)
    learned.adapt(np.array([["b", "a", "c", "b"], ["a", "d", "b", "c"]]))
    # counts b 3, c 2, a 2, d 1: the top 3 after "[UNK]", ties by descending token (c before a)
    assert learned.get_vocabulary() == ["[UNK]", "b", "c", "a"]
    strict = layers.StringLookup(vocabulary=["a"], num_oov_indices=0)
    with pytest.raises(ValueError, match="'z' is not in the vocabulary"):
        strict(np.array(["a", "z"]))
    with pytest.raises(ValueError, match="num_oov_indices"):
        layers.StringLookup(num_oov_indices=1.5)
    with pytest.raises(ValueError, match="repeats 'a'"):
        layers.StringLookup(vocabulary=["a", "b", "a"])


def test_integer_lookup_in_a_model_feeding_an_embedding(rng):
    lookup = layers.IntegerLookup(vocabulary=[12, 36, 1138, 42])
    np.testing.assert_array_equal(np.asarray(lookup(corenn.Tensor.from_numpy(np.array([[12, 1138, 42], [42, 1000, 36]])))),
                                  [[1, 3, 4], [4, 0, 2]])
    inp = keras.Input((3,), dtype="int32")
    model = keras.Model(inp, layers.Embedding(5, 2)(layers.IntegerLookup(vocabulary=[12, 36, 1138, 42])(inp)))
    table = np.asarray(model.get_weights()[0])
    got = model.predict(np.array([[12, 1138, 7]], np.int32), verbose=0)
    np.testing.assert_allclose(got[0], table[[1, 3, 0]])


def test_text_vectorization_standardizes_splits_pads_and_adapts():
    texts = np.array(["The cat sat.", "the DOG, the cat!", "A bird"])
    vec = layers.TextVectorization(max_tokens=6, output_sequence_length=4)
    vec.adapt(texts)
    # the 3, cat 2, then ties of 1 by descending token: sat, dog, bird (a dropped by max_tokens)
    assert vec.get_vocabulary() == ["", "[UNK]", "the", "cat", "sat", "dog"]
    np.testing.assert_array_equal(np.asarray(vec(texts)), [[2, 3, 4, 0], [2, 5, 2, 3], [1, 1, 0, 0]])
    ragged = layers.TextVectorization(vocabulary=["x", "y"])
    np.testing.assert_array_equal(np.asarray(ragged(np.array([["x y z"], ["y"]]))), [[2, 3, 1], [3, 0, 0]])
    multi = layers.TextVectorization(vocabulary=["x", "y"], output_mode="multi_hot")
    np.testing.assert_array_equal(np.asarray(multi(np.array(["x x q", "y"]))), [[1, 1, 0], [0, 0, 1]])
    count = layers.TextVectorization(vocabulary=["x", "y"], output_mode="count", standardize=None)
    np.testing.assert_array_equal(np.asarray(count(np.array(["x x X", "y"]))), [[1, 2, 0], [0, 0, 1]])


def test_vocabularies_save_and_load_with_a_model(rng, tmp_path):
    texts = np.array(["good movie", "bad movie", "good good plot"])
    vec = layers.TextVectorization(max_tokens=10, output_sequence_length=3)
    vec.adapt(texts)
    again = layers.TextVectorization.from_config(json_round_trip(vec.get_config()))
    np.testing.assert_array_equal(np.asarray(again(texts)), np.asarray(vec(texts)))
    inp = keras.Input((3,), dtype="int32")
    model = keras.Model(inp, layers.Dense(1)(layers.CategoryEncoding(5)(
        layers.IntegerLookup(vocabulary=[7, 8, 9])(inp))))
    model.save(tmp_path / "lookup.keras")
    loaded = keras.models.load_model(tmp_path / "lookup.keras")
    x = np.array([[7, 9, 3], [8, 8, 8]], np.int32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def json_round_trip(cfg):
    import json
    return json.loads(json.dumps(cfg))


def test_farmhash_fingerprint64_known_answers():
    from corenn.layers._farmhash import fingerprint64
    # values of Google's C++ farmhash::Fingerprint64, one per length path (0-16, 17-32, 33-64, > 64)
    known = {b"": 11160318154034397263, b"a": 12917804110809363939, b"Hello": 15404698994557526151,
             b"TensorFlow": 4265654129848386254, b"a" * 20: 15065261471293997870,
             b"b" * 40: 12813125466317408803, b"c" * 100: 5964872334950700222}
    assert {k: fingerprint64(k) for k in known} == known


def test_hashing_matches_the_keras_and_tf_documentation():
    # keras.io Hashing example: num_bins=3 over A..E -> [[1], [0], [1], [1], [2]]
    got = np.asarray(layers.Hashing(num_bins=3)(np.array([["A"], ["B"], ["C"], ["D"], ["E"]])))
    np.testing.assert_array_equal(got, [[1], [0], [1], [1], [2]])
    # tf.strings.to_hash_bucket_fast(["Hello", "TensorFlow", "2.x"], 3) -> [0, 2, 2]
    np.testing.assert_array_equal(np.asarray(layers.Hashing(3)(np.array(["Hello", "TensorFlow", "2.x"]))),
                                  [0, 2, 2])
    # integers hash as their decimal text; the mask value takes bin 0
    masked = layers.Hashing(4, mask_value=0)
    from corenn.layers._farmhash import fingerprint64
    want = [0] + [1 + fingerprint64(str(v).encode()) % 3 for v in (7, 12345)]
    np.testing.assert_array_equal(np.asarray(masked(np.array([0, 7, 12345]))), want)
    # floats are cast to int64 first (truncated), as Keras does
    np.testing.assert_array_equal(np.asarray(layers.Hashing(7)(np.array([7.9, -2.5]))),
                                  np.asarray(layers.Hashing(7)(np.array([7, -2]))))
    multi = np.asarray(layers.Hashing(3, output_mode="multi_hot")(np.array([["Hello", "2.x"]])))
    np.testing.assert_array_equal(multi, [[1, 0, 1]])
    with pytest.raises(NotImplementedError, match="sparse"):   # salt is supported (test_tf_strings_more.py)
        layers.Hashing(3, sparse=True)


def test_string_layers_need_a_string_input_in_a_model():
    # strings flow through a model from Input(dtype='string') (tests/layers/test_text_in_models.py);
    # a numeric input is refused by name
    inp = keras.Input((2,))
    for layer in (layers.StringLookup(vocabulary=["a"]), layers.TextVectorization(vocabulary=["a"])):
        with pytest.raises(TypeError, match="Input\\(shape=..., dtype='string'\\)"):
            layer(inp)
