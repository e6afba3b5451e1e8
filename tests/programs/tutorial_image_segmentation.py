"""TensorFlow tutorial "Image segmentation" (tensorflow.org/tutorials/images/segmentation), imports
changed (`import corenn as tf`): the `normalize` / `load_image` pipeline (`tf.image.resize` with
`ResizeMethod.NEAREST_NEIGHBOR` for the mask) mapped over a dataset, the `Augment` layer (two
`RandomFlip` layers sharing a seed so image and mask flip together) mapped over
`.cache().shuffle().batch().repeat()`, the U-Net whose encoder is `tf.keras.applications.MobileNetV2`
(`include_top=False`) cut at five named activations via `get_layer(name).output`, frozen
(`down_stack.trainable = False`), and whose decoder is the pix2pix `upsample` blocks (written inline,
as `tensorflow_examples` is not installed: Conv2DTranspose with `tf.random_normal_initializer(0.,
0.02)`, BatchNormalization, ReLU) joined by `Concatenate` skips; `SparseCategoricalCrossentropy(
from_logits=True)` with 'accuracy', `create_mask` (`tf.math.argmax` and `[..., tf.newaxis]`), the
`DisplayCallback`, fit with `validation_steps`, the `class_weight` error for 3-D targets, the
`Reduction.NONE` loss with `sample_weight`, and `add_sample_weights` (`tf.gather` of per-class
weights) mapped to train a weighted model. The Oxford pets download is replaced by synthetic 32x32
images of a bright square "pet" (class 0) with a border ring (class 2) on a dark background (class 1);
MobileNetV2 uses `weights=None` (no download) and `alpha=0.35`, the decoder is narrowed, plotting
is replaced by prints."""
import numpy as np

import corenn as tf

tf.keras.utils.set_random_seed(3)
rng = np.random.default_rng(3)

SIZE = 32


def make_pets(n):
    # trimap labels 1 (pet), 2 (background), 3 (border), as in the Oxford pets masks
    images = np.empty((n, 40, 40, 3), "uint8")
    masks = np.full((n, 40, 40, 1), 2, "uint8")
    for i in range(n):
        images[i] = rng.integers(0, 60, (40, 40, 3))
        s = rng.integers(12, 22)
        r, c = rng.integers(2, 40 - s - 2, 2)
        masks[i, r - 2:r + s + 2, c - 2:c + s + 2] = 3
        masks[i, r:r + s, c:c + s] = 1
        colour = rng.integers(150, 256, 3)
        images[i, r:r + s, c:c + s] = colour + rng.integers(-20, 1, (s, s, 3))
    return {"image": images, "segmentation_mask": masks}


dataset = {"train": tf.data.Dataset.from_tensor_slices(make_pets(96)),
           "test": tf.data.Dataset.from_tensor_slices(make_pets(32))}


def normalize(input_image, input_mask):
  input_image = tf.cast(input_image, tf.float32) / 255.0
  input_mask -= 1
  return input_image, input_mask


def load_image(datapoint):
  input_image = tf.image.resize(datapoint['image'], (SIZE, SIZE))
  input_mask = tf.image.resize(
    datapoint['segmentation_mask'],
    (SIZE, SIZE),
    method = tf.image.ResizeMethod.NEAREST_NEIGHBOR,
  )

  input_image, input_mask = normalize(input_image, input_mask)

  return input_image, input_mask


TRAIN_LENGTH = 96
BATCH_SIZE = 16
BUFFER_SIZE = 100
STEPS_PER_EPOCH = TRAIN_LENGTH // BATCH_SIZE

train_images = dataset['train'].map(load_image, num_parallel_calls=tf.data.AUTOTUNE)
test_images = dataset['test'].map(load_image, num_parallel_calls=tf.data.AUTOTUNE)


class Augment(tf.keras.layers.Layer):
  def __init__(self, seed=42):
    super().__init__()
    # both use the same seed, so they'll make the same random changes.
    self.augment_inputs = tf.keras.layers.RandomFlip(mode="horizontal", seed=seed)
    self.augment_labels = tf.keras.layers.RandomFlip(mode="horizontal", seed=seed)

  def call(self, inputs, labels):
    inputs = self.augment_inputs(inputs)
    labels = self.augment_labels(labels)
    return inputs, labels


