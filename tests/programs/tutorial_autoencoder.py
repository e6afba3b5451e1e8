"""TensorFlow tutorial generative/autoencoder, imports changed: a Dense autoencoder subclass on
Fashion-MNIST, a convolutional denoiser (Conv2D down, Conv2DTranspose up) trained on noisy
images, and an anomaly detector trained on normal heartbeats whose threshold is the mean + std of
its reconstruction error. Fashion-MNIST is cut to 1,000 / 200 images and the epochs to 3; the
ECG CSV (read with pandas, split with scikit-learn) becomes synthetic 140-sample beats, normal
ones a smooth bump and anomalous ones with an extra spike, split with NumPy."""
import numpy as np

import corenn as tf
from corenn.keras import layers, losses
from corenn.keras.datasets import fashion_mnist
from corenn.keras.models import Model

tf.keras.utils.set_random_seed(0)

(x_train, _), (x_test, _) = fashion_mnist.load_data()
x_train, x_test = x_train[:1000], x_test[:200]

x_train = x_train.astype('float32') / 255.
x_test = x_test.astype('float32') / 255.

print(x_train.shape)
print(x_test.shape)


class Autoencoder(Model):
  def __init__(self, latent_dim, shape):
    super(Autoencoder, self).__init__()
    self.latent_dim = latent_dim
    self.shape = shape
    self.encoder = tf.keras.Sequential([
      layers.Flatten(),
      layers.Dense(latent_dim, activation='relu'),
    ])
    self.decoder = tf.keras.Sequential([
      layers.Dense(tf.math.reduce_prod(shape).numpy(), activation='sigmoid'),
      layers.Reshape(shape)
    ])

  def call(self, x):
    encoded = self.encoder(x)
    decoded = self.decoder(encoded)
    return decoded


shape = x_test.shape[1:]
latent_dim = 64
autoencoder = Autoencoder(latent_dim, shape)

autoencoder.compile(optimizer='adam', loss=losses.MeanSquaredError())

history = autoencoder.fit(x_train, x_train,
                          epochs=3,
                          shuffle=True,
                          validation_data=(x_test, x_test), verbose=0)
print(history.history)

encoded_imgs = autoencoder.encoder(x_test).numpy()
decoded_imgs = autoencoder.decoder(encoded_imgs).numpy()
assert encoded_imgs.shape == (200, latent_dim) and decoded_imgs.shape == (200, 28, 28)
# better than the mean image
mse = np.mean((decoded_imgs - x_test) ** 2)
baseline = np.mean((x_train.mean(axis=0) - x_test) ** 2)
assert mse < 0.8 * baseline, (mse, baseline)

# -- Second example: image denoising --------------------------------------------------------------
x_train = x_train[..., tf.newaxis]
x_test = x_test[..., tf.newaxis]

print(x_train.shape)

noise_factor = 0.2
x_train_noisy = x_train + noise_factor * tf.random.normal(shape=x_train.shape)
x_test_noisy = x_test + noise_factor * tf.random.normal(shape=x_test.shape)

x_train_noisy = tf.clip_by_value(x_train_noisy, clip_value_min=0., clip_value_max=1.)
x_test_noisy = tf.clip_by_value(x_test_noisy, clip_value_min=0., clip_value_max=1.)


class Denoise(Model):
  def __init__(self):
    super(Denoise, self).__init__()
    self.encoder = tf.keras.Sequential([
      layers.Input(shape=(28, 28, 1)),
      layers.Conv2D(16, (3, 3), activation='relu', padding='same', strides=2),
      layers.Conv2D(8, (3, 3), activation='relu', padding='same', strides=2)])

    self.decoder = tf.keras.Sequential([
      layers.Conv2DTranspose(8, kernel_size=3, strides=2, activation='relu', padding='same'),
      layers.Conv2DTranspose(16, kernel_size=3, strides=2, activation='relu', padding='same'),
      layers.Conv2D(1, kernel_size=(3, 3), activation='sigmoid', padding='same')])

  def call(self, x):
    encoded = self.encoder(x)
    decoded = self.decoder(encoded)
    return decoded


autoencoder = Denoise()
autoencoder.compile(optimizer='adam', loss=losses.MeanSquaredError())
history = autoencoder.fit(x_train_noisy, x_train,
                          epochs=3,
                          shuffle=True,
                          validation_data=(x_test_noisy, x_test), verbose=0)
print(history.history)

