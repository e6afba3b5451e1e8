"""keras.io example "Object detection with Vision Transformers", imports changed, at a tiny
size: Patches (keras.ops.image.extract_patches), PatchEncoder (projection + position
Embedding), transformer blocks of MultiHeadAttention and an MLP, a bounding-box regression head
trained with AdamW on synthetic images of one bright rectangle, and the example's
bounding_box_intersection_over_union on the predictions."""
import numpy as np
import corenn as tf
from corenn import keras
from corenn.keras import layers
from corenn import ops

keras.utils.set_random_seed(0)
image_size = 32
patch_size = 8
input_shape = (image_size, image_size, 3)
learning_rate = 0.003
weight_decay = 0.0001
batch_size = 16
num_epochs = 40
num_patches = (image_size // patch_size) ** 2
projection_dim = 32
num_heads = 4
transformer_units = [projection_dim * 2, projection_dim]
transformer_layers = 2
mlp_head_units = [64, 32]

rng = np.random.default_rng(0)
def make(n):
    x = rng.normal(0, 0.05, (n, image_size, image_size, 3)).astype("float32")
    y = np.zeros((n, 4), "float32")
    for i in range(n):
        x0, y0 = rng.integers(0, 18, 2)
        w, h = rng.integers(8, 14, 2)
        x[i, y0:y0 + h, x0:x0 + w] += 1.0
        y[i] = [x0 / image_size, y0 / image_size, (x0 + w) / image_size, (y0 + h) / image_size]
    return x, y
x_train, y_train = make(256)
x_test, y_test = make(32)

def mlp(x, hidden_units, dropout_rate):
    for units in hidden_units:
        x = layers.Dense(units, activation=keras.activations.gelu)(x)
        x = layers.Dropout(dropout_rate)(x)
    return x

class Patches(layers.Layer):
    def __init__(self, patch_size):
        super().__init__()
        self.patch_size = patch_size
    def call(self, images):
        input_shape = ops.shape(images)
        batch_size = input_shape[0]
        height = input_shape[1]
        width = input_shape[2]
        channels = input_shape[3]
        num_patches_h = height // self.patch_size
        num_patches_w = width // self.patch_size
        patches = keras.ops.image.extract_patches(images, size=self.patch_size)
        patches = ops.reshape(patches, (batch_size, num_patches_h * num_patches_w, self.patch_size * self.patch_size * channels))
        return patches
    def get_config(self):
        config = super().get_config()
        config.update({"patch_size": self.patch_size})
        return config

patches = Patches(patch_size)(x_train[:1])
print(f"Image size: {image_size} X {image_size}")
print(f"Patch size: {patch_size} X {patch_size}")
print(f"{patches.shape[1]} patches per image")
print(f"{patches.shape[-1]} elements per patch")
assert tuple(patches.shape) == (1, num_patches, patch_size * patch_size * 3)
np.testing.assert_allclose(np.asarray(patches)[0, 1], x_train[0, 0:8, 8:16].reshape(-1), rtol=1e-6)

class PatchEncoder(layers.Layer):
    def __init__(self, num_patches, projection_dim):
        super().__init__()
        self.num_patches = num_patches
        self.projection = layers.Dense(units=projection_dim)
        self.position_embedding = layers.Embedding(input_dim=num_patches, output_dim=projection_dim)
    def get_config(self):
        config = super().get_config()
        config.update({"input_shape": input_shape, "patch_size": patch_size, "num_patches": num_patches,
                       "projection_dim": projection_dim, "num_heads": num_heads,
                       "transformer_units": transformer_units, "transformer_layers": transformer_layers,
                       "mlp_head_units": mlp_head_units})
        return config
    def call(self, patch):
        positions = ops.expand_dims(ops.arange(start=0, stop=self.num_patches, step=1), axis=0)
        projected_patches = self.projection(patch)
        encoded = projected_patches + self.position_embedding(positions)
        return encoded

def create_vit_object_detector(input_shape, patch_size, num_patches, projection_dim, num_heads,
                               transformer_units, transformer_layers, mlp_head_units):
    inputs = keras.Input(shape=input_shape)
    patches = Patches(patch_size)(inputs)
    encoded_patches = PatchEncoder(num_patches, projection_dim)(patches)
    for _ in range(transformer_layers):
        x1 = layers.LayerNormalization(epsilon=1e-6)(encoded_patches)
        attention_output = layers.MultiHeadAttention(num_heads=num_heads, key_dim=projection_dim, dropout=0.1)(x1, x1)
        x2 = layers.Add()([attention_output, encoded_patches])
        x3 = layers.LayerNormalization(epsilon=1e-6)(x2)
        x3 = mlp(x3, hidden_units=transformer_units, dropout_rate=0.1)
        encoded_patches = layers.Add()([x3, x2])
    representation = layers.LayerNormalization(epsilon=1e-6)(encoded_patches)
    representation = layers.Flatten()(representation)
    representation = layers.Dropout(0.3)(representation)
    features = mlp(representation, hidden_units=mlp_head_units, dropout_rate=0.3)
    bounding_box = layers.Dense(4)(features)
    return keras.Model(inputs=inputs, outputs=bounding_box)

def run_experiment(model, learning_rate, weight_decay, batch_size, num_epochs):
    optimizer = keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=weight_decay)
    model.compile(optimizer=optimizer, loss=keras.losses.MeanSquaredError())
    checkpoint_filepath = "vit_object_detector.weights.h5"
    checkpoint_callback = keras.callbacks.ModelCheckpoint(checkpoint_filepath, monitor="val_loss",
                                                          save_best_only=True, save_weights_only=True)
    history = model.fit(x=x_train, y=y_train, batch_size=batch_size, epochs=num_epochs, validation_split=0.1,
                        callbacks=[checkpoint_callback, keras.callbacks.EarlyStopping(monitor="val_loss", patience=10)],
                        verbose=0)
    return history

