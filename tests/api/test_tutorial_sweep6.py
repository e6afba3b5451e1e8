"""The library features the sweep-6 programs needed (tests/programs: the TF guides on tensors,
variables, advanced autodiff, distribution and mixed precision, and the keras.io ESPCN,
MLP-Mixer, ConvMixer, PointNet, actor-critic, deep Q-learning, Switch Transformer, triplet
Siamese and style-transfer examples), each against the float64 reference (tests/reference.py)
or finite differences."""
import warnings

import numpy as np
import pytest

import corenn as tf
from corenn import keras, layers, ops

import reference as ref


def grad_of(fn, x):
    """d sum(fn(x) * weights) / dx under a tape, with fixed random weights (a non-trivial seed)."""
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = fn(xt)
    w = np.random.default_rng(1).normal(size=tuple(y.shape)).astype(np.float32)
    return tape.gradient(y, xt, output_gradients=tf.constant(w)).numpy(), w


# -- depth_to_space / space_to_depth ------------------------------------------------------------

@pytest.mark.parametrize("b,shape", [(2, (2, 3, 4, 8)), (3, (1, 2, 2, 18)), (2, (3, 1, 5, 4))])
def test_depth_to_space_matches_reference_and_inverts(b, shape):
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    y = tf.nn.depth_to_space(x, b)
    np.testing.assert_array_equal(y.numpy(), ref.depth_to_space(x, b).astype(np.float32))
    np.testing.assert_array_equal(tf.nn.space_to_depth(y, b).numpy(), x)
    np.testing.assert_array_equal(tf.nn.space_to_depth(y, b).numpy(), ref.space_to_depth(y.numpy(), b))
    # channels first is the same permutation on NCHW data
    xc = np.transpose(x, (0, 3, 1, 2))
    np.testing.assert_array_equal(tf.nn.depth_to_space(xc, b, data_format="NCHW").numpy(),
                                  np.transpose(y.numpy(), (0, 3, 1, 2)))
    np.testing.assert_array_equal(ops.space_to_depth(ops.depth_to_space(xc, b, "channels_first"), b,
                                                     "channels_first").numpy(), xc)


def test_depth_to_space_gradient_is_the_inverse_permutation():
    x = np.random.default_rng(2).normal(size=(2, 3, 2, 8)).astype(np.float32)
    g, w = grad_of(lambda t: tf.nn.depth_to_space(t, 2), x)
    # y is a permutation of x, so d sum(w*y)/dx = w permuted back
    np.testing.assert_array_equal(g, ref.space_to_depth(w, 2).astype(np.float32))
    numeric = ref.numerical_grad(lambda v: float((ref.depth_to_space(v, 2) * w).sum()), x)
    np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=1e-6)
    g2, w2 = grad_of(lambda t: tf.nn.space_to_depth(t, 2), x.reshape(2, 6, 8, 1))
    np.testing.assert_array_equal(g2, ref.depth_to_space(w2, 2).astype(np.float32))


def test_depth_to_space_bad_shapes_name_the_op():
    with pytest.raises(ValueError, match="depth_to_space.*multiple of block_size"):
        tf.nn.depth_to_space(np.zeros((1, 2, 2, 6), np.float32), 2)
    with pytest.raises(ValueError, match="space_to_depth.*multiples of block_size"):
        tf.nn.space_to_depth(np.zeros((1, 3, 4, 1), np.float32), 2)
    with pytest.raises(ValueError, match="4-D"):
        tf.nn.depth_to_space(np.zeros((2, 8), np.float32), 2)


# -- tf.image ----------------------------------------------------------------------------------

