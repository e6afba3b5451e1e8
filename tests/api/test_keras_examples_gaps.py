"""What the keras.io examples of sweep 4 (tests/programs/example_*.py) needed, checked on its own:
SparseCategoricalCrossentropy(ignore_class=) against the float64 reference (values and gradients),
MultiHeadAttention with a broadcast attention mask, a Sequential built by its first call running
on other lengths, an overridden Model.compute_loss in fit / evaluate, the keras.ops family
namespaces, keras.backend on `import corenn as keras`, the lookups' legacy output modes, float
labels for SparseCategoricalAccuracy and registered LearningRateSchedule subclasses in files."""
import numpy as np
import pytest

import corenn
import corenn as keras
from corenn import layers, losses, ops
import reference as ref


# ---- SparseCategoricalCrossentropy(ignore_class=) ------------------------------------------

def _case(rng, from_logits, shape=(3, 5), classes=6):
    logits = rng.normal(size=shape + (classes,)).astype(np.float32)
    pred = logits if from_logits else np.asarray(ref._softmax(logits), np.float32)
    labels = rng.integers(0, classes, shape)
    labels[:, -2:] = 0          # padding, as TextVectorization leaves it
    return pred, labels


def test_reference_gradient_of_ignore_class_matches_finite_differences(rng):
    pred, labels = _case(rng, True, shape=(2, 3), classes=4)
    w = rng.uniform(0.5, 2.0, 6)
    num = ref.numerical_grad(lambda p: ref.sparse_ce_ignore_class(p, labels, 0, True, w), pred)
    np.testing.assert_allclose(ref.sparse_ce_ignore_class_grad(pred, labels, 0, True, w), num, atol=1e-7)


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("ignore", [0, 3, -1])
def test_ignore_class_value_and_gradient_match_reference(rng, from_logits, ignore):
    pred, labels = _case(rng, from_logits)
    if ignore == -1:
        labels = np.where(labels == 0, -1, labels)
    loss = losses.SparseCategoricalCrossentropy(from_logits=from_logits, ignore_class=ignore)
    p = corenn.Tensor.from_numpy(pred)
    with corenn.GradientTape() as tape:
        tape.watch(p)
        value = loss(labels, p)
    grad = np.asarray(tape.gradient(value, p))
    want = ref.sparse_ce_ignore_class(pred, labels, ignore, from_logits)
    np.testing.assert_allclose(float(value), want, rtol=1e-5)
    np.testing.assert_allclose(grad, ref.sparse_ce_ignore_class_grad(pred, labels, ignore, from_logits),
                               rtol=1e-4, atol=1e-7)
    # the ignored positions get no gradient at all
    assert not np.any(grad[labels == ignore])


def test_ignore_class_with_sample_weight_reduction_none_and_all_ignored(rng):
    pred, labels = _case(rng, False)
    w = rng.uniform(0.5, 2.0, labels.size).astype(np.float32)
    loss = losses.SparseCategoricalCrossentropy(ignore_class=0)
    np.testing.assert_allclose(float(loss(labels, pred, sample_weight=w)),
                               ref.sparse_ce_ignore_class(pred, labels, 0, False, w), rtol=1e-5)
    per = np.asarray(losses.sparse_categorical_crossentropy(labels, pred, ignore_class=0))
    full = ref.loss_per_sample("sparse_categorical_crossentropy", pred, np.where(labels == 0, 0, labels))
    np.testing.assert_allclose(per, np.where(labels == 0, 0.0, full), rtol=1e-5, atol=1e-7)
    assert float(loss(np.zeros_like(labels), pred)) == 0.0
    assert loss.get_config()["ignore_class"] == 0
    assert losses.get({"class_name": "SparseCategoricalCrossentropy",
                       "config": loss.get_config()}).ignore_class == 0
    with pytest.raises(ValueError, match="ignore_class"):
        losses.SparseCategoricalCrossentropy(ignore_class=1.5)


