"""The classic dropout + max-norm recipe (Srivastava et al., "Dropout: A Simple Way to Prevent
Neural Networks from Overfitting", JMLR 2014, section 5.1: large learning rate and momentum,
dropout, every unit's incoming weight vector capped at norm c = 3) on an LSTM sequence
classifier, written as Keras scripts write it: LSTM(kernel_constraint=MaxNorm(c),
recurrent_constraint=MaxNorm(c)), Dropout, Dense(kernel_constraint=MaxNorm(c)), SGD with
momentum (cap 2 here). Only the imports changed. The data are synthetic token sequences whose class is the
token that occurs most often among a few "topic" tokens hidden in noise. Checks: it learns, the
constraints hold after every epoch (a callback), and they survive save / load."""
import numpy as np

from corenn import keras
from corenn.keras import layers
from corenn.keras.constraints import MaxNorm

keras.utils.set_random_seed(7)

VOCAB, MAXLEN, CLASSES = 200, 20, 3
rng = np.random.default_rng(7)


def sequences(n):
    labels = rng.integers(0, CLASSES, n)
    x = rng.integers(10, VOCAB, (n, MAXLEN))
    for i, y in enumerate(labels):
        spots = rng.choice(MAXLEN, 4, replace=False)
        x[i, spots[:3]] = 1 + y                             # the topic token, three times
        x[i, spots[3]] = 1 + (y + rng.integers(1, CLASSES)) % CLASSES   # one distractor
    return x, labels


x_train, y_train = sequences(800)
x_val, y_val = sequences(200)

C = 2.0   # the paper caps at 3-4; a tighter cap is reached within this short run
model = keras.Sequential([
    keras.Input(shape=(MAXLEN,), dtype="int32"),
    layers.Embedding(VOCAB, 16),
    layers.LSTM(32, kernel_constraint=MaxNorm(C), recurrent_constraint=MaxNorm(C)),
    layers.Dropout(0.5),
    layers.Dense(32, activation="relu", kernel_constraint=MaxNorm(C)),
    layers.Dropout(0.5),
    layers.Dense(CLASSES, activation="softmax", kernel_constraint=MaxNorm(C)),
])


def column_norms(w):
    return np.sqrt((np.asarray(w, np.float64) ** 2).sum(axis=0))


class CheckNorms(keras.callbacks.Callback):
    """After every epoch no unit's incoming weights exceed the cap (MaxNorm's axis=0: columns)."""

    largest = []

    def on_epoch_end(self, epoch, logs=None):
        lstm = self.model.layers[1]
        dense = [l for l in self.model.layers if isinstance(l, layers.Dense)]
        norms = [column_norms(lstm.kernel).max(), column_norms(lstm.recurrent_kernel).max()] + \
            [column_norms(d.kernel).max() for d in dense]
        self.largest.append(max(norms))
        assert max(norms) <= C + 1e-4, norms


# the recipe's high learning rate: without the cap the weights would grow large
model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.9, clipnorm=5.0),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
check = CheckNorms()
history = model.fit(x_train, y_train, batch_size=32, epochs=10, validation_data=(x_val, y_val),
                    callbacks=[check], verbose=2)
print("largest incoming-weight norm per epoch:", [round(v, 3) for v in check.largest])
assert history.history["val_accuracy"][-1] > 0.8, history.history
assert max(check.largest) > 0.9 * C   # the cap was reached: the constraint did work

model.save("lstm_maxnorm.keras")
restored = keras.models.load_model("lstm_maxnorm.keras")
lstm = restored.layers[1]
assert isinstance(lstm.kernel_constraint, MaxNorm) and lstm.kernel_constraint.max_value == C
assert isinstance(lstm.recurrent_constraint, MaxNorm) and lstm.bias_constraint is None
np.testing.assert_allclose(restored.predict(x_val, verbose=0), model.predict(x_val, verbose=0), rtol=1e-5, atol=1e-6)
