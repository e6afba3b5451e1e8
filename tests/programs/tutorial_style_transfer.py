"""TensorFlow tutorial generative/style_transfer ("Neural style transfer"), imports changed: a
feature extractor Model on chosen layers' outputs (get_layer(name).output, trainable = False),
gram matrices with tf.linalg.einsum('bijc,bijd->bcd', ...) over tf.shape / tf.cast, a subclassed
StyleContentModel returning a dict of dicts, tf.add_n of per-layer losses, gradient descent on a
tf.Variable image with Adam and apply_gradients([(grad, image)]), image.assign(clip_by_value(...)),
high-pass images, and the total-variation loss checked against tf.image.total_variation. VGG19
(ImageNet weights) is replaced by a small fixed random conv net with VGG's layer names; the
photos by synthetic 32 x 32 images (a gradient "content", a stripe "style")."""
import numpy as np

import corenn as tf

tf.random.set_seed(11)
rng = np.random.default_rng(11)
yy, xx = np.mgrid[0:32, 0:32] / 31.0
content_image = np.stack([xx, yy, 0.5 * (xx + yy)], axis=-1)[None].astype("float32")
style_image = (0.5 + 0.5 * np.sin(2 * np.pi * 4 * (xx + 0.3 * yy)))[..., None].repeat(3, axis=-1)[None]
style_image = (style_image * np.array([1.0, 0.4, 0.1])).astype("float32")
assert content_image.shape == style_image.shape == (1, 32, 32, 3)


def tiny_vgg():
    """Stands in for tf.keras.applications.VGG19(include_top=False): its first blocks' names."""
    inputs = tf.keras.Input(shape=(None, None, 3))
    x = tf.keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="block1_conv1")(inputs)
    x = tf.keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="block1_conv2")(x)
    x = tf.keras.layers.MaxPooling2D(name="block1_pool")(x)
    x = tf.keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="block2_conv1")(x)
    x = tf.keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="block2_conv2")(x)
    x = tf.keras.layers.MaxPooling2D(name="block2_pool")(x)
    x = tf.keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="block3_conv1")(x)
    return tf.keras.Model(inputs, x, name="vgg19")


VGG = tiny_vgg()
content_layers = ['block2_conv2']
style_layers = ['block1_conv1',
                'block2_conv1',
                'block3_conv1']
num_content_layers = len(content_layers)
num_style_layers = len(style_layers)


def vgg_layers(layer_names):
  """ Creates a VGG model that returns a list of intermediate output values."""
  # Load our model. Load pretrained VGG, trained on ImageNet data
  vgg = VGG
  vgg.trainable = False

  outputs = [vgg.get_layer(name).output for name in layer_names]

  model = tf.keras.Model([vgg.input], outputs)
  return model


style_extractor = vgg_layers(style_layers)
style_outputs = style_extractor(style_image*255)

#Look at the statistics of each layer's output
for name, output in zip(style_layers, style_outputs):
  print(name)
  print("  shape: ", output.numpy().shape)
  print("  min: ", output.numpy().min())
  print("  max: ", output.numpy().max())
  print("  mean: ", output.numpy().mean())
  print()
assert style_outputs[1].shape == (1, 16, 16, 16)


def gram_matrix(input_tensor):
  result = tf.linalg.einsum('bijc,bijd->bcd', input_tensor, input_tensor)
  input_shape = tf.shape(input_tensor)
  num_locations = tf.cast(input_shape[1]*input_shape[2], tf.float32)
  return result/(num_locations)


features = np.asarray(style_outputs[0], np.float64)
flat = features.reshape(1, -1, features.shape[-1])
np.testing.assert_allclose(gram_matrix(style_outputs[0]).numpy(), flat.transpose(0, 2, 1) @ flat / flat.shape[1],
                           rtol=1e-4, atol=1e-3)
# the same with tf.matmul(transpose_a=True), as the Keras example writes it
f2 = tf.reshape(style_outputs[0], (-1, 8))
np.testing.assert_allclose(tf.matmul(f2, f2, transpose_a=True).numpy() / 1024, gram_matrix(style_outputs[0]).numpy()[0],
                           rtol=1e-4, atol=1e-3)


