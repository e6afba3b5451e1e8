"""TensorFlow tutorial images/classification (flowers, with data augmentation and dropout),
imports changed. The flower photos read by image_dataset_from_directory are replaced by small
synthetic 32x32 images of five classes (the tutorial's 180x180 would not train in seconds);
the data augmentation block is called directly to show augmented images, as the tutorial does."""
import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers
from corenn.keras.models import Sequential

tf.keras.utils.set_random_seed(123)

batch_size = 32
img_height = 32
img_width = 32
class_names = ['daisy', 'dandelion', 'roses', 'sunflowers', 'tulips']
num_classes = len(class_names)

rng = np.random.default_rng(11)
yy, xx = np.mgrid[0:img_height, 0:img_width]


def flowers(n):
    """Class k: a blob of colour k at a random place, on a noisy background (uint8 pixels)."""
    labels = rng.integers(0, num_classes, n)
    images = rng.normal(90, 30, (n, img_height, img_width, 3))
    colours = np.array([[250, 250, 250], [250, 220, 0], [220, 0, 40], [250, 160, 0], [160, 0, 200]])
    for i, k in enumerate(labels):
        cy, cx = rng.integers(8, 24, 2)
        blob = (yy - cy) ** 2 + (xx - cx) ** 2 < 36
        images[i][blob] = colours[k]
    return np.clip(images, 0, 255).astype("float32"), labels


train_images, train_labels = flowers(320)
val_images, val_labels = flowers(100)

normalization_layer = layers.Rescaling(1./255)
normalized = normalization_layer(train_images[:batch_size])
first_image = normalized[0]
# Notice the pixel values are now in `[0,1]`.
print(np.min(first_image), np.max(first_image))
assert 0.0 <= np.min(first_image) and np.max(first_image) <= 1.0

data_augmentation = keras.Sequential(
  [
    layers.RandomFlip("horizontal",
                      input_shape=(img_height,
                                  img_width,
                                  3)),
    layers.RandomRotation(0.1),
    layers.RandomZoom(0.1),
  ]
)

# Visualize a few augmented examples (here: check they differ from the image)
images = train_images[:9]
augmented_images = data_augmentation(images)
assert augmented_images.shape == images.shape
assert not np.allclose(np.asarray(augmented_images), images)

model = Sequential([
  data_augmentation,
  layers.Rescaling(1./255),
  layers.Conv2D(16, 3, padding='same', activation='relu'),
  layers.MaxPooling2D(),
  layers.Conv2D(32, 3, padding='same', activation='relu'),
  layers.MaxPooling2D(),
  layers.Conv2D(64, 3, padding='same', activation='relu'),
  layers.MaxPooling2D(),
  layers.Dropout(0.2),
  layers.Flatten(),
  layers.Dense(128, activation='relu'),
  layers.Dense(num_classes, name="outputs")
])

model.compile(optimizer='adam',
              loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=['accuracy'])
model.summary()

epochs = 6
history = model.fit(
  train_images, train_labels,
  batch_size=batch_size,
  validation_data=(val_images, val_labels),
  epochs=epochs, verbose=0
)
acc = history.history['accuracy']
val_acc = history.history['val_accuracy']
print(acc, val_acc)
assert val_acc[-1] > 0.8, val_acc

# Predict on new data
img = val_images[0].astype("uint8")
img_array = tf.keras.utils.img_to_array(img)
img_array = tf.expand_dims(img_array, 0) # Create a batch

predictions = model.predict(img_array)
score = tf.nn.softmax(predictions[0])

print(
    "This image most likely belongs to {} with a {:.2f} percent confidence."
    .format(class_names[np.argmax(score)], 100 * np.max(score))
)
assert np.isclose(float(tf.reduce_sum(score)), 1.0, atol=1e-5)
# predict does not augment: the same image gives the same scores
np.testing.assert_array_equal(model.predict(img_array), predictions)
