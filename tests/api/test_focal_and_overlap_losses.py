"""BinaryFocalCrossentropy / CategoricalFocalCrossentropy (one fused C++ pass each) and Dice /
Tversky (corenn.ops on the tape) against float64 NumPy references of Keras 3's definitions,
gradients against finite differences of those references, and the identities that tie them to
the plain losses (gamma = 0 is the cross-entropy; Tversky(0.5, 0.5) is Dice)."""
import numpy as np
import pytest

from corenn import GradientTape, keras, kernels, losses

EPS = 1e-7


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def binary_focal_ref(t, p, balancing, alpha, gamma, logits, smoothing):
    t, p = np.asarray(t, np.float64), np.asarray(p, np.float64)
    if smoothing:
        t = t * (1 - smoothing) + 0.5 * smoothing
    q = _sigmoid(p) if logits else p
    c = np.clip(q, EPS, 1 - EPS)
    bce = -(t * np.log(c) + (1 - t) * np.log(1 - c))
    pt = t * q + (1 - t) * (1 - q)
    out = (1 - pt) ** gamma * bce
    if balancing:
        out = (t * alpha + (1 - t) * (1 - alpha)) * out
    return out.mean(axis=-1).mean()


def categorical_focal_ref(t, p, alpha, gamma, logits, smoothing):
    t, p = np.asarray(t, np.float64), np.asarray(p, np.float64)
    if smoothing:
        t = t * (1 - smoothing) + smoothing / t.shape[-1]
    if logits:
        z = np.exp(p - p.max(axis=-1, keepdims=True))
        p = z / z.sum(axis=-1, keepdims=True)
    q = np.clip(p / p.sum(axis=-1, keepdims=True), EPS, 1 - EPS)
    return (-alpha * t * (1 - q) ** gamma * np.log(q)).sum(axis=-1).mean()


def _fd(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        g[i] = (f(xp) - f(xm)) / (2 * h)
    return g


def _value_and_grad(loss, t, p):
    g = kernels.empty(p.shape)
    value = loss.forward_backward(loss.prepare_labels(t), kernels.Tensor.from_numpy(p), g)
    return value, np.asarray(g)


@pytest.mark.parametrize("balancing", [False, True])
@pytest.mark.parametrize("logits", [False, True])
@pytest.mark.parametrize("gamma, smoothing", [(2.0, 0.0), (0.0, 0.0), (3.5, 0.1)])
def test_binary_focal_value_and_gradient(rng, balancing, logits, gamma, smoothing):
    t = (rng.random((6, 4)) > 0.5).astype(np.float32)
    p = (rng.standard_normal((6, 4)) * 2).astype(np.float32) if logits else \
        rng.uniform(0.02, 0.98, (6, 4)).astype(np.float32)
    loss = losses.BinaryFocalCrossentropy(apply_class_balancing=balancing, alpha=0.3, gamma=gamma,
                                          from_logits=logits, label_smoothing=smoothing)
    value, g = _value_and_grad(loss, t, p)
    ref = lambda v: binary_focal_ref(t, v, balancing, 0.3, gamma, logits, smoothing)   # noqa: E731
    np.testing.assert_allclose(value, ref(p), rtol=1e-5)
    np.testing.assert_allclose(g, _fd(ref, p.astype(np.float64)), rtol=2e-4, atol=1e-7)
    np.testing.assert_allclose(float(loss(t, p)), ref(p), rtol=1e-5)


@pytest.mark.parametrize("logits", [False, True])
@pytest.mark.parametrize("gamma, smoothing", [(2.0, 0.0), (0.0, 0.0), (1.5, 0.2)])
def test_categorical_focal_value_and_gradient(rng, logits, gamma, smoothing):
    t = np.eye(5, dtype=np.float32)[rng.integers(0, 5, 7)]
    p = (rng.standard_normal((7, 5)) * 2).astype(np.float32) if logits else \
        rng.uniform(0.05, 1.0, (7, 5)).astype(np.float32)
    loss = losses.CategoricalFocalCrossentropy(alpha=0.4, gamma=gamma, from_logits=logits,
                                               label_smoothing=smoothing)
    value, g = _value_and_grad(loss, t, p)
    ref = lambda v: categorical_focal_ref(t, v, 0.4, gamma, logits, smoothing)   # noqa: E731
    np.testing.assert_allclose(value, ref(p), rtol=1e-5)
    np.testing.assert_allclose(g, _fd(ref, p.astype(np.float64)), rtol=2e-4, atol=1e-7)


def test_focal_losses_reduce_to_the_cross_entropies(rng):
    t = (rng.random((8, 3)) > 0.5).astype(np.float32)
    p = rng.uniform(0.05, 0.95, (8, 3)).astype(np.float32)
    np.testing.assert_allclose(float(losses.BinaryFocalCrossentropy(gamma=0.0)(t, p)),
                               float(losses.BinaryCrossentropy()(t, p)), rtol=1e-5)
    onehot = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 8)]
    np.testing.assert_allclose(float(losses.CategoricalFocalCrossentropy(alpha=1.0, gamma=0.0)(onehot, p)),
                               float(losses.CategoricalCrossentropy()(onehot, p)), rtol=1e-5)
    # the focusing term only shrinks the loss of well-classified examples
    assert float(losses.BinaryFocalCrossentropy(gamma=2.0)(t, p)) < float(losses.BinaryCrossentropy()(t, p))
    per = losses.binary_focal_crossentropy(t, p, gamma=2.0)
    assert tuple(per.shape) == (8,)


