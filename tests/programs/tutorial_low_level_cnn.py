"""The low-level TensorFlow 2 style of "Customization basics" / "Intro to modules" applied to a
CNN, imports changed: the weights are tf.Variables in a tf.Module (HWIO conv filters), the
forward pass is tf.nn.conv2d / tf.nn.bias_add / tf.nn.relu / tf.nn.max_pool2d / tf.nn.avg_pool2d
and tf.matmul, trained by a GradientTape loop with an optimizer. Task: tell 8x8 images with a
vertical bar from ones with a horizontal bar. Asserts the accuracy and checks one conv output
against a direct loop."""
import numpy as np

import corenn as tf

tf.random.set_seed(3)
rng = np.random.default_rng(3)


def make_images(n):
    images = rng.normal(0.0, 0.3, (n, 8, 8, 1)).astype("float32")
    labels = rng.integers(0, 2, n)
    for k in range(n):
        pos = rng.integers(1, 7)
        if labels[k]:
            images[k, :, pos, 0] += 1.0      # a vertical bar
        else:
            images[k, pos, :, 0] += 1.0      # a horizontal bar
    return images, labels.astype("int32")


x_train, y_train = make_images(256)
x_test, y_test = make_images(128)


class LowLevelCNN(tf.Module):
    def __init__(self, name=None):
        super().__init__(name=name)
        init = tf.random_normal_initializer(stddev=0.3)
        self.w1 = tf.Variable(init([3, 3, 1, 8]), name="w1")          # (h, w, in, out)
        self.b1 = tf.Variable(tf.zeros([8]), name="b1")
        self.w2 = tf.Variable(init([3, 3, 8, 8]), name="w2")
        self.b2 = tf.Variable(tf.zeros([8]), name="b2")
        self.wd = tf.Variable(init([2 * 2 * 8, 2]), name="wd")
        self.bd = tf.Variable(tf.zeros([2]), name="bd")

    def __call__(self, x):
        x = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, self.w1, strides=[1, 1, 1, 1], padding="SAME"), self.b1))
        x = tf.nn.max_pool2d(x, ksize=2, strides=2, padding="VALID")                   # 4x4
        x = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, self.w2, strides=1, padding=[[0, 0], [1, 1], [1, 1], [0, 0]]),
                                      self.b2))
        x = tf.nn.avg_pool2d(x, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")  # 2x2
        x = tf.reshape(x, [-1, 2 * 2 * 8])
        return tf.matmul(x, self.wd) + self.bd


model = LowLevelCNN()
assert len(model.trainable_variables) == 6

# the first convolution against a direct loop over the taps (SAME: one pixel of zeros around)
probe = x_train[:2]
conv = tf.nn.conv2d(probe, model.w1, strides=1, padding="SAME").numpy()
padded = np.pad(probe.astype(np.float64), [(0, 0), (1, 1), (1, 1), (0, 0)])
w1 = model.w1.numpy().astype(np.float64)
direct = np.zeros((2, 8, 8, 8))
for i in range(8):
    for j in range(8):
        direct[:, i, j, :] = np.einsum("nhwc,hwco->no", padded[:, i:i + 3, j:j + 3, :], w1)
np.testing.assert_allclose(conv, direct, rtol=1e-4, atol=1e-5)

optimizer = tf.keras.optimizers.Adam(learning_rate=0.02)


def loss_fn(logits, labels):
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))


losses = []
for epoch in range(6):
    for start in range(0, 256, 32):
        xb, yb = x_train[start:start + 32], y_train[start:start + 32]
        with tf.GradientTape() as tape:
            loss = loss_fn(model(xb), yb)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        losses.append(float(loss))
    print(f"epoch {epoch}: loss {np.mean(losses[-8:]):.4f}")

accuracy = float(np.mean(np.argmax(model(x_test).numpy(), axis=1) == y_test))
print("test accuracy", accuracy)
assert accuracy > 0.95, accuracy
assert np.mean(losses[-8:]) < 0.3 * np.mean(losses[:8])