def test_psnr_total_variation_and_their_gradients():
    rng = np.random.default_rng(3)
    a, b = rng.uniform(size=(3, 5, 6, 2)).astype(np.float32), rng.uniform(size=(3, 5, 6, 2)).astype(np.float32)
    np.testing.assert_allclose(tf.image.psnr(a, b, max_val=1.0).numpy(), ref.psnr(a, b, 1.0), rtol=1e-5)
    np.testing.assert_allclose(tf.image.psnr(a[0], b[0], max_val=2.0).numpy(), ref.psnr(a[:1], b[:1], 2.0)[0],
                               rtol=1e-5)
    assert np.isinf(tf.image.psnr(a, a, 1.0).numpy()).all()
    np.testing.assert_allclose(tf.image.total_variation(a).numpy(), ref.total_variation(a), rtol=1e-5)
    np.testing.assert_allclose(tf.image.total_variation(a[1]).numpy(), ref.total_variation(a[1:2])[0], rtol=1e-5)
    g, w = grad_of(lambda t: tf.image.total_variation(t), a)
    numeric = ref.numerical_grad(lambda v: float((ref.total_variation(v) * w).sum()), a, eps=1e-4)
    np.testing.assert_allclose(g, numeric, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="psnr.*same shape"):
        tf.image.psnr(a, b[:, :4], 1.0)


@pytest.mark.parametrize("size", [(2, 3), (4, 3), (7, 5), (10, 12)])
def test_resize_area_matches_reference(size):
    x = np.random.default_rng(4).uniform(size=(2, 4, 6, 3)).astype(np.float32)
    y = tf.image.resize(x, size, method="area")
    np.testing.assert_allclose(y.numpy(), ref.resize_area(x, *size), rtol=1e-5, atol=1e-6)
    g, w = grad_of(lambda t: tf.image.resize(t, size, method="area"), x)
    numeric = ref.numerical_grad(lambda v: float((ref.resize_area(v, *size) * w).sum()), x)
    np.testing.assert_allclose(g, numeric, rtol=1e-4, atol=1e-5)


def test_yuv_and_extract_patches():
    rgb = np.random.default_rng(5).uniform(size=(2, 4, 4, 3)).astype(np.float32)
    yuv = tf.image.rgb_to_yuv(rgb).numpy()
    np.testing.assert_allclose(yuv[..., 0], rgb @ np.array([0.299, 0.587, 0.114]), rtol=1e-5)
    np.testing.assert_allclose(tf.image.yuv_to_rgb(yuv).numpy(), rgb, atol=1e-5)
    p = tf.image.extract_patches(rgb, sizes=[1, 2, 2, 1], strides=[1, 2, 2, 1], rates=[1, 1, 1, 1],
                                 padding="VALID").numpy()
    assert p.shape == (2, 2, 2, 12)
    np.testing.assert_array_equal(p[1, 1, 0], rgb[1, 2:4, 0:2].reshape(-1))
    with pytest.raises(ValueError, match="sizes must be"):
        tf.image.extract_patches(rgb, sizes=[2, 2], strides=[1, 1, 1, 1], rates=[1, 1, 1, 1], padding="VALID")


# -- Jacobians ---------------------------------------------------------------------------------

def test_jacobian_and_batch_jacobian_against_finite_differences():
    rng = np.random.default_rng(6)
    W = rng.normal(size=(3, 4)).astype(np.float32)
    x = rng.normal(size=(5, 3)).astype(np.float32)

    def f64_fn(v):
        return np.tanh(v @ W.astype(np.float64)) ** 2

    xt = tf.constant(x)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(xt)
        y = ops.square(ops.tanh(ops.matmul(xt, W)))
    j = tape.jacobian(y, xt).numpy()
    assert j.shape == (5, 4, 5, 3)
    for r in range(5):
        for c in range(4):
            numeric = ref.numerical_grad(lambda v: float(f64_fn(v)[r, c]), x)
            np.testing.assert_allclose(j[r, c], numeric, rtol=1e-4, atol=1e-5)
    jb = tape.batch_jacobian(y, xt).numpy()
    assert jb.shape == (5, 4, 3)
    np.testing.assert_allclose(jb, np.einsum("bxby->bxy", j), rtol=1e-6)
    other = tf.Variable(np.ones((2, 2), np.float32))
    assert tape.jacobian(y, [xt, other])[1] is None   # a variable y does not depend on


