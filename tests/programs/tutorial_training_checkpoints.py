"""TensorFlow guide "Training checkpoints" (guide/checkpoint), imports changed: a subclassed
model trained by a custom loop, checkpointed with tf.train.Checkpoint + CheckpointManager
(max_to_keep=3), then "restarted": new objects restore the latest checkpoint before the model
has run and continue. The guide also tracks the dataset iterator (iterator=iterator); corenn
checkpoints do not save an iterator's position, so the restarted loop re-creates the same
pipeline and skips the batches already consumed. Asserts the resumed run's losses equal an
uninterrupted run's, bit for bit."""
import os

import numpy as np

import corenn as tf


class Net(tf.keras.Model):
  """A simple linear model."""

  def __init__(self):
    super(Net, self).__init__()
    self.l1 = tf.keras.layers.Dense(5)

  def call(self, x):
    return self.l1(x)


def toy_dataset():
  inputs = tf.range(10.)[:, None]
  labels = inputs * 5. + tf.range(5.)[None, :]
  return tf.data.Dataset.from_tensor_slices(
    dict(x=inputs, y=labels)).repeat().batch(2)


def train_step(net, example, optimizer):
  """Trains `net` on `example` using `optimizer`."""
  with tf.GradientTape() as tape:
    output = net(example['x'])
    loss = tf.reduce_mean(tf.abs(output - example['y']))
  variables = net.trainable_variables
  gradients = tape.gradient(loss, variables)
  optimizer.apply_gradients(zip(gradients, variables))
  return loss


def make(directory):
  tf.keras.utils.set_random_seed(0)   # the reference run and the first run start from one init
  net = Net()
  opt = tf.keras.optimizers.Adam(0.1)
  ckpt = tf.train.Checkpoint(step=tf.Variable(1), optimizer=opt, net=net)
  manager = tf.train.CheckpointManager(ckpt, directory, max_to_keep=3)
  return net, opt, ckpt, manager


def train_and_checkpoint(net, opt, ckpt, manager, steps):
  ckpt.restore(manager.latest_checkpoint)
  if manager.latest_checkpoint:
    print("Restored from {}".format(manager.latest_checkpoint))
  else:
    print("Initializing from scratch.")
  iterator = iter(toy_dataset())
  for _ in range(int(ckpt.step) - 1):     # the batches the restored run already used
    next(iterator)
  losses = []
  for _ in range(steps):
    example = next(iterator)
    loss = train_step(net, example, opt)
    losses.append(float(loss))
    ckpt.step.assign_add(1)
    if int(ckpt.step) % 10 == 0:
      save_path = manager.save()
      print("Saved checkpoint for step {}: {}".format(int(ckpt.step), save_path))
      print("loss {:1.2f}".format(loss.numpy()))
  return losses


# an uninterrupted run of 80 steps, for comparison
reference = train_and_checkpoint(*make('./tf_ckpts_reference'), steps=80)

# the guide's run: 50 steps, then a "restart" that resumes from the latest checkpoint (step 50)
first = train_and_checkpoint(*make('./tf_ckpts'), steps=49)
net, opt, ckpt, manager = make('./tf_ckpts')
assert manager.latest_checkpoint.endswith("ckpt-5"), manager.latest_checkpoint
resumed = train_and_checkpoint(net, opt, ckpt, manager, steps=31)
assert int(ckpt.step) == 81 and int(opt.iterations) == 80
assert first + resumed == reference, "the resumed run must continue exactly where the first stopped"
assert reference[-1] < 0.25 * reference[0]
print(manager.checkpoints)  # List the three remaining checkpoints
assert [os.path.basename(p) for p in manager.checkpoints] == ["ckpt-6", "ckpt-7", "ckpt-8"]
assert tf.train.latest_checkpoint('./tf_ckpts') == manager.checkpoints[-1]
assert sorted(os.listdir('./tf_ckpts')) == ["checkpoint", "ckpt-6.corenn-ckpt", "ckpt-7.corenn-ckpt",
                                            "ckpt-8.corenn-ckpt"]
