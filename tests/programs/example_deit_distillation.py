"""keras.io example "Distilling Vision Transformers" (DeiT), imports changed: a ViT whose patch
encoder adds a learnable class token and a distillation token (add_weight in build, broadcast over
the batch with ops.broadcast_to), a ViTDistilled model that returns both heads' logits in training
and their mean at inference, and a DeiT keras.Model whose train_step mixes the student loss on the
labels with a hard-label distillation loss on the frozen teacher's argmax and whose test_step uses
the averaged logits; compile takes the student loss and the distillation loss as attributes.
ImageNet's BiT teacher becomes a small ConvNet trained first on the same synthetic 4-class images."""
import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers, ops

keras.utils.set_random_seed(8)
rng = np.random.default_rng(8)

# Model
MODEL_TYPE = "deit_distilled_tiny_patch16_224"
RESOLUTION = 16
PATCH_SIZE = 4
NUM_PATCHES = (RESOLUTION // PATCH_SIZE) ** 2
LAYER_NORM_EPS = 1e-6
PROJECTION_DIM = 32
NUM_HEADS = 2
NUM_LAYERS = 2
MLP_UNITS = [PROJECTION_DIM * 2, PROJECTION_DIM]
DROPOUT_RATE = 0.0
DROP_PATH_RATE = 0.1
# Training
NUM_EPOCHS = 8
BASE_LR = 0.002
WEIGHT_DECAY = 0.0001
# Data
BATCH_SIZE = 32
NUM_CLASSES = 4


def make(n):
    y = rng.integers(0, NUM_CLASSES, n)
    x = rng.normal(0, 0.4, (n, RESOLUTION, RESOLUTION, 3))
    for i, c in enumerate(y):
        r = (c // 2) * 8
        k = (c % 2) * 8
        x[i, r:r + 8, k:k + 8] += 1.5                  # a bright quadrant per class
    return x.astype("float32"), y.astype("int32")


x_train, y_train = make(384)
x_val, y_val = make(96)
train_dataset = tf.data.Dataset.from_tensor_slices((x_train, y_train)).shuffle(384).batch(BATCH_SIZE)
val_dataset = tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(BATCH_SIZE)


def mlp(x, dropout_rate: float, hidden_units):
    """FFN for a Transformer block."""
    for (idx, units) in enumerate(hidden_units):
        x = layers.Dense(units, activation=tf.nn.gelu if idx == 0 else None)(x)
        x = layers.Dropout(dropout_rate)(x)
    return x


class StochasticDepth(layers.Layer):
    def __init__(self, drop_prop, **kwargs):
        super().__init__(**kwargs)
        self.drop_prob = drop_prop

    def call(self, x, training=True):
        if training:
            keep_prob = 1 - self.drop_prob
            shape = (tf.shape(x)[0],) + (1,) * (len(x.shape) - 1)
            random_tensor = keep_prob + tf.random.uniform(shape, 0, 1)
            random_tensor = tf.floor(random_tensor)
            return (x / keep_prob) * random_tensor
        return x


def transformer(drop_prob: float, name: str) -> keras.Model:
    """Transformer block with pre-norming."""
    num_patches = NUM_PATCHES + 2
    encoded_patches = layers.Input((num_patches, PROJECTION_DIM))
    # Layer normalization 1.
    x1 = layers.LayerNormalization(epsilon=LAYER_NORM_EPS)(encoded_patches)
    # Multi Head Self Attention layer 1.
    attention_output = layers.MultiHeadAttention(num_heads=NUM_HEADS, key_dim=PROJECTION_DIM,
                                                 dropout=DROPOUT_RATE)(x1, x1)
    attention_output = StochasticDepth(drop_prob)(attention_output) if drop_prob else attention_output
    # Skip connection 1.
    x2 = layers.Add()([attention_output, encoded_patches])
    # Layer normalization 2.
    x3 = layers.LayerNormalization(epsilon=LAYER_NORM_EPS)(x2)
    # MLP layer 1.
    x4 = mlp(x3, hidden_units=MLP_UNITS, dropout_rate=DROPOUT_RATE)
    x4 = StochasticDepth(drop_prob)(x4) if drop_prob else x4
    # Skip connection 2.
    outputs = layers.Add()([x2, x4])
    return keras.Model(encoded_patches, outputs, name=name)


class ViTClassifier(keras.Model):
    """Vision Transformer base class."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # Patchify + linear projection + reshaping.
        self.projection = keras.Sequential([
            layers.Conv2D(filters=PROJECTION_DIM, kernel_size=(PATCH_SIZE, PATCH_SIZE), strides=(PATCH_SIZE, PATCH_SIZE),
                          padding="VALID", name="conv_projection"),
            layers.Reshape(target_shape=(NUM_PATCHES, PROJECTION_DIM), name="flatten_projection"),
        ], name="projection")
        # Positional embedding.
        init_shape = (1, NUM_PATCHES + 1, PROJECTION_DIM)
        self.positional_embedding = tf.Variable(tf.zeros(init_shape), name="pos_embedding")
        # Transformer blocks.
        dpr = [x for x in tf.linspace(0.0, DROP_PATH_RATE, NUM_LAYERS)]
        self.transformer_blocks = [transformer(drop_prob=float(dpr[i]), name=f"transformer_block_{i}")
                                   for i in range(NUM_LAYERS)]
        # CLS token.
        initial_value = tf.zeros((1, 1, PROJECTION_DIM))
        self.cls_token = tf.Variable(initial_value=initial_value, trainable=True, name="cls")
        # Other layers.
        self.dropout = layers.Dropout(DROPOUT_RATE)
        self.layer_norm = layers.LayerNormalization(epsilon=LAYER_NORM_EPS)
        self.head = layers.Dense(NUM_CLASSES, name="classification_head")

    def call(self, inputs, training=True):
        n = tf.shape(inputs)[0]
        # Create patches and project the patches.
        projected_patches = self.projection(inputs)
        # Append class token if needed.
        cls_token = tf.tile(self.cls_token, (n, 1, 1))
        cls_token = tf.cast(cls_token, projected_patches.dtype)
        projected_patches = tf.concat([cls_token, projected_patches], axis=1)
        # Add positional embeddings to the projected patches.
        encoded_patches = self.positional_embedding + projected_patches  # (B, number_patches, projection_dim)
        encoded_patches = self.dropout(encoded_patches)
        # Iterate over the number of layers and stack up blocks of Transformer.
        for transformer_module in self.transformer_blocks:
            # Add a Transformer block.
            encoded_patches = transformer_module(encoded_patches)
        # Final layer normalization.
        representation = self.layer_norm(encoded_patches)
        # Pool representation.
        encoded_patches = representation[:, 0]
        # Classification head.
        output = self.head(encoded_patches)
        return output


class ViTDistilled(ViTClassifier):
    def __init__(self, regular_training=False, **kwargs):
        super().__init__(**kwargs)
        self.num_tokens = 2
        self.regular_training = regular_training
        # CLS and distillation tokens, positional embedding.
        init_value = tf.zeros((1, 1, PROJECTION_DIM))
        self.dist_token = tf.Variable(init_value, name="dist_token")
        self.positional_embedding = tf.Variable(tf.zeros((1, NUM_PATCHES + self.num_tokens, PROJECTION_DIM)),
                                                name="pos_embedding")
        # Head layers.
        self.head = layers.Dense(NUM_CLASSES, name="classification_head")
        self.head_dist = layers.Dense(NUM_CLASSES, name="distillation_head")

    def call(self, inputs, training=False):
        n = tf.shape(inputs)[0]
        # Create patches and project the patches.
        projected_patches = self.projection(inputs)
        # Append the tokens.
        cls_token = tf.tile(self.cls_token, (n, 1, 1))
        dist_token = tf.tile(self.dist_token, (n, 1, 1))
        cls_token = tf.cast(cls_token, projected_patches.dtype)
        dist_token = tf.cast(dist_token, projected_patches.dtype)
        projected_patches = tf.concat([cls_token, dist_token, projected_patches], axis=1)
        # Add positional embeddings to the projected patches.
        encoded_patches = self.positional_embedding + projected_patches  # (B, number_patches, projection_dim)
        encoded_patches = self.dropout(encoded_patches)
        # Iterate over the number of layers and stack up blocks of Transformer.
        for transformer_module in self.transformer_blocks:
            # Add a Transformer block.
            encoded_patches = transformer_module(encoded_patches)
        # Final layer normalization.
        representation = self.layer_norm(encoded_patches)
        # Classification heads.
        x, x_dist = (self.head(representation[:, 0]), self.head_dist(representation[:, 1]))
        if not training or self.regular_training:
            # During standard train / finetune, inference average the classifier predictions.
            return (x + x_dist) / 2
        elif training:
            # Only return separate classification predictions when training in distilled mode.
            return x, x_dist


deit_tiny = ViTDistilled()
out = deit_tiny(tf.random.normal((2, RESOLUTION, RESOLUTION, 3)), training=False)
assert tuple(out.shape) == (2, NUM_CLASSES)
x_both = deit_tiny(tf.random.normal((2, RESOLUTION, RESOLUTION, 3)), training=True)
assert isinstance(x_both, tuple) and len(x_both) == 2


class DeiT(keras.Model):
    # Reference: https://git.io/JfE2E
    def __init__(self, student, teacher, **kwargs):
        super().__init__(**kwargs)
        self.student = student
        self.teacher = teacher
        self.student_loss_tracker = keras.metrics.Mean(name="student_loss")
        self.dist_loss_tracker = keras.metrics.Mean(name="distillation_loss")

    @property
    def metrics(self):
        metrics = super().metrics
        metrics.append(self.student_loss_tracker)
        metrics.append(self.dist_loss_tracker)
        return metrics

    def compile(self, optimizer, metrics, student_loss_fn, distillation_loss_fn):
        super().compile(optimizer=optimizer, metrics=metrics)
        self.student_loss_fn = student_loss_fn
        self.distillation_loss_fn = distillation_loss_fn

    def train_step(self, data):
        # Unpack data.
        x, y = data
        # Forward pass of teacher
        teacher_predictions = tf.nn.softmax(self.teacher(x, training=False), -1)
        teacher_predicted_labels = tf.argmax(teacher_predictions, -1)
        with tf.GradientTape() as tape:
            # Forward pass of student.
            cls_predictions, dist_predictions = self.student(x, training=True)
            # Compute losses.
            student_loss = self.student_loss_fn(y, cls_predictions)
            distillation_loss = self.distillation_loss_fn(teacher_predicted_labels, dist_predictions)
            loss = (student_loss + distillation_loss) / 2
        # Compute gradients.
        trainable_vars = self.student.trainable_variables
        gradients = tape.gradient(loss, trainable_vars)
        # Update weights.
        self.optimizer.apply_gradients(zip(gradients, trainable_vars))
        # Update the metrics configured in `compile()`.
        student_predictions = (cls_predictions + dist_predictions) / 2
        self.compiled_metrics.update_state(y, student_predictions)
        self.dist_loss_tracker.update_state(distillation_loss)
        self.student_loss_tracker.update_state(student_loss)
        # Return a dict of performance.
        results = {m.name: m.result() for m in self.metrics}
        return results

    def test_step(self, data):
        # Unpack the data.
        x, y = data
        # Compute predictions.
        y_prediction = self.student(x, training=False)
        # Calculate the loss.
        student_loss = self.student_loss_fn(y, y_prediction)
        # Update the metrics.
        self.compiled_metrics.update_state(y, y_prediction)
        self.student_loss_tracker.update_state(student_loss)
        # Return a dict of performance.
        results = {m.name: m.result() for m in self.metrics}
        return results

    def call(self, inputs):
        return self.student(inputs / 255.0, training=False)


# the teacher: a small ConvNet trained first
teacher = keras.Sequential([
    keras.Input((RESOLUTION, RESOLUTION, 3)), layers.Conv2D(16, 3, activation="relu"), layers.MaxPooling2D(),
    layers.Conv2D(16, 3, activation="relu"), layers.GlobalAveragePooling2D(), layers.Dense(NUM_CLASSES)], name="teacher")
teacher.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
teacher.fit(train_dataset, epochs=8, verbose=0)
teacher_acc = teacher.evaluate(val_dataset, verbose=0)[1]
print("teacher accuracy", teacher_acc)
assert teacher_acc > 0.85, teacher_acc
teacher.trainable = False
teacher_weights = [np.array(w) for w in teacher.get_weights()]

deit_distiller = DeiT(student=deit_tiny, teacher=teacher)
lr_scaled = (BASE_LR / 512) * BATCH_SIZE * 8
deit_distiller.compile(optimizer=keras.optimizers.AdamW(weight_decay=WEIGHT_DECAY, learning_rate=lr_scaled),
                       metrics=["accuracy"],
                       student_loss_fn=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                       distillation_loss_fn=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
history = deit_distiller.fit(train_dataset, validation_data=val_dataset, epochs=NUM_EPOCHS, verbose=0)
h = history.history
print("student loss", h["student_loss"][0], "->", h["student_loss"][-1], "val accuracy", h["val_accuracy"][-1])
assert {"accuracy", "student_loss", "distillation_loss", "val_accuracy", "val_student_loss"} <= set(h), sorted(h)
assert h["student_loss"][-1] < 0.5 * h["student_loss"][0], h["student_loss"]
assert h["distillation_loss"][-1] < h["distillation_loss"][0]
assert h["val_accuracy"][-1] > 0.7, h["val_accuracy"]
for a, b in zip(teacher_weights, teacher.get_weights()):
    np.testing.assert_array_equal(a, np.asarray(b))                  # the teacher only labels

# the distiller's call is the student at inference on images scaled by 1/255
np.testing.assert_allclose(np.asarray(deit_distiller(x_val[:4] * 255.0)),
                           np.asarray(deit_tiny(x_val[:4], training=False)), rtol=1e-4, atol=1e-5)
