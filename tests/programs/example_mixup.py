"""keras-io examples/vision/mixup (MixUp augmentation for image classification), imports changed
only (`import keras`, `from tensorflow import data as tf_data`, `tensorflow.random` ->
corenn). Fashion-MNIST is replaced by synthetic 28x28 images of 10 classes; two shuffled tf.data
pipelines are zipped and mixed with Beta-distributed weights drawn from two Gamma samples."""
import numpy as np
import corenn as keras
from corenn import data as tf_data
from corenn import random as tf_random
from corenn.keras import layers

keras.utils.set_random_seed(15)
rng = np.random.default_rng(15)
rows, cols = np.mgrid[0:28, 0:28]
# class k: stripes, horizontal for k < 5 and vertical otherwise, of period 2..6 (local patterns a
# small convnet with global pooling tells apart)
templates = np.stack([((rows if k < 5 else cols) % (2 + k % 5) == 0) for k in range(10)]).astype("float32")


def images(n):
    y = rng.integers(0, 10, n)
    x = np.clip(templates[y] * 0.8 + rng.normal(0.1, 0.2, (n, 28, 28)), 0, 1)
    return (x * 255).astype("uint8"), y


(x_train, y_train), (x_test, y_test) = images(800), images(200)
x_train = x_train.astype("float32") / 255.0
x_train = np.reshape(x_train, (-1, 28, 28, 1))
y_train = keras.ops.one_hot(y_train, 10)
x_test = x_test.astype("float32") / 255.0
x_test = np.reshape(x_test, (-1, 28, 28, 1))
y_test = keras.ops.one_hot(y_test, 10)

AUTO = tf_data.AUTOTUNE
BATCH_SIZE = 32
EPOCHS = 4

# Put aside a few samples to create our validation set
val_samples = 100
x_val, y_val = x_train[:val_samples], y_train[:val_samples]
new_x_train, new_y_train = x_train[val_samples:], y_train[val_samples:]

train_ds_one = tf_data.Dataset.from_tensor_slices((new_x_train, new_y_train)).shuffle(BATCH_SIZE * 100).batch(BATCH_SIZE)
train_ds_two = tf_data.Dataset.from_tensor_slices((new_x_train, new_y_train)).shuffle(BATCH_SIZE * 100).batch(BATCH_SIZE)
# Because we will be using the unmixed validation set
val_ds = tf_data.Dataset.from_tensor_slices((x_val, y_val)).batch(BATCH_SIZE)
test_ds = tf_data.Dataset.from_tensor_slices((x_test, y_test)).batch(BATCH_SIZE)

# Combine two shuffled datasets from the same training data.
train_ds = tf_data.Dataset.zip((train_ds_one, train_ds_two))


def sample_beta_distribution(size, concentration_0=0.2, concentration_1=0.2):
    gamma_1_sample = tf_random.gamma(shape=[size], alpha=concentration_1)
    gamma_2_sample = tf_random.gamma(shape=[size], alpha=concentration_0)
    return gamma_1_sample / (gamma_1_sample + gamma_2_sample)


def mix_up(ds_one, ds_two, alpha=0.2):
    # Unpack two datasets
    images_one, labels_one = ds_one
    images_two, labels_two = ds_two
    batch_size = keras.ops.shape(images_one)[0]
    # Sample lambda and reshape it to do the mixup
    l = sample_beta_distribution(batch_size, alpha, alpha)  # noqa: E741
    x_l = keras.ops.reshape(l, (batch_size, 1, 1, 1))
    y_l = keras.ops.reshape(l, (batch_size, 1))
    # Perform mixup on both images and labels by combining a pair of images/labels
    # (one from each dataset) into one image/label
    images = images_one * x_l + images_two * (1 - x_l)
    labels = labels_one * y_l + labels_two * (1 - y_l)
    return (images, labels)


# First create the new dataset using our `mix_up` utility
train_ds_mu = train_ds.map(lambda ds_one, ds_two: mix_up(ds_one, ds_two, alpha=0.2), num_parallel_calls=AUTO)

# the mixed labels are convex combinations: rows still sum to one, with weights in [0, 1]
sample_images, sample_labels = next(iter(train_ds_mu.take(1)))
sample_labels = keras.ops.convert_to_numpy(sample_labels)
assert sample_images.shape == (BATCH_SIZE, 28, 28, 1)
np.testing.assert_allclose(sample_labels.sum(axis=1), 1.0, rtol=1e-5)
assert sample_labels.min() >= 0 and sample_labels.max() <= 1
assert np.mean(sample_labels.max(axis=1) < 0.999) > 0.1   # some rows really are mixed

# keras.random.beta, the Keras 3 way to draw lambda, has Beta(a, b)'s mean a / (a + b)
draws = keras.ops.convert_to_numpy(keras.random.beta((20000,), 2.0, 6.0, seed=1))
assert abs(draws.mean() - 0.25) < 0.01 and draws.min() >= 0 and draws.max() <= 1


def get_training_model():
    model = keras.Sequential(
        [
            layers.Input(shape=(28, 28, 1)),
            layers.Conv2D(16, (5, 5), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(32, (5, 5), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Dropout(0.2),
            layers.GlobalAveragePooling2D(),
            layers.Dense(128, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    return model


initial_model = get_training_model()
initial_model.save_weights("initial_weights.weights.h5")

model = get_training_model()
model.load_weights("initial_weights.weights.h5")
model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
model.fit(train_ds_mu, validation_data=val_ds, epochs=EPOCHS, verbose=0)
_, test_acc = model.evaluate(test_ds, verbose=0)
print("Test accuracy: {:.2f}%".format(test_acc * 100))
assert test_acc > 0.8, test_acc

# the same initial weights without MixUp
model = get_training_model()
model.load_weights("initial_weights.weights.h5")
model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
model.fit(train_ds_one, validation_data=val_ds, epochs=EPOCHS, verbose=0)
_, test_acc = model.evaluate(test_ds, verbose=0)
print("Test accuracy: {:.2f}%".format(test_acc * 100))
assert test_acc > 0.8, test_acc
