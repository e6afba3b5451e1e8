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