vit_object_detector = create_vit_object_detector(input_shape, patch_size, num_patches, projection_dim, num_heads,
                                                 transformer_units, transformer_layers, mlp_head_units)
history = run_experiment(vit_object_detector, learning_rate, weight_decay, batch_size, num_epochs)
print(history.history["loss"][0], history.history["loss"][-1])
assert history.history["loss"][-1] < 0.3 * history.history["loss"][0]
vit_object_detector.load_weights("vit_object_detector.weights.h5")

def bounding_box_intersection_over_union(box_predicted, box_truth):
    top_x_intersect = max(box_predicted[0], box_truth[0])
    top_y_intersect = max(box_predicted[1], box_truth[1])
    bottom_x_intersect = min(box_predicted[2], box_truth[2])
    bottom_y_intersect = min(box_predicted[3], box_truth[3])
    intersection_area = max(0, bottom_x_intersect - top_x_intersect + 1) * max(0, bottom_y_intersect - top_y_intersect + 1)
    box_predicted_area = (box_predicted[2] - box_predicted[0] + 1) * (box_predicted[3] - box_predicted[1] + 1)
    box_truth_area = (box_truth[2] - box_truth[0] + 1) * (box_truth[3] - box_truth[1] + 1)
    return intersection_area / float(box_predicted_area + box_truth_area - intersection_area)

preds = vit_object_detector.predict(x_test, verbose=0)
ious = [bounding_box_intersection_over_union(list(p * image_size), list(t * image_size)) for p, t in zip(preds, y_test)]
mean_box = y_train.mean(0)
base = [bounding_box_intersection_over_union(list(mean_box * image_size), list(t * image_size)) for t in y_test]
print("mean IoU", np.mean(ious), "predicting the mean box", np.mean(base))
assert np.mean(ious) > 0.45 and np.mean(ious) > np.mean(base) + 0.1
