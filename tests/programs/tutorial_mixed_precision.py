"""TensorFlow guide "Mixed precision" (guide/mixed_precision), imports changed: a
keras.mixed_precision.Policy('mixed_float16') set globally, the policy's and layers'
compute_dtype / variable_dtype, a functional model with a float32 softmax Activation
(dtype='float32'), fit / evaluate, then the custom training loop with a LossScaleOptimizer
(get_scaled_loss, get_unscaled_gradients, apply_gradients). corenn computes in float32: the
policy is accepted with a one-time warning and every dtype attribute reports 'float32', what
really runs (README, "Mixed precision"); the loss-scale arithmetic is Keras'. MNIST is a
Fashion-MNIST subset; the model's 4096-unit layers are 64 units."""
import warnings

import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers
from corenn.keras import mixed_precision
from guide_data import fashion

keras.utils.set_random_seed(0)

with warnings.catch_warnings(record=True) as caught:
  warnings.simplefilter("always")
  policy = mixed_precision.Policy('mixed_float16')
  mixed_precision.set_global_policy(policy)
assert any("float32" in str(w.message) for w in caught) or mixed_precision.global_policy().name == 'mixed_float16'

print('Compute dtype: %s' % policy.compute_dtype)
print('Variable dtype: %s' % policy.variable_dtype)
assert policy.name == 'mixed_float16' and mixed_precision.global_policy() == policy
assert policy.compute_dtype == 'float32' and policy.variable_dtype == 'float32'   # what corenn runs

inputs = keras.Input(shape=(784,), name='digits')
num_units = 64
dense1 = layers.Dense(num_units, activation='relu', name='dense_1')
x = dense1(inputs)
dense2 = layers.Dense(num_units, activation='relu', name='dense_2')
x = dense2(x)

print(dense1.dtype_policy)
print('x.dtype: %s' % x.dtype.name)
# 'kernel' is dense1's variable
print('dense1.kernel.dtype: %s' % dense1.kernel.dtype.name)
assert dense1.dtype_policy.name == 'mixed_float16' and dense1.compute_dtype == 'float32'
assert x.dtype.name == 'float32' and dense1.kernel.dtype.name == 'float32'

# INCORRECT: softmax and model output will be float16, when it should be float32
outputs = layers.Dense(10, activation='softmax', name='predictions')(x)
print('Outputs dtype: %s' % outputs.dtype.name)

# CORRECT: softmax and model output are float32
x = layers.Dense(10, name='dense_logits')(x)
outputs = layers.Activation('softmax', dtype='float32', name='predictions')(x)
print('Outputs dtype: %s' % outputs.dtype.name)
assert outputs.dtype == 'float32'

# The linear activation is an identity function. So this simply casts 'outputs'
# to float32. In this particular case, 'outputs' is already float32 so this is a
# no-op.
outputs = layers.Activation('linear', dtype='float32')(outputs)

model = keras.Model(inputs=inputs, outputs=outputs)
model.compile(loss='sparse_categorical_crossentropy',
              optimizer=keras.optimizers.RMSprop(),
              metrics=['accuracy'])

(x_train, y_train), (x_test, y_test) = fashion(4000, 1000)
x_train = x_train.reshape(4000, 784).astype('float32') / 255
x_test = x_test.reshape(1000, 784).astype('float32') / 255

initial_weights = model.get_weights()

history = model.fit(x_train, y_train,
                    batch_size=256,
                    epochs=4,
                    validation_split=0.2,
                    verbose=0)
test_scores = model.evaluate(x_test, y_test, verbose=2)
print('Test loss:', test_scores[0])
print('Test accuracy:', test_scores[1])
assert test_scores[1] > 0.65, test_scores

# the same model under the float32 policy trains to the same weights: the policy changes nothing
mixed_precision.set_global_policy('float32')
float32_model = keras.models.clone_model(model)
float32_model.set_weights(initial_weights)
float32_model.compile(loss='sparse_categorical_crossentropy', optimizer=keras.optimizers.RMSprop(),
                      metrics=['accuracy'])
