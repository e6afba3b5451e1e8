"""Truth values are bool tensors, as Keras gives them: comparisons, logical ops, predicates,
any / all, casts and fills to bool. corenn's bool tensor is the NumPy bool array its Keras masks
are (``layers.base.BoolMask``); these tests check what a script does with one: read its dtype and
values, index with it, mix it into float arithmetic on the GradientTape, move it through shape
ops, and carry it through a functional model."""
import numpy as np
import pytest

import corenn
import corenn as tf
from corenn import keras, layers, ops
from corenn.kernels import Tensor

A = np.array([[1.5, -2.0, 0.0], [3.0, 0.5, -1.0]], np.float32)


def _is_bool_tensor(t):
    return isinstance(t, np.ndarray) and t.dtype == np.bool_ and t.dtype == tf.bool and t.numpy().dtype == np.bool_


@pytest.mark.parametrize("name, got, want", [
    ("greater", lambda x: x > 0, lambda a: a > 0),
    ("less_equal", lambda x: ops.less_equal(x, 0.5), lambda a: a <= 0.5),
    ("equal", lambda x: x == 0.5, lambda a: a == 0.5),
    ("not_equal", lambda x: ops.not_equal(x, 0.0), lambda a: a != 0),
    ("logical_and", lambda x: ops.logical_and(x > -1, x < 1), lambda a: (a > -1) & (a < 1)),
    ("logical_or", lambda x: (x > 1) | (x < -1), lambda a: (a > 1) | (a < -1)),
    ("logical_not", lambda x: ~(x > 0), lambda a: ~(a > 0)),
    ("logical_xor", lambda x: ops.logical_xor(x > 0, x > 1), lambda a: (a > 0) ^ (a > 1)),
    ("isfinite", lambda x: ops.isfinite(x / 0.0), lambda a: np.isfinite(a / np.float32(0.0))),
    ("any", lambda x: ops.any(x > 2, axis=1), lambda a: np.any(a > 2, axis=1)),
    ("all", lambda x: ops.all(x > -3), lambda a: np.all(a > -3)),
    ("cast", lambda x: ops.cast(x, "bool"), lambda a: a != 0),
    ("in_top_k", lambda x: ops.in_top_k([0, 1], x, 1), lambda a: np.array([True, False])),
    ("zeros_like", lambda x: ops.zeros_like(x > 0), lambda a: np.zeros(a.shape, bool)),
    ("tf.zeros", lambda x: tf.zeros([2, 1], tf.bool), lambda a: np.zeros((2, 1), bool)),
])
def test_truth_values_are_bool_tensors(name, got, want):
    with np.errstate(divide="ignore", invalid="ignore"):
        g = got(ops.convert_to_tensor(A))
        w = want(A)
    assert _is_bool_tensor(g), f"{name}: {type(g).__name__} of dtype {getattr(g, 'dtype', None)}"
    assert g.shape == np.shape(w)
    np.testing.assert_array_equal(g.numpy(), w)


def test_bool_tensors_index_tensors_and_numpy_arrays():
    x = ops.convert_to_tensor(A)
    m = x > 0
    np.testing.assert_array_equal(x[m].numpy(), A[A > 0])
    np.testing.assert_array_equal(x[:, m[0]].numpy(), A[:, A[0] > 0])
    np.testing.assert_array_equal(A[m.numpy()], A[A > 0])   # the NumPy array a script indexes
    np.testing.assert_array_equal(A[np.asarray(m)], A[A > 0])
    np.testing.assert_array_equal(tf.boolean_mask(x, m).numpy(), A[A > 0])


