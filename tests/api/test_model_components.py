"""Losses, metrics, activations, initializers and regularizers: values, resolution, errors."""
import numpy as np
import pytest

from corenn import activations, initializers, losses, metrics, regularizers
from corenn.utils.random import set_random_seed


def test_losses_match_numpy(rng):
    yt = rng.normal(size=(6, 3))
    yp = rng.normal(size=(6, 3))
    assert losses.MeanSquaredError()(yt, yp) == pytest.approx(((yt - yp) ** 2).mean(), rel=1e-5)
    # Keras 3: get("mae") is the per-sample function, get("MeanAbsoluteError") the batch-mean class
    np.testing.assert_allclose(losses.get("mae")(yt, yp), np.abs(yt - yp).mean(axis=-1), rtol=1e-5)
    assert losses.get("MeanAbsoluteError")(yt, yp) == pytest.approx(np.abs(yt - yp).mean(), rel=1e-5)
    e = np.abs(yt - yp)
    hub = np.where(e <= 0.5, 0.5 * e ** 2, 0.5 * (e - 0.25)).mean()
    assert losses.Huber(delta=0.5)(yt, yp) == pytest.approx(hub, rel=1e-5)
    logits = rng.normal(size=(6, 4))
    labels = rng.integers(0, 4, 6)
    lse = np.log(np.exp(logits).sum(1))
    ref = (lse - logits[np.arange(6), labels]).mean()
    assert losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits) == pytest.approx(ref, rel=1e-5)
    w = rng.uniform(size=6)
    per = lse - logits[np.arange(6), labels]
    assert losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits, sample_weight=w) == \
        pytest.approx((per * w).sum() / 6, rel=1e-5)


def test_loss_resolution_and_errors():
    # Keras 3: names of functions give the function, class names an instance, callables stay
    assert losses.get("mse") is losses.mean_squared_error and losses.get("MSE") is losses.mean_squared_error
    assert isinstance(losses.get("MeanSquaredError"), losses.MeanSquaredError)
    assert losses.get(losses.sparse_categorical_crossentropy) is losses.sparse_categorical_crossentropy
    assert losses.get(None) is None
    with pytest.raises(ValueError, match="unknown loss"):
        losses.get("nope")
    # compile's resolution: a name or corenn function is its class (the fused kernel), a
    # function of (y_true, y_pred) is a loss written in Python (Keras' compile(loss=fn))
    assert isinstance(losses._to_loss("mse"), losses.MeanSquaredError)
    assert isinstance(losses._to_loss(losses.sparse_categorical_crossentropy), losses.SparseCategoricalCrossentropy)
    fn = lambda a, b: 0   # noqa: E731
    assert losses.get(fn) is fn
    assert isinstance(losses._to_loss(fn), losses.LossFunctionWrapper)
    with pytest.raises(TypeError, match="cannot interpret"):
        losses.get(3)
    # float labels are cast as Keras casts them (truncated: 1.6 is class 1); NaN has no class
    assert np.isclose(float(losses.SparseCategoricalCrossentropy()(np.array([1.6]), np.array([[0.25, 0.75]]))),
                      -np.log(0.75))
    with pytest.raises(ValueError, match="integer class indices"):
        losses.SparseCategoricalCrossentropy()(np.array([np.nan]), np.array([[0.5, 0.5]]))


def test_metric_resolution_like_keras():
    bce, sce, cce = losses.BinaryCrossentropy(), losses.SparseCategoricalCrossentropy(), losses.CategoricalCrossentropy()
    assert isinstance(metrics.resolve("accuracy", bce, 2, (None, 1)), metrics.BinaryAccuracy)
    assert isinstance(metrics.resolve("acc", losses.MeanSquaredError(), 2, (None, 1)), metrics.BinaryAccuracy)
    assert isinstance(metrics.resolve("accuracy", sce, 1, (None, 10)), metrics.SparseCategoricalAccuracy)
    m = metrics.resolve("acc", cce, 2, (None, 10))
    assert isinstance(m, metrics.CategoricalAccuracy) and m.name == "acc"
    # Keras 3: get gives the metric under its default name; compile names it after the string
    assert metrics.get("mae").name == "mean_absolute_error" and metrics.resolve("mae").name == "mae"
    assert metrics.get(metrics.mean_absolute_error) is metrics.mean_absolute_error
    assert isinstance(metrics.resolve(metrics.mean_absolute_error), metrics.MeanAbsoluteError)
    with pytest.raises(ValueError, match="unknown metric"):
        metrics.get("f7")


