"""Python work per call on the latency and tape paths, pinned (issue 15: Python overhead).

predict_on_batch / model(x) at batch 1 and a GradientTape training step are dominated by
Python when the model is small. These tests count the calls of corenn's own Python functions
(cProfile, per call after warm-up; builtins and NumPy internals are left out, so the counts do
not depend on the NumPy or Python build) and fail when one grows past a generous bound (about
1.5x what the inference paths make today, 1.25x for the tape step), well under what they made
before the overhead was cut (noted per case). A failure means a per-call cost crept back in (shape arithmetic redone per call,
a wrapper re-wrapping Tensors, a cache that stopped hitting), not noise: the counts are exact.
bench/tape_steps.py reports the full counts (builtins included) and instructions per step.
"""
import cProfile
import os
import pstats

import numpy as np
import pytest

import corenn
from corenn import layers as L

_PACKAGE = os.path.dirname(os.path.abspath(corenn.__file__))


def corenn_calls_per_run(run, n=10):
    """Calls of Python functions defined in corenn per ``run()`` (run warmed up first)."""
    for _ in range(3):
        run()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(n):
        run()
    prof.disable()
    stats = pstats.Stats(prof).stats
    total = sum(calls for (path, _, _), (_, calls, _, _, _) in stats.items() if path.startswith(_PACKAGE))
    return total / n


def mlp():
    return corenn.Sequential([L.Input(shape=(28, 28)), L.Flatten(), L.Dense(32, activation="relu"),
                              L.Dense(16, activation="relu"), L.Dense(10)])


def cnn():
    return corenn.Sequential([L.Input(shape=(28, 28, 1)),
                              L.Conv2D(4, 3, activation="relu"), L.MaxPooling2D(2),
                              L.Conv2D(8, 3, activation="relu"), L.MaxPooling2D(2),
                              L.Conv2D(8, 3, activation="relu"),
                              L.Flatten(), L.Dense(8, activation="relu"), L.Dense(10)])


def lstm():
    return corenn.Sequential([L.Input(shape=(28, 28)), L.LSTM(8, return_sequences=True), L.LSTM(8),
                              L.Dense(10)])


# (model, input shape, bound for predict_on_batch, bound for model(x)); today the paths make
# MLP 23 / 27, CNN 32 / 36, LSTM 34 / 38 of these calls, before the cuts 44 / 57, 183 / 204,
# 98 / 109
INFERENCE = {"mlp": (mlp, (28, 28), 36, 42), "cnn": (cnn, (28, 28, 1), 50, 56),
             "lstm": (lstm, (28, 28), 51, 57)}


@pytest.mark.parametrize("which", sorted(INFERENCE))
def test_batch_one_inference_calls(rng, which):
    build, shape, predict_bound, call_bound = INFERENCE[which]
    model = build()
    x = rng.random((1,) + shape, dtype=np.float32)
    expected = model.predict(x, verbose=0)
    predict_calls = corenn_calls_per_run(lambda: model.predict_on_batch(x))
    call_calls = corenn_calls_per_run(lambda: model(x))
    # the fast paths give what predict gives
    np.testing.assert_array_equal(model.predict_on_batch(x), expected)
    np.testing.assert_array_equal(np.asarray(model(x)), expected)
    assert 0 < predict_calls <= predict_bound, f"{which} predict_on_batch: {predict_calls} calls per call"
    assert 0 < call_calls <= call_bound, f"{which} model(x): {call_calls} calls per call"


def test_input_checks_still_run_after_the_fast_path(rng):
    """The latency path remembers a batch shape that passed the input checks; anything else
    (another sample shape, dtype, layout) is checked again and refused as before."""
    model = mlp()
    x = rng.random((1, 28, 28), dtype=np.float32)
    for _ in range(3):
        model.predict_on_batch(x)
    with pytest.raises(ValueError, match="expects input of shape"):
        model.predict_on_batch(rng.random((1, 28, 27), dtype=np.float32))
    with pytest.raises(ValueError, match="is empty"):
        model.predict_on_batch(np.zeros((0, 28, 28), np.float32))
    with pytest.raises(TypeError, match="numeric"):
        model.predict_on_batch(np.full((1, 28, 28), "a", dtype=object))
    # other dtypes and layouts are converted, not refused, and give the same result
    ref = model.predict_on_batch(x)
    np.testing.assert_array_equal(model.predict_on_batch(x.astype(np.float64)), ref)
    np.testing.assert_array_equal(model.predict_on_batch(np.asfortranarray(x)), ref)