class StyleContentModel(tf.keras.models.Model):
  def __init__(self, style_layers, content_layers):
    super(StyleContentModel, self).__init__()
    self.vgg = vgg_layers(style_layers + content_layers)
    self.style_layers = style_layers
    self.content_layers = content_layers
    self.num_style_layers = len(style_layers)
    self.vgg.trainable = False

  def call(self, inputs):
    "Expects float input in [0,1]"
    inputs = inputs*255.0
    preprocessed_input = inputs - 127.5   # stands in for vgg19.preprocess_input
    outputs = self.vgg(preprocessed_input)
    style_outputs, content_outputs = (outputs[:self.num_style_layers],
                                      outputs[self.num_style_layers:])

    style_outputs = [gram_matrix(style_output)
                     for style_output in style_outputs]

    content_dict = {content_name: value
                    for content_name, value
                    in zip(self.content_layers, content_outputs)}

    style_dict = {style_name: value
                  for style_name, value
                  in zip(self.style_layers, style_outputs)}

    return {'content': content_dict, 'style': style_dict}


extractor = StyleContentModel(style_layers, content_layers)

results = extractor(tf.constant(content_image))

print('Styles:')
for name, output in sorted(results['style'].items()):
  print("  ", name)
  print("    shape: ", output.numpy().shape)
print("Contents:")
for name, output in sorted(results['content'].items()):
  print("  ", name)
  print("    shape: ", output.numpy().shape)
assert results['style']['block2_conv1'].shape == (1, 16, 16)
assert results['content']['block2_conv2'].shape == (1, 16, 16, 16)

style_targets = extractor(style_image)['style']
content_targets = extractor(content_image)['content']

image = tf.Variable(content_image)


def clip_0_1(image):
  return tf.clip_by_value(image, clip_value_min=0.0, clip_value_max=1.0)


opt = tf.keras.optimizers.Adam(learning_rate=0.02, beta_1=0.99, epsilon=1e-1)

style_weight=1e-2
content_weight=1e4


def style_content_loss(outputs):
    style_outputs = outputs['style']
    content_outputs = outputs['content']
    style_loss = tf.add_n([tf.reduce_mean((style_outputs[name]-style_targets[name])**2)
                           for name in style_outputs.keys()])
    style_loss *= style_weight / num_style_layers

    content_loss = tf.add_n([tf.reduce_mean((content_outputs[name]-content_targets[name])**2)
                             for name in content_outputs.keys()])
    content_loss *= content_weight / num_content_layers
    loss = style_loss + content_loss
    return loss


def high_pass_x_y(image):
  x_var = image[:, :, 1:, :] - image[:, :, :-1, :]
  y_var = image[:, 1:, :, :] - image[:, :-1, :, :]

  return x_var, y_var


def total_variation_loss(image):
  x_deltas, y_deltas = high_pass_x_y(image)
  return tf.reduce_sum(tf.abs(x_deltas)) + tf.reduce_sum(tf.abs(y_deltas))


np.testing.assert_allclose(total_variation_loss(image).numpy(), tf.image.total_variation(image).numpy()[0], rtol=1e-5)
x_deltas, y_deltas = high_pass_x_y(content_image)
assert x_deltas.shape == (1, 32, 31, 3) and y_deltas.shape == (1, 31, 32, 3)

total_variation_weight=30


@tf.function()
def train_step(image):
  with tf.GradientTape() as tape:
    outputs = extractor(image)
    loss = style_content_loss(outputs)
    loss += total_variation_weight*tf.image.total_variation(image)

  grad = tape.gradient(loss, image)
  opt.apply_gradients([(grad, image)])
  image.assign(clip_0_1(image))
  return loss


frozen = [w.copy() for w in VGG.get_weights()]
losses = [float(np.asarray(train_step(image)).reshape(-1)[0]) for _ in range(30)]
print("loss: %.1f -> %.1f" % (losses[0], losses[-1]))
# Adam's first steps (beta_1=0.99) move every pixel by about the learning rate and raise the
# total variation; from there on the loss falls step after step
assert all(b < a for a, b in zip(losses[4:], losses[5:])) and losses[-1] < 0.95 * max(losses), losses
assert isinstance(image, tf.Variable) and image.numpy().min() >= 0.0 and image.numpy().max() <= 1.0
for a, b in zip(VGG.get_weights(), frozen):   # only the image changes: the extractor is frozen
  np.testing.assert_array_equal(a, b)
# the image moved towards the style: its style loss fell
style_now = extractor(image.numpy())['style']
before = sum(np.mean((np.asarray(results['style'][n]) - np.asarray(style_targets[n])) ** 2) for n in style_layers)
after = sum(np.mean((np.asarray(style_now[n]) - np.asarray(style_targets[n])) ** 2) for n in style_layers)
assert after < before, (before, after)
