"""keras.io recipe "Knowledge distillation recipes" (keras_recipes/better_knowledge_distillation,
"function matching": the teacher and the student see the same aggressively augmented images),
imports changed: a tf.data pipeline that resizes to a bigger size and random-crops / flips
(`tf.image.resize`, `random_crop`, `random_flip_left_right`), `tf.image.central_crop` for
validation, batch-level mixup (`tf.random.uniform([], 0, 0.1)`, `tf.reverse(images, axis=[0])`),
a `Distiller` model whose `metrics` property appends its tracker to `super().metrics`, whose
`compile` takes `distillation_loss_fn` / `temperature`, whose `train_step` matches
temperature-softened softmaxes with `KLDivergence` and whose `test_step` updates
`compiled_metrics`; the `WarmUpCosine` schedule (`tf.cos`, `tf.where` on the step), AdamW with
`clipnorm`, then the student compiled with metrics only and evaluated. tf_flowers is replaced by
synthetic 48x48 images of five classes (stripes of a class-specific orientation and colour), the
pretrained BiT teacher by a small CNN trained here first, the ResNet50V2 student by a smaller
CNN, TensorFlow Addons' AdamW by `keras.optimizers.AdamW`, and the sizes, steps and epochs are
shrunk. The recipe is TF-Keras 2 code: TensorFlow runs it with TF_USE_LEGACY_KERAS=1 (Keras 3
refuses its test_step's `m.result()` of compile metrics that the deprecated
`compiled_metrics.update_state` did not build); corenn runs it as written."""
import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers

keras.utils.set_random_seed(42)

AUTO = tf.data.AUTOTUNE  # Used to dynamically adjust parallelism.
BATCH_SIZE = 32

# Comes from Table 4 and "Training setup" section.
TEMPERATURE = 10  # Used to soften the logits before they go to softmax.
INIT_LR = 0.003  # Initial learning rate that will be decayed over the training period.
WEIGHT_DECAY = 0.001  # Used for regularization.
CLIP_THRESHOLD = 1.0  # Used for clipping the gradients by L2-norm.

# We will first resize the training images to a bigger size and then we will take
# random crops of a lower size.
BIGGER = 40
RESIZE = 32

rng = np.random.default_rng(42)


def make_flowers(n):
    yy, xx = np.mgrid[:48, :48]
    angles = [0.0, 0.6, 1.2, 1.8, 2.4]
    colours = np.array([[255, 80, 80], [80, 255, 80], [80, 80, 255], [255, 255, 80], [255, 80, 255]])
    labels = rng.integers(0, 5, n)
    imgs = np.zeros((n, 48, 48, 3), "uint8")
    for i, c in enumerate(labels):
        phase = np.cos(angles[c]) * xx + np.sin(angles[c]) * yy + rng.uniform(0, 8)
        stripes = (np.sin(phase * 0.8) > 0)[..., None]
        imgs[i] = np.clip(stripes * colours[c] * rng.uniform(0.7, 1.0) + rng.normal(30, 15, (48, 48, 3)), 0, 255)
    return imgs, labels


train_images, train_labels = make_flowers(480)
val_images, val_labels = make_flowers(96)
train_ds = tf.data.Dataset.from_tensor_slices((train_images, train_labels))
validation_ds = tf.data.Dataset.from_tensor_slices((val_images, val_labels))
print(f"Number of training examples: {train_ds.cardinality()}.")
print(f"Number of validation examples: {validation_ds.cardinality()}.")


def preprocess_image(image, label, train=True):
    image = tf.cast(image, tf.float32)

    if train:
        image = tf.image.resize(image, (BIGGER, BIGGER))
        image = tf.image.random_crop(image, (RESIZE, RESIZE, 3))
        image = tf.image.random_flip_left_right(image)
    else:
        # Central fraction amount is from here:
        # https://git.io/J8Kda.
        image = tf.image.central_crop(image, central_fraction=0.875)
        image = tf.image.resize(image, (RESIZE, RESIZE))

    return image, label


def mixup(images, labels):
    alpha = tf.random.uniform([], 0, 0.1)
    mixedup_images = alpha * images + (1 - alpha) * tf.reverse(images, axis=[0])
    # The labels do not matter here since they are NOT used during
    # training.
    return mixedup_images, labels