def test_fit_with_ignore_class_leaves_padded_steps_out(rng):
    """compute_gradients (fit's step, fused softmax + CE from the logits) of a sequence model
    equals the reference gradient pushed through the Dense layer."""
    x = rng.normal(size=(4, 5, 3)).astype(np.float32)
    y = rng.integers(1, 4, (4, 5))
    y[:, 3:] = 0
    model = keras.Sequential([keras.Input((5, 3)), layers.Dense(4, activation="softmax")])
    model.compile(optimizer="sgd", loss=losses.SparseCategoricalCrossentropy(ignore_class=0))
    loss_value, grads = model.compute_gradients(x, y)
    kernel, bias = model.get_weights()
    probs = ref._softmax(ref.f64(x) @ kernel + bias)
    np.testing.assert_allclose(loss_value, ref.sparse_ce_ignore_class(probs, y, 0), rtol=1e-5)
    logits_grad = ref.sparse_ce_ignore_class_grad(ref.f64(x) @ kernel + bias, y, 0, from_logits=True)
    np.testing.assert_allclose(np.asarray(grads[0]), np.einsum("ntd,ntc->dc", x, logits_grad), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(np.asarray(grads[1]), logits_grad.sum((0, 1)), rtol=1e-4, atol=1e-6)
    evaluated = model.evaluate(x, y, verbose=0)
    np.testing.assert_allclose(evaluated, ref.sparse_ce_ignore_class(probs, y, 0), rtol=1e-5)


# ---- MultiHeadAttention: a mask that broadcasts ----------------------------------------------

def test_mha_attention_mask_broadcasts_over_queries(rng):
    n, tq, tv, d = 2, 4, 5, 6
    mha = layers.MultiHeadAttention(num_heads=2, key_dim=3)
    q = rng.normal(size=(n, tq, d)).astype(np.float32)
    v = rng.normal(size=(n, tv, d)).astype(np.float32)
    padding = (np.arange(tv)[None, :] < np.array([[3], [5]])).astype(np.int32)   # (n, tv)
    row = padding[:, None, :]                                                   # (n, 1, tv)
    mha(q, v)
    weights = mha.get_weights()
    qt, vt = corenn.Tensor.from_numpy(q), corenn.Tensor.from_numpy(v)
    dy = rng.normal(size=(n, tq, d)).astype(np.float32)
    with corenn.GradientTape() as tape:
        tape.watch(qt)
        tape.watch(vt)
        out = mha(qt, vt, attention_mask=row)
    grads = tape.gradient(out, [qt, vt], output_gradients=corenn.Tensor.from_numpy(dy))
    allowed = ref.attention_allowed(n, tq, tv, attention_mask=row)
    want, _, _ = ref.mha_forward(q, v, None, weights, allowed)
    np.testing.assert_allclose(np.asarray(out), want, rtol=1e-4, atol=1e-5)
    dq, dv, _, _ = ref.mha_backward(dy, q, v, None, weights, allowed)
    np.testing.assert_allclose(np.asarray(grads[0]), dq, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(grads[1]), dv, rtol=1e-4, atol=1e-5)
    # the same in a functional model, where the mask's query axis is 1
    qi, vi, mi = keras.Input((tq, d)), keras.Input((tv, d)), keras.Input((1, tv), dtype="int32")
    model = keras.Model([qi, vi, mi], mha(qi, vi, attention_mask=mi))
    np.testing.assert_allclose(model.predict([q, v, row], verbose=0), want, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="MultiHeadAttention.*attention_mask"):
        mha(q, v, attention_mask=np.ones((n, 3, tv), np.int32))


# ---- a Sequential built by its first call --------------------------------------------------

def test_sequential_built_by_a_call_runs_other_lengths(rng):
    ffn = keras.Sequential([layers.Dense(8, activation="relu"), layers.Dense(3)])
    short = rng.normal(size=(2, 3, 5)).astype(np.float32)
    long = rng.normal(size=(2, 7, 5)).astype(np.float32)
    ffn(short)
    w1, b1, w2, b2 = [ref.f64(w) for w in ffn.get_weights()]

    def want(x):
        return np.maximum(ref.f64(x) @ w1 + b1, 0) @ w2 + b2
    np.testing.assert_allclose(np.asarray(ffn(long)), want(long), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(ffn(short)), want(short), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="dense"):
        ffn(rng.normal(size=(2, 3, 4)).astype(np.float32))   # features must still match
    declared = keras.Sequential([keras.Input((3, 5)), layers.Dense(3)])
    with pytest.raises(ValueError, match="expects input of shape"):
        declared(long)   # a declared input shape stays a contract


# ---- an overridden compute_loss --------------------------------------------------------------

class _Weighted(keras.Model):
    """A functional model whose compute_loss reads x (the distillation example's pattern)."""

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, allow_empty=False):
        self.seen_x = x
        return ops.mean(ops.square(y_pred - y)) + 0.0 * ops.mean(x)


