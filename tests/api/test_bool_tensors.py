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


# -- bools through the rest of keras.ops (a differential run against Keras 3.15 with the TF
# backend, torch agreeing, gave these dtypes; the values are NumPy's on the same 0 / 1 data) --

M = np.array([[True, False, True, True], [False, True, True, False], [True, True, False, True]])
N = np.array([[True, True, False, False], [False, False, True, True], [True, False, True, False]])
I = np.array([[0, 2, 1, 3], [1, 1, 0, 2], [2, 0, 3, 1]], np.int32)


def _bools(m=M):
    return ops.convert_to_tensor(m)


@pytest.mark.parametrize("name, got, want", [
    ("abs", lambda m: ops.abs(m), lambda a: a),
    ("absolute", lambda m: ops.absolute(m), lambda a: a),
    ("trunc", lambda m: ops.trunc(m), lambda a: a),
    ("nan_to_num", lambda m: ops.nan_to_num(m), lambda a: a),
    ("stop_gradient", lambda m: ops.stop_gradient(m), lambda a: a),
    ("flipud", lambda m: ops.flipud(m), lambda a: a[::-1]),
    ("fliplr", lambda m: ops.fliplr(m), lambda a: a[:, ::-1]),
    ("sort", lambda m: ops.sort(m, axis=0), lambda a: np.sort(a, axis=0)),
    ("diagflat", lambda m: ops.diagflat(m[0]), lambda a: np.diagflat(a[0])),
    ("nanmax", lambda m: ops.nanmax(m, axis=1), lambda a: a.max(axis=1)),
    ("nanmin", lambda m: ops.nanmin(m, axis=0), lambda a: a.min(axis=0)),
    ("diff", lambda m: ops.diff(m), lambda a: a[:, 1:] != a[:, :-1]),
    ("pad", lambda m: ops.pad(m, ((1, 0), (0, 2))), lambda a: np.pad(a, ((1, 0), (0, 2)))),
    ("get_item", lambda m: ops.get_item(m, 1), lambda a: a[1]),
    ("unique", lambda m: ops.unique(m), lambda a: np.unique(a)),
    ("dstack", lambda m: ops.dstack([m, m]), lambda a: np.dstack([a, a])),
    ("full_like", lambda m: ops.full_like(m, 2), lambda a: np.full_like(a, True)),
    ("empty_like", lambda m: ops.zeros_like(ops.empty_like(m)) == ops.empty_like(m), lambda a: np.ones_like(a)),
])
def test_ops_that_move_bools_keep_them_bool(name, got, want):
    r = got(_bools())
    assert _is_bool_tensor(r), (name, type(r), getattr(r, "dtype", None))
    np.testing.assert_array_equal(r.numpy(), want(M))


def test_a_fill_like_a_bool_tensor_with_a_dtype_takes_that_dtype():
    r = ops.full_like(_bools(), 2.5, dtype="float32")
    assert r.dtype == "float32" and np.all(r.numpy() == 2.5)


@pytest.mark.parametrize("name, got, want", [
    ("cumsum", lambda m: ops.cumsum(m, axis=1), lambda a: np.cumsum(a, axis=1)),
    ("cumsum_flat", lambda m: ops.cumsum(m), lambda a: np.cumsum(a)),
    ("cumprod", lambda m: ops.cumprod(m, axis=0), lambda a: np.cumprod(a, axis=0)),
    ("nancumsum", lambda m: ops.nancumsum(m, axis=1), lambda a: np.cumsum(a, axis=1)),
    ("nancumprod", lambda m: ops.nancumprod(m, axis=1), lambda a: np.cumprod(a, axis=1)),
    ("prod", lambda m: ops.prod(m, axis=0), lambda a: np.prod(a, axis=0)),
    ("nanprod", lambda m: ops.nanprod(m), lambda a: np.prod(a)),
    ("nansum", lambda m: ops.nansum(m, axis=0), lambda a: np.sum(a, axis=0)),
    ("square", lambda m: ops.square(m), lambda a: a * a),
    ("trace", lambda m: ops.trace(m), lambda a: np.trace(a)),
    ("bincount", lambda m: ops.bincount(m[0]), lambda a: np.bincount(a[0])),
])
def test_integer_reductions_and_scans_of_bools_count_in_int32(name, got, want):
    r = got(_bools())
    assert isinstance(r, Tensor) and r.dtype == "int32", (name, r.dtype)
    np.testing.assert_array_equal(r.numpy(), want(M.astype(np.int64)))


_INT_WITH_BOOL = [
    ("add", ops.add, np.add), ("subtract", ops.subtract, np.subtract), ("multiply", ops.multiply, np.multiply),
    ("maximum", ops.maximum, np.maximum), ("minimum", ops.minimum, np.minimum), ("power", ops.power, np.power),
    ("bitwise_and", ops.bitwise_and, np.bitwise_and), ("bitwise_or", ops.bitwise_or, np.bitwise_or),
    ("bitwise_xor", ops.bitwise_xor, np.bitwise_xor), ("left_shift", ops.left_shift, np.left_shift),
    ("right_shift", ops.right_shift, np.right_shift), ("gcd", ops.gcd, np.gcd),
    ("kron", ops.kron, np.kron), ("outer", ops.outer, np.outer),
    ("append", ops.append, np.append),
]


@pytest.mark.parametrize("name, op, ref", _INT_WITH_BOOL)
def test_a_bool_with_ints_is_int32(name, op, ref):
    m, i = _bools(), ops.convert_to_tensor(I)
    for got, want in ((op(m, i), ref(M.astype(np.int64), I)), (op(i, m), ref(I, M.astype(np.int64))),
                      (op(m, 2), ref(M.astype(np.int64), 2)), (op(2, m), ref(2, M.astype(np.int64)))):
        assert isinstance(got, Tensor) and got.dtype == "int32", (name, got.dtype)
        np.testing.assert_array_equal(got.numpy(), want)
    if name not in ("bitwise_and", "bitwise_or", "bitwise_xor", "left_shift", "right_shift", "gcd"):
        # with floats the float32 path is unchanged (the integer-only ops refuse floats)
        assert op(m, ops.convert_to_tensor(I.astype(np.float32))).dtype == "float32"