def test_focal_losses_train_and_round_trip(rng):
    x = rng.standard_normal((256, 4)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0.8).astype(np.float32)[:, None]   # imbalanced, about 20% positive
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.02),
                  loss=keras.losses.BinaryFocalCrossentropy(apply_class_balancing=True, from_logits=True),
                  metrics=[keras.metrics.BinaryAccuracy(threshold=0.0)])
    hist = model.fit(x, y, epochs=40, batch_size=32, verbose=0).history
    assert hist["loss"][-1] < 0.5 * hist["loss"][0]
    assert hist["binary_accuracy"][-1] > 0.9
    for loss in (losses.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=0.1, gamma=3.0),
                 losses.CategoricalFocalCrossentropy(alpha=0.5, gamma=1.0, label_smoothing=0.1),
                 losses.Dice(axis=(1, 2)), losses.Tversky(alpha=0.7, beta=0.3)):
        again = losses.deserialize(losses.serialize(loss))
        assert type(again) is type(loss) and again.get_config() == loss.get_config()
    assert losses.get("binary_focal_crossentropy") is losses.binary_focal_crossentropy   # Keras 3: the function
    assert isinstance(losses.get("BinaryFocalCrossentropy"), losses.BinaryFocalCrossentropy)
    with pytest.raises(ValueError, match="gamma"):
        losses.BinaryFocalCrossentropy(gamma=-1.0)


def dice_ref(t, p, axis):
    t, p = np.asarray(t, np.float64), np.asarray(p, np.float64)
    return 1 - 2 * (t * p).sum(axis=axis) / (t.sum(axis=axis) + p.sum(axis=axis) + EPS)


def tversky_ref(t, p, a, b, axis):
    t, p = np.asarray(t, np.float64), np.asarray(p, np.float64)
    tp, fn, fp = (t * p).sum(axis=axis), (t * (1 - p)).sum(axis=axis), ((1 - t) * p).sum(axis=axis)
    return 1 - tp / (tp + a * fn + b * fp + EPS)


@pytest.mark.parametrize("axis", [None, (1, 2)])
def test_dice_and_tversky_values_and_tape_gradients(rng, axis):
    t = (rng.random((3, 4, 4)) > 0.6).astype(np.float32)
    p = rng.uniform(0.0, 1.0, (3, 4, 4)).astype(np.float32)
    for loss, ref in ((losses.Dice(axis=axis), lambda v: dice_ref(t, v, axis)),
                      (losses.Tversky(0.7, 0.3, axis=axis), lambda v: tversky_ref(t, v, 0.7, 0.3, axis))):
        np.testing.assert_allclose(float(loss(t, p)), np.mean(ref(p)), rtol=1e-5)
        pt = kernels.Tensor.from_numpy(p)
        with GradientTape() as tape:
            tape.watch(pt)
            value = loss(t, pt)
        g = tape.gradient(value, pt)
        np.testing.assert_allclose(np.asarray(g), _fd(lambda v: np.mean(ref(v)), p.astype(np.float64)),
                                   rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(float(losses.Tversky(0.5, 0.5, axis=axis)(t, p)),
                               float(losses.Dice(axis=axis)(t, p)), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(losses.dice(t, p, axis=axis)), dice_ref(t, p, axis), rtol=1e-5)


def test_dice_trains_a_segmentation_head(rng):
    x = rng.standard_normal((64, 8, 8, 1)).astype(np.float32)
    y = (x > 0.5).astype(np.float32)   # the mask is a threshold of the input
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
                              keras.layers.Conv2D(1, 1, activation="sigmoid")])
    model.compile(keras.optimizers.Adam(0.05), loss=keras.losses.Dice(axis=(1, 2, 3)))
    hist = model.fit(x, y, epochs=25, batch_size=16, verbose=0).history["loss"]
    assert hist[-1] < 0.5 * hist[0]


@pytest.mark.parametrize("make", [lambda: losses.Dice(), lambda: losses.Tversky(alpha=0.3, beta=0.7)])
def test_overlap_losses_over_every_axis_take_sample_weights_as_keras(make):
    """With axis=None the call gives one value for the batch; Keras then broadcasts it to the
    sample weights and averages: value * mean(w) (they were ignored before)."""
    rng = np.random.default_rng(2)
    y = (rng.random((8, 3)) > 0.5).astype(np.float32)
    p = rng.random((8, 3)).astype(np.float32)
    w = rng.random(8).astype(np.float32)
    loss = make()
    plain = float(loss(y, p))
    np.testing.assert_allclose(float(loss(y, p, sample_weight=w)), plain * w.mean(), rtol=1e-6)
    summed = type(loss).from_config({**loss.get_config(), "reduction": "sum"})
    np.testing.assert_allclose(float(summed(y, p, sample_weight=w)), plain * w.sum(), rtol=1e-6)
