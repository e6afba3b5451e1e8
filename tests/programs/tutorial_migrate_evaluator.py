"""TensorFlow guide "Migrate evaluation" (guide/migrate/evaluator), imports changed: the TF2 part
(the TF1 part needs tf.compat.v1.estimator, which corenn does not have): a Sequential with
Flatten(input_shape=...) / Dense / Dropout compiled with steps_per_execution=10 and
run_eagerly=True, fit with ModelCheckpoint(filepath=os.path.join(log_dir, 'ckpt-{epoch}'),
save_weights_only=True) (tf.keras 2's checkpoint format: a name without extension), then
tf.keras.utils.SidecarEvaluator(model=..., data=..., checkpoint_dir=log_dir,
max_evaluations=1).start() evaluating that checkpoint. MNIST is replaced by 1200 synthetic digits
(1000 train, 200 test). Checked: the evaluator loaded the checkpoint's weights (an untrained
model evaluated by it gives the trained model's numbers) and its training step, and stopped
after ckpt-1."""
import os
import tempfile

import numpy as np

import corenn as tf

rng = np.random.default_rng(0)
templates = np.zeros((10, 28, 28))
for k in range(10):
  templates[k, 2 + 2 * k: 5 + 2 * k, 4:24] = 255
  templates[k, 4:24, 2 + 2 * k: 5 + 2 * k] = 160
y_all = rng.integers(0, 10, 1200).astype("uint8")
x_all = np.clip(templates[y_all] + rng.normal(0, 60, (1200, 28, 28)), 0, 255).astype("uint8")
(x_train, y_train), (x_test, y_test) = (x_all[:1000], y_all[:1000]), (x_all[1000:], y_all[1000:])
x_train, x_test = x_train / 255.0, x_test / 255.0

tf.keras.utils.set_random_seed(0)


def create_model():
  return tf.keras.models.Sequential([
    tf.keras.layers.Flatten(input_shape=(28, 28)),
    tf.keras.layers.Dense(512, activation='relu'),
    tf.keras.layers.Dropout(0.2),
    tf.keras.layers.Dense(10)
  ])


loss = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)

model = create_model()
model.compile(optimizer='adam',
              loss=loss,
              metrics=['accuracy'],
              steps_per_execution=10,
              run_eagerly=True)

log_dir = tempfile.mkdtemp()
model_checkpoint = tf.keras.callbacks.ModelCheckpoint(
    filepath=os.path.join(log_dir, 'ckpt-{epoch}'),
    save_weights_only=True)

model.fit(x=x_train,
          y=y_train,
          epochs=1,
          callbacks=[model_checkpoint])

data = tf.data.Dataset.from_tensor_slices((x_test, y_test))
data = data.batch(64)

# the check, part 1: what the trained model itself gives on the test data
trained = model.evaluate(data, return_dict=True, verbose=0)

# the page hands the evaluator the trained model; a fresh compiled copy shows the evaluator
# really loads the checkpoint into the model it is given
fresh = create_model()
fresh.compile(optimizer='adam', loss=loss, metrics=['accuracy'])
fresh.build((None, 28, 28))
before = fresh.evaluate(data, return_dict=True, verbose=0)

tf.keras.utils.SidecarEvaluator(
    model=model,
    data=data,
    checkpoint_dir=log_dir,
    max_evaluations=1
).start()

evaluator = tf.keras.utils.SidecarEvaluator(model=fresh, data=data, checkpoint_dir=log_dir, max_evaluations=1)
evaluator.start()
[(path, after)] = evaluator.results
print("trained:", trained, "fresh before:", before, "fresh after", path, after)
assert path.endswith("ckpt-1")
assert trained["accuracy"] > 0.9 and before["accuracy"] < 0.5, (trained, before)
np.testing.assert_allclose([after["loss"], after["accuracy"]], [trained["loss"], trained["accuracy"]], rtol=1e-5)
assert int(fresh.optimizer.iterations) == 32   # 1000 samples in batches of 32: the checkpoint's step
