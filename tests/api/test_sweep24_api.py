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


class _FaqModel(tf.keras.Model):
    """The Keras FAQ's custom train_step / test_step (tf.keras 2 style compiled_loss)."""

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compiled_loss(y, y_pred, regularization_losses=self.losses)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        self.compiled_metrics.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        x, y = data
        y_pred = self(x, training=False)
        self.compiled_loss(y, y_pred, regularization_losses=self.losses)
        self.compiled_metrics.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


def _faq_model():
    inputs = tf.keras.Input(shape=(3,))
    model = _FaqModel(inputs, tf.keras.layers.Dense(1)(inputs))
    # lr 0: the weights stay put, so every batch's loss is the NumPy MSE of the same predictions
    model.compile(optimizer=tf.keras.optimizers.SGD(0.0), loss="mse", metrics=["mae"])
    return model


def test_compiled_loss_feeds_the_loss_tracker_batch_weighted():
    # tf.keras 2: compiled_loss records the loss in the "loss" Mean (weighted by batch size), so
    # the FAQ's step logs the real loss; it used to log 0. Batches of 4, 4, 2: the batch-weighted
    # mean is the MSE over all 10 samples (an unweighted mean of batch losses differs).
    rng = np.random.default_rng(2)
    x = rng.normal(size=(10, 3)).astype("float32")
    y = rng.normal(size=(10, 1)).astype("float32")
    model = _faq_model()
    pred = model.predict(x, verbose=0)
    want = float(np.mean((pred - y) ** 2))
    per_batch = [np.mean((pred[s] - y[s]) ** 2) for s in (slice(0, 4), slice(4, 8), slice(8, 10))]
    assert abs(np.mean(per_batch) - want) > 1e-3   # the two means differ for this data
    hist = model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    np.testing.assert_allclose(hist.history["loss"], [want, want], rtol=1e-5)
    np.testing.assert_allclose(hist.history["mae"][-1], np.mean(np.abs(pred - y)), rtol=1e-5)
    res = model.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
    np.testing.assert_allclose(res["loss"], want, rtol=1e-5)


def test_compiled_loss_returns_the_compiled_loss_value():
    rng = np.random.default_rng(3)
    y = rng.normal(size=(6, 1)).astype("float32")
    p = rng.normal(size=(6, 1)).astype("float32")
    model = _faq_model()
    sw = np.array([1, 0, 2, 1, 0, 1], "float32")
    got = float(np.asarray(model.compiled_loss(tf.constant(y), tf.constant(p), sample_weight=sw)))
    # Keras' sum_over_batch_size: the weighted squared errors over the batch size
    np.testing.assert_allclose(got, np.sum(sw * (p - y)[:, 0] ** 2) / 6, rtol=1e-5)


@pytest.mark.parametrize("fn, data, want", [
    (tf.reduce_sum, [1, 2, 3], 6), (tf.reduce_max, (1, 5), 5), (tf.reduce_min, [4, -2], -2),
    (tf.reduce_prod, [2, 3], 6), (tf.reduce_mean, [1, 2, 4], 2), (tf.reduce_sum, 7, 7),
])
def test_reductions_of_python_ints_are_int32(fn, data, want):
    # tf.reduce_sum([1, 2, 3]) is tf.Tensor(6, dtype=int32) (Python ints convert to int32); NumPy
    # would have picked int64. The integer mean truncates, as TensorFlow's.
    out = fn(data)
    assert out.dtype == "int32" and int(out) == want


def test_reductions_keep_numpy_and_wide_int_dtypes():
    assert tf.reduce_sum(np.array([1, 2], "int64")).dtype == "int64"   # an array keeps its dtype
    assert int(tf.reduce_sum([2**40, 1])) == 2**40 + 1                  # past int32: stays exact
    assert tf.reduce_sum([1.0, 2.5]).dtype == "float32"


def test_plain_function_as_initializer():
    # Keras 3 accepts any callable(shape, dtype=...) as an initializer (the basics guide's
    # Dense(kernel_initializer=tf.random.normal)); it is called with the weight's shape
    calls = []

    def init(shape, dtype=None):
        calls.append((tuple(shape), dtype))
        return np.arange(np.prod(shape), dtype="float32").reshape(shape)

    layer = tf.keras.layers.Dense(2, kernel_initializer=init)
    layer.build((None, 3))
    assert calls == [((3, 2), "float32")]
    np.testing.assert_array_equal(np.asarray(layer.kernel), np.arange(6).reshape(3, 2))
    tf.random.set_seed(0)
    dense = tf.keras.layers.Dense(1, kernel_initializer=tf.random.normal)
    dense.build((None, 400))
    k = np.asarray(dense.kernel)
    assert k.shape == (400, 1) and abs(k.mean()) < 0.2 and 0.8 < k.std() < 1.2   # N(0, 1) draws


def test_function_initializer_with_wrong_shape_names_the_problem():
    layer = tf.keras.layers.Dense(2, kernel_initializer=lambda shape, dtype=None: np.zeros((5,), "float32"))
    with pytest.raises(ValueError, match="returned shape"):
        layer.build((None, 3))
