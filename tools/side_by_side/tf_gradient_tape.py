"""Side-by-side check of corenn against Keras 3 / TensorFlow (tools/side_by_side/README.md).
Run ``python tf_gradient_tape.py keras`` (or ``tf``) in an environment with the oracle, then ``python tf_gradient_tape.py
corenn`` with corenn: the second run prints what differs. Not a test: the oracle is not a
dependency; what it found became unit tests against NumPy references."""
import os
os.makedirs("/tmp/corenn_side_by_side", exist_ok=True)
import sys, os, numpy as np, pickle
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
which = sys.argv[1]
if which == "tf":
    import tensorflow as tf
else:
    import corenn as tf
rng = np.random.default_rng(1)
X = rng.normal(size=(3, 4)).astype(np.float32)
W = rng.normal(size=(4, 2)).astype(np.float32)
out = {}
def rec(name, f):
    try:
        r = f()
        rs = r if isinstance(r, (list, tuple)) else [r]
        for k, v in enumerate(rs):
            out[f"{name}__{k}"] = None if v is None else np.asarray(v)
    except Exception as e:
        print(which, "fail", name, type(e).__name__, str(e)[:160])
def g_nonscalar():
    x = tf.Variable(X)
    with tf.GradientTape() as t:
        y = tf.matmul(x, W) ** 2
    return t.gradient(y, x)
rec("nonscalar_target", g_nonscalar)
def g_output_gradients():
    x = tf.Variable(X)
    with tf.GradientTape() as t:
        y = tf.matmul(x, W)
    return t.gradient(y, x, output_gradients=tf.constant(np.ones((3, 2), np.float32) * 2))
rec("output_gradients", g_output_gradients)
def g_list_targets():
    x = tf.Variable(X)
    with tf.GradientTape() as t:
        a = tf.reduce_sum(x * x); b = tf.reduce_mean(tf.exp(x))
    return t.gradient([a, b], x)
rec("list_targets", g_list_targets)
def g_unconnected_zero():
    x = tf.Variable(X); z = tf.Variable(W)
    with tf.GradientTape() as t:
        y = tf.reduce_sum(x)
    return t.gradient(y, [x, z], unconnected_gradients=tf.UnconnectedGradients.ZERO)
rec("unconnected_zero", g_unconnected_zero)
def g_jacobian():
    x = tf.Variable(X[0])
    with tf.GradientTape() as t:
        y = tf.tanh(tf.linalg.matvec(tf.transpose(W), x))
    return t.jacobian(y, x)
rec("jacobian", g_jacobian)
def g_batch_jacobian():
    x = tf.constant(X)
    with tf.GradientTape() as t:
        t.watch(x)
        y = tf.nn.softmax(tf.matmul(x, W))
    return t.batch_jacobian(y, x)
rec("batch_jacobian", g_batch_jacobian)
def g_stop_recording():
    x = tf.Variable(X)
    with tf.GradientTape() as t:
        y = tf.reduce_sum(x * 2)
        with t.stop_recording():
            z = tf.reduce_sum(x * 3)
        w = y + z
    return t.gradient(w, x)
rec("stop_recording", g_stop_recording)
def g_no_watch():
    x = tf.Variable(X); v = tf.Variable(W)
    with tf.GradientTape(watch_accessed_variables=False) as t:
        t.watch(x)
        y = tf.reduce_sum(tf.matmul(x, v))
    gx, gv = t.gradient(y, [x, v])
    return [gx, np.zeros(1) if gv is None else gv + 100]
rec("no_watch", g_no_watch)
def g_stop_gradient():
    x = tf.Variable(X)
    with tf.GradientTape() as t:
        y = tf.reduce_sum(x * tf.stop_gradient(x))
    return t.gradient(y, x)
rec("stop_gradient", g_stop_gradient)
def g_where_nan():
    x = tf.Variable(np.array([-1.0, 0.0, 4.0], np.float32))
    with tf.GradientTape() as t:
        y = tf.reduce_sum(tf.where(x > 0, tf.sqrt(tf.maximum(x, 1e-6)), 0.0))
    return t.gradient(y, x)
rec("where_safe", g_where_nan)
def g_norm0():
    x = tf.Variable(np.zeros(3, np.float32))
    with tf.GradientTape() as t:
        y = tf.norm(x)
    return t.gradient(y, x)
rec("norm_at_zero", g_norm0)
def g_max_ties():
    x = tf.Variable(np.array([1.0, 3.0, 3.0], np.float32))
    with tf.GradientTape() as t:
        y = tf.reduce_max(x)
    return t.gradient(y, x)
rec("reduce_max_ties", g_max_ties)
def g_abs0():
    x = tf.Variable(np.array([0.0, -2.0], np.float32))
    with tf.GradientTape() as t:
        y = tf.reduce_sum(tf.abs(x) + tf.nn.relu(x))
    return t.gradient(y, x)
