"""TensorFlow tutorial keras/save_and_load, imports changed; MNIST replaced by synthetic
784-feature samples. Checkpoints during training (ModelCheckpoint with save_weights_only and
the epoch in the file name), manual weights, the whole model in the .keras format."""
import os

import numpy as np

import corenn as tf

print(tf.version.VERSION)
tf.keras.utils.set_random_seed(0)

rng = np.random.default_rng(4)
centers = rng.normal(size=(10, 784))
train_labels, test_labels = rng.integers(0, 10, 500), rng.integers(0, 10, 500)
train_images = (centers[train_labels] + rng.normal(0, 2.0, (500, 784))).astype("float32")
test_images = (centers[test_labels] + rng.normal(0, 2.0, (500, 784))).astype("float32")


# Define a simple sequential model
def create_model():
  model = tf.keras.Sequential([
    tf.keras.layers.Dense(512, activation='relu', input_shape=(784,)),
    tf.keras.layers.Dropout(0.2),
    tf.keras.layers.Dense(10)
  ])

  model.compile(optimizer='adam',
                loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                metrics=[tf.keras.metrics.SparseCategoricalAccuracy()])

  return model


# Create a basic model instance
model = create_model()

# Display the model's architecture
model.summary()

# The tutorial writes Keras' HDF5 weights (cp.weights.h5); corenn writes its own .weights.npz.
checkpoint_path = "training_1/cp.weights.npz"
checkpoint_dir = os.path.dirname(checkpoint_path)

# Create a callback that saves the model's weights
cp_callback = tf.keras.callbacks.ModelCheckpoint(filepath=checkpoint_path,
                                                 save_weights_only=True,
                                                 verbose=1)

# Train the model with the new callback
model.fit(train_images,
          train_labels,
          epochs=10,
          validation_data=(test_images, test_labels),
          callbacks=[cp_callback])  # Pass callback to training
assert os.listdir(checkpoint_dir)

# Create a basic model instance
model = create_model()

# Evaluate the model
loss, acc = model.evaluate(test_images, test_labels, verbose=2)
print("Untrained model, accuracy: {:5.2f}%".format(100 * acc))
assert acc < 0.4

# Loads the weights
model.load_weights(checkpoint_path)

# Re-evaluate the model
loss, acc = model.evaluate(test_images, test_labels, verbose=2)
print("Restored model, accuracy: {:5.2f}%".format(100 * acc))
assert acc > 0.85, acc

# Include the epoch in the file name (uses `str.format`)
checkpoint_path = "training_2/cp-{epoch:04d}.weights.npz"
checkpoint_dir = os.path.dirname(checkpoint_path)

batch_size = 32

# Create a callback that saves the model's weights every 5 epochs
cp_callback = tf.keras.callbacks.ModelCheckpoint(
    filepath=checkpoint_path,
    verbose=1,
    save_weights_only=True,
    save_freq=5*int(np.ceil(len(train_images) / batch_size)))

# Create a new model instance
model = create_model()

# Save the weights using the `checkpoint_path` format
model.save_weights(checkpoint_path.format(epoch=0))

# Train the model with the new callback
model.fit(train_images,
          train_labels,
          epochs=10,
          batch_size=batch_size,
          callbacks=[cp_callback],
          validation_data=(test_images, test_labels),
          verbose=0)

saved = sorted(os.listdir(checkpoint_dir))
print(saved)
assert saved == ["cp-0000.weights.npz", "cp-0005.weights.npz", "cp-0010.weights.npz"], saved
latest = os.path.join(checkpoint_dir, saved[-1])

# Create a new model instance
model = create_model()

# Load the previously saved weights
model.load_weights(latest)

# Re-evaluate the model
loss, acc = model.evaluate(test_images, test_labels, verbose=2)
print("Restored model, accuracy: {:5.2f}%".format(100 * acc))
assert acc > 0.85, acc

# Save the weights
model.save_weights('./checkpoints/my_checkpoint.weights.npz')

# Create a new model instance
model = create_model()

# Restore the weights
model.load_weights('./checkpoints/my_checkpoint.weights.npz')

# Evaluate the model
loss, acc2 = model.evaluate(test_images, test_labels, verbose=2)
assert acc2 == acc

# Create and train a new model instance.
model = create_model()
model.fit(train_images, train_labels, epochs=5, verbose=0)

# Save the entire model as a `.keras` zip archive.
model.save('my_model.keras')
new_model = tf.keras.models.load_model('my_model.keras')

# Show the model architecture
new_model.summary()
# Evaluate the restored model
loss, acc = new_model.evaluate(test_images, test_labels, verbose=2)
print('Restored model, accuracy: {:5.2f}%'.format(100 * acc))
print(new_model.predict(test_images).shape)
np.testing.assert_allclose(new_model.predict(test_images), model.predict(test_images), rtol=1e-6)
assert [type(l).__name__ for l in new_model.layers] == ["Dense", "Dropout", "Dense"]