def test_jacobian_on_a_non_persistent_tape_is_one_call():
    v = tf.Variable([1.0, 2.0])
    with tf.GradientTape() as tape:
        y = v * v
    np.testing.assert_array_equal(tape.jacobian(y, v).numpy(), np.diag([2.0, 4.0]))
    with pytest.raises(RuntimeError, match="non-persistent"):
        tape.jacobian(y, v)
    w = tf.Variable(3.0)
    with tf.GradientTape() as tape:
        y = v * 2.0
    assert tape.jacobian(y, w) is None
    with tf.GradientTape() as tape:
        y = v * 2.0
    np.testing.assert_array_equal(tape.jacobian(y, w, unconnected_gradients="zero").numpy(), [0.0, 0.0])


# -- loss gradients with respect to y_true -----------------------------------------------------

CASES = [("mean_squared_error", keras.losses.MeanSquaredError, {}),
         ("mean_absolute_error", keras.losses.MeanAbsoluteError, {}),
         ("huber", keras.losses.Huber, {}),
         ("log_cosh", keras.losses.LogCosh, {}),
         ("binary_crossentropy", keras.losses.BinaryCrossentropy, {}),
         ("binary_crossentropy", keras.losses.BinaryCrossentropy, {"from_logits": True}),
         ("categorical_crossentropy", keras.losses.CategoricalCrossentropy, {}),
         ("categorical_crossentropy", keras.losses.CategoricalCrossentropy, {"from_logits": True}),
         ("kl_divergence", keras.losses.KLDivergence, {}),
         ("poisson", keras.losses.Poisson, {})]


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", None])
@pytest.mark.parametrize("kind,cls,kw", CASES)
def test_loss_gradient_reaches_a_tracked_target(kind, cls, kw, reduction):
    rng = np.random.default_rng(7)
    p = rng.uniform(0.1, 0.9, (4, 3)).astype(np.float32)
    if kw.get("from_logits"):
        p = rng.normal(size=(4, 3)).astype(np.float32)
    t = rng.uniform(0.05, 0.95, (4, 3)).astype(np.float32)
    sw = np.array([1.0, 0.5, 2.0, 0.0], np.float32)
    loss = cls(reduction=reduction, **kw)
    tv, pv = tf.constant(t), tf.constant(p)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([tv, pv])
        value = loss(tv, pv, sample_weight=sw)
        total = ops.sum(value) if reduction is None else value
    gt, gp = tape.gradient(total, [tv, pv])
    red = "mean" if reduction == "sum_over_batch_size" else "sum"
    if kw.get("from_logits") and kind == "binary_crossentropy":
        def f(tt, pp):
            z = pp
            per = (np.maximum(z, 0) - z * tt + np.log1p(np.exp(-np.abs(z)))).mean(-1)
            return float((sw * per).sum() / (per.size if red == "mean" else 1))
    else:
        def f(tt, pp):
            return ref.loss_of_target(kind, tt, pp, kw.get("from_logits", False), sw, red)
    np.testing.assert_allclose(gt.numpy(), ref.numerical_grad(lambda v: f(v, p), t, eps=1e-5), rtol=2e-3, atol=2e-5)
    np.testing.assert_allclose(gp.numpy(), ref.numerical_grad(lambda v: f(t, v), p, eps=1e-5), rtol=2e-3, atol=2e-5)


def test_loss_without_a_target_gradient_says_so_at_gradient_time():
    t = tf.Variable(np.array([[1.0, -1.0]], np.float32))
    with tf.GradientTape() as tape:
        value = keras.losses.Hinge()(t, tf.constant([[0.3, 0.2]]))
    with pytest.raises(NotImplementedError, match="hinge.*y_true.*stop_gradient"):
        tape.gradient(value, t)
    with tf.GradientTape() as tape:   # a constant target costs nothing
        value = keras.losses.Hinge()(tf.stop_gradient(t), t * 0.5)
    assert tape.gradient(value, t) is not None


# -- custom regularizers -----------------------------------------------------------------------