def test_arithmetic_with_numbers_gives_float32_tensors_on_the_tape():
    x = tf.Variable(A)
    with tf.GradientTape() as tape:
        m = x > 0
        y = ops.sum(m * x * x) + ops.sum((1.0 - m) * x)
    assert isinstance(m * x, Tensor) and (m * x).dtype == "float32"
    assert isinstance(1.0 - m, Tensor) and (1.0 - m).dtype == "float32"
    g = tape.gradient(y, x)
    # d/dx [m x^2 + (1 - m) x] = 2x where x > 0, else 1
    np.testing.assert_allclose(np.asarray(g), np.where(A > 0, 2 * A, 1.0), rtol=1e-6)
    np.testing.assert_allclose(float(y), float(np.sum(np.where(A > 0, A * A, A))), rtol=1e-6)


def test_bool_with_bool_stays_bool_and_counts_are_numbers():
    x = ops.convert_to_tensor(A)
    both = (x > 0) & (x < 2)
    assert _is_bool_tensor(both) and _is_bool_tensor(~both) and _is_bool_tensor(both == (x > 0))
    np.testing.assert_array_equal(both.numpy(), (A > 0) & (A < 2))
    assert int(ops.sum(ops.cast(both, "int32"))) == int(np.sum((A > 0) & (A < 2)))
    assert float(ops.mean(ops.cast(x > 0, "float32"))) == pytest.approx(np.mean(A > 0))
    assert bool(ops.any(x > 2.5)) and not bool(ops.all(x > 0))


@pytest.mark.parametrize("name, op, ref", [
    ("expand_dims", lambda m: ops.expand_dims(m, -1), lambda a: a[..., None]),
    ("reshape", lambda m: ops.reshape(m, [-1]), lambda a: a.reshape(-1)),
    ("transpose", lambda m: ops.transpose(m), lambda a: a.T),
    ("concatenate", lambda m: ops.concatenate([m, ~m], axis=0), lambda a: np.concatenate([a, ~a])),
    ("stack", lambda m: ops.stack([m, m]), lambda a: np.stack([a, a])),
    ("tile", lambda m: ops.tile(m, [2, 1]), lambda a: np.tile(a, [2, 1])),
    ("take", lambda m: ops.take(m, [2, 0], axis=1), lambda a: a[:, [2, 0]]),
    ("split", lambda m: ops.split(m, 2)[1], lambda a: a[1:]),
    ("flip", lambda m: ops.flip(m, axis=1), lambda a: a[:, ::-1]),
    ("tf.reshape", lambda m: tf.reshape(m, [3, 2]), lambda a: a.reshape(3, 2)),
])
def test_shape_ops_keep_bool(name, op, ref):
    m = ops.convert_to_tensor(A) > 0
    got = op(m)
    assert _is_bool_tensor(got), f"{name} gave {type(got).__name__} {got.dtype}"
    np.testing.assert_array_equal(got.numpy(), ref(A > 0))


def test_a_functional_model_carries_bool_values_between_op_layers():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(96, 4)).astype("float32")
    y = (x[:, :1] * (x[:, 1:2] > 0) > 0).astype("float32")
    inp = keras.Input((4,))
    positive = ops.greater(inp, 0.0)
    assert positive.dtype == "bool"
    kept = ops.where(positive, inp, 0.0)
    flags = ops.cast(ops.expand_dims(ops.any(positive, axis=-1), -1), "float32")
    h = layers.Concatenate()([kept, ops.cast(positive, "float32") * inp, flags])
    out = layers.Dense(1, activation="sigmoid")(h)
    model = keras.Model(inp, out)
    model.compile("adam", "binary_crossentropy")
    history = model.fit(x, y, epochs=8, batch_size=32, verbose=0).history["loss"]
    assert np.all(np.isfinite(history)) and history[-1] < history[0]
    # a model whose output is a truth value returns bools, eagerly and from predict
    probe = keras.Model(inp, positive)
    assert probe.predict(x[:5], verbose=0).dtype == np.bool_
    eager = probe(x[:5])
    assert _is_bool_tensor(eager)
    np.testing.assert_array_equal(eager.numpy(), x[:5] > 0)