autoencoder.encoder.summary()
autoencoder.decoder.summary()

encoded_imgs = autoencoder.encoder(x_test_noisy).numpy()
decoded_imgs = autoencoder.decoder(encoded_imgs).numpy()
assert encoded_imgs.shape == (200, 7, 7, 8) and decoded_imgs.shape == (200, 28, 28, 1)
assert history.history['val_loss'][-1] < history.history['val_loss'][0]

# -- Third example: anomaly detection ---------------------------------------------------------------
rng = np.random.default_rng(21)
t = np.linspace(0, 1, 140)
n_beats = 600
labels = rng.random(n_beats) < 0.6          # the CSV's last column: 1 = normal
beats = np.exp(-((t[None, :] - rng.uniform(0.35, 0.45, (n_beats, 1))) / 0.08) ** 2) * 3
beats = beats + rng.normal(0, 0.1, beats.shape)
spike = rng.integers(10, 130, n_beats)
beats[~labels, :] += 3.0 * np.exp(-((np.arange(140)[None, :] - spike[~labels, None]) / 5.0) ** 2)
raw_data = np.concatenate([beats, labels[:, None].astype(float)], axis=1)

# The last element contains the labels
labels = raw_data[:, -1]

# The other data points are the electrocadriogram data
data = raw_data[:, 0:-1]

order = rng.permutation(len(data))                     # train_test_split(test_size=0.2)
test_idx, train_idx = order[:len(data) // 5], order[len(data) // 5:]
train_data, test_data = data[train_idx], data[test_idx]
train_labels, test_labels = labels[train_idx], labels[test_idx]

min_val = tf.reduce_min(train_data)
max_val = tf.reduce_max(train_data)

train_data = (train_data - min_val) / (max_val - min_val)
test_data = (test_data - min_val) / (max_val - min_val)

train_data = tf.cast(train_data, tf.float32)
test_data = tf.cast(test_data, tf.float32)

train_labels = train_labels.astype(bool)
test_labels = test_labels.astype(bool)

normal_train_data = train_data[train_labels]
normal_test_data = test_data[test_labels]

anomalous_train_data = train_data[~train_labels]
anomalous_test_data = test_data[~test_labels]
assert normal_train_data.shape[1] == 140 and normal_train_data.shape[0] == int(train_labels.sum())


class AnomalyDetector(Model):
  def __init__(self):
    super(AnomalyDetector, self).__init__()
    self.encoder = tf.keras.Sequential([
      layers.Dense(32, activation="relu"),
      layers.Dense(16, activation="relu"),
      layers.Dense(8, activation="relu")])

    self.decoder = tf.keras.Sequential([
      layers.Dense(16, activation="relu"),
      layers.Dense(32, activation="relu"),
      layers.Dense(140, activation="sigmoid")])

  def call(self, x):
    encoded = self.encoder(x)
    decoded = self.decoder(encoded)
    return decoded


autoencoder = AnomalyDetector()
autoencoder.compile(optimizer='adam', loss='mae')
history = autoencoder.fit(normal_train_data, normal_train_data,
                          epochs=30,
                          batch_size=32,     # the tutorial: 512 on 2,300 beats
                          validation_data=(test_data, test_data),
                          shuffle=True, verbose=0)

reconstructions = autoencoder.predict(normal_train_data)
train_loss = tf.keras.losses.mae(reconstructions, normal_train_data)

threshold = np.mean(train_loss) + np.std(train_loss)
print("Threshold: ", threshold)

reconstructions = autoencoder.predict(anomalous_test_data)
test_loss = tf.keras.losses.mae(reconstructions, anomalous_test_data)
assert np.mean(test_loss) > threshold   # anomalies reconstruct worse


def predict(model, data, threshold):
  reconstructions = model(data)
  loss = tf.keras.losses.mae(reconstructions, data)
  return tf.math.less(loss, threshold)


def print_stats(predictions, labels):
  predictions = np.asarray(predictions).astype(bool)   # the tutorial uses scikit-learn's scores
  accuracy = np.mean(predictions == labels)
  precision = (predictions & labels).sum() / max(predictions.sum(), 1)
  recall = (predictions & labels).sum() / labels.sum()
  print("Accuracy = {}".format(accuracy))
  print("Precision = {}".format(precision))
  print("Recall = {}".format(recall))
  return accuracy


preds = predict(autoencoder, test_data, threshold)
accuracy = print_stats(preds, test_labels)
assert accuracy > 0.8, accuracy
