"""keras.io example "Point cloud segmentation with PointNet" (vision/pointnet_segmentation),
imports changed: per-point part labels through a tf.data pipeline (`set_shape` in a map,
uniform jitter added to batches), the shared `conv_block` / `mlp_block` helpers, the T-Net
`transformation_block` whose final Dense starts at the identity (`Constant(np.eye(...).flatten())`)
under an `OrthogonalRegularizer` written with `keras.ops.tensordot`, `Dot(axes=(2, 1))`, global
features from `MaxPool1D(pool_size=num_points)` broadcast back with `keras.ops.tile` on a
KerasTensor and concatenated with five per-point feature maps, a per-point softmax `Conv1D`,
`PiecewiseConstantDecay`, and a best-only weights checkpoint reloaded after `fit`. ShapeNet's
airplanes are replaced by synthetic "airplanes" (body, wings, tail and engines as parts; 64 points
each), held as float32, so the jitter is drawn as float32 (the example's JSON clouds are float64
and so is its noise; here the clouds are float32, corenn's compute dtype); the filter counts are divided by 16
(64 -> 4 ... 2048 -> 128) and the epochs cut."""
import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers

keras.utils.set_random_seed(11)

LABELS = ["wing", "body", "tail", "engine"]
NUM_SAMPLE_POINTS = 64
BATCH_SIZE = 16
EPOCHS = 8
INITIAL_LR = 1e-2

rng = np.random.default_rng(11)


def airplane():
    """64 points: a body along x, wings along y, a tail fin up z and two engines under the wings."""
    n = NUM_SAMPLE_POINTS
    parts = rng.choice(4, n, p=[0.3, 0.35, 0.15, 0.2])
    pts = np.zeros((n, 3))
    span, length = rng.uniform(0.8, 1.2), rng.uniform(0.8, 1.2)
    for i, p in enumerate(parts):
        if p == 0:    # wing
            pts[i] = [rng.uniform(-0.1, 0.1), rng.uniform(-span, span), 0.0]
        elif p == 1:  # body
            pts[i] = [rng.uniform(-length, length), rng.normal(0, 0.05), rng.normal(0, 0.05)]
        elif p == 2:  # tail
            pts[i] = [-length + rng.uniform(0, 0.15), rng.normal(0, 0.02), rng.uniform(0.05, 0.5)]
        else:         # engine
            pts[i] = [rng.uniform(-0.15, 0.15), rng.choice([-1, 1]) * span * 0.5, -0.15 + rng.normal(0, 0.03)]
    pts += rng.normal(0, 0.01, pts.shape)
    labels = np.zeros((n, len(LABELS) + 1))
    labels[np.arange(n), parts] = 1.0
    return pts, labels


clouds = [airplane() for _ in range(144)]
point_clouds = np.stack([c[0] for c in clouds]).astype("float32")
label_clouds = np.stack([c[1] for c in clouds])
split_index = int(len(point_clouds) * (1 - 0.2))
train_point_clouds = point_clouds[:split_index]
train_label_cloud = label_clouds[:split_index]
total_training_examples = len(train_point_clouds)
val_point_clouds = point_clouds[split_index:]
val_label_cloud = label_clouds[split_index:]


def load_data(point_cloud_batch, label_cloud_batch):
    point_cloud_batch.set_shape([NUM_SAMPLE_POINTS, 3])
    label_cloud_batch.set_shape([NUM_SAMPLE_POINTS, len(LABELS) + 1])
    return point_cloud_batch, label_cloud_batch


def augment(point_cloud_batch, label_cloud_batch):
    noise = tf.random.uniform(
        tf.shape(label_cloud_batch), -0.001, 0.001, dtype=tf.float32
    )
    point_cloud_batch += noise[:, :, :3]
    return point_cloud_batch, label_cloud_batch


