"""keras.io example "Neural Style Transfer with AdaIN", imports changed: adaptive instance
normalization written with tf.nn.moments (the style's per-channel mean and std replace the
content's), an encoder frozen and sliced into per-block feature extractors (keras.Model on the
intermediate outputs of a model, get_layer(...).output), a decoder of UpSampling2D + Conv2D, and a
NeuralStyleTransfer keras.Model whose train_step/test_step compute the content loss on the AdaIN
target and the style loss on per-layer means and standard deviations with its own loss trackers
(metrics property). The VGG19 encoder (ImageNet weights) becomes a small random frozen ConvNet,
and the COCO/WikiArt images small synthetic textures."""
import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers

keras.utils.set_random_seed(3)
rng = np.random.default_rng(3)
IMAGE_SIZE = (16, 16)
BATCH_SIZE = 8
EPSILON = 1e-5


def textures(n, kind):
    yy, xx = np.meshgrid(np.arange(16), np.arange(16), indexing="ij")
    out = []
    for _ in range(n):
        f = rng.uniform(0.2, 1.2)
        base = np.sin(f * (xx if kind == "style" else yy) + rng.uniform(0, 6))
        img = np.stack([base * rng.uniform(0.3, 1), np.cos(f * xx) * rng.uniform(0.3, 1), base ** 2], -1)
        out.append((img + 1) / 2 + rng.normal(0, 0.05, img.shape))
    return np.clip(np.asarray(out), 0, 1).astype("float32") * 255.0


style_images, content_images = textures(32, "style"), textures(32, "content")
train_ds = tf.data.Dataset.zip((tf.data.Dataset.from_tensor_slices(style_images),
                                tf.data.Dataset.from_tensor_slices(content_images)))
train_ds = train_ds.shuffle(32).batch(BATCH_SIZE).prefetch(tf.data.AUTOTUNE)
test_ds = tf.data.Dataset.zip((tf.data.Dataset.from_tensor_slices(style_images[:8]),
                               tf.data.Dataset.from_tensor_slices(content_images[:8]))).batch(BATCH_SIZE)


def get_encoder():
    """The example's VGG19 up to block4_conv1, here a small frozen ConvNet with VGG's layer names."""
    inputs = layers.Input(IMAGE_SIZE + (3,))
    x = layers.Rescaling(1.0 / 255)(inputs)
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="block1_conv1")(x)
    x = layers.MaxPooling2D(name="block1_pool")(x)
    x = layers.Conv2D(16, 3, padding="same", activation="relu", name="block2_conv1")(x)
    x = layers.MaxPooling2D(name="block2_pool")(x)
    x = layers.Conv2D(32, 3, padding="same", activation="relu", name="block3_conv1")(x)
    vgg = keras.Model(inputs, x, name="vgg19")
    vgg.trainable = False
    model = keras.Model(vgg.input, vgg.get_layer("block3_conv1").output, name="mini_vgg19")
    return model


def get_mean_std(x, epsilon=EPSILON):
    axes = [1, 2]
    mean, variance = tf.nn.moments(x, axes=axes, keepdims=True)
    standard_deviation = tf.sqrt(variance + epsilon)
    return mean, standard_deviation


def ada_in(style, content):
    content_mean, content_std = get_mean_std(content)
    style_mean, style_std = get_mean_std(style)
    t = style_std * (content - content_mean) / content_std + style_mean
    return t


