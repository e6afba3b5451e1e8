"""TensorFlow tutorial "Load NumPy data" (tutorials/load_data/numpy), imports changed: arrays read
from a .npz file with `np.load` as a context manager, `tf.data.Dataset.from_tensor_slices` of the
(uint8 images, labels) pair, `shuffle(SHUFFLE_BUFFER_SIZE).batch(BATCH_SIZE)`, a Sequential of
`Flatten(input_shape=(28, 28))` on the raw uint8 pixels, Dense layers, RMSprop and the
"sparse_categorical_accuracy" metric by name, then `model.evaluate` of the test dataset. The
MNIST download is replaced by a Fashion-MNIST subset written as mnist.npz (guide_data);
2000 training images, 4 epochs."""
import numpy as np

import corenn as tf

from guide_data import fashion

tf.random.set_seed(0)

# --- the .npz file the tutorial downloads: written here with the same keys -----------------
(x_tr, y_tr), (x_te, y_te) = fashion(2000, 500)
np.savez("mnist.npz", x_train=x_tr, y_train=y_tr, x_test=x_te, y_test=y_te)
path = "mnist.npz"

with np.load(path) as data:
    train_examples = data['x_train']
    train_labels = data['y_train']
    test_examples = data['x_test']
    test_labels = data['y_test']

train_dataset = tf.data.Dataset.from_tensor_slices((train_examples, train_labels))
test_dataset = tf.data.Dataset.from_tensor_slices((test_examples, test_labels))

BATCH_SIZE = 64
SHUFFLE_BUFFER_SIZE = 100

train_dataset = train_dataset.shuffle(SHUFFLE_BUFFER_SIZE).batch(BATCH_SIZE)
test_dataset = test_dataset.batch(BATCH_SIZE)

model = tf.keras.Sequential([
    tf.keras.layers.Flatten(input_shape=(28, 28)),
    tf.keras.layers.Dense(128, activation='relu'),
    tf.keras.layers.Dense(10)
])

model.compile(optimizer=tf.keras.optimizers.RMSprop(),
              loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=['sparse_categorical_accuracy'])

history = model.fit(train_dataset, epochs=4)

result = model.evaluate(test_dataset)

# --- checks -------------------------------------------------------------------------------
print("history", {k: [round(v, 3) for v in vs] for k, vs in history.history.items()}, "evaluate", result)
assert train_examples.dtype == np.uint8 and train_examples.shape == (2000, 28, 28)
spec = train_dataset.element_spec
assert tuple(spec[0].shape) == (None, 28, 28) and tuple(spec[1].shape) == (None,)
assert list(history.history) == ["loss", "sparse_categorical_accuracy"]
loss, accuracy = result
assert accuracy > 0.4, accuracy   # 10 classes (raw 0..255 pixels, as the tutorial feeds them: noisy)
assert history.history["loss"][-1] < history.history["loss"][0] / 2
# evaluate's accuracy is the fraction of test labels the logits' argmax gets right
logits = model.predict(test_examples, verbose=0)
np.testing.assert_allclose(accuracy, np.mean(np.argmax(logits, axis=1) == test_labels), atol=1e-6)