def test_metrics_accumulate(rng):
    m = metrics.SparseCategoricalAccuracy()
    m.update_state(np.array([0, 1]), np.array([[0.9, 0.1], [0.8, 0.2]]))
    m.update_state(np.array([1]), np.array([[0.1, 0.9]]))
    assert m.result() == pytest.approx(2 / 3)
    m.reset_state()
    assert m.result() == 0.0
    b = metrics.BinaryAccuracy(threshold=0.5)
    b.update_state(np.array([[1.0], [0.0]]), np.array([[0.7], [0.6]]))
    assert b.result() == pytest.approx(0.5)
    mean = metrics.Mean()
    mean.update_state(2.0, sample_weight=3)
    mean.update_state(4.0, sample_weight=1)
    assert mean.result() == pytest.approx(2.5)
    mse = metrics.MeanSquaredError()
    yt, yp = rng.normal(size=(4, 2)), rng.normal(size=(4, 2))
    mse.update_state(yt, yp)
    assert mse.result() == pytest.approx(((yt - yp) ** 2).mean(), rel=1e-5)


def test_metrics_are_callable_like_keras():
    # train_loss(loss); train_accuracy(labels, predictions): update, then the running result
    acc = metrics.SparseCategoricalAccuracy()
    assert acc(np.array([0, 1]), np.array([[0.9, 0.1], [0.8, 0.2]])) == pytest.approx(0.5)
    assert acc(np.array([1]), np.array([[0.1, 0.9]])) == pytest.approx(2 / 3)
    mean = metrics.Mean()
    mean(losses.SparseCategoricalCrossentropy(from_logits=True)(np.array([0]), np.array([[0.0, 0.0]])))
    assert mean(1.0, sample_weight=1) == pytest.approx((np.log(2) + 1) / 2, rel=1e-6)


def test_activations_get_and_eager_functions():
    x = np.array([[-2.0, 0.5, 3.0]])
    np.testing.assert_allclose(activations.sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-5)
    np.testing.assert_allclose(activations.leaky_relu(x), np.where(x > 0, x, 0.2 * x), rtol=1e-6)
    np.testing.assert_allclose(activations.softmax(x).sum(), 1.0, rtol=1e-6)
    assert activations.get(None).name == "linear" and activations.get("silu").name == "swish"
    assert activations.get(activations.tanh).name == "tanh"
    with pytest.raises(ValueError, match="unknown activation"):
        activations.get("swishy")
    # any other function is an activation written in Python (Keras' Dense(activation=fn))
    act = activations.get(np.tanh)
    assert isinstance(act, activations.PythonActivation) and act.name == "tanh"
    np.testing.assert_allclose(np.asarray(act(x)), np.tanh(x), rtol=1e-6)
    with pytest.raises(TypeError, match="cannot interpret"):
        activations.get(3)


