"""TensorFlow tutorial "Save and load a model using a distribution strategy"
(tutorials/distribute/save_and_load), its Keras parts, imports changed: a Conv2D model built and
compiled under `tf.distribute.MirroredStrategy().scope()` (BATCH_SIZE_PER_REPLICA *
num_replicas_in_sync), a tf.data pipeline (map(scale).cache().shuffle().batch()), fit, Keras'
`model.save("....keras")` and `tf.keras.models.load_model` outside any strategy and inside a
`OneDeviceStrategy("/cpu:0")` scope, training the restored models further, `model.save(path)`
to a name without an extension with `tf.saved_model.SaveOptions(experimental_io_device=
"/job:localhost")` and `load_model(path, options=tf.saved_model.LoadOptions(...))` under a
MirroredStrategy, and a subclassed model whose early `save` raises ValueError (caught, as the
page does), then trains on `Dataset.from_tensors(...).repeat().batch()` and saves. MNIST from
tensorflow_datasets is replaced by 512 / 128 synthetic 28x28 digits (a bright bar whose position
is the label); the paths are relative instead of /tmp. Left out: the `tf.saved_model.save` /
`tf.saved_model.load` cells and their serving signatures (a TensorFlow SavedModel is a graph,
which corenn does not write), the TF Hub `hub.KerasLayer` cell, and `model.save_spec()`
(TF-Keras 2 only; Keras 3 has none). Checked: the restored models predict what the saved one
did, keep training, and the option objects' fields."""
import numpy as np

import corenn as tf

tf.keras.utils.set_random_seed(0)
mirrored_strategy = tf.distribute.MirroredStrategy()


def synthetic_mnist(n, seed):   # tfds.load(name='mnist', as_supervised=True)
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    images = rng.integers(0, 40, (n, 28, 28, 1)).astype(np.uint8)
    for img, y in zip(images, labels):
        img[2 + 2 * y:4 + 2 * y, 4:24] = 250
    return tf.data.Dataset.from_tensor_slices((images, labels))


def get_data():
    mnist_train, mnist_test = synthetic_mnist(512, 1), synthetic_mnist(128, 2)

    BUFFER_SIZE = 10000

    BATCH_SIZE_PER_REPLICA = 64
    BATCH_SIZE = BATCH_SIZE_PER_REPLICA * mirrored_strategy.num_replicas_in_sync

    def scale(image, label):
        image = tf.cast(image, tf.float32)
        image /= 255

        return image, label

    train_dataset = mnist_train.map(scale).cache().shuffle(BUFFER_SIZE).batch(BATCH_SIZE)
    eval_dataset = mnist_test.map(scale).batch(BATCH_SIZE)

    return train_dataset, eval_dataset


def get_model():
    with mirrored_strategy.scope():
        model = tf.keras.Sequential([
            tf.keras.layers.Conv2D(32, 3, activation='relu', input_shape=(28, 28, 1)),
            tf.keras.layers.MaxPooling2D(),
            tf.keras.layers.Flatten(),
            tf.keras.layers.Dense(64, activation='relu'),
            tf.keras.layers.Dense(10)
        ])

        model.compile(loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      optimizer=tf.keras.optimizers.Adam(),
                      metrics=[tf.metrics.SparseCategoricalAccuracy()])
        return model


model = get_model()
train_dataset, eval_dataset = get_data()
model.fit(train_dataset, epochs=2)

keras_model_path = 'keras_save.keras'
model.save(keras_model_path)

eval_images = next(iter(eval_dataset))[0]
before = model.predict(eval_images, verbose=0)

restored_keras_model = tf.keras.models.load_model(keras_model_path)
np.testing.assert_allclose(restored_keras_model.predict(eval_images, verbose=0), before, rtol=1e-5, atol=1e-5)
history = restored_keras_model.fit(train_dataset, epochs=2)
assert history.history["loss"][-1] < history.history["loss"][0]

another_strategy = tf.distribute.OneDeviceStrategy('/cpu:0')
with another_strategy.scope():
    restored_keras_model_ds = tf.keras.models.load_model(keras_model_path)
    np.testing.assert_allclose(restored_keras_model_ds.predict(eval_images, verbose=0), before, rtol=1e-5,
                               atol=1e-5)
    restored_keras_model_ds.fit(train_dataset, epochs=2)
_, accuracy = restored_keras_model_ds.evaluate(eval_dataset, verbose=0)
print("accuracy after 4 epochs:", accuracy)
assert accuracy > 0.5, accuracy

# (tf.saved_model.save / load and the serving signature: left out, see the docstring)

model = get_model()

# Saving the model to a path on localhost.
saved_model_path = 'tf_save'
save_options = tf.saved_model.SaveOptions(experimental_io_device='/job:localhost')
model.save(saved_model_path, options=save_options)
assert save_options.experimental_io_device == '/job:localhost'

# Loading the model from a path on localhost.
another_strategy = tf.distribute.MirroredStrategy()
with another_strategy.scope():
    load_options = tf.saved_model.LoadOptions(experimental_io_device='/job:localhost')
    loaded = tf.keras.models.load_model(saved_model_path, options=load_options)
np.testing.assert_allclose(loaded.predict(eval_images, verbose=0), model.predict(eval_images, verbose=0),
                           rtol=1e-5, atol=1e-5)


class SubclassedModel(tf.keras.Model):
    """Example model defined by subclassing `tf.keras.Model`."""

    output_name = 'output_layer'

    def __init__(self):
        super(SubclassedModel, self).__init__()
        self._dense_layer = tf.keras.layers.Dense(
            5, dtype=tf.dtypes.float32, name=self.output_name)

    def call(self, inputs):
        return self._dense_layer(inputs)


my_model = SubclassedModel()
try:
    my_model.save(saved_model_path)
    raise AssertionError("saving a subclassed model never called did not raise")
except ValueError as e:
    print(f'{type(e).__name__}: ', *e.args)

BATCH_SIZE_PER_REPLICA = 4
BATCH_SIZE = BATCH_SIZE_PER_REPLICA * mirrored_strategy.num_replicas_in_sync

dataset_size = 100
dataset = tf.data.Dataset.from_tensors(
    (tf.range(5, dtype=tf.float32), tf.range(5, dtype=tf.float32))
    ).repeat(dataset_size).batch(BATCH_SIZE)

my_model.compile(optimizer='adam', loss='mean_squared_error')
history = my_model.fit(dataset, epochs=2)
assert len(history.history["loss"]) == 2

my_model.save(saved_model_path)
# (TF-Keras 2 wrote a SavedModel directory here, Keras 3 refuses the name; corenn writes its
# model directory. Reading it back would need SubclassedModel.get_config, as in Keras.)
import os  # noqa: E402
assert os.path.isdir(saved_model_path)
