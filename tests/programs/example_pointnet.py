"""keras.io example "Point cloud classification with PointNet", imports changed: point clouds
(N, P, 3) through Conv1D(kernel_size=1) + BatchNormalization(momentum=0.0) blocks, two T-Nets whose
Dense(num_features**2) starts at the identity (keras.initializers.Constant(np.eye(...).flatten())),
carries a custom keras.regularizers.Regularizer as activity_regularizer (keras.ops.eye,
keras.ops.tensordot, keras.ops.square, keras.ops.sum) and is applied with Dot(axes=(2, 1)),
GlobalMaxPooling1D, a tf.data pipeline whose augmentation jitters (tf.random.uniform) and
shuffles (tf.random.shuffle) the points. ModelNet10 meshes are replaced by 64 points sampled on
four synthetic shapes (sphere, cube surface, cylinder, cone); widths are cut down."""
import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers

keras.utils.set_random_seed(4)
rng = np.random.default_rng(4)
NUM_POINTS = 64
NUM_CLASSES = 4
BATCH_SIZE = 16
CLASS_MAP = {0: "sphere", 1: "cube", 2: "cylinder", 3: "cone"}


def sample_shape(kind, n):
    if kind == 0:
        p = rng.normal(size=(n, 3))
        return p / np.linalg.norm(p, axis=1, keepdims=True)
    if kind == 1:
        p = rng.uniform(-1, 1, (n, 3))
        face = rng.integers(0, 3, n)
        p[np.arange(n), face] = rng.choice([-1.0, 1.0], n)
        return p
    t, z = rng.uniform(0, 2 * np.pi, n), rng.uniform(-1, 1, n)
    r = np.ones(n) if kind == 2 else (1 - z) / 2
    return np.stack([r * np.cos(t), r * np.sin(t), z], axis=1)


def parse_dataset(num_per_class):
    points, labels = [], []
    for kind in range(NUM_CLASSES):
        for _ in range(num_per_class):
            scale = rng.uniform(0.7, 1.3)
            points.append(sample_shape(kind, NUM_POINTS) * scale)
            labels.append(kind)
    return np.array(points), np.array(labels)


train_points, train_labels = parse_dataset(40)
test_points, test_labels = parse_dataset(15)


def augment(points, label):
    # jitter points (float32, as the synthetic clouds are; the example draws float64 for its float64 clouds)
    points += tf.random.uniform(points.shape, -0.005, 0.005, dtype="float32")
    # shuffle points
    points = tf.random.shuffle(points)
    return points, label


train_size = 0.8
dataset = tf.data.Dataset.from_tensor_slices((train_points.astype("float32"), train_labels))
test_dataset = tf.data.Dataset.from_tensor_slices((test_points.astype("float32"), test_labels))
train_dataset_size = int(len(dataset) * train_size)

dataset = dataset.shuffle(len(train_points)).map(augment)
test_dataset = test_dataset.shuffle(len(test_points)).batch(BATCH_SIZE)

train_dataset = dataset.take(train_dataset_size).batch(BATCH_SIZE)
validation_dataset = dataset.skip(train_dataset_size).batch(BATCH_SIZE)

for points, label in train_dataset.take(1):
    assert points.shape == (BATCH_SIZE, NUM_POINTS, 3)


def conv_bn(x, filters):
    x = layers.Conv1D(filters, kernel_size=1, padding="valid")(x)
    x = layers.BatchNormalization(momentum=0.0)(x)
    return layers.Activation("relu")(x)


def dense_bn(x, filters):
    x = layers.Dense(filters)(x)
    x = layers.BatchNormalization(momentum=0.0)(x)
    return layers.Activation("relu")(x)