def test_fit_and_evaluate_call_an_overridden_compute_loss_with_x(rng):
    inp = keras.Input((4,))
    model = _Weighted(inp, layers.Dense(1)(inp))
    x = rng.normal(size=(64, 4)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5], [0.0]], np.float32)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    history = model.fit(x, y, batch_size=16, epochs=5, verbose=0)
    assert model.seen_x is not None and tuple(np.shape(model.seen_x)) == (16, 4)
    assert history.history["loss"][-1] < 0.1 * history.history["loss"][0]
    pred = model.predict(x, verbose=0)
    np.testing.assert_allclose(model.evaluate(x, y, batch_size=64, verbose=0), np.mean((pred - y) ** 2), rtol=1e-4)

    class TakesTraining(keras.Model):
        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            self.flags = getattr(self, "flags", []) + [training]
            return ops.mean(ops.square(y_pred - y))

    m2 = TakesTraining(inp, layers.Dense(1)(inp))
    m2.compile(optimizer="sgd")
    m2.fit(x, y, batch_size=64, epochs=1, verbose=0)
    m2.evaluate(x, y, batch_size=64, verbose=0)
    assert m2.flags == [True, False]


# ---- names ------------------------------------------------------------------------------------

def test_ops_family_namespaces_and_backend_names():
    from corenn.keras import ops as kops
    x = np.array([[-1.0, 2.0]], np.float32)
    np.testing.assert_allclose(np.asarray(kops.nn.sigmoid(x)), 1 / (1 + np.exp(-ref.f64(x))), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(kops.numpy.mean(x)), 0.5)
    np.testing.assert_allclose(np.asarray(kops.linalg.inv(np.eye(2, dtype=np.float32) * 2)), np.eye(2) / 2)
    assert kops.math.logsumexp is kops.logsumexp and kops.core.cond is kops.cond
    assert keras.backend.epsilon() == 1e-7 and keras.config.floatx() == "float32"
    assert keras.config.image_data_format() == "channels_last"
    assert keras.config.list_physical_devices("CPU")   # still tf.config too


def test_lookup_layers_take_keras_legacy_output_mode_names():
    lookup = layers.IntegerLookup(output_mode="binary", vocabulary=[3, 5])
    np.testing.assert_array_equal(np.asarray(lookup(np.array([[5], [9]]))), [[0, 0, 1], [1, 0, 0]])
    assert lookup.get_config()["output_mode"] == "multi_hot"
    text = layers.StringLookup(output_mode="binary", vocabulary=["a", "b"])
    np.testing.assert_array_equal(np.asarray(text(np.array([["b"]]))), [[0, 0, 1]])
    with pytest.raises(NotImplementedError, match="output_mode"):
        layers.IntegerLookup(output_mode="bits")


def test_sparse_categorical_accuracy_takes_float_labels():
    metric = keras.metrics.SparseCategoricalAccuracy()
    metric.update_state(corenn.Tensor.from_numpy(np.array([1.0, 0.0, 2.0], np.float32)),
                        np.array([[0.1, 0.9, 0], [0.2, 0.7, 0.1], [0, 0.1, 0.9]], np.float32))
    assert float(metric.result()) == pytest.approx(2 / 3)


@keras.saving.register_keras_serializable(package="sweep4")
class _HalfEvery(keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, start, every):
        self.start, self.every = start, every

    def __call__(self, step):
        return self.start * 0.5 ** (int(step) // self.every)

    def get_config(self):
        return {"start": self.start, "every": self.every}


class _Unregistered(_HalfEvery):
    pass


def test_a_registered_schedule_subclass_is_saved_and_restored(tmp_path, rng):
    model = keras.Sequential([keras.Input((2,)), layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=_HalfEvery(0.1, 2)), loss="mse")
    model.fit(rng.normal(size=(8, 2)), rng.normal(size=(8, 1)), batch_size=2, epochs=1, verbose=0)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.1 * 0.5 ** 2)
    model.save(tmp_path / "m.keras")
    restored = keras.models.load_model(tmp_path / "m.keras")
    schedule = restored.optimizer._learning_rate
    assert isinstance(schedule, _HalfEvery) and (schedule.start, schedule.every) == (0.1, 2)
    assert int(restored.optimizer.iterations) == 4
    other = keras.Sequential([keras.Input((2,)), layers.Dense(1)])
    other.compile(optimizer=keras.optimizers.SGD(learning_rate=_Unregistered(0.1, 2)), loss="mse")
    other.save(tmp_path / "u.keras")
    with pytest.raises(ValueError, match="_Unregistered"):
        keras.models.load_model(tmp_path / "u.keras")
    loaded = keras.models.load_model(tmp_path / "u.keras", custom_objects={"_Unregistered": _Unregistered})
    assert isinstance(loaded.optimizer._learning_rate, _Unregistered)