def get_decoder():
    config = {"kernel_size": 3, "strides": 1, "padding": "same", "activation": "relu"}
    decoder = keras.Sequential([
        layers.InputLayer((IMAGE_SIZE[0] // 4, IMAGE_SIZE[1] // 4, 32)),
        layers.Conv2D(filters=16, **config),
        layers.UpSampling2D(),
        layers.Conv2D(filters=16, **config),
        layers.Conv2D(filters=8, **config),
        layers.UpSampling2D(),
        layers.Conv2D(filters=8, **config),
        layers.Conv2D(filters=3, kernel_size=3, strides=1, padding="same", activation="sigmoid"),
    ])
    return decoder


def get_loss_net():
    vgg19 = get_encoder()
    vgg19.trainable = False
    layer_names = ["block1_conv1", "block2_conv1", "block3_conv1"]
    outputs = [vgg19.get_layer(name).output for name in layer_names]
    mini_vgg19 = keras.Model(vgg19.input, outputs)
    inputs = layers.Input([*IMAGE_SIZE, 3])
    mini_vgg19_out = mini_vgg19(inputs)
    return keras.Model(inputs, mini_vgg19_out, name="loss_net")


class NeuralStyleTransfer(tf.keras.Model):
    def __init__(self, encoder, decoder, loss_net, style_weight, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.loss_net = loss_net
        self.style_weight = style_weight

    def compile(self, optimizer, loss_fn):
        super().compile()
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.style_loss_tracker = keras.metrics.Mean(name="style_loss")
        self.content_loss_tracker = keras.metrics.Mean(name="content_loss")
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")

    def train_step(self, inputs):
        style, content = inputs
        loss_content = 0.0
        loss_style = 0.0
        with tf.GradientTape() as tape:
            style_encoded = self.encoder(style)
            content_encoded = self.encoder(content)
            t = ada_in(style=style_encoded, content=content_encoded)
            reconstructed_image = self.decoder(t) * 255.0
            reconstructed_vgg_features = self.loss_net(reconstructed_image)
            style_vgg_features = self.loss_net(style)
            loss_content = self.loss_fn(t, reconstructed_vgg_features[-1])
            for inp, out in zip(style_vgg_features, reconstructed_vgg_features):
                mean_inp, std_inp = get_mean_std(inp)
                mean_out, std_out = get_mean_std(out)
                loss_style += self.loss_fn(mean_inp, mean_out) + self.loss_fn(std_inp, std_out)
            loss_style = self.style_weight * loss_style
            total_loss = loss_content + loss_style
        trainable_vars = self.decoder.trainable_variables
        gradients = tape.gradient(total_loss, trainable_vars)
        self.optimizer.apply_gradients(zip(gradients, trainable_vars))
        self.style_loss_tracker.update_state(loss_style)
        self.content_loss_tracker.update_state(loss_content)
        self.total_loss_tracker.update_state(total_loss)
        return {"style_loss": self.style_loss_tracker.result(),
                "content_loss": self.content_loss_tracker.result(),
                "total_loss": self.total_loss_tracker.result()}

    def test_step(self, inputs):
        style, content = inputs
        loss_content = 0.0
        loss_style = 0.0
        style_encoded = self.encoder(style)
        content_encoded = self.encoder(content)
        t = ada_in(style=style_encoded, content=content_encoded)
        reconstructed_image = self.decoder(t) * 255.0
        recons_vgg_features = self.loss_net(reconstructed_image)
        style_vgg_features = self.loss_net(style)
        loss_content = self.loss_fn(t, recons_vgg_features[-1])
        for inp, out in zip(style_vgg_features, recons_vgg_features):
            mean_inp, std_inp = get_mean_std(inp)
            mean_out, std_out = get_mean_std(out)
            loss_style += self.loss_fn(mean_inp, mean_out) + self.loss_fn(std_inp, std_out)
        loss_style = self.style_weight * loss_style
        total_loss = loss_content + loss_style
        self.style_loss_tracker.update_state(loss_style)
        self.content_loss_tracker.update_state(loss_content)
        self.total_loss_tracker.update_state(total_loss)
        return {"style_loss": self.style_loss_tracker.result(),
                "content_loss": self.content_loss_tracker.result(),
                "total_loss": self.total_loss_tracker.result()}

    @property
    def metrics(self):
        return [self.style_loss_tracker, self.content_loss_tracker, self.total_loss_tracker]


# AdaIN itself against NumPy
s = rng.normal(2.0, 3.0, size=(2, 4, 4, 5)).astype("float32")
c = rng.normal(-1.0, 0.5, size=(2, 4, 4, 5)).astype("float32")
t = np.asarray(ada_in(style=tf.constant(s), content=tf.constant(c)))
sm, ss = s.mean((1, 2), keepdims=True), np.sqrt(s.var((1, 2), keepdims=True) + EPSILON)
cm, cs = c.mean((1, 2), keepdims=True), np.sqrt(c.var((1, 2), keepdims=True) + EPSILON)
np.testing.assert_allclose(t, ss * (c - cm) / cs + sm, rtol=1e-4, atol=1e-4)
np.testing.assert_allclose(t.mean((1, 2)), s.mean((1, 2)), rtol=1e-4, atol=1e-4)

optimizer = keras.optimizers.Adam(learning_rate=3e-3)
loss_fn = keras.losses.MeanSquaredError()
encoder = get_encoder()
loss_net = get_loss_net()
decoder = get_decoder()
model = NeuralStyleTransfer(encoder=encoder, decoder=decoder, loss_net=loss_net, style_weight=4.0)
model.compile(optimizer=optimizer, loss_fn=loss_fn)
before = model.evaluate(test_ds, verbose=0, return_dict=True)
frozen = [np.array(w) for w in encoder.get_weights()]
history = model.fit(train_ds, epochs=8, validation_data=test_ds, verbose=0)
h = history.history
print("total_loss", h["total_loss"][0], "->", h["total_loss"][-1], "val", before["total_loss"], "->",
      h["val_total_loss"][-1])
assert sorted(h) == ["content_loss", "style_loss", "total_loss", "val_content_loss", "val_style_loss",
                     "val_total_loss"], sorted(h)
assert h["val_total_loss"][-1] < 0.85 * before["total_loss"], (before, h["val_total_loss"])
for w0, w1 in zip(frozen, encoder.get_weights()):          # only the decoder trains
    np.testing.assert_array_equal(w0, np.asarray(w1))
assert len(loss_net.outputs) == 3 and not loss_net.trainable_weights

for style, content in test_ds.take(1):
    t = ada_in(style=encoder(style), content=encoder(content))
    reconstructed = decoder(t) * 255.0
    assert tuple(reconstructed.shape) == (8, 16, 16, 3)
    assert 0.0 <= float(np.min(reconstructed)) and float(np.max(reconstructed)) <= 255.0
