"""TensorFlow tutorial keras/overfit_and_underfit, imports changed. The Higgs CSV and its
tf.data pipeline are replaced by synthetic arrays of 28 features; tensorflow_docs' EpochDots and
the TensorBoard callback are left out; the models are the tutorial's (tiny, small, L2, dropout,
combined), trained for a few epochs."""
import numpy as np

import corenn as tf
from corenn.keras import layers
from corenn.keras import regularizers

print(tf.__version__)
tf.keras.utils.set_random_seed(0)

FEATURES = 28
N_VALIDATION = 200
N_TRAIN = 1000
BATCH_SIZE = 100
STEPS_PER_EPOCH = N_TRAIN // BATCH_SIZE

rng = np.random.default_rng(3)
x = rng.normal(size=(N_TRAIN + N_VALIDATION, FEATURES)).astype("float32")
w = rng.normal(size=FEATURES)
label = (x @ w + 0.5 * rng.normal(size=len(x)) > 0).astype("float32")
train_x, validate_x = x[N_VALIDATION:], x[:N_VALIDATION]
train_y, validate_y = label[N_VALIDATION:], label[:N_VALIDATION]

lr_schedule = tf.keras.optimizers.schedules.InverseTimeDecay(
  0.001,
  decay_steps=STEPS_PER_EPOCH*1000,
  decay_rate=1,
  staircase=False)

assert np.isclose(float(lr_schedule(STEPS_PER_EPOCH * 1000)), 0.0005)


def get_optimizer():
  return tf.keras.optimizers.Adam(lr_schedule)


def get_callbacks(name):
  return [
    tf.keras.callbacks.EarlyStopping(monitor='val_binary_crossentropy', patience=200),
  ]


def compile_and_fit(model, name, optimizer=None, max_epochs=20):
  if optimizer is None:
    optimizer = get_optimizer()
  model.compile(optimizer=optimizer,
                loss=tf.keras.losses.BinaryCrossentropy(from_logits=True),
                metrics=[
                  tf.keras.metrics.BinaryCrossentropy(
                      from_logits=True, name='binary_crossentropy'),
                  'accuracy'])

  model.summary()

  history = model.fit(
    train_x, train_y,
    batch_size=BATCH_SIZE,
    epochs=max_epochs,
    validation_data=(validate_x, validate_y),
    callbacks=get_callbacks(name),
    verbose=0)
  return history


tiny_model = tf.keras.Sequential([
    layers.Dense(16, activation='elu', input_shape=(FEATURES,)),
    layers.Dense(1)
])

size_histories = {}
size_histories['Tiny'] = compile_and_fit(tiny_model, 'sizes/Tiny')

small_model = tf.keras.Sequential([
    # `input_shape` is only required here so that `.summary` works.
    layers.Dense(16, activation='elu', input_shape=(FEATURES,)),
    layers.Dense(16, activation='elu'),
    layers.Dense(1)
])
size_histories['Small'] = compile_and_fit(small_model, 'sizes/Small')

l2_model = tf.keras.Sequential([
    layers.Dense(64, activation='elu',
                 kernel_regularizer=regularizers.l2(0.001),
                 input_shape=(FEATURES,)),
    layers.Dense(64, activation='elu',
                 kernel_regularizer=regularizers.l2(0.001)),
    layers.Dense(1)
])
regularizer_histories = {}
regularizer_histories['l2'] = compile_and_fit(l2_model, "regularizers/l2")

dropout_model = tf.keras.Sequential([
    layers.Dense(64, activation='elu', input_shape=(FEATURES,)),
    layers.Dropout(0.5),
    layers.Dense(64, activation='elu'),
    layers.Dropout(0.5),
    layers.Dense(1)
])
regularizer_histories['dropout'] = compile_and_fit(dropout_model, "regularizers/dropout")

combined_model = tf.keras.Sequential([
    layers.Dense(64, kernel_regularizer=regularizers.l2(0.0001),
                 activation='elu', input_shape=(FEATURES,)),
    layers.Dropout(0.5),
    layers.Dense(64, kernel_regularizer=regularizers.l2(0.0001),
                 activation='elu'),
    layers.Dropout(0.5),
    layers.Dense(1)
])
regularizer_histories['combined'] = compile_and_fit(combined_model, "regularizers/combined")

for name, h in {**size_histories, **regularizer_histories}.items():
  hist = h.history
  assert set(hist) >= {'loss', 'binary_crossentropy', 'accuracy', 'val_loss',
                       'val_binary_crossentropy', 'val_accuracy'}, hist.keys()
  assert hist['val_accuracy'][-1] > 0.8, (name, hist['val_accuracy'])
  assert hist['binary_crossentropy'][-1] < hist['binary_crossentropy'][0], name

# the metric is the loss without the L2 penalty: the regularized model's loss is larger
h = regularizer_histories['l2'].history
assert all(l > b for l, b in zip(h['loss'], h['binary_crossentropy']))
# without regularization the compiled loss is the same binary cross-entropy
h = size_histories['Tiny'].history
np.testing.assert_allclose(h['val_loss'], h['val_binary_crossentropy'], rtol=1e-4)
