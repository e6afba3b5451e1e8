"""Keras guide "Writing a training loop from scratch" (TensorFlow backend) with the TensorBoard
logging of the TF 2 guides, imports changed: an MLP trained by a @tf.function train_step
(GradientTape, optimizer.apply_gradients, tf.nn.compute_average_loss), metrics updated per
batch, and per-epoch tf.summary.scalar / histogram written by tf.summary.create_file_writer
under logs/train and logs/validation. Synthetic 3-class data stands in for MNIST. Asserts the
validation accuracy and that the event files hold one scalar per epoch."""
import os
import struct

import numpy as np

import corenn as tf
from corenn import keras

keras.utils.set_random_seed(1)
rng = np.random.default_rng(1)
centers = rng.standard_normal((3, 20)) * 2.0
y_all = rng.integers(0, 3, 900)
x_all = (centers[y_all] + rng.standard_normal((900, 20))).astype("float32")
x_train, y_train = x_all[:768], y_all[:768]
x_val, y_val = x_all[768:], y_all[768:]

inputs = keras.Input(shape=(20,), name="digits")
x1 = keras.layers.Dense(64, activation="relu")(inputs)
x2 = keras.layers.Dense(64, activation="relu")(x1)
outputs = keras.layers.Dense(3, name="predictions")(x2)
model = keras.Model(inputs=inputs, outputs=outputs)

optimizer = keras.optimizers.Adam(learning_rate=1e-3)
loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
train_acc_metric = keras.metrics.SparseCategoricalAccuracy()
val_acc_metric = keras.metrics.SparseCategoricalAccuracy()

batch_size = 64
train_dataset = tf.data.Dataset.from_tensor_slices((x_train, y_train)).shuffle(1024, seed=0).batch(batch_size)
val_dataset = tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(batch_size)

train_writer = tf.summary.create_file_writer("logs/train")
val_writer = tf.summary.create_file_writer("logs/validation")


@tf.function
def train_step(x, y):
    with tf.GradientTape() as tape:
        logits = model(x, training=True)
        per_example = loss_fn(y, logits)
        loss_value = tf.nn.compute_average_loss(per_example, global_batch_size=batch_size)
    grads = tape.gradient(loss_value, model.trainable_weights)
    optimizer.apply_gradients(zip(grads, model.trainable_weights))
    train_acc_metric.update_state(y, logits)
    return loss_value


@tf.function
def test_step(x, y):
    val_logits = model(x, training=False)
    val_acc_metric.update_state(y, val_logits)


epochs = 4
for epoch in range(epochs):
    losses = []
    for step, (x_batch_train, y_batch_train) in enumerate(train_dataset):
        losses.append(float(train_step(x_batch_train, y_batch_train)))
    train_acc = train_acc_metric.result()
    with train_writer.as_default():
        tf.summary.scalar("loss", np.mean(losses), step=epoch)
        tf.summary.scalar("accuracy", train_acc, step=epoch)
        tf.summary.histogram("dense_kernel", model.layers[1].kernel, step=epoch)
    train_acc_metric.reset_state()
    for x_batch_val, y_batch_val in val_dataset:
        test_step(x_batch_val, y_batch_val)
    val_acc = val_acc_metric.result()
    with val_writer.as_default(step=epoch):
        tf.summary.scalar("accuracy", val_acc)
    val_acc_metric.reset_state()
    print(f"epoch {epoch}: loss {np.mean(losses):.4f} train acc {float(train_acc):.4f} "
          f"val acc {float(val_acc):.4f}")

train_writer.close()
val_writer.close()
assert float(val_acc) > 0.9, float(val_acc)


def tags_by_step(logdir):
    """(step, tag) of every value in the one event file of logdir (TFRecord framing read here)."""
    (name,) = [f for f in os.listdir(logdir) if f.startswith("events.out.tfevents.")]
    with open(os.path.join(logdir, name), "rb") as f:
        raw = f.read()
    out, i = [], 0
    while i < len(raw):
        (n,) = struct.unpack("<Q", raw[i:i + 8])
        body = raw[i + 12:i + 12 + n]
        i += 16 + n
        if b"brain.Event" in body:
            continue
        step = body[10] if body[9] == 0x10 else None       # field 2 (varint) after the 9-byte wall_time
        for tag in (b"loss", b"accuracy", b"dense_kernel"):
            if b"\x0a" + bytes([len(tag)]) + tag in body:
                out.append((step, tag.decode()))
    return out


assert tags_by_step("logs/train") == [(e, t) for e in range(epochs) for t in ("loss", "accuracy", "dense_kernel")]
assert tags_by_step("logs/validation") == [(e, "accuracy") for e in range(epochs)]