class Orthogonal(keras.regularizers.Regularizer):
    def __init__(self, n, l2reg=0.01):
        self.n, self.l2reg = n, l2reg

    def __call__(self, x):
        x = ops.reshape(x, (-1, self.n, self.n))
        xxt = ops.matmul(x, ops.transpose(x, (0, 2, 1)))
        return ops.sum(self.l2reg * ops.square(xxt - ops.eye(self.n)))


def penalty_ref(y, n, l2reg):
    m = f64 = np.asarray(y, np.float64).reshape(-1, n, n)
    return l2reg * ((m @ np.transpose(f64, (0, 2, 1)) - np.eye(n)) ** 2).sum()


def test_custom_activity_regularizer_trains_with_its_gradient():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(6, 3)).astype(np.float32)
    y = rng.normal(size=(6, 4)).astype(np.float32)
    dense = layers.Dense(4, activity_regularizer=Orthogonal(2))
    model = keras.Sequential([keras.Input((3,)), dense])
    model.compile("sgd", "mse")
    W, b = (np.asarray(w, np.float64) for w in dense.get_weights())

    def total(Wv):
        out = x @ Wv + b
        return ((out - y) ** 2).mean() + penalty_ref(out, 2, 0.01) / len(out)   # Keras 3: / batch size
    expected = total(W)
    loss, grads = model.compute_gradients(x, y)
    np.testing.assert_allclose(float(loss), expected, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(grads[0]), ref.numerical_grad(total, W), rtol=1e-4, atol=1e-6)
    assert keras.regularizers.get(lambda w: ops.sum(w)) is not None
    assert Orthogonal(2).get_config() == {}


def test_custom_kernel_regularizer_penalty_and_gradient():
    reg = Orthogonal(2, 0.1)
    w = np.random.default_rng(9).normal(size=(2, 2)).astype(np.float32)
    grad = np.zeros((2, 2), np.float32)
    value = reg.penalty(tf.constant(w), tf.constant(grad))
    np.testing.assert_allclose(value, penalty_ref(w, 2, 0.1), rtol=1e-5)
    g = tf.constant(np.zeros((2, 2), np.float32))
    reg.penalty(tf.constant(w), g)
    np.testing.assert_allclose(g.numpy(), ref.numerical_grad(lambda v: penalty_ref(v, 2, 0.1), w), rtol=1e-4,
                               atol=1e-6)


# -- layers holding models, one_hot, softmax axis, shape probes --------------------------------

class Experts(layers.Layer):
    def __init__(self):
        self.experts = [keras.Sequential([layers.Dense(3, activation="tanh"), layers.Dense(2)]) for _ in range(2)]
        self.gate = layers.Dense(2)
        super().__init__()

    def call(self, x):
        g = ops.softmax(self.gate(x), axis=-1)
        return g[:, :1] * self.experts[0](x) + g[:, 1:] * self.experts[1](x)


def test_a_layer_trains_the_models_it_holds():
    x = np.random.default_rng(10).normal(size=(5, 4)).astype(np.float32)
    layer = Experts()
    layer(x)
    assert len(layer.trainable_weights) == 2 + 2 * 4
    with tf.GradientTape() as tape:
        y = ops.sum(ops.square(layer(x)))
    grads = tape.gradient(y, layer.trainable_weights)
    assert all(g is not None and np.abs(g.numpy()).sum() > 0 for g in grads)
    w = layer.experts[1].layers[0].kernel
    index = [i for i, v in enumerate(layer.trainable_weights) if v is w][0]
    base = np.array(w)

    def f(v):
        w.assign(v.astype(np.float32))
        return float(ops.sum(ops.square(layer(x))))
    numeric = ref.numerical_grad(f, base, eps=1e-3)
    w.assign(base)
    np.testing.assert_allclose(grads[index].numpy(), numeric, rtol=2e-2, atol=1e-3)


def test_one_hot_out_of_range_rows_are_zero():
    np.testing.assert_array_equal(ops.one_hot(np.array([0, 3, -1, 2]), 3).numpy(),
                                  [[1, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 1]])


