"""TensorFlow tutorial keras/classification (basic classification: Fashion MNIST), imports
changed; the images are a small synthetic set with Fashion-MNIST's shapes and dtypes."""
import numpy as np

# TensorFlow and tf.keras
import corenn as tf

rng = np.random.default_rng(1)
# fashion_mnist = tf.keras.datasets.fashion_mnist
# (train_images, train_labels), (test_images, test_labels) = fashion_mnist.load_data()
protos = rng.integers(0, 256, size=(10, 28, 28))
train_labels, test_labels = rng.integers(0, 10, 800).astype("uint8"), rng.integers(0, 10, 200).astype("uint8")
train_images = np.clip(protos[train_labels] + rng.normal(0, 70, (800, 28, 28)), 0, 255).astype("uint8")
test_images = np.clip(protos[test_labels] + rng.normal(0, 70, (200, 28, 28)), 0, 255).astype("uint8")

class_names = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat',
               'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']
assert train_images.shape == (800, 28, 28) and len(train_labels) == 800

train_images = train_images / 255.0
test_images = test_images / 255.0

model = tf.keras.Sequential([
    tf.keras.layers.Flatten(input_shape=(28, 28)),
    tf.keras.layers.Dense(128, activation='relu'),
    tf.keras.layers.Dense(10)
])

model.compile(optimizer='adam',
              loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=['accuracy'])

model.fit(train_images, train_labels, epochs=10, verbose=0)

test_loss, test_acc = model.evaluate(test_images,  test_labels, verbose=2)
print('\nTest accuracy:', test_acc)
assert test_acc > 0.9, test_acc

probability_model = tf.keras.Sequential([model,
                                         tf.keras.layers.Softmax()])
predictions = probability_model.predict(test_images)
assert predictions.shape == (200, 10)
print(predictions[0], np.argmax(predictions[0]), test_labels[0])
assert np.mean(np.argmax(predictions, axis=1) == test_labels) > 0.9

# Grab an image from the test dataset.
img = test_images[1]
# Add the image to a batch where it's the only member.
img = (np.expand_dims(img,0))
assert img.shape == (1, 28, 28)
predictions_single = probability_model.predict(img)
np.testing.assert_allclose(predictions_single[0], predictions[1], rtol=1e-5, atol=1e-6)
label = np.argmax(predictions_single[0])
assert class_names[label] == class_names[np.argmax(predictions[1])]