def _tape_step(subclassed, batch=16):
    tf = corenn
    rng = np.random.default_rng(0)
    x = rng.random((batch, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, batch).astype(np.uint8)
    if subclassed:
        class MyModel(tf.keras.Model):
            def __init__(self):
                super().__init__()
                self.flatten = L.Flatten()
                self.d1 = L.Dense(16, activation="relu")
                self.d2 = L.Dense(10)

            def call(self, inputs):
                return self.d2(self.d1(self.flatten(inputs)))
        model = MyModel()
    else:
        model = tf.keras.Sequential([tf.keras.Input((28, 28, 1)), L.Flatten(),
                                     L.Dense(16, activation="relu"), L.Dense(10)])
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = tf.keras.optimizers.Adam()

    def step():
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss
    return step, model


@pytest.mark.parametrize("subclassed", [True, False], ids=["subclassed", "sequential"])
def test_gradient_tape_step_calls(subclassed):
    step, model = _tape_step(subclassed)
    before = [np.array(w, copy=True) for w in model.trainable_variables]
    calls = corenn_calls_per_run(step)
    # the steps trained: every weight moved
    assert all(not np.array_equal(b, np.asarray(w)) for b, w in zip(before, model.trainable_variables))
    # today a step makes 90 (subclassed) / 88 (Sequential) of these calls, before the cuts 133 / 129
    assert 0 < calls <= 115, f"tape step: {calls} calls per step"


# -- the caches behind these paths stay correct when what they depend on changes --------------

def test_conv_geometry_cache_follows_the_input_shape(rng):
    """A conv layer keeps its geometry per input shape: images of several sizes through one
    model (strided 'same' and dilated 'valid' convs, Conv1D too) match the float64 reference,
    more sizes than the cache holds included."""
    import sys
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import reference as ref
    model = corenn.Sequential([L.Input(shape=(None, None, 2)),
                               L.Conv2D(3, 3, strides=2, padding="same"),
                               L.Conv2D(2, 3, dilation_rate=2)])
    c1, c2 = model.layers
    sizes = [(9, 9), (12, 10), (9, 9)] + [(9 + k, 10) for k in range(20)] + [(12, 10)]
    for h, w in sizes:
        x = rng.standard_normal((2, h, w, 2)).astype(np.float32)
        y = ref.conv2d_forward(x, np.asarray(c1.kernel), np.asarray(c1.bias), strides=(2, 2), padding="same")
        y = ref.conv2d_forward(y, np.asarray(c2.kernel), np.asarray(c2.bias), dilation=(2, 2))
        np.testing.assert_allclose(model.predict_on_batch(x), y, rtol=1e-4, atol=1e-4)
    # a new shape is checked when its geometry is first computed: too small for the dilated kernel
    with pytest.raises(ValueError, match=f"Conv2D '{c2.name}'.*smaller than the"):
        model.predict_on_batch(np.zeros((1, 7, 10, 2), np.float32))
    conv1d = corenn.Sequential([L.Input(shape=(None, 3)), L.Conv1D(4, 3, strides=2, padding="same")])
    for steps in (9, 16, 9):
        x = rng.standard_normal((2, steps, 3)).astype(np.float32)
        k = np.asarray(conv1d.layers[0].kernel)[None]
        y = ref.conv2d_forward(x[:, None], k, np.asarray(conv1d.layers[0].bias), strides=(1, 2),
                               padding="same")[:, 0]
        np.testing.assert_allclose(conv1d.predict_on_batch(x), y, rtol=1e-4, atol=1e-4)


def test_trainable_variables_cache_follows_the_model():
    """Model.trainable_variables is cached; layers added, frozen or built later show up."""
    model = corenn.Sequential([L.Input(shape=(4,)), L.Dense(3)])
    assert len(model.trainable_variables) == 2
    model.add(L.Dense(2))
    assert len(model.trainable_variables) == 4
    model.layers[0].trainable = False
    assert [tuple(w.shape) for w in model.trainable_variables] == [(3, 2), (2,)]
    model.layers[0].trainable = True

    class Lazy(corenn.keras.Model):
        def __init__(self):
            super().__init__()
            self.blocks = [L.Dense(3)]

        def call(self, x):
            for b in self.blocks:
                x = b(x)
            return x
    lazy = Lazy()
    assert lazy.trainable_variables == []          # not built yet
    lazy(np.ones((1, 4), np.float32))
    assert len(lazy.trainable_variables) == 2      # built by the call
    lazy.blocks.append(L.Dense(2))
    lazy(np.ones((1, 4), np.float32))
    assert len(lazy.trainable_variables) == 4      # a layer appended to a tracked list