train_batches = (
    train_images
    .cache()
    .shuffle(BUFFER_SIZE)
    .batch(BATCH_SIZE)
    .repeat()
    .map(Augment())
    .prefetch(buffer_size=tf.data.AUTOTUNE))

test_batches = test_images.batch(BATCH_SIZE)

for images, masks in train_batches.take(2):
  sample_image, sample_mask = images[0], masks[0]
  print("sample", sample_image.shape, sample_mask.shape)
  # the shared seed flips image and mask together: the bright pixels are the pet pixels (up to
  # the bilinear resize's blurred edges)
  bright = np.asarray(images).mean(-1) > 0.4
  agree = np.mean(bright == (np.asarray(masks)[..., 0] == 0), axis=(1, 2))
  assert agree.min() > 0.95, ("image and mask flipped apart", agree.min())
assert sample_image.shape == (SIZE, SIZE, 3) and sample_mask.shape == (SIZE, SIZE, 1)

base_model = tf.keras.applications.MobileNetV2(input_shape=[SIZE, SIZE, 3], include_top=False,
                                               weights=None, alpha=0.35)

# Use the activations of these layers
layer_names = [
    'block_1_expand_relu',   # 16x16
    'block_3_expand_relu',   # 8x8
    'block_6_expand_relu',   # 4x4
    'block_13_expand_relu',  # 2x2
    'block_16_project',      # 1x1
]
base_model_outputs = [base_model.get_layer(name).output for name in layer_names]

# Create the feature extraction model
down_stack = tf.keras.Model(inputs=base_model.input, outputs=base_model_outputs)

down_stack.trainable = False


def upsample(filters, size, apply_dropout=False):
  # pix2pix.upsample from tensorflow_examples: Conv2DTranspose => Batchnorm => Dropout => Relu
  initializer = tf.random_normal_initializer(0., 0.02)

  result = tf.keras.Sequential()
  result.add(
    tf.keras.layers.Conv2DTranspose(filters, size, strides=2,
                                    padding='same',
                                    kernel_initializer=initializer,
                                    use_bias=False))

  result.add(tf.keras.layers.BatchNormalization())

  if apply_dropout:
      result.add(tf.keras.layers.Dropout(0.5))

  result.add(tf.keras.layers.ReLU())

  return result


up_stack = [
    upsample(64, 3),  # 1x1 -> 2x2
    upsample(32, 3),  # 2x2 -> 4x4
    upsample(32, 3),  # 4x4 -> 8x8
    upsample(16, 3),   # 8x8 -> 16x16
]


def unet_model(output_channels:int):
  inputs = tf.keras.layers.Input(shape=[SIZE, SIZE, 3])

  # Downsampling through the model
  skips = down_stack(inputs)
  x = skips[-1]
  skips = reversed(skips[:-1])

  # Upsampling and establishing the skip connections
  for up, skip in zip(up_stack, skips):
    x = up(x)
    concat = tf.keras.layers.Concatenate()
    x = concat([x, skip])

  # This is the last layer of the model
  last = tf.keras.layers.Conv2DTranspose(
      filters=output_channels, kernel_size=3, strides=2,
      padding='same')  #16x16 -> 32x32

  x = last(x)

  return tf.keras.Model(inputs=inputs, outputs=x)


OUTPUT_CLASSES = 3

model = unet_model(output_channels=OUTPUT_CLASSES)
model.compile(optimizer=tf.keras.optimizers.Adam(0.01),
              loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=['accuracy'])
assert model.output_shape == (None, SIZE, SIZE, OUTPUT_CLASSES), model.output_shape
# the frozen encoder contributes no trainable weights
assert len(down_stack.trainable_weights) == 0
n_dec = sum(len(u.trainable_weights) for u in up_stack) + 2
assert len(model.trainable_weights) == n_dec, (len(model.trainable_weights), n_dec)
frozen_before = [np.array(w) for w in down_stack.weights]


def create_mask(pred_mask):
  pred_mask = tf.math.argmax(pred_mask, axis=-1)
  pred_mask = pred_mask[..., tf.newaxis]
  return pred_mask[0]