def test_activations_softmax_axis():
    x = np.random.default_rng(11).normal(size=(2, 3, 4)).astype(np.float32)
    e = np.exp(x - x.max(1, keepdims=True))
    np.testing.assert_allclose(keras.activations.softmax(x, axis=1).numpy(), e / e.sum(1, keepdims=True), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(keras.activations.softmax(x)), np.asarray(ops.softmax(x)), rtol=1e-6)


class PerBatch(layers.Layer):
    """Reshapes with a count fixed by the batch size (the Switch Transformer's tokens per batch)."""

    def call(self, x):
        flat = ops.reshape(x, [8 * 3, 2])
        return ops.reshape(flat * 2.0, [ops.shape(x)[0], 3, 2])


def test_shape_probe_takes_batch_fixed_reshapes_and_the_real_call_checks():
    inputs = keras.Input((3, 2))
    model = keras.Model(inputs, layers.GlobalAveragePooling1D()(PerBatch()(inputs)))
    assert model.output_shape == (None, 2)
    x = np.ones((8, 3, 2), np.float32)
    np.testing.assert_allclose(model.predict(x, batch_size=8, verbose=0), 2.0)
    with pytest.raises(ValueError, match="reshape"):
        model(np.ones((5, 3, 2), np.float32))


# -- fit with an overridden train_step on (anchor, positive, negative) batches -----------------

def test_custom_train_step_gets_triplets_unchecked():
    seen = []

    class Triplets(keras.Model):
        def __init__(self):
            super().__init__()
            self.embed = layers.Dense(2)

        def call(self, x):
            return self.embed(x)

        def train_step(self, data):
            a, p, n = data
            seen.append((tuple(a.shape), tuple(p.shape), tuple(n.shape)))
            with tf.GradientTape() as tape:
                loss = ops.mean(ops.maximum(ops.sum(ops.square(self(a) - self(p)), -1)
                                            - ops.sum(ops.square(self(a) - self(n)), -1) + 0.5, 0.0))
            grads = tape.gradient(loss, self.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
            return {"loss": loss}
    rng = np.random.default_rng(12)
    data = tf.data.Dataset.from_tensor_slices(tuple(rng.normal(size=(3, 16, 4, 3)).astype(np.float32))).batch(8)
    model = Triplets()
    model.compile(optimizer="adam")
    model.fit(data, epochs=1, verbose=0)
    assert seen == [((8, 4, 3), (8, 4, 3), (8, 4, 3))] * 2


# -- tf.distribute, mixed precision, small API -------------------------------------------------

def test_distribute_strategies_are_one_replica():
    strategy = tf.distribute.MirroredStrategy()
    assert strategy.num_replicas_in_sync == 1 and not tf.distribute.has_strategy()
    with strategy.scope():
        assert tf.distribute.get_strategy() is strategy
        with tf.distribute.OneDeviceStrategy("/cpu:0").scope() as inner:
            assert tf.distribute.get_strategy() is inner
        assert tf.distribute.get_strategy() is strategy
    assert tf.distribute.get_strategy().num_replicas_in_sync == 1
    assert strategy.run(lambda a, b=0: a + b, args=(2,), kwargs={"b": 3}) == 5
    v = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    assert strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None) is v
    np.testing.assert_array_equal(strategy.reduce("SUM", v, axis=0).numpy(), [4.0, 6.0])
    np.testing.assert_array_equal(strategy.reduce("MEAN", v, axis=1).numpy(), [1.5, 3.5])
    ds = tf.data.Dataset.range(3)
    assert strategy.experimental_distribute_dataset(ds) is ds
    with pytest.raises(NotImplementedError, match="corenn.distributed"):
        tf.distribute.MirroredStrategy(["/gpu:0", "/gpu:1"])
    # (MultiWorkerMirroredStrategy with no TF_CONFIG cluster is one worker, as in TensorFlow:
    # tests/api/test_sweep28_api.py)
    with pytest.raises(ValueError, match="reduce_op"):
        strategy.reduce("MAX", v)


