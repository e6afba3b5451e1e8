"""Instructions per training step of one corenn build, counted by valgrind (deterministic on a
shared host): run a workload for 2 and for 7 train_on_batch steps; (I7 - I2) / 5 is one step.

    for n in 2 7; do valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        PYTHON bench/cg_steps.py mlp|cnn|lstm $n; done
"""
import sys, numpy as np
import corenn
from corenn import layers
name, steps = sys.argv[1], int(sys.argv[2])
corenn.set_num_threads(1); corenn.utils.set_random_seed(0)
rng = np.random.default_rng(0)
img = rng.random((128, 28, 28), dtype=np.float32); lab = rng.integers(0, 10, 128)
loss = corenn.losses.SparseCategoricalCrossentropy(from_logits=True)
if name == "mlp":
    m = corenn.Sequential([layers.Flatten(input_shape=(28, 28)), layers.Dense(512, activation="relu"), layers.Dense(256, activation="relu"), layers.Dense(10)]); x, y = img, lab
elif name == "cnn":
    m = corenn.Sequential([layers.Input((28, 28, 1)), layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2), layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2), layers.Conv2D(64, 3, activation="relu"), layers.Flatten(), layers.Dense(64, activation="relu"), layers.Dense(10)]); x, y = img[:64, ..., None], lab[:64]
else:
    m = corenn.Sequential([layers.Input((28, 28)), layers.LSTM(64, return_sequences=True), layers.LSTM(64), layers.Dense(10)]); x, y = img, lab
m.compile(optimizer="adam", loss=loss)
for _ in range(steps):
    m.train_on_batch(x, y)
