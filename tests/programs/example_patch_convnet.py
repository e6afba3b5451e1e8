"""keras.io example "Augmenting convnets with aggregated attention" (PatchConvNet), imports
changed, at a tiny size: the convolutional stem, trunk blocks with squeeze-excitation, the
attention-pooling layer with a learned class token (MultiHeadAttention returning its scores),
a WarmUpCosine learning-rate schedule, and training on synthetic two-class images; the
attention map of the class token is read back as in the example's visualisation."""
import numpy as np
import corenn as tf
from corenn import keras
from corenn.keras import layers
from corenn import ops

keras.utils.set_random_seed(0)
IMAGE_SIZE = 16
DIMENSIONS = 16
SE_RATIO = 4
TRUNK_DEPTH = 2
NUM_CLASSES = 2
BATCH_SIZE = 16
EPOCHS = 12

rng = np.random.default_rng(0)
y = rng.integers(0, 2, 96)
x = rng.normal(0, .3, (96, IMAGE_SIZE, IMAGE_SIZE, 3)).astype("float32")
for i in range(96):
    if y[i]:
        x[i, 2:8, 2:8] += 1.5
    else:
        x[i, 8:14, 8:14] -= 1.5
train_ds = tf.data.Dataset.from_tensor_slices((x[:80], y[:80])).shuffle(80).batch(BATCH_SIZE)
val_ds = tf.data.Dataset.from_tensor_slices((x[80:], y[80:])).batch(BATCH_SIZE)