def test_one_target_array_for_the_one_output_with_a_loss(rng):
    """loss=[fn, None] on a two-output model (the miniature-GPT example): y is the one output's
    target; the total is that output's loss, logged as 'loss' alone (Keras 3 logs
    '<output>_loss' only when several outputs have a loss)."""
    inp = keras.Input((3,))
    hidden = layers.Dense(4, activation="tanh")(inp)
    logits = layers.Dense(2)(hidden)
    model = keras.Model(inp, [logits, hidden])
    model.compile("adam", loss=[losses.SparseCategoricalCrossentropy(from_logits=True), None])
    x = rng.normal(size=(32, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    history = model.fit(x, y, epochs=2, verbose=0)
    assert sorted(history.history) == ["loss"]
    result = model.evaluate(x, y, verbose=0, return_dict=True)
    probs = ref._softmax(ref.f64(model.predict(x, verbose=0)[0]))
    want = ref.loss("sparse_categorical_crossentropy", probs, y)
    np.testing.assert_allclose(result["loss"], want, rtol=1e-5)
    two = keras.Model(inp, [logits, hidden])
    two.compile("adam", loss=["sparse_categorical_crossentropy", "mse"])
    with pytest.raises(ValueError, match="2 outputs"):
        two.fit(x, y, epochs=1, verbose=0)


class _MaskedTokenLoss(losses.Loss):
    """The NER example's loss: per-token cross-entropy, padding (label 0) left out."""

    def call(self, y_true, y_pred):
        per = losses.SparseCategoricalCrossentropy(reduction=None)(y_true, y_pred)
        mask = ops.cast(y_true > 0, "float32")
        return ops.sum(per * mask) / ops.sum(mask)


def test_a_python_loss_takes_targets_of_its_own_shape(rng):
    inp = keras.Input((5, 3))
    model = keras.Model(inp, layers.Dense(4, activation="softmax")(inp))
    model.compile("sgd", loss=_MaskedTokenLoss())
    x = rng.normal(size=(6, 5, 3)).astype(np.float32)
    y = rng.integers(1, 4, (6, 5))
    y[:, 3:] = 0
    value, _ = model.compute_gradients(x, y)
    probs = model.predict(x, verbose=0)
    np.testing.assert_allclose(value, ref.sparse_ce_ignore_class(probs, y, 0), rtol=1e-5)
    history = model.fit(x, y, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    builtin = keras.Model(inp, layers.Dense(4, activation="softmax")(inp))
    builtin.compile("sgd", loss="categorical_crossentropy")
    with pytest.raises(ValueError, match="expects targets of shape"):   # the built-in losses still check
        builtin.fit(x, y, epochs=1, verbose=0)


@pytest.mark.parametrize("kind", ["mean_squared_error", "mean_absolute_error", "binary_crossentropy"])
def test_elementwise_losses_broadcast_targets_against_a_single_output(rng, kind):
    """Keras' elementwise losses broadcast (n, C) targets against an (n, 1) output (the saving
    guide fits Dense(1) on (8, 10) targets): the loss over the spread output, its gradient summed."""
    x = rng.normal(size=(8, 4)).astype(np.float32)
    y = rng.uniform(size=(8, 10)).astype(np.float32)
    act = "sigmoid" if kind == "binary_crossentropy" else None
    model = keras.Sequential([keras.Input((4,)), layers.Dense(1, activation=act)])
    model.compile("sgd", loss=kind)
    value, grads = model.compute_gradients(x, y)
    kernel, bias = [ref.f64(w) for w in model.get_weights()]
    z = ref.f64(x) @ kernel + bias
    out = 1 / (1 + np.exp(-z)) if act else z
    spread = np.broadcast_to(out, y.shape)
    np.testing.assert_allclose(value, ref.loss(kind, spread, y), rtol=1e-5)
    dout = ref.loss_grad(kind, spread, y).sum(-1, keepdims=True)
    dz = dout * out * (1 - out) if act else dout
    np.testing.assert_allclose(np.asarray(grads[0]), ref.f64(x).T @ dz, rtol=1e-4, atol=1e-7)
    assert model.evaluate(x, y, verbose=0) == pytest.approx(value, rel=1e-5)
    cce = keras.Sequential([keras.Input((4,)), layers.Dense(1)])
    cce.compile("sgd", loss="categorical_crossentropy")
    with pytest.raises(ValueError, match="expects targets of shape"):
        cce.fit(x, y, epochs=1, verbose=0)


def test_utils_normalize_of_a_tensor_is_differentiable_and_of_an_array_stays_numpy():
    from corenn import keras as K
    import corenn as tf
    x = np.random.default_rng(5).normal(size=(4, 3)).astype(np.float32)
    out = K.utils.normalize(x, axis=1, order=2)
    assert type(out) is np.ndarray
    np.testing.assert_allclose(out, x / np.linalg.norm(x, axis=1, keepdims=True), rtol=1e-6)
    v = tf.Variable(x)
    c = np.random.default_rng(6).normal(size=(4, 3)).astype(np.float32)
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(K.utils.normalize(v, axis=1, order=2) * c)
    g = np.asarray(tape.gradient(y, v))
    x64, c64 = x.astype(np.float64), c.astype(np.float64)
    n = np.linalg.norm(x64, axis=1, keepdims=True)
    want = c64 / n - x64 * (c64 * x64).sum(1, keepdims=True) / n ** 3   # d/dx of c . x / |x|
    np.testing.assert_allclose(g, want, rtol=1e-4, atol=1e-6)


def test_a_loss_that_overrides_dunder_call_is_what_fit_minimizes():
    """keras.io's SupervisedContrastiveLoss overrides __call__ (not call): fit's loss is its
    value on the whole batch, and its gradient trains the model."""
    from corenn import keras as K

    class BatchSpread(K.losses.Loss):
        def __call__(self, y_true, y_pred, sample_weight=None):
            # the batch's predictions pulled towards the batch mean of the targets
            return K.ops.mean(K.ops.square(y_pred - K.ops.mean(y_true)))

    K.utils.set_random_seed(3)
    x = np.random.default_rng(1).normal(size=(32, 4)).astype(np.float32)
    y = np.random.default_rng(2).normal(3.0, 1.0, size=(32, 1)).astype(np.float32)
    model = K.Sequential([K.Input((4,)), K.layers.Dense(1)])
    model.compile(optimizer=K.optimizers.SGD(0.0), loss=BatchSpread())
    first = model.evaluate(x, y, batch_size=32, verbose=0)
    pred = model.predict(x, verbose=0).astype(np.float64)
    assert first == pytest.approx(float(np.mean((pred - y.astype(np.float64).mean()) ** 2)), rel=1e-5)
    model.compile(optimizer=K.optimizers.SGD(0.05), loss=BatchSpread())
    hist = model.fit(x, y, batch_size=32, epochs=40, verbose=0)
    assert hist.history["loss"][-1] < 0.05 * hist.history["loss"][0]


def test_a_builtin_loss_whose_dunder_call_wraps_super_is_not_fused_nor_reentered():
    """A subclass of a built-in loss whose __call__ scales super().__call__: called directly, in
    evaluate and in fit the value is 2 x the cross-entropy (not fused with the softmax, and the
    built-in call inside does not call the subclass again)."""
    from corenn import keras as K

    class Double(K.losses.SparseCategoricalCrossentropy):
        def __call__(self, y_true, y_pred, sample_weight=None):
            return super().__call__(y_true, y_pred, sample_weight) * 2.0

    K.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(64, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = K.Sequential([K.Input((5,)), K.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss=Double())
    p = model.predict(x, verbose=0).astype(np.float64)
    want = 2.0 * float(np.mean(-np.log(p[np.arange(64), y])))
    assert float(Double()(y, p.astype(np.float32))) == pytest.approx(want, rel=1e-5)
    assert model.evaluate(x, y, batch_size=64, verbose=0) == pytest.approx(want, rel=1e-5)
    hist = model.fit(x, y, batch_size=64, epochs=1, verbose=0)
    assert hist.history["loss"][0] == pytest.approx(want, rel=1e-5)