def generate_dataset(point_clouds, label_clouds, is_training=True):
    dataset = tf.data.Dataset.from_tensor_slices((point_clouds, label_clouds))
    dataset = dataset.shuffle(BATCH_SIZE * 100) if is_training else dataset
    dataset = dataset.map(load_data, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.batch(batch_size=BATCH_SIZE)
    dataset = (
        dataset.map(augment, num_parallel_calls=tf.data.AUTOTUNE)
        if is_training
        else dataset
    )
    return dataset


train_dataset = generate_dataset(train_point_clouds, train_label_cloud)
val_dataset = generate_dataset(val_point_clouds, val_label_cloud, is_training=False)

print("Train Dataset:", train_dataset)
print("Validation Dataset:", val_dataset)


def conv_block(x, filters, name):
    x = layers.Conv1D(filters, kernel_size=1, padding="valid", name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=0.0, name=f"{name}_batch_norm")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def mlp_block(x, filters, name):
    x = layers.Dense(filters, name=f"{name}_dense")(x)
    x = layers.BatchNormalization(momentum=0.0, name=f"{name}_batch_norm")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


class OrthogonalRegularizer(keras.regularizers.Regularizer):
    """Reference: https://keras.io/examples/vision/pointnet/#build-a-model"""

    def __init__(self, num_features, l2reg=0.001):
        self.num_features = num_features
        self.l2reg = l2reg
        self.identity = keras.ops.eye(num_features)

    def __call__(self, x):
        x = keras.ops.reshape(x, (-1, self.num_features, self.num_features))
        xxt = keras.ops.tensordot(x, x, axes=(2, 2))
        xxt = keras.ops.reshape(xxt, (-1, self.num_features, self.num_features))
        return keras.ops.sum(self.l2reg * keras.ops.square(xxt - self.identity))

    def get_config(self):
        config = super().get_config()
        config.update({"num_features": self.num_features, "l2reg_strength": self.l2reg})
        return config


def transformation_net(inputs, num_features, name):
    """
    Reference: https://keras.io/examples/vision/pointnet/#build-a-model.

    The `filters` values come from the original paper:
    https://arxiv.org/abs/1612.00593.
    """
    x = conv_block(inputs, filters=4, name=f"{name}_1")
    x = conv_block(x, filters=8, name=f"{name}_2")
    x = conv_block(x, filters=64, name=f"{name}_3")
    x = layers.GlobalMaxPooling1D()(x)
    x = mlp_block(x, filters=32, name=f"{name}_1_1")
    x = mlp_block(x, filters=16, name=f"{name}_2_1")
    return layers.Dense(
        num_features * num_features,
        kernel_initializer="zeros",
        bias_initializer=keras.initializers.Constant(np.eye(num_features).flatten()),
        activity_regularizer=OrthogonalRegularizer(num_features),
        name=f"{name}_final",
    )(x)


def transformation_block(inputs, num_features, name):
    transformed_features = transformation_net(inputs, num_features, name=name)
    transformed_features = layers.Reshape((num_features, num_features))(
        transformed_features
    )
    return layers.Dot(axes=(2, 1), name=f"{name}_mm")([inputs, transformed_features])


def get_shape_segmentation_model(num_points, num_classes):
    input_points = keras.Input(shape=(None, 3))

    # PointNet Classification Network.
    transformed_inputs = transformation_block(
        input_points, num_features=3, name="input_transformation_block"
    )
    features_64 = conv_block(transformed_inputs, filters=4, name="features_64")
    features_128_1 = conv_block(features_64, filters=8, name="features_128_1")
    features_128_2 = conv_block(features_128_1, filters=8, name="features_128_2")
    transformed_features = transformation_block(
        features_128_2, num_features=8, name="transformed_features"
    )
    features_512 = conv_block(transformed_features, filters=32, name="features_512")
    features_2048 = conv_block(features_512, filters=128, name="pre_maxpool_block")
    global_features = layers.MaxPool1D(pool_size=num_points, name="global_features")(
        features_2048
    )
    global_features = keras.ops.tile(global_features, [1, num_points, 1])

    # Segmentation head.
    segmentation_input = layers.Concatenate(name="segmentation_input")(
        [
            features_64,
            features_128_1,
            features_128_2,
            transformed_features,
            features_512,
            global_features,
        ]
    )
    segmentation_features = conv_block(
        segmentation_input, filters=16, name="segmentation_features"
    )
    outputs = layers.Conv1D(
        num_classes, kernel_size=1, activation="softmax", name="segmentation_head"
    )(segmentation_features)
    return keras.Model(input_points, outputs)


x, y = next(iter(train_dataset))

num_points = x.shape[1]
num_classes = y.shape[-1]
assert (num_points, num_classes) == (NUM_SAMPLE_POINTS, 5) and tuple(x.shape) == (BATCH_SIZE, 64, 3)

segmentation_model = get_shape_segmentation_model(num_points, num_classes)
segmentation_model.summary()
seg_in = segmentation_model.get_layer("segmentation_input").output
assert tuple(seg_in.shape)[-1] == 4 + 8 + 8 + 8 + 32 + 128, seg_in.shape
# the T-Net starts at the identity: the input transform leaves the points as they are
tnet = keras.Model(segmentation_model.inputs,
                   segmentation_model.get_layer("input_transformation_block_mm").output)
np.testing.assert_allclose(tnet.predict(x, verbose=0), np.asarray(x), atol=1e-5)

training_step_size = total_training_examples // BATCH_SIZE
total_training_steps = training_step_size * EPOCHS
print(f"Steps per epoch: {training_step_size}.")
print(f"Total training steps: {total_training_steps}.")

lr_schedule = keras.optimizers.schedules.PiecewiseConstantDecay(
    boundaries=[training_step_size * 5, training_step_size * 5],
    values=[INITIAL_LR, INITIAL_LR * 0.5, INITIAL_LR * 0.25],
)
assert abs(float(lr_schedule(0)) - INITIAL_LR) < 1e-9
assert abs(float(lr_schedule(training_step_size * 5 + 1)) - INITIAL_LR * 0.25) < 1e-9


def run_experiment(epochs):
    segmentation_model = get_shape_segmentation_model(num_points, num_classes)
    segmentation_model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=lr_schedule),
        loss=keras.losses.CategoricalCrossentropy(),
        metrics=["accuracy"],
    )

    checkpoint_filepath = "checkpoint.weights.h5"
    checkpoint_callback = keras.callbacks.ModelCheckpoint(
        checkpoint_filepath,
        monitor="val_loss",
        save_best_only=True,
        save_weights_only=True,
    )

    history = segmentation_model.fit(
        train_dataset,
        validation_data=val_dataset,
        epochs=epochs,
        callbacks=[checkpoint_callback],
        verbose=0,
    )

    segmentation_model.load_weights(checkpoint_filepath)
    return segmentation_model, history


segmentation_model, history = run_experiment(epochs=EPOCHS)
print("loss:", [round(v, 3) for v in history.history["loss"]])
print("val_accuracy:", [round(v, 3) for v in history.history["val_accuracy"]])
assert history.history["loss"][-1] < history.history["loss"][0]
best = int(np.argmin(history.history["val_loss"]))

validation_batch = next(iter(val_dataset))
val_predictions = segmentation_model.predict(validation_batch[0], verbose=0)
print(f"Validation prediction shape: {val_predictions.shape}")
assert val_predictions.shape == (BATCH_SIZE, NUM_SAMPLE_POINTS, 5)
np.testing.assert_allclose(val_predictions.sum(-1), 1.0, atol=1e-5)
# the reloaded weights are the best epoch's: evaluating gives its validation loss
val_loss, val_acc = segmentation_model.evaluate(val_dataset, verbose=0)
assert abs(val_loss - history.history["val_loss"][best]) < 1e-3 * max(1.0, val_loss), (val_loss, best)
point_acc = np.mean(np.argmax(val_predictions, -1) == np.argmax(np.asarray(validation_batch[1]), -1))
print("per-point accuracy:", point_acc, val_acc)
assert val_acc > 0.6, val_acc