def prepare_dataset(dataset, train=True, batch_size=BATCH_SIZE):
    if train:
        dataset = dataset.map(preprocess_image, num_parallel_calls=AUTO)
        dataset = dataset.shuffle(BATCH_SIZE * 10)
    else:
        dataset = dataset.map(
            lambda x, y: (preprocess_image(x, y, train)), num_parallel_calls=AUTO
        )
    dataset = dataset.batch(batch_size)

    if train:
        dataset = dataset.map(mixup, num_parallel_calls=AUTO)

    dataset = dataset.prefetch(AUTO)
    return dataset


train_ds = prepare_dataset(train_ds, True)
validation_ds = prepare_dataset(validation_ds, False)

sample_images, _ = next(iter(train_ds))
assert tuple(sample_images.shape) == (BATCH_SIZE, RESIZE, RESIZE, 3)
v_images, v_labels = next(iter(validation_ds))
# the central crop keeps the middle 42x42 of 48x48 before the resize
crop = tf.image.central_crop(val_images[0].astype("float32"), central_fraction=0.875)
assert tuple(crop.shape) == (42, 42, 3)
np.testing.assert_allclose(np.asarray(crop), val_images[0, 3:45, 3:45], atol=1e-4)
mixed, _ = mixup(tf.constant(np.stack([np.zeros((2, 2, 3)), np.ones((2, 2, 3))]).astype("float32")), None)
m = np.asarray(mixed)
assert np.all(m[0] > 0.9) and np.all(m[1] < 0.1)   # each image mostly its partner, by < 10 %


class Distiller(tf.keras.Model):
    def __init__(self, student, teacher):
        super().__init__()
        self.student = student
        self.teacher = teacher
        self.loss_tracker = keras.metrics.Mean(name="distillation_loss")

    @property
    def metrics(self):
        metrics = super().metrics
        metrics.append(self.loss_tracker)
        return metrics

    def compile(
        self, optimizer, metrics, distillation_loss_fn, temperature=TEMPERATURE,
    ):
        super().compile(optimizer=optimizer, metrics=metrics)
        self.distillation_loss_fn = distillation_loss_fn
        self.temperature = temperature

    def train_step(self, data):
        # Unpack data
        x, _ = data

        # Forward pass of teacher
        teacher_predictions = self.teacher(x, training=False)

        with tf.GradientTape() as tape:
            # Forward pass of student
            student_predictions = self.student(x, training=True)

            # Compute loss
            distillation_loss = self.distillation_loss_fn(
                tf.nn.softmax(teacher_predictions / self.temperature, axis=1),
                tf.nn.softmax(student_predictions / self.temperature, axis=1),
            )

        # Compute gradients
        trainable_vars = self.student.trainable_variables
        gradients = tape.gradient(distillation_loss, trainable_vars)

        # Update weights
        self.optimizer.apply_gradients(zip(gradients, trainable_vars))

        # Report progress
        self.loss_tracker.update_state(distillation_loss)
        return {"distillation_loss": self.loss_tracker.result()}

    def test_step(self, data):
        # Unpack data
        x, y = data

        # Forward passes
        teacher_predictions = self.teacher(x, training=False)
        student_predictions = self.student(x, training=False)

        # Calculate the loss
        distillation_loss = self.distillation_loss_fn(
            tf.nn.softmax(teacher_predictions / self.temperature, axis=1),
            tf.nn.softmax(student_predictions / self.temperature, axis=1),
        )

        # Report progress
        self.loss_tracker.update_state(distillation_loss)
        self.compiled_metrics.update_state(y, student_predictions)
        results = {m.name: m.result() for m in self.metrics}
        return results


def get_student():
    return keras.Sequential(
        [
            layers.Input((RESIZE, RESIZE, 3)),
            layers.Rescaling(scale=1.0 / 127.5, offset=-1),
            layers.Conv2D(8, 3, strides=2, activation="relu"),
            layers.Conv2D(16, 3, strides=2, activation="relu"),
            layers.GlobalAveragePooling2D(),
            layers.Dense(5),
        ]
    )


