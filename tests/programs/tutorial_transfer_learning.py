"""TensorFlow tutorial images/transfer_learning (transfer learning and fine-tuning with a pretrained
MobileNetV2), imports changed. The cats-vs-dogs photos are replaced by synthetic 32x32 images of
two classes and the ImageNet weights (a download) by weights=None: the program checks the
mechanics the tutorial teaches - a frozen base, a new head, then fine-tuning the top of the base
with a lower learning rate - on what moves and what does not."""
import numpy as np

import corenn as tf

tf.keras.utils.set_random_seed(3)
rng = np.random.default_rng(3)

BATCH_SIZE = 16
IMG_SIZE = (32, 32)

# two classes: a bright blob top-left or bottom-right, on noise (pixels in [0, 255])
n = 96
labels = rng.integers(0, 2, n)
images = rng.uniform(0, 120, (n, 32, 32, 3))
for i, label in enumerate(labels):
    r = slice(2, 14) if label == 0 else slice(18, 30)
    images[i, r, r, :] += 120
train_images, train_labels = images[:64].astype("float32"), labels[:64].astype("float32")
val_images, val_labels = images[64:].astype("float32"), labels[64:].astype("float32")
train_dataset = tf.data.Dataset.from_tensor_slices((train_images, train_labels)).batch(BATCH_SIZE)
validation_dataset = tf.data.Dataset.from_tensor_slices((val_images, val_labels)).batch(BATCH_SIZE)

# Rescale pixel values
preprocess_input = tf.keras.applications.mobilenet_v2.preprocess_input

# Create the base model from the pre-trained model MobileNet V2
IMG_SHAPE = IMG_SIZE + (3,)
base_model = tf.keras.applications.MobileNetV2(input_shape=IMG_SHAPE, include_top=False, weights=None)

# Stand-in for the pretrained weights (not part of the tutorial): weights=None leaves every
# batch normalization's moving statistics at 0 and 1, which shrink the signal to ~1e-12 through
# 17 blocks, and fine-tuning would see gradients that round to nothing. One training-mode pass
# with momentum 0 sets them to the statistics of these images, as pretraining would have.
batch_norms = [layer for layer in base_model.layers if isinstance(layer, tf.keras.layers.BatchNormalization)]
for layer in batch_norms:
    layer.momentum = 0.0
base_model(preprocess_input(train_images.copy()), training=True)
for layer in batch_norms:
    layer.momentum = 0.999

image_batch, label_batch = next(iter(train_dataset))
feature_batch = base_model(image_batch)
print(feature_batch.shape)
assert tuple(feature_batch.shape) == (BATCH_SIZE, 1, 1, 1280)

# Feature extraction: freeze the convolutional base
base_model.trainable = False
base_model.summary()

global_average_layer = tf.keras.layers.GlobalAveragePooling2D()
feature_batch_average = global_average_layer(feature_batch)
print(feature_batch_average.shape)
prediction_layer = tf.keras.layers.Dense(1)
prediction_batch = prediction_layer(feature_batch_average)
print(prediction_batch.shape)
assert tuple(prediction_batch.shape) == (BATCH_SIZE, 1)

inputs = tf.keras.Input(shape=(32, 32, 3))
x = preprocess_input(inputs)
x = base_model(x, training=False)
x = global_average_layer(x)
x = tf.keras.layers.Dropout(0.2)(x)
outputs = prediction_layer(x)
model = tf.keras.Model(inputs, outputs)
model.summary()
print(len(model.trainable_variables))
assert len(model.trainable_variables) == 2   # the Dense head's kernel and bias

base_learning_rate = 0.001
model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate=base_learning_rate),
              loss=tf.keras.losses.BinaryCrossentropy(from_logits=True),
              metrics=[tf.keras.metrics.BinaryAccuracy(threshold=0, name="accuracy")])

base_before = [w.copy() for w in base_model.get_weights()]
head_before = [w.copy() for w in prediction_layer.get_weights()]
initial_epochs = 2
history = model.fit(train_dataset, epochs=initial_epochs, validation_data=validation_dataset, verbose=0)
assert np.isfinite(history.history["loss"]).all()
# the frozen base (weights and batch-norm statistics) did not move; the head did
for before, after in zip(base_before, base_model.get_weights()):
    np.testing.assert_array_equal(before, after)
assert any(not np.array_equal(b, a) for b, a in zip(head_before, prediction_layer.get_weights()))

# Fine tuning: un-freeze the top layers of the model
base_model.trainable = True
print("Number of layers in the base model: ", len(base_model.layers))
fine_tune_at = 100
for layer in base_model.layers[:fine_tune_at]:
    layer.trainable = False

model.compile(loss=tf.keras.losses.BinaryCrossentropy(from_logits=True),
              optimizer=tf.keras.optimizers.RMSprop(learning_rate=base_learning_rate / 10),
              metrics=[tf.keras.metrics.BinaryAccuracy(threshold=0, name="accuracy")])
model.summary()
print(len(model.trainable_variables))
expected = sum(len(layer.trainable_weights) for layer in base_model.layers[fine_tune_at:]) + 2
assert len(model.trainable_variables) == expected > 2

frozen = [layer for layer in base_model.layers[:fine_tune_at] if layer.weights]
tuned = [layer for layer in base_model.layers[fine_tune_at:] if layer.trainable_weights]
frozen_before = [[w.copy() for w in layer.get_weights()] for layer in frozen]
tuned_before = [[w.copy() for w in layer.get_weights()] for layer in tuned]

fine_tune_epochs = 1
history_fine = model.fit(train_dataset, epochs=initial_epochs + fine_tune_epochs,
                         initial_epoch=len(history.epoch), validation_data=validation_dataset, verbose=0)
assert len(history_fine.epoch) == fine_tune_epochs
assert np.isfinite(history_fine.history["loss"]).all()

# the first fine_tune_at layers are untouched; the layers above them trained
for layer, before in zip(frozen, frozen_before):
    for b, a in zip(before, layer.get_weights()):
        np.testing.assert_array_equal(b, a, err_msg=f"frozen layer {layer.name} moved")
moved = [layer.name for layer, before in zip(tuned, tuned_before)
         if any(not np.array_equal(b, a) for b, a in zip(before, layer.get_weights()))]
assert len(moved) == len(tuned), f"layers that did not train: {set(l.name for l in tuned) - set(moved)}"

loss, accuracy = model.evaluate(validation_dataset, verbose=0)
print("Test accuracy :", accuracy)
assert np.isfinite(loss) and 0.0 <= accuracy <= 1.0

# Retrieve a batch of images from the test set and predict
image_batch, label_batch = next(iter(validation_dataset))
predictions = model.predict_on_batch(image_batch).flatten()
predictions = tf.nn.sigmoid(predictions)
predictions = tf.where(predictions < 0.5, 0, 1)
print("Predictions:\n", np.asarray(predictions))
assert np.asarray(predictions).shape == (BATCH_SIZE,)
