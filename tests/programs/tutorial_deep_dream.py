"""TensorFlow tutorial generative/deepdream, imports changed: a feature-extraction model on named
layers' outputs, calc_loss as the sum of reduce_mean of the activations, a tf.Module whose
tf.function (with an input_signature of tf.TensorSpec) runs gradient ascent on a watched image
(tape.watch, gradients normalised by tf.math.reduce_std, tf.clip_by_value) over tf.range(steps),
octaves with tf.image.resize on shapes from tf.shape / tf.cast, and the tiled variant with
random_roll (tf.random.uniform of int32 shifts, tf.roll on two axes). InceptionV3 is replaced by a
small fixed random conv net with the layer names 'mixed3' / 'mixed5'; the photo by a synthetic
image; step counts are cut down."""
import numpy as np

import corenn as tf

tf.random.set_seed(3)
rng = np.random.default_rng(3)
yy, xx = np.mgrid[0:40, 0:48]
original_img = (127 + 100 * np.sin(xx / 5.0)[..., None] * np.array([1.0, 0.5, -0.5])
                + rng.normal(0, 10, (40, 48, 3))).clip(0, 255).astype(np.uint8)


def deprocess(img):
  img = 255*(img + 1.0)/2.0
  return tf.cast(img, tf.uint8)


inputs = tf.keras.Input(shape=(None, None, 3))
h = tf.keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv")(inputs)
h = tf.keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="mixed3")(h)
h = tf.keras.layers.MaxPooling2D(name="pool")(h)
h = tf.keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="mixed5")(h)
base_model = tf.keras.Model(inputs, h, name="inception_v3")

# Maximize the activations of these layers
names = ['mixed3', 'mixed5']
layers = [base_model.get_layer(name).output for name in names]

# Create the feature extraction model
dream_model = tf.keras.Model(inputs=base_model.input, outputs=layers)


def calc_loss(img, model):
  # Pass forward the image through the model to retrieve the activations.
  # Converts the image into a batch of size 1.
  img_batch = tf.expand_dims(img, axis=0)
  layer_activations = model(img_batch)
  if len(layer_activations) == 1:
    layer_activations = [layer_activations]

  losses = []
  for act in layer_activations:
    loss = tf.math.reduce_mean(act)
    losses.append(loss)

  return  tf.reduce_sum(losses)


class DeepDream(tf.Module):
  def __init__(self, model):
    self.model = model

  @tf.function(
      input_signature=(
        tf.TensorSpec(shape=[None,None,3], dtype=tf.float32),
        tf.TensorSpec(shape=[], dtype=tf.int32),
        tf.TensorSpec(shape=[], dtype=tf.float32),)
  )
  def __call__(self, img, steps, step_size):
      print("Tracing")
      loss = tf.constant(0.0)
      for n in tf.range(steps):
        with tf.GradientTape() as tape:
          # This needs gradients relative to `img`
          # `GradientTape` only watches `tf.Variable`s by default
          tape.watch(img)
          loss = calc_loss(img, self.model)

        # Calculate the gradient of the loss with respect to the pixels of the input image.
        gradients = tape.gradient(loss, img)

        # Normalize the gradients.
        gradients /= tf.math.reduce_std(gradients) + 1e-8

        # In gradient ascent, the "loss" is maximized so that the input image increasingly "excites" the layers.
        # You can update the image by directly adding the gradients (because they're the same shape!)
        img = img + gradients*step_size
        img = tf.clip_by_value(img, -1, 1)

      return loss, img


deepdream = DeepDream(dream_model)


def run_deep_dream_simple(img, steps=100, step_size=0.01):
  # Convert from uint8 to the range expected by the model.
  img = np.asarray(img, np.float32) / 127.5 - 1.0   # inception_v3.preprocess_input
  img = tf.convert_to_tensor(img)
  step_size = tf.convert_to_tensor(step_size)
  steps_remaining = steps
  step = 0
  losses = []
  while steps_remaining:
    if steps_remaining>100:
      run_steps = tf.constant(100)
    else:
      run_steps = tf.constant(steps_remaining)
    steps_remaining -= run_steps
    step += run_steps

    loss, img = deepdream(img, run_steps, tf.constant(step_size))
    losses.append(float(loss))
    print ("Step {}, loss {}".format(step, loss))

  result = deprocess(img)
  return result, losses


first_loss = float(calc_loss(tf.convert_to_tensor(original_img / 127.5 - 1.0), dream_model))
dream_img, losses = run_deep_dream_simple(img=original_img, steps=30, step_size=0.01)
print("loss", first_loss, "->", losses[-1])
assert losses[-1] > 1.5 * first_loss, (first_loss, losses)
assert dream_img.shape == original_img.shape and dream_img.dtype == tf.uint8
assert np.asarray(dream_img).min() >= 0 and np.asarray(dream_img).max() <= 255

# the gradient ascent step, checked once against finite differences of calc_loss
img0 = tf.convert_to_tensor((original_img[:12, :12] / 127.5 - 1.0).astype(np.float32))
with tf.GradientTape() as tape:
  tape.watch(img0)
  loss0 = calc_loss(img0, dream_model)
g = tape.gradient(loss0, img0).numpy()
direction = rng.normal(size=img0.shape).astype(np.float32)
h = 1e-4
up = float(calc_loss(img0 + h * direction, dream_model))
down = float(calc_loss(img0 - h * direction, dream_model))
np.testing.assert_allclose((up - down) / (2 * h), float((g * direction).sum()), rtol=0.05, atol=2e-3)

# -- Taking it up an octave ------------------------------------------------------------------------
OCTAVE_SCALE = 1.30

img = tf.constant(np.array(original_img))
base_shape = tf.shape(img)[:-1]
float_base_shape = tf.cast(base_shape, tf.float32)

for n in range(-1, 2):
  new_shape = tf.cast(float_base_shape*(OCTAVE_SCALE**n), tf.int32)

  img = tf.image.resize(img, new_shape).numpy()

  img, _ = run_deep_dream_simple(img=img, steps=5, step_size=0.01)
  assert tuple(img.shape[:2]) == tuple(np.asarray(new_shape)), (img.shape, new_shape)

img = tf.image.resize(img, base_shape)
img = tf.image.convert_image_dtype(img/255.0, dtype=tf.uint8)
assert img.shape == (40, 48, 3) and np.asarray(img).dtype.kind in "iu" and 0 <= np.asarray(img).min() <= np.asarray(img).max() <= 255


# -- Scaling up with tiles -------------------------------------------------------------------------
def random_roll(img, maxroll):
  # Randomly shift the image to avoid tiled boundaries.
  shift = tf.random.uniform(shape=[2], minval=-maxroll, maxval=maxroll, dtype=tf.int32)
  img_rolled = tf.roll(img, shift=shift, axis=[0,1])
  return shift, img_rolled


shift, img_rolled = random_roll(np.array(original_img), 16)
print(shift)
assert shift.dtype == tf.int32 and np.all(np.abs(np.asarray(shift)) <= 16)
np.testing.assert_array_equal(np.asarray(img_rolled), np.roll(original_img, tuple(np.asarray(shift)), axis=(0, 1)))
