"""TF tutorial "Integrated gradients" (interpretability/integrated_gradients), imports changed:
tf.linspace alphas, interpolated images built with tf.newaxis and broadcasting, batched gradients
of a class probability w.r.t. the inputs, the trapezoidal Riemann sum, and the batched loop over
alphas. A small trained classifier on synthetic 6x6 images stands in for Inception; the check is
the method's completeness axiom: attributions sum to F(image) - F(baseline)."""
import numpy as np

import corenn as tf

tf.random.set_seed(1)
rng = np.random.default_rng(1)
x = rng.uniform(0, 1, size=(200, 6, 6, 1)).astype("float32")
y = (x[:, :3].mean(axis=(1, 2, 3)) > x[:, 3:].mean(axis=(1, 2, 3))).astype("int64")
model = tf.keras.Sequential([
    tf.keras.layers.Input((6, 6, 1)),
    tf.keras.layers.Flatten(),
    tf.keras.layers.Dense(16, activation="tanh"),
    tf.keras.layers.Dense(2),
])
model.compile("adam", tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
model.fit(x, y, epochs=10, batch_size=32, verbose=0)

img = tf.convert_to_tensor(x[0])
baseline = tf.zeros(shape=(6, 6, 1))
m_steps = 50
alphas = tf.linspace(start=0.0, stop=1.0, num=m_steps+1)  # Generate m_steps intervals for integral_approximation() below.


def interpolate_images(baseline, image, alphas):
  alphas_x = alphas[:, tf.newaxis, tf.newaxis, tf.newaxis]
  baseline_x = tf.expand_dims(baseline, axis=0)
  input_x = tf.expand_dims(image, axis=0)
  delta = input_x - baseline_x
  images = baseline_x +  alphas_x * delta
  return images


interpolated_images = interpolate_images(baseline=baseline, image=img, alphas=alphas)
assert interpolated_images.shape == (m_steps + 1, 6, 6, 1)


def compute_gradients(images, target_class_idx):
  with tf.GradientTape() as tape:
    tape.watch(images)
    logits = model(images)
    probs = tf.nn.softmax(logits, axis=-1)[:, target_class_idx]
  return tape.gradient(probs, images)


path_gradients = compute_gradients(images=interpolated_images, target_class_idx=int(y[0]))
assert path_gradients.shape == (m_steps + 1, 6, 6, 1)


def integral_approximation(gradients):
  # riemann_trapezoidal
  grads = (gradients[:-1] + gradients[1:]) / tf.constant(2.0)
  integrated_gradients = tf.math.reduce_mean(grads, axis=0)
  return integrated_gradients


def integrated_gradients(baseline, image, target_class_idx, m_steps=50, batch_size=32):
  # Generate alphas.
  alphas = tf.linspace(start=0.0, stop=1.0, num=m_steps+1)

  # Collect gradients.
  gradient_batches = []

  # Iterate alphas range and batch computation for speed, memory efficiency, and scaling to larger m_steps.
  for alpha in tf.range(0, len(alphas), batch_size):
    from_ = alpha
    to = tf.minimum(from_ + batch_size, len(alphas))
    alpha_batch = alphas[from_:to]

    gradient_batch = one_batch(baseline, image, alpha_batch, target_class_idx)
    gradient_batches.append(gradient_batch)

  # Concatenate path gradients together row-wise into single tensor.
  total_gradients = tf.concat(gradient_batches, axis=0)

  # Integral approximation through averaging gradients.
  avg_gradients = integral_approximation(gradients=total_gradients)

  # Scale integrated gradients with respect to input.
  integrated_gradients = (image - baseline) * avg_gradients

  return integrated_gradients


@tf.function
def one_batch(baseline, image, alpha_batch, target_class_idx):
    # Generate interpolated inputs between baseline and input.
    interpolated_path_input_batch = interpolate_images(baseline=baseline,
                                                       image=image,
                                                       alphas=alpha_batch)

    # Compute gradients between model outputs and interpolated inputs.
    gradient_batch = compute_gradients(images=interpolated_path_input_batch,
                                       target_class_idx=target_class_idx)
    return gradient_batch


ig_attributions = integrated_gradients(baseline=baseline, image=img, target_class_idx=int(y[0]), m_steps=240)
assert ig_attributions.shape == (6, 6, 1)
# batched and unbatched paths agree
np.testing.assert_allclose(integral_approximation(path_gradients).numpy(),
                           integral_approximation(compute_gradients(interpolate_images(
                               baseline, img, tf.linspace(0.0, 1.0, 51)), int(y[0]))).numpy(), rtol=1e-5, atol=1e-7)

# completeness: sum of attributions == F(image) - F(baseline) (up to the Riemann error)
def prob(batch):
  return tf.nn.softmax(model(batch), axis=-1).numpy()[:, int(y[0])]
gap = float(prob(img[tf.newaxis])[0] - prob(baseline[tf.newaxis])[0])
total = float(tf.reduce_sum(ig_attributions))
print("sum of attributions", total, "prediction gap", gap)
assert abs(total - gap) < 0.01 + 0.02 * abs(gap), (total, gap)

attribution_mask = tf.reduce_sum(tf.math.abs(ig_attributions), axis=-1)
assert attribution_mask.shape == (6, 6)