def test_mixed_precision_policies_report_float32():
    from corenn.keras import mixed_precision
    try:
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            mixed_precision.set_global_policy("mixed_bfloat16")
        policy = mixed_precision.global_policy()
        assert policy.name == "mixed_bfloat16" and policy.compute_dtype == policy.variable_dtype == "float32"
        dense = layers.Dense(2)
        assert dense.dtype_policy == policy and dense.compute_dtype == "float32"
        assert keras.config.dtype_policy() == policy
        assert layers.Dense(2, dtype="float32").dtype_policy.name == "float32"
        y = dense(np.ones((1, 3), np.float32))
        assert y.dtype == "float32"
    finally:
        mixed_precision.set_global_policy("float32")
    assert layers.Dense(2).dtype_policy.name == "float32"
    assert layers.Dense(2, dtype=mixed_precision.DTypePolicy("mixed_float16")).compute_dtype == "float32"
    # float64 is computed in float64 (tests/api/test_float64_layers.py), not reported as float32
    assert mixed_precision.DTypePolicy("float64").compute_dtype == "float64"
    assert layers.Dense(2, dtype="float64").compute_dtype == "float64"
    with pytest.raises(ValueError, match="unknown policy"):
        mixed_precision.Policy("int8")


def test_loss_scale_optimizer_steps_like_its_inner_optimizer():
    from corenn.keras import mixed_precision
    w1, w2 = tf.Variable([1.0, -2.0]), tf.Variable([1.0, -2.0])
    plain = keras.optimizers.SGD(0.1)
    scaled = mixed_precision.LossScaleOptimizer(keras.optimizers.SGD(0.1), dynamic_growth_steps=2)
    for _ in range(3):
        with tf.GradientTape() as tape:
            loss = ops.sum(ops.square(w1))
        plain.apply_gradients([(tape.gradient(loss, w1), w1)])
        with tf.GradientTape() as tape:
            loss = scaled.scale_loss(ops.sum(ops.square(w2)))
        scaled.apply_gradients([(tape.gradient(loss, w2), w2)])
    np.testing.assert_allclose(w2.numpy(), w1.numpy(), rtol=1e-6)
    assert scaled.dynamic_scale == 2.0 ** 16   # doubled after 2 finite steps
    scaled.apply_gradients([(tf.constant([np.nan, 1.0]), w2)])
    assert scaled.dynamic_scale == 2.0 ** 15
    np.testing.assert_allclose(w2.numpy(), w1.numpy(), rtol=1e-6)   # the step was skipped
    assert scaled.iterations == 3 and scaled.learning_rate == pytest.approx(0.1)


def test_small_tf_names():
    np.testing.assert_allclose(tf.clip_by_norm(tf.constant([[3.0, 4.0], [0.3, 0.4]]), 1.0, axes=[1]).numpy(),
                               [[0.6, 0.8], [0.3, 0.4]], rtol=1e-6)
    clipped, norm = tf.clip_by_global_norm([tf.constant([3.0]), None, tf.constant([4.0])], 1.0)
    np.testing.assert_allclose(float(norm), 5.0)
    np.testing.assert_allclose(clipped[0].numpy(), [0.6], rtol=1e-6)
    assert clipped[1] is None
    np.testing.assert_array_equal(tf.add_n([tf.constant([1.0]), tf.constant([2.0]), np.array([3.0], np.float32)]).numpy(),
                                  [6.0])
    r = tf.ragged.constant([[1, 2, 3], [4]])
    assert r.to_list() == [[1, 2, 3], [4]] and r.to_tensor().dtype == tf.int32
    assert tf.ragged.constant([[[1]], [[2, 3]]]).to_list() == [[[1]], [[2, 3]]]   # three levels (sweep 15)
    assert tf.ragged.constant([[[[1]]], [[[2, 3]], [[4]]]]).to_list() == [[[[1]]], [[[2, 3]], [[4]]]]
    with pytest.raises(ValueError, match="same depth"):
        tf.ragged.constant([[1, [2]], [3]])
    assert tf.convert_to_tensor([1, 2]).dtype == tf.int32 and tf.Variable(1).dtype == tf.int32
    assert tf.convert_to_tensor(np.array([1, 2])).dtype == tf.int64   # NumPy's int64 stays
    assert tf.strings.to_number(np.array(["1.5"])).numpy()[0] == 1.5
    opt = keras.optimizers.Adam(0.01)
    assert opt.learning_rate.numpy() == np.float32(0.01)
    opt.learning_rate.assign(0.5)
    assert opt.learning_rate == 0.5
    m = keras.metrics.Mean()
    m.update_state([1.0, 3.0])
    assert m.result().numpy() == np.float32(2.0) and f"{m.result():.1f}" == "2.0"
    assert keras.layers.GlobalAvgPool2D is keras.layers.GlobalAveragePooling2D


