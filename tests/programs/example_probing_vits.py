"""keras.io example "Investigating Vision Transformer representations", imports changed: a ViT
built with the functional API whose transformer blocks return MultiHeadAttention's scores
(return_attention_scores=True) as extra model outputs, so one predict gives the logits and every
block's attention weights; the example's mean attention distance per head (attention-weighted
pixel distance between patches, from a NumPy distance matrix) and attention rollout (the product
over blocks of the head-averaged attention plus the identity, renormalized, read from the CLS
token); the ImageNet-pretrained ViT becomes a small ViT trained on synthetic images."""
import numpy as np

from corenn import keras
from corenn.keras import layers, ops

keras.utils.set_random_seed(15)
rng = np.random.default_rng(15)

RESOLUTION = 16
PATCH_SIZE = 4
GRID = RESOLUTION // PATCH_SIZE
NUM_PATCHES = GRID * GRID
PROJECTION_DIM = 32
NUM_HEADS = 4
NUM_LAYERS = 2
NUM_CLASSES = 2


def make(n):
    y = rng.integers(0, NUM_CLASSES, n)
    x = rng.normal(0, 0.3, (n, RESOLUTION, RESOLUTION, 3))
    for i, c in enumerate(y):
        x[i, :, :8 if c == 0 else 8:, 0] += 1.5
    return x.astype("float32"), y


x_train, y_train = make(256)


class AddCLSAndPosition(layers.Layer):
    def build(self, input_shape):
        self.cls = self.add_weight(shape=(1, 1, PROJECTION_DIM), initializer="zeros", name="cls")
        self.pos = self.add_weight(shape=(1, NUM_PATCHES + 1, PROJECTION_DIM),
                                   initializer=keras.initializers.RandomNormal(stddev=0.02), name="pos")

    def call(self, x):
        cls = ops.broadcast_to(self.cls, (ops.shape(x)[0], 1, PROJECTION_DIM))
        return ops.concatenate([cls, x], axis=1) + self.pos


def transformer_block(x, name):
    x1 = layers.LayerNormalization(epsilon=1e-6)(x)
    attention_output, attention_scores = layers.MultiHeadAttention(
        num_heads=NUM_HEADS, key_dim=PROJECTION_DIM // NUM_HEADS, name=f"{name}_mha")(
        x1, x1, return_attention_scores=True)
    x2 = layers.Add()([attention_output, x])
    x3 = layers.LayerNormalization(epsilon=1e-6)(x2)
    x3 = layers.Dense(PROJECTION_DIM * 2, activation="gelu")(x3)
    x3 = layers.Dense(PROJECTION_DIM)(x3)
    return layers.Add()([x2, x3]), attention_scores


inputs = keras.Input((RESOLUTION, RESOLUTION, 3))
patches = layers.Conv2D(PROJECTION_DIM, PATCH_SIZE, strides=PATCH_SIZE)(inputs)
patches = layers.Reshape((NUM_PATCHES, PROJECTION_DIM))(patches)
encoded = AddCLSAndPosition()(patches)
attention_outputs = []
for i in range(NUM_LAYERS):
    encoded, scores = transformer_block(encoded, name=f"transformer_block_{i}")
    attention_outputs.append(scores)
