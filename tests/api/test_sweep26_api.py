"""Sweep 26: what the programs added to tests/programs in sweep 26 found missing, each checked on
its own against NumPy (float64) references, finite differences, or TensorFlow's documented
behaviour (where Keras 3 on torch has none, noted)."""
import numpy as np
import pytest

import corenn as tf
from corenn import keras
from corenn.keras import layers, ops
from reference import f64, numerical_grad


# ---- StyleGAN (example_stylegan.py): ops.size of a shape, a reduction over a Tensor of axes ----

def test_size_of_a_shape_tuple_counts_its_entries_as_tf_size_does():
    # keras.io's StyleGAN: ops.arange(1, ops.size(ops.shape(x))) (the axes after the batch). TF's
    # and JAX's size convert the tuple (4 entries); Keras 3 on torch raises on a tuple
    assert int(ops.size((8, 16, 16, 3))) == 4
    assert int(ops.size([[1, 2, 3], [4, 5, 6]])) == 6
    assert int(ops.size(np.zeros((2, 5)))) == 10


@pytest.mark.parametrize("fn, ref", [(ops.sum, np.sum), (ops.mean, np.mean), (ops.max, np.max),
                                     (ops.min, np.min), (tf.reduce_sum, np.sum)])
def test_reductions_take_their_axes_as_a_tensor(fn, ref):
    # TensorFlow's reductions take a Tensor axis (reduce_sum(x, axis=tf.range(1, tf.rank(x))))
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 5)).astype("float32")
    axes = ops.arange(1, ops.size(ops.shape(x)))
    np.testing.assert_allclose(np.asarray(fn(x, axis=axes)), ref(f64(x), axis=(1, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(fn(x, axis=ops.convert_to_tensor(2), keepdims=True)),
                               ref(f64(x), axis=2, keepdims=True), rtol=1e-5)
    ints = np.arange(24, dtype="int32").reshape(2, 3, 4)
    if fn in (ops.sum, ops.max, ops.min):   # the integer reductions (NumPy kernels) too
        np.testing.assert_array_equal(np.asarray(fn(ints, axis=np.array([0, 2]))), ref(ints, axis=(0, 2)))


def test_a_tensor_axis_that_is_not_integers_is_refused_by_name():
    with pytest.raises(TypeError, match="ops.sum: axis"):
        ops.sum(np.ones((2, 3), "float32"), axis=np.array([0.5]))


def test_a_reduction_over_tensor_axes_is_differentiable():
    x = tf.Variable(np.random.default_rng(1).normal(size=(2, 3, 4)).astype("float32"))
    with tf.GradientTape() as tape:
        y = ops.sum(ops.square(x), axis=ops.arange(1, 3))
        loss = ops.sum(y * np.array([1.0, 2.0], "float32"))
    g = tape.gradient(loss, x)
    np.testing.assert_allclose(g.numpy(), 2 * x.numpy() * np.array([1.0, 2.0])[:, None, None], rtol=1e-6)


def _pool_matrix(in_shape, size, stride, padding):
    """the float64 matrix P of average pooling over (H, W) of one channel (Keras' windows; 'same'
    averages over the real cells of each window): pooled = P @ x.ravel()"""
    h, w = in_shape
    if padding == "valid":
        oh, ow = (h - size[0]) // stride[0] + 1, (w - size[1]) // stride[1] + 1
        top, left = 0, 0
    else:
        oh, ow = -(-h // stride[0]), -(-w // stride[1])
        top = max((oh - 1) * stride[0] + size[0] - h, 0) // 2
        left = max((ow - 1) * stride[1] + size[1] - w, 0) // 2
    p = np.zeros((oh * ow, h * w))
    for i in range(oh):
        for j in range(ow):
            cells = [(a, b) for a in range(i * stride[0] - top, i * stride[0] - top + size[0])
                     for b in range(j * stride[1] - left, j * stride[1] - left + size[1])
                     if 0 <= a < h and 0 <= b < w]
            for a, b in cells:
                p[i * ow + j, a * w + b] = 1.0 / len(cells)
    return p


def _pooled(x, p):
    """average pooling of (N, H, W, C) x with the matrix p, as (N, out cells, C)"""
    n, h, w, c = x.shape
    return np.einsum("oi,nic->noc", p, x.reshape(n, h * w, c))


@pytest.mark.parametrize("one_d, pool, stride, padding, shape", [
    (False, (2, 2), (2, 2), "valid", (4, 4, 2)),
    (False, (3, 3), (2, 2), "same", (5, 5, 2)),
    (True, (1, 3), (1, 2), "same", (1, 7, 2)),
])
def test_wgan_gp_penalty_through_average_pooling_matches_float64_finite_differences(
        one_d, pool, stride, padding, shape):
    # StyleGAN's critic downsamples with AveragePooling2D inside the gradient penalty: the outer
    # tape differentiates the inner tape's input gradient through the pooling
    keras.utils.set_random_seed(4)
    if one_d:
        pooling = layers.AveragePooling1D(pool[1], strides=stride[1], padding=padding)
        inp = layers.Input((shape[1], shape[2]))
    else:
        pooling = layers.AveragePooling2D(pool, strides=stride, padding=padding)
        inp = layers.Input(shape)
    critic = keras.Sequential([inp, pooling, layers.Flatten(), layers.Dense(3, activation="tanh"),
                               layers.Dense(1)])
    x = np.random.default_rng(2).normal(size=(3,) + shape).astype("float32")
    xin = x[:, 0] if one_d else x
    p = _pool_matrix(shape[:2], pool, stride, padding)

    def penalty(w1, b1, w2, b2):   # mean over samples of |d critic / dx|^2, in float64
        z = _pooled(f64(x), p).reshape(len(x), -1) @ w1 + b1
        dz = (1 - np.tanh(z) ** 2) * w2[:, 0]                      # d out / d z
        dpooled = (dz @ w1.T).reshape(len(x), p.shape[0], shape[2])
        dx = np.einsum("oi,noc->nic", p, dpooled)                  # P^T: pooling's adjoint
        return float(np.mean(np.sum(dx.reshape(len(x), -1) ** 2, axis=1)))

    xt = tf.constant(xin)
    with tf.GradientTape() as tape:
        with tf.GradientTape() as gp_tape:
            gp_tape.watch(xt)
            pred = critic(xt, training=True)
        g = gp_tape.gradient(pred, xt)
        gp = tf.reduce_mean(tf.reduce_sum(tf.square(tf.reshape(g, (len(x), -1))), axis=1))
    got = tape.gradient(gp, critic.trainable_variables, unconnected_gradients="zero")   # b2: none
    params = [f64(w) for w in critic.get_weights()]
    assert float(gp) == pytest.approx(penalty(*params), rel=1e-4)
    for k in range(len(params)):
        def f(v, k=k):
            return penalty(*[v if j == k else params[j] for j in range(len(params))])
        np.testing.assert_allclose(np.asarray(got[k]), numerical_grad(f, params[k]), rtol=1e-3, atol=1e-6)


def test_ops_average_pool_gradient_is_differentiable_again():
    # the op itself: d/dv of |d/dx sum(c * pool(v * x))|^2 = 2 v (P^T c)^2, P^T c the pooled adjoint
    rng = np.random.default_rng(5)
    x = tf.constant(rng.normal(size=(1, 4, 6, 1)).astype("float32"))
    c = rng.normal(size=(1, 2, 3, 1)).astype("float32")
    v = tf.Variable(rng.normal(size=(1, 4, 6, 1)).astype("float32"))
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = ops.sum(ops.average_pool(v * x, 2, padding="valid") * c)
        gx = inner.gradient(y, x)
        loss = ops.sum(ops.square(gx))
    adj = (_pool_matrix((4, 6), (2, 2), (2, 2), "valid").T @ f64(c).ravel()).reshape(1, 4, 6, 1)
    np.testing.assert_allclose(gx.numpy(), v.numpy() * adj, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(outer.gradient(loss, v).numpy(), 2 * v.numpy() * adj ** 2, rtol=1e-5, atol=1e-7)


def test_fit_with_a_train_step_of_its_own_runs_a_call_that_takes_a_dict_of_options():
    # StyleGAN's call(inputs: dict) reads inputs.get("z"): fit's probe of the call on an image
    # batch fails with AttributeError, and the model's own train_step gets the batch as it is
    class Gan(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(1)
            self.tracker = keras.metrics.Mean(name="d")

        def call(self, inputs):
            return self.dense(inputs.get("z"))

        def train_step(self, data):
            images = data[0] if isinstance(data, (tuple, list)) else data
            with tf.GradientTape() as tape:
                loss = ops.mean(ops.square(self.dense(images) - 1.0))
            grads = tape.gradient(loss, self.dense.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.dense.trainable_variables))
            self.tracker.update_state(loss)
            return {"d": self.tracker.result()}

    def batches():
        while True:
            yield (np.ones((4, 3), "float32"),)

    gan = Gan()
    gan.compile(optimizer=keras.optimizers.SGD(0.1))
    hist = gan.fit(batches(), epochs=2, steps_per_epoch=5, verbose=0)
    assert hist.history["d"][-1] < hist.history["d"][0]
    out = gan({"z": np.ones((2, 3), "float32")})
    assert tuple(out.shape) == (2, 1)


# ---- MelGAN (example_melgan_spectrogram_inversion.py) -----------------------------------------

@pytest.mark.parametrize("stride, padding", [(1, "SAME"), (2, "SAME"), (3, "VALID")])
def test_tf_nn_conv1d_with_fewer_filter_input_channels_is_a_grouped_convolution(stride, padding):
    # TensorFlow: filters (K, Cin / G, Cout) on Cin channels convolve G groups (checked against
    # TF 2.21: equal to the per-group convolutions concatenated)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 11, 8)).astype("float32")
    w = rng.normal(size=(3, 2, 12)).astype("float32")   # 4 groups of 2 inputs -> 3 outputs each
    got = np.asarray(tf.nn.conv1d(x, w, stride=stride, padding=padding))
    parts = [np.asarray(tf.nn.conv1d(x[..., 2 * g:2 * g + 2], w[..., 3 * g:3 * g + 3], stride=stride,
                                     padding=padding)) for g in range(4)]
    np.testing.assert_allclose(got, np.concatenate(parts, -1), rtol=1e-5, atol=1e-5)
    xt, wt = tf.Variable(x), tf.Variable(w)   # and its gradients are the per-group ones
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.nn.conv1d(xt, wt, stride=stride, padding=padding) ** 2)
    gx, gw = tape.gradient(loss, [xt, wt])
    num = numerical_grad(lambda v: float(np.sum(np.asarray(tf.nn.conv1d(v.astype("float32"), w, stride=stride,
                                                                         padding=padding), np.float64) ** 2)),
                         x, eps=1e-2)
    np.testing.assert_allclose(gx.numpy(), num, rtol=2e-2, atol=2e-2)
    assert tuple(gw.shape) == w.shape


def test_tf_nn_conv2d_refuses_filters_that_do_not_group_the_input():
    x = np.ones((1, 4, 4, 6), "float32")
    with pytest.raises(ValueError, match="not divisible by the filters' input depth 4"):
        tf.nn.conv2d(x, np.ones((1, 1, 4, 8), "float32"), 1, "SAME")
    with pytest.raises(ValueError, match="output depth 5 is not divisible by the number of groups 3"):
        tf.nn.conv2d(x, np.ones((1, 1, 2, 5), "float32"), 1, "SAME")


class _TrainsByDefault(layers.Layer):
    """MelSpec's pattern: training=True by default, a different output in training"""

    def call(self, x, training=True):
        return ops.concatenate([x, x], -1) if training else x


def test_a_call_with_training_true_by_default_gets_it_when_no_flag_is_given():
    # Keras 3.15 (torch backend) prints for this model: symbolic (None, None, 2), model(x)
    # (1, 3, 2), model(x, training=True) (1, 3, 2), predict (1, 3, 1)
    inp = keras.Input((None, 1))
    out = _TrainsByDefault()(inp)
    assert tuple(out.shape) == (None, None, 2)
    model = keras.Model(inp, out)
    x = np.ones((1, 3, 1), "float32")
    assert tuple(model(x).shape) == (1, 3, 2)
    assert tuple(model(x, training=False).shape) == (1, 3, 1)
    assert model.predict(x, verbose=0).shape == (1, 3, 1)
    # a flag given where the layer is called in the model holds (the probe uses it too)
    fixed = keras.Model(inp, _TrainsByDefault()(inp, training=False))
    assert tuple(fixed.output.shape) == (None, None, 1) and tuple(fixed(x).shape) == (1, 3, 1)


@pytest.mark.parametrize("cls", [keras.losses.MeanAbsoluteError, keras.losses.MeanSquaredError,
                                 keras.losses.Huber, keras.losses.LogCosh])
@pytest.mark.parametrize("true_shape, pred_shape", [((2, 4, 3), (2, 1, 3)), ((2, 1, 3), (2, 4, 3))])
def test_a_broadcast_target_is_differentiated_too(cls, true_shape, pred_shape):
    # MelGAN's feature-matching MAE between a real clip's maps and a generated clip's of another
    # length, both computed under the tape; Keras (torch backend) gives both gradients
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=true_shape), rng.normal(size=pred_shape)
    diff = {"mean_absolute_error": np.abs, "mean_squared_error": np.square,
            "huber": lambda d: np.where(np.abs(d) <= 1, 0.5 * d * d, np.abs(d) - 0.5),
            "log_cosh": lambda d: d + np.log1p(np.exp(-2 * d)) - np.log(2.0)}
    loss_fn = cls()
    ref = diff[loss_fn.kind] if hasattr(loss_fn, "kind") else None

    def value(t, p):
        return float(np.mean(ref(np.broadcast_to(t, np.broadcast_shapes(t.shape, p.shape)) - p)))
    x, y = tf.Variable(a.astype("float32")), tf.Variable(b.astype("float32"))
    with tf.GradientTape() as tape:
        loss = loss_fn(x, y)
    gx, gy = tape.gradient(loss, [x, y])
    assert float(loss) == pytest.approx(value(a, b), rel=1e-5)
    np.testing.assert_allclose(gx.numpy(), numerical_grad(lambda t: value(t, b), a), rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(gy.numpy(), numerical_grad(lambda p: value(a, p), b), rtol=1e-3, atol=1e-6)


def test_a_weighted_broadcast_target_gradient_raises_by_name():
    x, y = tf.Variable(np.ones((2, 4, 3), "float32")), tf.Variable(np.zeros((2, 1, 3), "float32"))
    with tf.GradientTape() as tape:
        loss = keras.losses.MeanSquaredError(reduction="sum")(x, y)
    with pytest.raises(NotImplementedError, match="broadcast against y_pred"):
        tape.gradient(loss, [x, y])


def test_an_input_with_a_last_axis_of_one_takes_other_last_axes_as_keras_does():
    # Keras 3 (allow_last_axis_squeeze): Input((None, 1)) takes (2, 5, 3); Input((4, 1)) refuses
    # (2, 5, 3) (the 4 is checked)
    inp = keras.Input((None, 1))
    model = keras.Model(inp, layers.Activation("relu")(inp))
    assert model.predict(np.ones((2, 5, 3), "float32"), verbose=0).shape == (2, 5, 3)
    inp4 = keras.Input((4, 1))
    model4 = keras.Model(inp4, layers.Activation("relu")(inp4))
    with pytest.raises(ValueError, match="expects shape"):
        model4.predict(np.ones((2, 5, 3), "float32"), verbose=0)
    assert model4.predict(np.ones((2, 4, 3), "float32"), verbose=0).shape == (2, 4, 3)


def test_model_output_keeps_the_nesting_of_outputs_and_outputs_is_flat():
    inp = keras.Input((3,))
    a, b, c = layers.Dense(1)(inp), layers.Dense(2)(inp), layers.Dense(4)(inp)
    model = keras.Model(inp, [[a, b], c])
    assert [tuple(t.shape) for t in model.outputs] == [(None, 1), (None, 2), (None, 4)]
    out = model.output
    assert isinstance(out, list) and len(out) == 2 and out[0][0] is a and out[0][1] is b and out[1] is c


# ---- feature engineering (example_feature_engineering_lambda.py / _custom_layer.py) -----------

def _dict_model():
    """string and float Inputs feeding Lambdas, where the string input's layers come first"""
    ins = {"thal": keras.Input(shape=(1,), name="thal", dtype="string"),
           "age": keras.Input(shape=(1,), name="age"), "sex": keras.Input(shape=(1,), name="sex")}
    fixed = layers.Lambda(lambda x: tf.cast(x == "fixed", tf.float32), name="is_fixed")(ins["thal"])
    old = layers.Lambda(lambda x: tf.cast(tf.math.logical_and(x[0] > 50, x[1] == 1), tf.float32),
                        name="old_male")((ins["age"], ins["sex"]))
    out = layers.Dense(1, name="target")(layers.concatenate([fixed, old, ins["age"]]))
    return ins, keras.Model(ins, out)


_ROW = {"thal": np.array([["fixed"]], dtype=object), "age": np.array([[63.0]], "float32"),
        "sex": np.array([[1.0]], "float32")}


def test_clone_model_finds_the_inputs_wherever_the_config_lists_them():
    # the config lists layers in graph order: the Lambda on 'thal' comes before the 'age' input
    _, model = _dict_model()

    def clone_layer(layer):
        if isinstance(layer, layers.Lambda):
            return layers.Lambda(layer.function, name=layer.name)
        return layer.__class__.from_config(layer.get_config())
    clone = keras.models.clone_model(model, clone_function=clone_layer)
    clone.set_weights(model.get_weights())
    assert [t.name for t in clone.inputs] == [t.name for t in model.inputs]
    np.testing.assert_allclose(np.asarray(clone(_ROW)), np.asarray(model(_ROW)), rtol=1e-6)
    assert clone.get_layer("target") is not model.get_layer("target")


def test_a_model_returning_its_string_input_gives_a_string_tensor():
    ins, _ = _dict_model()
    echo = keras.Model(ins, ins)(_ROW)
    assert echo["thal"].dtype == tf.string and np.asarray(echo["thal"]).ravel()[0] == "fixed"
    assert float(np.asarray(echo["age"])[0, 0]) == 63.0


def test_metrics_names_before_the_metrics_are_resolved_are_keras_3s():
    # Keras 3.15: ['loss', 'compile_metrics'] before evaluate, so dict(zip(metrics_names,
    # evaluate(...))) maps 'compile_metrics' to the first metric
    inp = keras.Input((3,))
    model = keras.Model(inp, layers.Dense(1, activation="sigmoid")(inp))
    model.compile(loss="binary_crossentropy", metrics=[keras.metrics.BinaryAccuracy(name="accuracy"),
                                                       keras.metrics.AUC(name="auc")])
    assert model.metrics_names == ["loss", "compile_metrics"]
    x = np.random.default_rng(0).random((8, 3)).astype("float32")
    y = (x[:, :1] > 0.5).astype("float32")
    scores = dict(zip(model.metrics_names, model.evaluate(x, y, verbose=0)))
    assert set(scores) == {"loss", "compile_metrics"}
    acc = float(np.mean((model.predict(x, verbose=0) > 0.5) == y))
    assert scores["compile_metrics"] == pytest.approx(acc)
    uncompiled = keras.Model(inp, layers.Dense(1)(inp))
    uncompiled.compile(loss="mse")
    assert uncompiled.metrics_names == ["loss"]


class _FeatureLayer(layers.Layer):
    def call(self, inputs):
        return layers.concatenate([inputs["a"] * 2.0, tf.cast(inputs["s"] == "x", tf.float32)])


def test_a_layer_called_on_a_dict_saves_its_call_as_a_dict_and_loads(tmp_path):
    # Keras 3 writes the node's args as {"a": <tensor>, "s": <tensor>}; the loaded layer's call
    # gets the dict back
    ins = {"a": keras.Input(shape=(1,), name="a"), "s": keras.Input(shape=(1,), name="s", dtype="string")}
    model = keras.Model(ins, layers.Dense(1)(_FeatureLayer(name="f")(ins)))
    node = [e for e in model.get_config()["layers"] if e["name"] == "f"][0]["inbound_nodes"][0]
    assert set(node["args"][0]) == {"a", "s"}
    assert node["args"][0]["s"]["config"]["keras_history"] == ["s", 0, 0]
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", custom_objects={"_FeatureLayer": _FeatureLayer})
    row = {"a": np.array([[1.5]], "float32"), "s": np.array([["x"]], dtype=object)}
    np.testing.assert_allclose(np.asarray(loaded(row)), np.asarray(model(row)), rtol=1e-6)


# ---- DANA (example_dimension_adaptive_pooling.py) ---------------------------------------------

def test_tensorflow_python_framework_tensor_shape_path():
    # keras-spp / keras.io's DAP layer: from tensorflow.python.framework import tensor_shape
    from corenn.python.framework import tensor_shape
    shape = tensor_shape.TensorShape((None, 7, 3)).as_list()
    assert shape == [None, 7, 3]
    assert tensor_shape.as_shape([2, None]).as_list() == [2, None]
    assert tensor_shape.unknown_shape(rank=2).as_list() == [None, None]
    assert tensor_shape.dimension_value(4) == 4 and tensor_shape.dimension_value(None) is None

    class Pool(layers.Layer):   # a layer whose compute_output_shape answers a TensorShape
        def call(self, x):
            return tf.reshape(tf.math.reduce_max(x, axis=(1, 2)), (tf.shape(x)[0], 2, -1))

        def compute_output_shape(self, input_shape):
            input_shape = tensor_shape.TensorShape(input_shape).as_list()
            return tensor_shape.TensorShape([input_shape[0], 2, input_shape[3] // 2])
    inp = keras.Input((None, None, 4))
    out = Pool()(inp)
    assert tuple(out.shape) == (None, 2, 2)
    x = np.random.default_rng(0).normal(size=(3, 5, 2, 4)).astype("float32")
    np.testing.assert_allclose(np.asarray(keras.Model(inp, out)(x)), x.max(axis=(1, 2)).reshape(3, 2, 2))


def test_a_functional_block_inside_a_subclassed_model_inherits_the_models_flag():
    # keras.io's DeiT: transformer blocks (functional models holding a StochasticDepth whose call
    # defaults to training=True) called without a flag inside the model's call. Keras 3.15: the
    # enclosing call's flag wins (no drops at inference); a flagless top-level call of the block
    # uses the layer's default
    class Drop(layers.Layer):
        def call(self, x, training=True):
            return x * 0.0 if training else x

    inp = keras.Input((3,))
    block = keras.Model(inp, Drop()(layers.Dense(3, kernel_initializer="ones")(inp)))

    class Outer(keras.Model):
        def __init__(self):
            super().__init__()
            self.block = block

        def call(self, x, training=False):
            return self.block(x)

    x = np.ones((2, 3), "float32")
    outer = Outer()
    np.testing.assert_allclose(np.asarray(outer(x, training=False)), 3.0)
    np.testing.assert_allclose(np.asarray(outer(x)), 3.0)        # call's own default: False
    np.testing.assert_allclose(np.asarray(outer(x, training=True)), 0.0)
    np.testing.assert_allclose(np.asarray(block(x)), 0.0)        # the Drop layer's default