def test_mod_clip_and_joins_of_bools_with_ints_are_int32():
    m, i = _bools(), ops.convert_to_tensor(I)
    r = ops.mod(m, 2)
    assert r.dtype == "int32" and r.numpy().tolist() == (M.astype(int) % 2).tolist()
    r = ops.mod(m[0], m[0])   # Keras: bool % bool is int32 (0 where defined)
    assert r.dtype == "int32"
    r = ops.clip(m, i, i + 1)
    assert r.dtype == "int32" and r.numpy().tolist() == np.clip(M.astype(int), I, I + 1).tolist()
    for join, ref in ((ops.concatenate, np.concatenate), (ops.stack, np.stack), (ops.hstack, np.hstack),
                      (ops.vstack, np.vstack)):
        r = join([m, i])
        assert r.dtype == "int32" and r.numpy().tolist() == ref([M.astype(int), I]).tolist()
        assert _is_bool_tensor(join([m, _bools(N)]))
        assert join([m, ops.convert_to_tensor(I.astype(np.float32))]).dtype == "float32"


@pytest.mark.parametrize("name, got, want", [
    ("matmul", lambda m, n: ops.matmul(m, ops.transpose(n)), lambda a, b: (a.astype(int) @ b.T.astype(int)) > 0),
    ("dot", lambda m, n: ops.dot(m[0], n[1]), lambda a, b: (a[0].astype(int) @ b[1].astype(int)) > 0),
    ("inner", lambda m, n: ops.inner(m, n), lambda a, b: np.inner(a.astype(int), b.astype(int)) > 0),
    ("outer", lambda m, n: ops.outer(m[0], n[0]), lambda a, b: np.outer(a[0], b[0])),
    ("vdot", lambda m, n: ops.vdot(m, n), lambda a, b: np.vdot(a.astype(int), b.astype(int)) > 0),
    ("tensordot", lambda m, n: ops.tensordot(m, n, axes=[[1], [1]]), lambda a, b: np.tensordot(a.astype(int), b.astype(int), axes=[[1], [1]]) > 0),
    ("kron", lambda m, n: ops.kron(m, n), lambda a, b: np.kron(a, b)),
    ("add", lambda m, n: ops.add(m, n), lambda a, b: a | b),
    ("multiply", lambda m, n: ops.multiply(m, n), lambda a, b: a & b),
    ("maximum", lambda m, n: ops.maximum(m, n), lambda a, b: a | b),
    ("minimum", lambda m, n: ops.minimum(m, n), lambda a, b: a & b),
])
def test_products_sums_max_and_min_of_two_bools_are_bools(name, got, want):
    r = got(_bools(M), _bools(N))
    assert _is_bool_tensor(r), (name, getattr(r, "dtype", None))
    np.testing.assert_array_equal(r.numpy(), want(M, N))


def test_bool_operators():
    m, n, i = _bools(M), _bools(N), ops.convert_to_tensor(I)
    # with Python numbers the operators give float32 (corenn's choice: TF refuses them)
    for r, want in ((m * 2, M * 2.0), (2 * m, M * 2.0), (1 - m, 1.0 - M), (1.0 - m, 1.0 - M), (m / 2, M / 2.0)):
        assert isinstance(r, Tensor) and r.dtype == "float32"
        np.testing.assert_array_equal(r.numpy(), want)
    # with int32 tensors, Keras' rule either way round (torch gives the same)
    for r in (m * i, i * m):
        assert isinstance(r, Tensor) and r.dtype == "int32" and r.numpy().tolist() == (M * I).tolist()
    # bool with bool: NumPy's and TF's logical answers
    for r, want in ((m + n, M | N), (m & n, M & N), (m | n, M | N), (m ^ n, M ^ N), (~m, ~M), (abs(m), M),
                    (m == n, M == N), (m @ ops.transpose(n), (M.astype(int) @ N.T.astype(int)) > 0)):
        assert _is_bool_tensor(r)
        np.testing.assert_array_equal(r.numpy(), want)
    with pytest.raises(TypeError):
        -m   # noqa: B018 - NumPy, TF and torch all refuse negating bools


def test_gradients_flow_through_the_float_operand_of_bool_ops():
    m, x = _bools(M), tf.Variable(np.arange(12, dtype=np.float32).reshape(3, 4) - 5.0)
    y = tf.Variable(np.full((3, 4), 3.0, np.float32))
    with tf.GradientTape(persistent=True) as tape:
        prod = ops.sum(ops.multiply(m, x) * x)           # sum m x^2
        chosen = ops.sum(ops.square(ops.where(m, x, y)))  # sum where(m, x, y)^2
        picked = ops.sum(x[m] * 3.0)                      # 3 sum x[m]
        big = ops.sum(ops.maximum(m, x))
    xv = x.numpy()
    np.testing.assert_allclose(tape.gradient(prod, x).numpy(), 2 * M * xv)
    gx, gy = tape.gradient(chosen, [x, y])
    np.testing.assert_allclose(gx.numpy(), np.where(M, 2 * xv, 0))
    np.testing.assert_allclose(gy.numpy(), np.where(M, 0, 6.0))
    np.testing.assert_allclose(tape.gradient(picked, x).numpy(), 3.0 * M)
    np.testing.assert_allclose(tape.gradient(big, x).numpy(), (xv > M).astype(np.float32))