def test_reductions_of_a_list_of_tensors_are_differentiable():
    x = tf.Variable([1.0, 2.0, 3.0])
    with tf.GradientTape(persistent=True) as tape:
        parts = [tf.math.reduce_mean(x * x), tf.reduce_sum(x)]
        total = tf.reduce_sum(parts)
        mean = ops.mean([x, 2.0 * x], axis=0)
    np.testing.assert_allclose(float(total), 14 / 3 + 6, rtol=1e-6)
    np.testing.assert_allclose(tape.gradient(total, x).numpy(), 2 * np.array([1.0, 2.0, 3.0]) / 3 + 1, rtol=1e-6)
    np.testing.assert_allclose(tape.gradient(mean, x).numpy(), [1.5, 1.5, 1.5], rtol=1e-6)
    assert int(tf.reduce_sum([1, 2, 3])) == 6   # plain numbers stay as they were


def test_target_gradients_match_torch_autograd():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(13)
    p = rng.uniform(0.1, 0.9, (5, 4)).astype(np.float32)
    t = rng.uniform(0.1, 0.9, (5, 4)).astype(np.float32)
    F = torch.nn.functional
    cases = {
        keras.losses.MeanSquaredError(): lambda a, b: F.mse_loss(b, a),
        keras.losses.Huber(delta=0.3): lambda a, b: F.huber_loss(b, a, delta=0.3),
        keras.losses.BinaryCrossentropy(): lambda a, b: F.binary_cross_entropy(b, a),
        keras.losses.KLDivergence(): lambda a, b: (a * torch.log(a / b)).sum(-1).mean(),
        keras.losses.CategoricalCrossentropy(from_logits=True):
            lambda a, b: -(a * torch.log_softmax(b, -1)).sum(-1).mean(),
    }
    for loss, torch_fn in cases.items():
        tv, pv = tf.constant(t), tf.constant(p)
        with tf.GradientTape() as tape:
            tape.watch([tv, pv])
            value = loss(tv, pv)
        gt, gp = tape.gradient(value, [tv, pv])
        a = torch.tensor(t, dtype=torch.float64, requires_grad=True)
        b = torch.tensor(p, dtype=torch.float64, requires_grad=True)
        torch_fn(a, b).backward()
        np.testing.assert_allclose(gt.numpy(), a.grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=loss.name)
        np.testing.assert_allclose(gp.numpy(), b.grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=loss.name)


def test_dict_output_model_returns_a_dict_under_a_tape():
    inputs = keras.Input((4,))
    a = layers.Dense(3, name="a")(inputs)
    b = layers.Dense(2, name="b")(a)
    model = keras.Model(inputs, {"first": a, "second": b})
    x = np.random.default_rng(14).normal(size=(2, 4)).astype(np.float32)
    eager = model(x)
    with tf.GradientTape() as tape:
        out = model(x)
        loss = ops.sum(out["second"]) + ops.sum(out["first"])
    assert sorted(out) == ["first", "second"]
    np.testing.assert_allclose(out["second"].numpy(), eager["second"].numpy(), rtol=1e-6)
    grads = tape.gradient(loss, model.trainable_variables)
    assert all(g is not None for g in grads)