rec("abs_relu_at_zero", g_abs0)
def g_maximum_ties():
    x = tf.Variable(np.array([1.0, 2.0], np.float32)); z = tf.Variable(np.array([1.0, 0.0], np.float32))
    with tf.GradientTape() as t:
        y = tf.reduce_sum(tf.maximum(x, z))
    return t.gradient(y, [x, z])
rec("maximum_ties", g_maximum_ties)
def g_clip():
    x = tf.Variable(np.array([-2.0, 0.5, 1.0, 3.0], np.float32))
    with tf.GradientTape() as t:
        y = tf.reduce_sum(tf.clip_by_value(x, -1.0, 1.0))
    return t.gradient(y, x)
rec("clip_edges", g_clip)
def g_sort():
    x = tf.Variable(np.array([3.0, 1.0, 2.0], np.float32))
    with tf.GradientTape() as t:
        y = tf.reduce_sum(tf.sort(x) * tf.constant([1.0, 2.0, 3.0]))
    return t.gradient(y, x)
rec("sort_grad", g_sort)
def g_gather():
    x = tf.Variable(X)
    with tf.GradientTape() as t:
        y = tf.reduce_sum(tf.gather(x, [0, 0, 2]) * 1.5)
    g = t.gradient(y, x)
    return tf.convert_to_tensor(g)
rec("gather_dup", g_gather)
def g_second():
    x = tf.Variable(np.array([0.5, -1.0], np.float32))
    with tf.GradientTape() as t2:
        with tf.GradientTape() as t1:
            y = tf.reduce_sum(tf.sin(x) * x ** 3)
        g = t1.gradient(y, x)
    return [g, t2.gradient(g, x)]
rec("second_order", g_second)
def g_int_source():
    x = tf.constant([1, 2])
    with tf.GradientTape() as t:
        t.watch(x)
        y = tf.cast(x, tf.float32) * 2.0
    return [np.array(t.gradient(y, x) is None)]
rec("int_source_none", g_int_source)
def g_variable_ops():
    v = tf.Variable(X)
    v.assign_add(tf.ones_like(X)); v.assign_sub(tf.ones_like(X) * 0.5); v[0, 1].assign(7.0)
    v.scatter_nd_update([[1, 1]], [9.0]) if hasattr(v, "scatter_nd_update") else None
    return v
rec("variable_ops", g_variable_ops)
def g_custom_gradient():
    @tf.custom_gradient
    def clip_grad(x):
        def grad(dy):
            return tf.clip_by_value(dy, -0.1, 0.1)
        return tf.identity(x), grad
    x = tf.Variable(X)
    with tf.GradientTape() as t:
        y = tf.reduce_sum(clip_grad(x) * 5.0)
    return t.gradient(y, x)
rec("custom_gradient", g_custom_gradient)
def g_softmax_ce():
    x = tf.Variable(X)
    with tf.GradientTape() as t:
        y = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[0, 3, 1], logits=x))
    return t.gradient(y, x)
rec("sparse_ce_grad", g_softmax_ce)
def g_einsum():
    x = tf.Variable(X)
    with tf.GradientTape() as t:
        y = tf.reduce_sum(tf.einsum("ij,jk->ik", x, W) ** 2)
    return t.gradient(y, x)
rec("einsum_grad", g_einsum)
def g_conv():
    img = tf.Variable(rng.normal(size=(1, 5, 5, 2)).astype(np.float32))
    k = tf.Variable(rng.normal(size=(3, 3, 2, 3)).astype(np.float32))
    with tf.GradientTape() as t:
        y = tf.reduce_sum(tf.nn.conv2d(img, k, 2, "SAME") ** 2)
    return t.gradient(y, [img, k])
rec("conv_grad", g_conv)
def g_pool():
    img = tf.Variable(rng.normal(size=(1, 5, 5, 2)).astype(np.float32))
    with tf.GradientTape() as t:
        y = tf.reduce_sum(tf.nn.avg_pool2d(img, 3, 2, "SAME") * 2 + tf.nn.max_pool2d(img, 2, 2, "VALID"))
    return t.gradient(y, img)
rec("pool_grad", g_pool)
if which == "tf":
    pickle.dump(out, open("/tmp/corenn_side_by_side/tf.pkl", "wb"))
else:
    ref = pickle.load(open("/tmp/corenn_side_by_side/tf.pkl", "rb"))
    for k, b in ref.items():
        if k not in out: print("MISSING", k); continue
        a = out[k]
        if (a is None) != (b is None): print("NONE", k, a is None, b is None); continue
        if a is None: continue
        if a.shape != b.shape or not np.allclose(a, b, rtol=1e-4, atol=1e-5):
            print("DIFF", k, a.shape, b.shape, a.ravel()[:6], b.ravel()[:6])
