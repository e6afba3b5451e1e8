"""TensorFlow 2 control flow as the guides write it ("Introduction to graphs and tf.function",
"Better performance with tf.function": tf.while_loop, tf.TensorArray, tf.cond, tf.map_fn, tf.scan),
imports changed: a small recurrent network whose time loop is a tf.while_loop that writes each
step's state into a tf.TensorArray, trained with a GradientTape to output the running sum of
its inputs; tf.map_fn scales each sequence, tf.scan gives the target, tf.cond picks the
learning-rate phase. Asserts the unrolled forward pass against a NumPy loop, the learned
running sums, and the gradient against finite differences."""
import numpy as np

import corenn as tf

tf.random.set_seed(5)
rng = np.random.default_rng(5)
T, B, H = 6, 16, 8

w_in = tf.Variable(rng.normal(0, 0.3, (1, H)).astype("float32"))
w_rec = tf.Variable(rng.normal(0, 0.3, (H, H)).astype("float32"))
w_out = tf.Variable(rng.normal(0, 0.3, (H, 1)).astype("float32"))
variables = [w_in, w_rec, w_out]


@tf.function
def run_rnn(xs):
    """xs: (T, B, 1) -> outputs (T, B, 1), the loop written with tf.while_loop + TensorArray."""
    steps = tf.shape(xs)[0]
    outputs = tf.TensorArray(tf.float32, size=steps)
    state = tf.zeros([xs.shape[1], H])

    def cond(t, state, outputs):
        return t < steps

    def body(t, state, outputs):
        state = tf.tanh(tf.matmul(xs[t], w_in) + tf.matmul(state, w_rec))
        outputs = outputs.write(t, tf.matmul(state, w_out))
        return t + 1, state, outputs

    _, state, outputs = tf.while_loop(cond, body, (tf.constant(0), state, outputs))
    return outputs.stack()


def make_batch():
    raw = rng.uniform(-1, 1, (B, T)).astype("float32")
    # per-sequence scaling with tf.map_fn, the running-sum target with tf.scan
    scaled = tf.map_fn(lambda seq: seq * 0.5, tf.constant(raw))
    xs = tf.transpose(scaled)[:, :, None]                           # (T, B, 1)
    target = tf.scan(lambda acc, x: acc + x, xs)                    # running sums, (T, B, 1)
    return xs, target


# the forward pass against a NumPy loop
xs, target = make_batch()
out = run_rnn(xs).numpy()
state = np.zeros((B, H))
for t in range(T):
    state = np.tanh(xs.numpy()[t] @ w_in.numpy() + state @ w_rec.numpy())
    np.testing.assert_allclose(out[t], state @ w_out.numpy(), rtol=1e-4, atol=1e-5)
np.testing.assert_allclose(target.numpy(), np.cumsum(xs.numpy(), axis=0), rtol=1e-5, atol=1e-6)

# the tape's gradient through the loop against central differences of the loss
with tf.GradientTape() as tape:
    loss = tf.reduce_mean(tf.square(run_rnn(xs) - target))
grad = tape.gradient(loss, w_out).numpy()
base = w_out.numpy().copy()
for k in range(2):
    for sign in (1, -1):
        bumped = base.copy()
        bumped[k, 0] += sign * 1e-3
        w_out.assign(bumped)
        value = float(tf.reduce_mean(tf.square(run_rnn(xs) - target)))
        if sign == 1:
            up = value
        else:
            down = value
    w_out.assign(base)
    np.testing.assert_allclose(grad[k, 0], (up - down) / 2e-3, rtol=2e-2, atol=1e-4)

optimizer = tf.keras.optimizers.Adam(learning_rate=0.03)
history = []
for step in range(150):
    xs, target = make_batch()
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(run_rnn(xs) - target))
    grads = tape.gradient(loss, variables)
    optimizer.learning_rate = tf.cond(tf.constant(step < 100), lambda: 0.03, lambda: 0.01)
    optimizer.apply_gradients(zip(grads, variables))
    history.append(float(loss))
print("loss: first", np.mean(history[:10]), "last", np.mean(history[-10:]))
assert np.mean(history[-10:]) < 0.1 * np.mean(history[:10])

xs, target = make_batch()
final = run_rnn(xs).numpy()
assert np.max(np.abs(final - target.numpy())) < 0.3, np.max(np.abs(final - target.numpy()))