def test_shapes_are_tensorshapes():
    import pickle
    t = tf.zeros([2, 3, 4])
    s = t.shape
    assert isinstance(s, tuple) and s == (2, 3, 4) and repr(s) == "(2, 3, 4)"
    assert s.as_list() == [2, 3, 4] and s.rank == 3 and s.num_elements() == 24 and s.is_fully_defined()
    assert pickle.loads(pickle.dumps(s)) == (2, 3, 4)
    np.testing.assert_array_equal(np.zeros(s).shape, (2, 3, 4))
    assert t.reshape(tf.zeros([6, 4]).shape).shape == (6, 4)
    k = keras.Input((5, 2))
    assert k.shape.as_list() == [None, 5, 2] and k.shape.num_elements() is None
    assert tf.TensorShape([1, 2]).as_list() == [1, 2]


def test_dtypes_have_names():
    import pickle
    d = tf.zeros([2]).dtype
    assert d == "float32" and d == tf.float32 and d.name == "float32" and d.is_floating and not d.is_integer
    assert tf.constant([1, 2]).dtype.name == "int32" and tf.constant([1, 2]).dtype.is_integer
    assert np.dtype(d) == np.float32 and d.as_numpy_dtype is np.float32 and d.size == 4
    assert pickle.loads(pickle.dumps(d)) == "float32" and {d: 1} == {"float32": 1}
    assert keras.Input((2,)).dtype.name == "float32" and keras.Input((2,), dtype="int32").dtype.name == "int32"


def test_debugging_checks():
    tf.debugging.set_log_device_placement(True)
    tf.debugging.assert_equal(tf.constant([1, 2]), np.array([1, 2]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="ids: Condition x == y"):
        tf.debugging.assert_equal([1, 2], [1, 3], message="ids")
    with pytest.raises(ValueError):   # InvalidArgumentError is a ValueError
        tf.debugging.assert_equal([1, 2], [1, 2, 3])
    tf.debugging.assert_near([1.0, 2.0], [1.0, 2.0 + 1e-7])
    with pytest.raises(tf.errors.InvalidArgumentError, match="tolerance"):
        tf.debugging.assert_near([1.0], [1.1])
    t = tf.constant([1.0, 2.0])
    assert tf.debugging.check_numerics(t, "fine") is t
    with pytest.raises(tf.errors.InvalidArgumentError, match="loss: Tensor had NaN or Inf"):
        tf.debugging.check_numerics(np.array([1.0, np.inf], np.float32), "loss")
    tf.debugging.assert_rank(t, 1)
    with pytest.raises(tf.errors.InvalidArgumentError, match="rank 2"):
        tf.debugging.assert_rank(t, 2)
    tf.debugging.assert_positive(t)
    with pytest.raises(tf.errors.InvalidArgumentError):
        tf.debugging.assert_non_negative([-1.0])


@pytest.mark.parametrize("cls,kind,classes", [(keras.losses.CategoricalCrossentropy, "categorical_crossentropy", 3),
                                              (keras.losses.BinaryCrossentropy, "binary_crossentropy", 2)])
def test_target_gradient_through_label_smoothing(cls, kind, classes):
    rng = np.random.default_rng(15)
    p = rng.uniform(0.1, 0.9, (4, 3)).astype(np.float32)
    t = rng.uniform(0.1, 0.9, (4, 3)).astype(np.float32)
    tv = tf.constant(t)
    with tf.GradientTape() as tape:
        tape.watch(tv)
        value = cls(label_smoothing=0.2)(tv, p)
    def f(tt):
        return ref.loss_of_target(kind, tt * 0.8 + 0.2 / classes, p)
    np.testing.assert_allclose(float(value), f(t), rtol=1e-5)
    np.testing.assert_allclose(tape.gradient(value, tv).numpy(), ref.numerical_grad(f, t, eps=1e-5), rtol=1e-3, atol=1e-6)