keras.utils.set_random_seed(0)
mixed_precision.set_global_policy('mixed_float16')

# -- Loss scaling ----------------------------------------------------------------------------------
optimizer = keras.optimizers.RMSprop()
optimizer = mixed_precision.LossScaleOptimizer(optimizer)
assert optimizer.dynamic_scale == 2.0 ** 15

loss_object = tf.keras.losses.SparseCategoricalCrossentropy()
train_dataset = (tf.data.Dataset.from_tensor_slices((x_train, y_train))
                 .shuffle(10000).batch(256))
test_dataset = tf.data.Dataset.from_tensor_slices((x_test, y_test)).batch(256)


@tf.function
def train_step(x, y):
  with tf.GradientTape() as tape:
    predictions = model(x)
    loss = loss_object(y, predictions)
    scaled_loss = optimizer.get_scaled_loss(loss)
  scaled_gradients = tape.gradient(scaled_loss, model.trainable_variables)
  gradients = optimizer.get_unscaled_gradients(scaled_gradients)
  optimizer.apply_gradients(zip(gradients, model.trainable_variables))
  return loss


# the unscaled gradients are the gradients of the loss itself
xb, yb = x_train[:64], y_train[:64]
with tf.GradientTape() as tape:
  loss = loss_object(yb, model(xb))
plain = tape.gradient(loss, model.trainable_variables)
with tf.GradientTape() as tape:
  scaled_loss = optimizer.get_scaled_loss(loss_object(yb, model(xb)))
unscaled = optimizer.get_unscaled_gradients(tape.gradient(scaled_loss, model.trainable_variables))
for a, b in zip(plain, unscaled):
  np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-5, atol=1e-9)


@tf.function
def test_step(x):
  return model(x, training=False)


model.set_weights(initial_weights)
for epoch in range(4):
  epoch_loss_avg = tf.keras.metrics.Mean()
  test_accuracy = tf.keras.metrics.SparseCategoricalAccuracy(
      name='test_accuracy')
  for x, y in train_dataset:
    loss = train_step(x, y)
    epoch_loss_avg(loss)
  for x, y in test_dataset:
    predictions = test_step(x)
    test_accuracy.update_state(y, predictions)
  print('Epoch {}: loss={}, test accuracy={}'.format(epoch, epoch_loss_avg.result(), test_accuracy.result()))
assert test_accuracy.result().numpy() > 0.65, test_accuracy.result()
assert optimizer.iterations == 4 * 16 and optimizer.dynamic_scale == 2.0 ** 15

# a non-finite gradient skips the step and halves the scale (Keras' dynamic loss scaling)
before = [w.copy() for w in model.get_weights()]
bad = [np.full(tuple(v.shape), np.inf, np.float32) for v in model.trainable_variables]
optimizer.apply_gradients(zip(bad, model.trainable_variables))
assert optimizer.dynamic_scale == 2.0 ** 14
for a, b in zip(model.get_weights(), before):
  np.testing.assert_array_equal(a, b)

# fit with a LossScaleOptimizer (Keras 3 wraps the optimizer so under mixed_float16)
model.compile(loss='sparse_categorical_crossentropy',
              optimizer=mixed_precision.LossScaleOptimizer(keras.optimizers.RMSprop()), metrics=['accuracy'])
model.set_weights(initial_weights)
history = model.fit(x_train, y_train, batch_size=256, epochs=1, verbose=0, shuffle=False)
float32_model.set_weights(initial_weights)
reference = float32_model.fit(x_train, y_train, batch_size=256, epochs=1, verbose=0, shuffle=False)
np.testing.assert_allclose(history.history['loss'], reference.history['loss'], rtol=1e-5)
mixed_precision.set_global_policy('float32')
assert mixed_precision.global_policy().name == 'float32' and layers.Dense(2).dtype_policy.name == 'float32'
# a float64 policy is computed in float64 (corenn's float64 layers), unlike the mixed ones
mixed_precision.set_global_policy('float64')
assert layers.Dense(2).compute_dtype == 'float64'
mixed_precision.set_global_policy('float32')