def test_a_custom_train_loop_with_masked_loss():
    """The Keras guides' custom loop: a loss masked by a comparison of the labels."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 5)).astype("float32")
    labels = rng.integers(0, 3, size=(32,)).astype("int32")
    labels[::4] = -1   # padding labels, excluded from the loss
    labels = ops.convert_to_tensor(labels)
    model = keras.Sequential([keras.Input((5,)), layers.Dense(3)])
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
    opt = keras.optimizers.SGD(0.1)
    losses = []
    for _ in range(5):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            keep = labels >= 0
            per = loss_fn(ops.where(keep, labels, 0), logits)
            loss = ops.sum(per * ops.cast(keep, "float32")) / ops.sum(ops.cast(keep, "float32"))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        losses.append(float(loss))
    assert _is_bool_tensor(keep) and int(np.sum(keep.numpy())) == 24
    assert all(g is not None for g in grads)
    assert losses[-1] < losses[0]


def test_truth_of_a_one_element_bool_tensor():
    x = ops.convert_to_tensor(A)
    assert bool(ops.all(x > -5)) is True
    if ops.max(x) > 2.0:   # a one-element bool tensor in an if
        pass
    else:
        pytest.fail("the truth value of max(x) > 2 is True")
    with pytest.raises(ValueError):
        bool(x > 0)
    assert repr(x[0] > 0).startswith("Tensor([ True False False]") and "dtype=bool" in repr(x[0] > 0)


def test_the_guides_binary_true_positives_metric():
    """Keras' "training & evaluation with the built-in methods" guide: a metric that casts to bool,
    compares with True and casts back to ``self.dtype``."""
    class BinaryTruePositives(keras.metrics.Metric):
        def __init__(self, name="binary_true_positives", **kwargs):
            super().__init__(name=name, **kwargs)
            self.true_positives = self.add_variable(shape=(), initializer="zeros", name="tp")

        def update_state(self, y_true, y_pred, sample_weight=None):
            y_true = ops.cast(y_true, "bool")
            y_pred = ops.cast(y_pred > 0.5, "bool")
            values = ops.logical_and(ops.equal(y_true, True), ops.equal(y_pred, True))
            values = ops.cast(values, self.dtype)
            if sample_weight is not None:
                sample_weight = ops.broadcast_to(ops.cast(sample_weight, self.dtype), values.shape)
                values = ops.multiply(values, sample_weight)
            self.true_positives.assign_add(ops.sum(values))

        def result(self):
            return self.true_positives

    m = BinaryTruePositives()
    assert m.dtype == "float32"
    yt = np.array([[1], [0], [1], [1]], "float32")
    yp = np.array([[0.9], [0.8], [0.2], [0.7]], "float32")
    m.update_state(yt, yp)
    m.update_state(yt, yp, sample_weight=np.array([[0.5], [1.0], [1.0], [2.0]], "float32"))
    # true positives: rows 0 and 3; weighted the second time 0.5 + 2.0
    assert float(m.result()) == pytest.approx(2.0 + 2.5)


def test_the_sum_of_a_bool_tensor_is_an_int32_count():
    m = ops.convert_to_tensor(A) > 0
    total, per_row = ops.sum(m), ops.sum(m, axis=1, keepdims=True)
    assert total.dtype == "int32" and int(total) == int(np.sum(A > 0))
    assert per_row.dtype == "int32" and per_row.numpy().tolist() == np.sum(A > 0, axis=1, keepdims=True).tolist()


def test_where_max_and_min_of_bools_stay_bool():
    m = ops.convert_to_tensor(A) > 0
    w = ops.where(m[0], True, m[1])
    assert _is_bool_tensor(w) and w.numpy().tolist() == np.where(A[0] > 0, True, A[1] > 0).tolist()
    hi, lo = ops.max(m, axis=1), ops.min(m)
    assert _is_bool_tensor(hi) and hi.numpy().tolist() == np.max(A > 0, axis=1).tolist()
    assert _is_bool_tensor(lo) and bool(lo) is False
    assert ops.where(m[0], 1.0, 0.0).dtype == "float32"   # numbers chosen by a bool stay numbers