# the teacher: trained on the labels here (the recipe loads a fine-tuned BiT-ResNet)
teacher_model = keras.Sequential(
    [
        layers.Input((RESIZE, RESIZE, 3)),
        layers.Rescaling(scale=1.0 / 255),
        layers.Conv2D(16, 3, activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(32, 3, activation="relu"),
        layers.GlobalAveragePooling2D(),
        layers.Dense(5),
    ]
)
teacher_model.compile(
    optimizer=keras.optimizers.Adam(3e-3),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)
# (on crops and flips without the mixup, whose labels are those of the other image)
teacher_ds = tf.data.Dataset.from_tensor_slices((train_images, train_labels)).map(preprocess_image).batch(32)
teacher_model.fit(teacher_ds, epochs=6, verbose=0)
_, teacher_acc = teacher_model.evaluate(validation_ds, verbose=0)
print(f"Teacher model accuracy: {round(teacher_acc * 100, 2)}%")
assert teacher_acc > 0.7, teacher_acc


class WarmUpCosine(keras.optimizers.schedules.LearningRateSchedule):
    def __init__(
        self, learning_rate_base, total_steps, warmup_learning_rate, warmup_steps
    ):
        super().__init__()

        self.learning_rate_base = learning_rate_base
        self.total_steps = total_steps
        self.warmup_learning_rate = warmup_learning_rate
        self.warmup_steps = warmup_steps
        self.pi = tf.constant(np.pi)

    def __call__(self, step):
        if self.total_steps < self.warmup_steps:
            raise ValueError("Total_steps must be larger or equal to warmup_steps.")

        cos_annealed_lr = tf.cos(
            self.pi
            * (tf.cast(step, tf.float32) - self.warmup_steps)
            / float(self.total_steps - self.warmup_steps)
        )
        learning_rate = 0.5 * self.learning_rate_base * (1 + cos_annealed_lr)

        if self.warmup_steps > 0:
            if self.learning_rate_base < self.warmup_learning_rate:
                raise ValueError(
                    "Learning_rate_base must be larger or equal to "
                    "warmup_learning_rate."
                )
            slope = (
                self.learning_rate_base - self.warmup_learning_rate
            ) / self.warmup_steps
            warmup_rate = slope * tf.cast(step, tf.float32) + self.warmup_learning_rate
            learning_rate = tf.where(
                step < self.warmup_steps, warmup_rate, learning_rate
            )
        return tf.where(
            step > self.total_steps, 0.0, learning_rate, name="learning_rate"
        )


EPOCHS = 12
TOTAL_STEPS = int(np.ceil(480 / BATCH_SIZE) * EPOCHS)
WARMUP_STEPS = int(TOTAL_STEPS * 0.1)

scheduled_lrs = WarmUpCosine(
    learning_rate_base=INIT_LR,
    total_steps=TOTAL_STEPS,
    warmup_learning_rate=0.0,
    warmup_steps=WARMUP_STEPS,
)
lrs = [float(scheduled_lrs(step)) for step in range(TOTAL_STEPS + 2)]
assert lrs[0] == 0.0 and abs(max(lrs) - INIT_LR) < 1e-6 and lrs[-1] == 0.0
assert abs(lrs[WARMUP_STEPS // 2] - INIT_LR * (WARMUP_STEPS // 2) / WARMUP_STEPS) < 1e-7
assert abs(lrs[(WARMUP_STEPS + TOTAL_STEPS) // 2] - INIT_LR / 2) < 2e-4   # half way down the cosine

optimizer = keras.optimizers.AdamW(
    weight_decay=WEIGHT_DECAY, learning_rate=scheduled_lrs, clipnorm=CLIP_THRESHOLD
)

student_model = get_student()

distiller = Distiller(student=student_model, teacher=teacher_model)
distiller.compile(
    optimizer,
    metrics=[keras.metrics.SparseCategoricalAccuracy()],
    distillation_loss_fn=keras.losses.KLDivergence(),
    temperature=TEMPERATURE,
)

history = distiller.fit(
    train_ds,
    steps_per_epoch=int(np.ceil(480 / BATCH_SIZE)),
    validation_data=validation_ds,
    epochs=EPOCHS,  # This should be at least 1000.
    verbose=0,
)
print("distillation loss:", [round(v, 5) for v in history.history["distillation_loss"]])
print("val accuracy:", [round(v, 3) for v in history.history["val_sparse_categorical_accuracy"]])
assert history.history["distillation_loss"][-1] < history.history["distillation_loss"][0]
assert "val_distillation_loss" in history.history

student = distiller.student
student_model.compile(metrics=["accuracy"])
_, top1_accuracy = student.evaluate(validation_ds, verbose=0)
print(f"Top-1 accuracy on the test set: {round(top1_accuracy * 100, 2)}%")
assert top1_accuracy > 0.5, top1_accuracy   # five classes: chance is 0.2
# the student's accuracy is the fraction of its argmax predictions that match
preds = np.argmax(student.predict(validation_ds, verbose=0), axis=1)
assert abs(top1_accuracy - np.mean(preds == val_labels)) < 1e-6