def build_convolutional_stem(dimensions):
    config = {"kernel_size": (3, 3), "strides": (2, 2), "activation": ops.gelu, "padding": "same"}
    convolutional_stem = keras.Sequential([layers.Conv2D(filters=dimensions // 2, **config),
                                           layers.Conv2D(filters=dimensions, **config)], name="convolutional_stem")
    return convolutional_stem

class SqueezeExcite(layers.Layer):
    def __init__(self, ratio, **kwargs):
        super().__init__(**kwargs)
        self.ratio = ratio
    def get_config(self):
        config = super().get_config()
        config.update({"ratio": self.ratio})
        return config
    def build(self, input_shape):
        filters = input_shape[-1]
        self.squeeze = layers.GlobalAveragePooling2D(keepdims=True)
        self.reduction = layers.Dense(units=filters // self.ratio, activation="relu", use_bias=False)
        self.excite = layers.Dense(units=filters, activation="sigmoid", use_bias=False)
        self.multiply = layers.Multiply()
    def call(self, x):
        shortcut = x
        x = self.squeeze(x)
        x = self.reduction(x)
        x = self.excite(x)
        x = self.multiply([shortcut, x])
        return x

class Trunk(layers.Layer):
    def __init__(self, depth, dimensions, ratio, **kwargs):
        super().__init__(**kwargs)
        self.ratio = ratio
        self.dimensions = dimensions
        self.depth = depth
    def get_config(self):
        config = super().get_config()
        config.update({"ratio": self.ratio, "dimensions": self.dimensions, "depth": self.depth})
        return config
    def build(self, input_shape):
        config = {"filters": self.dimensions, "activation": ops.gelu, "padding": "same"}
        trunk_block = [layers.LayerNormalization(epsilon=1e-6), layers.Conv2D(kernel_size=(1, 1), **config),
                       layers.Conv2D(kernel_size=(3, 3), **config), SqueezeExcite(ratio=self.ratio),
                       layers.Conv2D(kernel_size=(1, 1), filters=self.dimensions, padding="same")]
        self.trunk_blocks = [keras.Sequential(trunk_block) for _ in range(self.depth)]
        self.add = layers.Add()
    def call(self, x):
        for trunk_block in self.trunk_blocks:
            output = trunk_block(x)
            x = self.add([x, output])
        return x

class AttentionPooling(layers.Layer):
    def __init__(self, dimensions, num_classes, **kwargs):
        super().__init__(**kwargs)
        self.dimensions = dimensions
        self.num_classes = num_classes
        self.cls = keras.Variable(ops.zeros((1, 1, dimensions)))
    def get_config(self):
        config = super().get_config()
        config.update({"dimensions": self.dimensions, "num_classes": self.num_classes, "cls": self.cls.numpy()})
        return config
    def build(self, input_shape):
        self.attention = layers.MultiHeadAttention(num_heads=1, key_dim=self.dimensions, dropout=0.2)
        self.layer_norm1 = layers.LayerNormalization(epsilon=1e-6)
        self.layer_norm2 = layers.LayerNormalization(epsilon=1e-6)
        self.layer_norm3 = layers.LayerNormalization(epsilon=1e-6)
        self.mlp = keras.Sequential([layers.Dense(units=self.dimensions, activation=ops.gelu), layers.Dropout(0.2),
                                     layers.Dense(units=self.dimensions, activation=ops.gelu)])
        self.dense = layers.Dense(units=self.num_classes)
        self.flatten = layers.Flatten()
    def call(self, x):
        batch_size = ops.shape(x)[0]
        class_token = ops.repeat(self.cls, repeats=batch_size, axis=0)
        x = ops.concatenate([class_token, x], axis=1)
        x = self.layer_norm1(x)
        x, viz_weights = self.attention(query=x[:, 0:1], key=x, value=x, return_attention_scores=True)
        class_token = class_token + x
        class_token = self.layer_norm2(class_token)
        class_token = self.flatten(class_token)
        class_token = self.layer_norm3(class_token)
        class_token = class_token + self.mlp(class_token)
        logits = self.dense(class_token)
        return logits, ops.squeeze(viz_weights)[..., 1:]

class PatchConvNet(keras.Model):
    def __init__(self, stem, trunk, attention_pooling, preprocessing_model, train_augmentation_model, **kwargs):
        super().__init__(**kwargs)
        self.stem = stem
        self.trunk = trunk
        self.attention_pooling = attention_pooling
        self.train_augmentation_model = train_augmentation_model
        self.preprocessing_model = preprocessing_model
    def get_config(self):
        config = super().get_config()
        config.update({"stem": self.stem, "trunk": self.trunk, "attention_pooling": self.attention_pooling,
                       "train_augmentation_model": self.train_augmentation_model,
                       "preprocessing_model": self.preprocessing_model})
        return config
    def _calculate_loss(self, inputs, test=False):
        images, labels = inputs
        if test:
            augmented_images = self.preprocessing_model(images)
        else:
            augmented_images = self.train_augmentation_model(images)
        x = self.stem(augmented_images)
        x = self.trunk(x)
        x = ops.reshape(x, (ops.shape(x)[0], -1, ops.shape(x)[-1]))
        logits, _ = self.attention_pooling(x)
        total_loss = self.compiled_loss(labels, logits)
        return total_loss, logits
    def train_step(self, inputs):
        with tf.GradientTape() as tape:
            total_loss, logits = self._calculate_loss(inputs)
        train_vars = [self.stem.trainable_variables, self.trunk.trainable_variables,
                      self.attention_pooling.trainable_variables]
        grads = tape.gradient(total_loss, train_vars)
        trainable_variable_list = []
        for grad, var in zip(grads, train_vars):
            for g, v in zip(grad, var):
                trainable_variable_list.append((g, v))
        self.optimizer.apply_gradients(trainable_variable_list)
        _, labels = inputs
        self.compiled_metrics.update_state(labels, logits)
        return {m.name: m.result() for m in self.metrics}
    def test_step(self, inputs):
        total_loss, logits = self._calculate_loss(inputs, test=True)
        _, labels = inputs
        self.compiled_metrics.update_state(labels, logits)
        return {m.name: m.result() for m in self.metrics}
    def call(self, images):
        augmented_images = self.preprocessing_model(images)
        x = self.stem(augmented_images)
        x = self.trunk(x)
        x = ops.reshape(x, (ops.shape(x)[0], -1, ops.shape(x)[-1]))
        logits, viz_weights = self.attention_pooling(x)
        return logits, viz_weights

class WarmUpCosine(keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, lr_start, lr_max, warmup_steps, total_steps):
        super().__init__()
        self.lr_start = lr_start
        self.lr_max = lr_max
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps
        self.pi = np.pi
    def __call__(self, step):
        if self.total_steps < self.warmup_steps:
            raise ValueError("Total_steps must be larger or equal to warmup_steps.")
        cos_annealed_lr = ops.cos(self.pi * (ops.cast(step, "float32") - self.warmup_steps)
                                  / ops.cast(self.total_steps - self.warmup_steps, "float32"))
        learning_rate = 0.5 * self.lr_max * (1 + cos_annealed_lr)
        if self.warmup_steps > 0:
            if self.lr_max < self.lr_start:
                raise ValueError("lr_start must be smaller or equal to lr_max.")
            slope = (self.lr_max - self.lr_start) / self.warmup_steps
            warmup_rate = slope * ops.cast(step, "float32") + self.lr_start
            learning_rate = ops.where(step < self.warmup_steps, warmup_rate, learning_rate)
        return ops.where(step > self.total_steps, 0.0, learning_rate)

total_steps = int((80 / BATCH_SIZE) * EPOCHS)
warmup_steps = int(total_steps * 0.15)
scheduled_lrs = WarmUpCosine(lr_start=1e-5, lr_max=3e-3, warmup_steps=warmup_steps, total_steps=total_steps)
lrs = [float(scheduled_lrs(step)) for step in range(total_steps)]
assert lrs[0] < lrs[warmup_steps] and lrs[-1] < lrs[warmup_steps]

preprocessing_model = keras.Sequential([layers.Rescaling(1.0)], name="preprocessing")
train_augmentation_model = keras.Sequential([layers.Rescaling(1.0), layers.RandomFlip("vertical")], name="augmentation")
stem = build_convolutional_stem(dimensions=DIMENSIONS)
trunk = Trunk(depth=TRUNK_DEPTH, dimensions=DIMENSIONS, ratio=SE_RATIO)
attention_pooling = AttentionPooling(dimensions=DIMENSIONS, num_classes=NUM_CLASSES)
patch_conv_net = PatchConvNet(stem=stem, trunk=trunk, attention_pooling=attention_pooling,
                              preprocessing_model=preprocessing_model,
                              train_augmentation_model=train_augmentation_model)
optimizer = keras.optimizers.AdamW(learning_rate=scheduled_lrs, weight_decay=1e-4)
patch_conv_net.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                       metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
history = patch_conv_net.fit(train_ds, epochs=EPOCHS, validation_data=val_ds, verbose=0)
print({k: v[-1] for k, v in history.history.items()})
acc = patch_conv_net.evaluate(val_ds, verbose=0, return_dict=True)["accuracy"]
print("val accuracy", acc)
assert acc > 0.8
logits, viz = patch_conv_net(x[80:84])
print(viz.shape)
assert tuple(viz.shape) == (4, (IMAGE_SIZE // 4) ** 2)
# the class token's softmax attention over [class token, patches]: the patches' share is in (0, 1]
share = np.asarray(ops.sum(viz, axis=-1))
assert np.all(share > 0) and np.all(share <= 1 + 1e-6), share
assert np.argmax(np.asarray(logits), -1).tolist() == y[80:84].tolist()