def test_initializers_statistics_and_seeding():
    set_random_seed(0)
    w = initializers.GlorotUniform()((400, 600))
    limit = np.sqrt(6 / 1000)
    assert w.dtype == np.float32 and np.abs(w).max() <= limit and np.isclose(w.std(), limit / np.sqrt(3), rtol=0.03)
    g = initializers.get("glorot_normal")((400, 600))
    assert np.abs(g).max() <= 2 * np.sqrt(2 / 1000) / 0.87962566103423978 + 1e-6
    assert np.isclose(g.std(), np.sqrt(2 / 1000), rtol=0.03)
    h = initializers.HeNormal()((3, 3, 16, 32))  # conv fans: 3*3*16 in
    assert np.isclose(h.std(), np.sqrt(2 / 144), rtol=0.05)
    q = initializers.Orthogonal(seed=1)((5, 8))
    np.testing.assert_allclose(q @ q.T, np.eye(5), atol=1e-5)
    a, b = initializers.RandomNormal(seed=3)((4,)), initializers.RandomNormal(seed=3)((4,))
    np.testing.assert_array_equal(a, b)
    set_random_seed(5)
    c = initializers.HeUniform()((3, 3))
    set_random_seed(5)
    np.testing.assert_array_equal(c, initializers.HeUniform()((3, 3)))
    assert initializers.get(initializers.serialize(initializers.Constant(2.0)))((2,)).tolist() == [2.0, 2.0]
    assert initializers.compute_fans((3, 3, 4, 8)) == (36, 72)


def test_einsum_kernel_fans_follow_their_input_and_output_axes():
    """Keras 3.15: VarianceScaling takes input_axes / output_axes, and EinsumDense (with the
    attention layers built on it) passes its kernel's: fan_in is the product of the axes that are
    contracted with the input, fan_out of those the output keeps. A glorot_uniform kernel then
    fills U(-l, l), l = sqrt(6 / (fan_in + fan_out)); 4096 draws reach within 1% of l."""
    from corenn import keras
    assert initializers.compute_fans((32, 4, 8), [0], [1, 2]) == (32, 32)
    assert initializers.compute_fans((4, 8, 32), [0, 1], [2]) == (32, 32)
    init = initializers.GlorotUniform(seed=1, input_axes=[0], output_axes=[1, 2])
    assert initializers.get(initializers.serialize(init)).output_axes == [1, 2]

    def check(w, fan_in, fan_out):
        w, limit = np.abs(np.asarray(w)), np.sqrt(6.0 / (fan_in + fan_out))
        assert w.max() <= limit * (1 + 1e-6) and w.max() > 0.99 * limit, (w.max(), limit)

    layer = keras.layers.EinsumDense("abc,cde->abde", output_shape=(None, 16, 16), bias_axes="de")
    layer.build((None, 5, 16))
    check(layer.kernel, 16, 256)                      # the rank-3 rule would give (256, 4096)
    mha = keras.layers.MultiHeadAttention(num_heads=4, key_dim=16)
    mha.build((None, 3, 64), (None, 3, 64))
    check(mha.query_kernel, 64, 64)
    check(mha.output_kernel, 64, 64)
    gqa = keras.layers.GroupQueryAttention(head_dim=16, num_query_heads=4, num_key_value_heads=2)
    gqa.build((None, 3, 64), (None, 3, 64))
    check(gqa.key_kernel, 64, 32)
    own = keras.layers.MultiHeadAttention(num_heads=4, key_dim=16, kernel_initializer=initializers.GlorotUniform(
        input_axes=[0, 1, 2], output_axes=[]))    # axes the user gave are kept
    own.build((None, 3, 64), (None, 3, 64))
    check(own.query_kernel, 64 * 64, 1)


def test_regularizers(rng):
    w = rng.normal(size=(3, 4)).astype(np.float32)
    assert regularizers.L2()(w) == pytest.approx(0.01 * (w.astype(np.float64) ** 2).sum(), rel=1e-5)
    assert regularizers.l1(0.1)(w) == pytest.approx(0.1 * np.abs(w).sum(), rel=1e-5)
    r = regularizers.get({"class_name": "L1L2", "config": {"l1": 0.1, "l2": 0.2}})
    assert (r.l1, r.l2) == (0.1, 0.2)
    assert regularizers.get("l2").l2 == 0.01 and regularizers.get(None) is None
    with pytest.raises(ValueError, match=">= 0"):
        regularizers.L2(-1.0)
