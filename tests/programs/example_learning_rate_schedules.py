"""Learning-rate schedules as keras.io examples and the TF Transformer tutorial write them, imports
changed only (`import keras` / `import tensorflow as tf` -> corenn): a custom
LearningRateSchedule subclass (the Transformer tutorial's warmup then inverse square root, and a
keras.io-style linear-warmup cosine), CosineDecay with warmup_target / warmup_steps, passed to
optimizers, read back through optimizer.learning_rate, and saved with the model."""
import math

import numpy as np
import corenn as tf
from corenn import keras
from corenn.keras import layers, ops

keras.utils.set_random_seed(18)


class CustomSchedule(tf.keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, d_model, warmup_steps=4000):
        super().__init__()
        self.d_model = d_model
        self.d_model = tf.cast(self.d_model, tf.float32)
        self.warmup_steps = warmup_steps

    def __call__(self, step):
        step = tf.cast(step, dtype=tf.float32)
        arg1 = tf.math.rsqrt(step)
        arg2 = step * (self.warmup_steps ** -1.5)
        return tf.math.rsqrt(self.d_model) * tf.math.minimum(arg1, arg2)


learning_rate = CustomSchedule(128, warmup_steps=40)
optimizer = tf.keras.optimizers.Adam(learning_rate, beta_1=0.9, beta_2=0.98, epsilon=1e-9)
steps = np.arange(1, 200)
curve = np.array([float(learning_rate(s)) for s in steps])
expected = 128 ** -0.5 * np.minimum(steps ** -0.5, steps * 40 ** -1.5)
np.testing.assert_allclose(curve, expected, rtol=1e-5)
assert curve.argmax() == 39   # the peak at the end of the warmup


@keras.saving.register_keras_serializable(package="examples")
class WarmUpCosine(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup to learning_rate_base, then a cosine decay to 0 at total_steps."""

    def __init__(self, learning_rate_base, total_steps, warmup_learning_rate, warmup_steps):
        super().__init__()
        self.learning_rate_base = learning_rate_base
        self.total_steps = total_steps
        self.warmup_learning_rate = warmup_learning_rate
        self.warmup_steps = warmup_steps
        self.pi = np.pi

    def __call__(self, step):
        if self.total_steps < self.warmup_steps:
            raise ValueError("Total_steps must be larger or equal to warmup_steps.")
        cos_annealed_lr = ops.cos(
            self.pi * (ops.cast(step, "float32") - self.warmup_steps)
            / float(self.total_steps - self.warmup_steps))
        learning_rate = 0.5 * self.learning_rate_base * (1 + cos_annealed_lr)
        if self.warmup_steps > 0:
            slope = (self.learning_rate_base - self.warmup_learning_rate) / self.warmup_steps
            warmup_rate = slope * ops.cast(step, "float32") + self.warmup_learning_rate
            learning_rate = ops.where(step < self.warmup_steps, warmup_rate, learning_rate)
        return ops.where(step > self.total_steps, 0.0, learning_rate)

    def get_config(self):
        return {"learning_rate_base": self.learning_rate_base, "total_steps": self.total_steps,
                "warmup_learning_rate": self.warmup_learning_rate, "warmup_steps": self.warmup_steps}


rng = np.random.default_rng(18)
x = rng.normal(size=(512, 8)).astype("float32")
y = (x[:, :3].sum(axis=1) > 0).astype("int64")
batch_size, epochs = 32, 5
total_steps = int((len(x) / batch_size) * epochs)
scheduled_lrs = WarmUpCosine(learning_rate_base=0.01, total_steps=total_steps,
                             warmup_learning_rate=0.0, warmup_steps=int(0.1 * total_steps))
lrs = [float(scheduled_lrs(step)) for step in range(total_steps)]
assert lrs[0] == 0.0 and abs(max(lrs) - 0.01) < 1e-3 and lrs[-1] < 1e-4


def make_model():
    return keras.Sequential([keras.Input((8,)), layers.Dense(16, activation="relu"), layers.Dense(2)])


model = make_model()
model.compile(optimizer=keras.optimizers.AdamW(learning_rate=scheduled_lrs, weight_decay=1e-4),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
history = model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0)
print(history.history)
assert history.history["accuracy"][-1] > 0.9
# the optimizer has taken total_steps steps; its learning rate is the schedule's value there
assert int(model.optimizer.iterations) == total_steps
assert abs(float(model.optimizer.learning_rate) - float(scheduled_lrs(total_steps))) < 1e-7

# the registered schedule is saved in the model's compile config and restored
model.save("warmup_cosine.keras")
restored = keras.models.load_model("warmup_cosine.keras")
schedule = restored.optimizer.learning_rate if not hasattr(restored.optimizer, "_learning_rate") \
    else restored.optimizer._learning_rate
assert isinstance(schedule, WarmUpCosine) and schedule.total_steps == total_steps, schedule
np.testing.assert_allclose(restored.predict(x[:16], verbose=0), model.predict(x[:16], verbose=0), rtol=1e-6)

# CosineDecay with a linear warmup (Keras 3's warmup_target / warmup_steps)
cosine = keras.optimizers.schedules.CosineDecay(initial_learning_rate=0.0, decay_steps=100, alpha=0.1,
                                                warmup_target=0.01, warmup_steps=20)
values = np.array([float(cosine(s)) for s in range(0, 140, 10)])
want = [0.01 * s / 20 if s < 20 else
        0.01 * ((1 - 0.1) * 0.5 * (1 + math.cos(math.pi * min(s - 20, 100) / 100)) + 0.1)
        for s in range(0, 140, 10)]
np.testing.assert_allclose(values, want, rtol=1e-5, atol=1e-9)
model = make_model()
model.compile(optimizer=keras.optimizers.SGD(learning_rate=cosine, momentum=0.9),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
history = model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0)
assert history.history["loss"][-1] < history.history["loss"][0]
