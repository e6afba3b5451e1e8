"""keras-io examples/vision/knowledge_distillation, imports changed only (`import keras`,
`from keras import layers, ops` -> corenn). MNIST is replaced by synthetic 28x28 "digits" and the
teacher and student are shrunk; the Distiller overrides compile and compute_loss as the Keras 3
example does."""
import numpy as np
import corenn as keras
from corenn.keras import layers, ops

keras.utils.set_random_seed(4)


class Distiller(keras.Model):
    def __init__(self, student, teacher):
        super().__init__()
        self.teacher = teacher
        self.student = student

    def compile(self, optimizer, metrics, student_loss_fn, distillation_loss_fn, alpha=0.1,
                temperature=3):
        """alpha weighs the student loss against the distillation loss (1 - alpha)."""
        super().compile(optimizer=optimizer, metrics=metrics)
        self.student_loss_fn = student_loss_fn
        self.distillation_loss_fn = distillation_loss_fn
        self.alpha = alpha
        self.temperature = temperature

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, allow_empty=False):
        teacher_pred = self.teacher(x, training=False)
        student_loss = self.student_loss_fn(y, y_pred)
        distillation_loss = self.distillation_loss_fn(
            ops.softmax(teacher_pred / self.temperature, axis=1),
            ops.softmax(y_pred / self.temperature, axis=1),
        ) * (self.temperature ** 2)
        loss = self.alpha * student_loss + (1 - self.alpha) * distillation_loss
        return loss

    def call(self, x):
        return self.student(x)


teacher = keras.Sequential(
    [
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, (3, 3), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.MaxPooling2D(pool_size=(2, 2), strides=(1, 1), padding="same"),
        layers.Conv2D(64, (3, 3), strides=(2, 2), padding="same"),
        layers.Flatten(),
        layers.Dense(10),
    ],
    name="teacher",
)
student = keras.Sequential(
    [
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(8, (3, 3), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.MaxPooling2D(pool_size=(2, 2), strides=(1, 1), padding="same"),
        layers.Conv2D(16, (3, 3), strides=(2, 2), padding="same"),
        layers.Flatten(),
        layers.Dense(10),
    ],
    name="student",
)
student_scratch = keras.models.clone_model(student)

rng = np.random.default_rng(9)
templates = rng.uniform(0, 1, (10, 28, 28)) > 0.7


def digits(n):
    y = rng.integers(0, 10, n)
    x = templates[y] * 0.8 + rng.normal(0, 0.35, (n, 28, 28))
    return np.reshape(x, (-1, 28, 28, 1)).astype("float32"), y


(x_train, y_train), (x_test, y_test) = digits(1000), digits(300)

teacher.compile(optimizer=keras.optimizers.Adam(), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                metrics=[keras.metrics.SparseCategoricalAccuracy()])
teacher.fit(x_train, y_train, epochs=3, verbose=0)
_, teacher_acc = teacher.evaluate(x_test, y_test, verbose=0)
print("teacher", teacher_acc)
assert teacher_acc > 0.85, teacher_acc

distiller = Distiller(student=student, teacher=teacher)
distiller.compile(
    optimizer=keras.optimizers.Adam(),
    metrics=[keras.metrics.SparseCategoricalAccuracy()],
    student_loss_fn=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    distillation_loss_fn=keras.losses.KLDivergence(),
    alpha=0.1,
    temperature=10,
)
history = distiller.fit(x_train, y_train, epochs=3, verbose=0)
assert history.history["loss"][-1] < history.history["loss"][0], history.history
result = distiller.evaluate(x_test, y_test, verbose=0)
print("distilled student", result)
distilled_acc = result[-1] if isinstance(result, list) else result
assert distilled_acc > 0.7, result
# the student inside the distiller is the trained one
student_acc = np.mean(np.argmax(student.predict(x_test, verbose=0), -1) == y_test)
assert abs(student_acc - distilled_acc) < 1e-6, (student_acc, distilled_acc)

student_scratch.compile(optimizer=keras.optimizers.Adam(),
                        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                        metrics=[keras.metrics.SparseCategoricalAccuracy()])
student_scratch.fit(x_train, y_train, epochs=3, verbose=0)
print("student from scratch", student_scratch.evaluate(x_test, y_test, verbose=0))