class OrthogonalRegularizer(keras.regularizers.Regularizer):
    """Reference: https://keras.io/examples/vision/pointnet/#build-a-model"""

    def __init__(self, num_features, l2reg=0.001):
        self.num_features = num_features
        self.l2reg = l2reg
        self.eye = keras.ops.eye(num_features)

    def __call__(self, x):
        x = keras.ops.reshape(x, (-1, self.num_features, self.num_features))
        xxt = keras.ops.tensordot(x, x, axes=(2, 2))
        xxt = keras.ops.reshape(xxt, (-1, self.num_features, self.num_features))
        return keras.ops.sum(self.l2reg * keras.ops.square(xxt - self.eye))

    def get_config(self):
        config = super().get_config()
        config.update({"num_features": self.num_features, "l2reg_strength": self.l2reg})
        return config


def tnet(inputs, num_features):
    # Initialise bias as the identity matrix
    bias = keras.initializers.Constant(np.eye(num_features).flatten())
    reg = OrthogonalRegularizer(num_features)

    x = conv_bn(inputs, 16)
    x = conv_bn(x, 32)
    x = conv_bn(x, 64)
    x = layers.GlobalMaxPooling1D()(x)
    x = dense_bn(x, 32)
    x = dense_bn(x, 16)
    x = layers.Dense(
        num_features * num_features,
        kernel_initializer="zeros",
        bias_initializer=bias,
        activity_regularizer=reg,
    )(x)
    feat_T = layers.Reshape((num_features, num_features))(x)
    # Apply affine transformation to input features
    return layers.Dot(axes=(2, 1))([inputs, feat_T])


inputs = keras.Input(shape=(NUM_POINTS, 3))

x = tnet(inputs, 3)
x = conv_bn(x, 16)
x = conv_bn(x, 16)
x = tnet(x, 16)
x = conv_bn(x, 16)
x = conv_bn(x, 32)
x = conv_bn(x, 64)
x = layers.GlobalMaxPooling1D()(x)
x = dense_bn(x, 32)
x = layers.Dropout(0.3)(x)
x = dense_bn(x, 16)
x = layers.Dropout(0.3)(x)

outputs = layers.Dense(NUM_CLASSES, activation="softmax")(x)

model = keras.Model(inputs=inputs, outputs=outputs, name="pointnet")
model.summary()

# before training each T-Net is the identity: its Dot leaves the points as they are
probe = train_points[:2].astype("float32")
first_dot = [layer for layer in model.layers if isinstance(layer, layers.Dot)][0]
first_tnet = keras.Model(inputs, first_dot.output)
np.testing.assert_allclose(first_tnet.predict(probe, verbose=0), probe, rtol=1e-6, atol=1e-6)

model.compile(
    loss="sparse_categorical_crossentropy",
    optimizer=keras.optimizers.Adam(learning_rate=0.003),
    metrics=["sparse_categorical_accuracy"],
)

history = model.fit(train_dataset, epochs=8, validation_data=validation_dataset, verbose=0)
print(history.history["sparse_categorical_accuracy"])
assert history.history["loss"][-1] < history.history["loss"][0]

# the custom regularizer, called on its own: Keras 3 calls it on the Dense output
reg_value = OrthogonalRegularizer(3)(np.eye(3, dtype="float32").reshape(1, 9))
np.testing.assert_allclose(float(reg_value), 0.0, atol=1e-7)   # an orthogonal transform costs nothing
two = np.stack([np.eye(3), 2 * np.eye(3)]).reshape(2, 9).astype("float32")
xx = two.reshape(2, 3, 3)
expected = 0.001 * np.sum((np.tensordot(xx, xx, axes=(2, 2)).reshape(-1, 3, 3) - np.eye(3)) ** 2)
np.testing.assert_allclose(float(OrthogonalRegularizer(3)(two)), expected, rtol=1e-5)

loss, accuracy = model.evaluate(test_dataset, verbose=0)
print("test accuracy", accuracy)
assert accuracy > 0.6, accuracy

data = test_dataset.take(1)
points, labels = list(data)[0]
points = points[:8, ...]
labels = labels[:8, ...]
preds = model.predict(points, verbose=0)
preds = tf.math.argmax(preds, -1)
print([CLASS_MAP[int(p)] for p in np.asarray(preds)], [CLASS_MAP[int(t)] for t in np.asarray(labels)])
assert preds.shape == (8,)