def show_predictions(dataset=None, num=1):
  if dataset:
    for image, mask in dataset.take(num):
      pred_mask = model.predict(image, verbose=0)
      m = create_mask(pred_mask)
      print("mask", m.shape, "pixel accuracy", float(np.mean(np.asarray(m) == np.asarray(mask[0]))))
  else:
    m = create_mask(model.predict(sample_image[tf.newaxis, ...], verbose=0))
    print("sample mask", m.shape, "classes", np.unique(np.asarray(m)).tolist())


show_predictions()

shown = []


class DisplayCallback(tf.keras.callbacks.Callback):
  def on_epoch_end(self, epoch, logs=None):
    show_predictions()
    shown.append(epoch)
    print ('\nSample Prediction after epoch {}\n'.format(epoch+1))


EPOCHS = 6
VAL_SUBSPLITS = 1
VALIDATION_STEPS = 32//BATCH_SIZE//VAL_SUBSPLITS

model_history = model.fit(train_batches, epochs=EPOCHS,
                          steps_per_epoch=STEPS_PER_EPOCH,
                          validation_steps=VALIDATION_STEPS,
                          validation_data=test_batches,
                          callbacks=[DisplayCallback()], verbose=0)

loss = model_history.history['loss']
val_loss = model_history.history['val_loss']
print("loss", [round(v, 3) for v in loss], "val_loss", [round(v, 3) for v in val_loss])
assert shown == list(range(EPOCHS))
assert model_history.epoch == list(range(EPOCHS))

show_predictions(test_batches, 2)

# the encoder stayed frozen through fit (BatchNorm statistics included)
for before, w in zip(frozen_before, down_stack.weights):
  assert np.array_equal(before, np.array(w)), w.name

try:
  model_history = model.fit(train_batches, epochs=EPOCHS,
                            steps_per_epoch=STEPS_PER_EPOCH,
                            class_weight = {0:2.0, 1:2.0, 2:1.0})
  assert False
except Exception as e:
  assert not isinstance(e, AssertionError)
  print(f"Expected {type(e).__name__}: {e}")

label = np.array([0,0])
prediction = np.array([[-3., 0], [-3, 0]])
sample_weight = [1, 10]

loss = tf.keras.losses.SparseCategoricalCrossentropy(
    from_logits=True,
    reduction=tf.keras.losses.Reduction.NONE
)
values = loss(label, prediction, sample_weight).numpy()
print(values)
ref = -np.log(np.exp(-3.0) / (np.exp(-3.0) + 1.0))
np.testing.assert_allclose(values, [ref, 10 * ref], rtol=1e-5)


def add_sample_weights(image, label):
  # The weights for each class, with the constraint that:
  #     sum(class_weights) == 1.0
  class_weights = tf.constant([2.0, 2.0, 1.0])
  class_weights = class_weights/tf.reduce_sum(class_weights)

  # Create an image of `sample_weights` by using the label at each pixel as an
  # index into the `class weights` .
  sample_weights = tf.gather(class_weights, indices=tf.cast(label, tf.int32))

  return image, label, sample_weights


spec = train_batches.map(add_sample_weights).element_spec
print(spec)
assert len(spec) == 3 and tuple(spec[2].shape) == (None, SIZE, SIZE, 1)

weighted_model = unet_model(OUTPUT_CLASSES)
weighted_model.compile(
    optimizer='adam',
    loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=['accuracy'])

weighted_history = weighted_model.fit(
    train_batches.map(add_sample_weights),
    epochs=1,
    steps_per_epoch=3, verbose=0)
assert np.isfinite(weighted_history.history['loss'][0])

# the check: the U-Net learned the masks (loss fell, test pixel accuracy well above the 3-class
# majority baseline)
test_x = np.concatenate([np.asarray(x) for x, _ in test_batches])
test_y = np.concatenate([np.asarray(y) for _, y in test_batches])[..., 0]
pred = np.argmax(np.asarray(model.predict(test_x, verbose=0)), -1)
acc = float(np.mean(pred == test_y))
majority = float(np.mean(test_y == 1))
train_loss = model_history.history['loss']
print("train loss", train_loss[0], "->", train_loss[-1], "test pixel accuracy", acc, "majority", majority)
assert train_loss[-1] < 0.75 * train_loss[0], train_loss
assert acc > majority + 0.08, (acc, majority)