representation = layers.LayerNormalization(epsilon=1e-6)(encoded)
logits = layers.Dense(NUM_CLASSES, name="head")(representation[:, 0])
vit = keras.Model(inputs, [logits] + attention_outputs, name="vit_probe")
classifier = keras.Model(inputs, logits)
classifier.compile(optimizer=keras.optimizers.Adam(3e-3),
                   loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
history = classifier.fit(x_train, y_train, epochs=8, batch_size=32, verbose=0)
accuracy = classifier.evaluate(x_train, y_train, verbose=0)[1]
print("accuracy", accuracy)
assert accuracy > 0.8

outputs = vit.predict(x_train[:4], verbose=0)
predictions, attention_score_dict = outputs[0], {f"transformer_block_{i}_att": outputs[1 + i] for i in range(NUM_LAYERS)}
np.testing.assert_allclose(predictions, classifier.predict(x_train[:4], verbose=0), rtol=1e-5, atol=1e-5)
for name, att in attention_score_dict.items():
    assert att.shape == (4, NUM_HEADS, NUM_PATCHES + 1, NUM_PATCHES + 1), (name, att.shape)
    np.testing.assert_allclose(att.sum(-1), 1.0, rtol=1e-4)


def compute_distance_matrix(patch_size, num_patches, length):
    distance_matrix = np.zeros((num_patches, num_patches))
    for i in range(num_patches):
        for j in range(num_patches):
            if i == j:  # zero distance
                continue
            xi, yi = (int(i / length)), (i % length)
            xj, yj = (int(j / length)), (j % length)
            distance_matrix[i, j] = patch_size * np.linalg.norm([xi - xj, yi - yj])
    return distance_matrix


def compute_mean_attention_dist(patch_size, attention_weights, num_cls_tokens=1):
    # The attention_weights shape = (batch, num_heads, num_patches, num_patches)
    attention_weights = attention_weights[..., num_cls_tokens:, num_cls_tokens:]  # Removing the CLS token
    num_patches = attention_weights.shape[-1]
    length = int(np.sqrt(num_patches))
    assert length ** 2 == num_patches, "Num patches is not perfect square"
    distance_matrix = compute_distance_matrix(patch_size, num_patches, length)
    h, w = distance_matrix.shape
    distance_matrix = distance_matrix.reshape((1, 1, h, w))
    # The attention_weights along the last axis adds to 1
    # this is due to the fact that they are softmax of the raw logits
    # summation of the (attention_weights * distance_matrix)
    # should result in an average distance per token.
    mean_distances = attention_weights * distance_matrix
    mean_distances = np.sum(mean_distances, axis=-1)  # Sum along last axis to get average distance per token
    mean_distances = np.mean(mean_distances, axis=-1)  # Now average across all the tokens
    return mean_distances


mean_distances = {f"{name}_mean_dist": compute_mean_attention_dist(PATCH_SIZE, attention_weight)
                  for name, attention_weight in attention_score_dict.items()}
for name, d in mean_distances.items():
    assert d.shape == (4, NUM_HEADS)
    # between the nearest patch (PATCH_SIZE) weighted by at most 1 and the farthest pair
    assert (d >= 0).all() and (d <= PATCH_SIZE * np.sqrt(2) * (GRID - 1)).all(), d
# uniform attention over the patches gives the mean distance of the grid
uniform = np.full((1, 1, NUM_PATCHES + 1, NUM_PATCHES + 1), 1.0 / NUM_PATCHES)
np.testing.assert_allclose(compute_mean_attention_dist(PATCH_SIZE, uniform)[0, 0],
                           compute_distance_matrix(PATCH_SIZE, NUM_PATCHES, GRID).mean(), rtol=1e-6)


def attention_rollout_map(image, attention_score_dict, model_type="original_vit"):
    num_cls_tokens = 1
    # Stack the individual attention matrices from individual Transformer blocks.
    attn_mat = ops.stack([attention_score_dict[k] for k in attention_score_dict.keys()])
    attn_mat = ops.squeeze(attn_mat, axis=1)
    # Average the attention weights across all heads.
    attn_mat = ops.mean(attn_mat, axis=1)
    # To account for residual connections, we add an identity matrix to the
    # attention matrix and re-normalize the weights.
    residual_attn = ops.eye(attn_mat.shape[1])
    aug_attn_mat = attn_mat + residual_attn
    aug_attn_mat = aug_attn_mat / ops.sum(aug_attn_mat, axis=-1)[..., None]
    aug_attn_mat = ops.convert_to_numpy(aug_attn_mat)
    # Recursively multiply the weight matrices.
    joint_attentions = np.zeros(aug_attn_mat.shape)
    joint_attentions[0] = aug_attn_mat[0]
    for n in range(1, aug_attn_mat.shape[0]):
        joint_attentions[n] = np.matmul(aug_attn_mat[n], joint_attentions[n - 1])
    # Attention from the output token to the input space.
    v = joint_attentions[-1]
    grid_size = int(np.sqrt(aug_attn_mat.shape[-1]))
    mask = v[0, num_cls_tokens:].reshape(grid_size, grid_size)
    mask = mask / mask.max()
    mask = np.kron(mask, np.ones((PATCH_SIZE, PATCH_SIZE)))[..., None]
    result = (mask * image).astype("uint8")
    return result, mask


one = {k: v[:1] for k, v in attention_score_dict.items()}
image = (x_train[0] - x_train[0].min()) / (x_train[0].max() - x_train[0].min()) * 255
result, mask = attention_rollout_map(image, one)
assert result.shape == (RESOLUTION, RESOLUTION, 3) and result.dtype == np.uint8
assert mask.max() == 1.0 and mask.min() >= 0.0
# the rollout against a direct NumPy replay
mats = [one[k][0].mean(0) + np.eye(NUM_PATCHES + 1) for k in one]
mats = [m / m.sum(-1, keepdims=True) for m in mats]
joint = mats[1] @ mats[0]
ref = joint[0, 1:].reshape(GRID, GRID)
np.testing.assert_allclose(mask[::PATCH_SIZE, ::PATCH_SIZE, 0], ref / ref.max(), rtol=1e-4)
