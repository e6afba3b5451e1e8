"""TF tutorial "Adversarial example using FGSM" (generative/adversarial_fgsm), imports changed:
a trained classifier, tape.watch(image), the gradient of the loss w.r.t. the input image,
tf.sign, eps-scaled perturbations and tf.clip_by_value. Synthetic 8x8 images stand in for
MobileNetV2 on ImageNet; the checks: the input gradient equals finite differences, and the
adversarial images lower the accuracy as eps grows."""
import numpy as np

import corenn as tf

tf.random.set_seed(0)
rng = np.random.default_rng(0)
n = 256
labels = rng.integers(0, 2, n)
images = rng.uniform(-0.3, 0.3, size=(n, 8, 8, 1)).astype("float32")
images[labels == 1, :4] += 0.4          # class 1: a brighter top half
images = np.clip(images, -1, 1)

pretrained_model = tf.keras.Sequential([
    tf.keras.layers.Input((8, 8, 1)),
    tf.keras.layers.Conv2D(8, 3, activation="relu"),
    tf.keras.layers.Flatten(),
    tf.keras.layers.Dense(2, activation="softmax"),
])
pretrained_model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
pretrained_model.fit(images, labels, epochs=8, batch_size=32, verbose=0)
pretrained_model.trainable = False

loss_object = tf.keras.losses.CategoricalCrossentropy()


def create_adversarial_pattern(input_image, input_label):
  with tf.GradientTape() as tape:
    tape.watch(input_image)
    prediction = pretrained_model(input_image)
    loss = loss_object(input_label, prediction)

  # Get the gradients of the loss w.r.t to the input image.
  gradient = tape.gradient(loss, input_image)
  # Get the sign of the gradients to create the perturbation
  signed_grad = tf.sign(gradient)
  return signed_grad, gradient


image = tf.convert_to_tensor(images[:64])
label = tf.one_hot(labels[:64], 2)
label = tf.reshape(label, (64, 2))
perturbations, gradient = create_adversarial_pattern(image, label)
assert perturbations.shape == (64, 8, 8, 1)

# the input gradient against central differences of the same loss (float64 accumulation)
def loss_at(x):
  return float(loss_object(label, pretrained_model(x.astype("float32"))))
x0 = images[:64].astype(np.float64)
for idx in [(0, 1, 2, 0), (5, 6, 3, 0), (40, 0, 7, 0)]:
  up, down = x0.copy(), x0.copy()
  up[idx] += 1e-2
  down[idx] -= 1e-2
  fd = (loss_at(up) - loss_at(down)) / 2e-2
  assert abs(fd - float(gradient.numpy()[idx])) < 2e-3 + 0.05 * abs(fd), (idx, fd, gradient.numpy()[idx])

epsilons = [0, 0.1, 0.3]
accuracies = []
for i, eps in enumerate(epsilons):
  adv_x = image + eps*perturbations
  adv_x = tf.clip_by_value(adv_x, -1, 1)
  pred = pretrained_model.predict(adv_x, verbose=0)
  accuracies.append(float(np.mean(np.argmax(pred, axis=-1) == labels[:64])))
  print(f"Epsilon = {eps:0.3f}: accuracy {accuracies[-1]:.2f}")
assert accuracies[0] >= 0.9, accuracies
assert accuracies[2] < accuracies[0] - 0.3, accuracies     # the attack works
