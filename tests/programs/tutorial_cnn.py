"""TensorFlow tutorial images/cnn (a CNN on CIFAR-10), imports changed; CIFAR-10 replaced by a
few hundred synthetic 32x32x3 images (each class a colour pattern plus noise)."""
import numpy as np

import corenn as tf
from corenn.keras import datasets, layers, models

tf.keras.utils.set_random_seed(0)
rng = np.random.default_rng(6)
patterns = np.zeros((10, 32, 32, 3))
for k in range(10):   # class k: a coloured band in its own place
    patterns[k, 3 * k: 3 * k + 4, :, k % 3] = 255
    patterns[k, :, 3 * k: 3 * k + 4, (k + 1) % 3] = 200
train_labels, test_labels = rng.integers(0, 10, (300, 1)), rng.integers(0, 10, (100, 1))
train_images = np.clip(patterns[train_labels[:, 0]] + rng.normal(0, 50, (300, 32, 32, 3)), 0, 255).astype("uint8")
test_images = np.clip(patterns[test_labels[:, 0]] + rng.normal(0, 50, (100, 32, 32, 3)), 0, 255).astype("uint8")

# Normalize pixel values to be between 0 and 1
train_images, test_images = train_images / 255.0, test_images / 255.0

class_names = ['airplane', 'automobile', 'bird', 'cat', 'deer',
               'dog', 'frog', 'horse', 'ship', 'truck']

model = models.Sequential()
model.add(layers.Conv2D(32, (3, 3), activation='relu', input_shape=(32, 32, 3)))
model.add(layers.MaxPooling2D((2, 2)))
model.add(layers.Conv2D(64, (3, 3), activation='relu'))
model.add(layers.MaxPooling2D((2, 2)))
model.add(layers.Conv2D(64, (3, 3), activation='relu'))
model.summary()
assert model.output_shape == (None, 4, 4, 64)

model.add(layers.Flatten())
model.add(layers.Dense(64, activation='relu'))
model.add(layers.Dense(10))
model.summary()
assert model.count_params() == 122570  # the tutorial's "Total params: 122,570"

model.compile(optimizer='adam',
              loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=['accuracy'])

history = model.fit(train_images, train_labels, epochs=4,
                    validation_data=(test_images, test_labels), verbose=0)
assert len(history.history['accuracy']) == 4 and 'val_accuracy' in history.history

test_loss, test_acc = model.evaluate(test_images,  test_labels, verbose=2)
print(test_acc)
assert test_acc > 0.8, test_acc
