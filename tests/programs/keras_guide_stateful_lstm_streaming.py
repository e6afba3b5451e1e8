"""A stateful LSTM trained on consecutive chunks of long sequences and then run as a streaming
forecaster, as the Keras RNN guide's "cross-batch statefulness" section and TF-Keras 2 era
tutorials use it: `stateful=True` with a fixed batch size (`keras.Input(batch_size=...)`),
`shuffle=False`, `reset_states()` between passes (a callback), and one-step-at-a-time
prediction whose result equals running the whole sequence at once. Only the imports changed."""
import numpy as np
from corenn import keras
from corenn.keras import layers

keras.utils.set_random_seed(4)
rng = np.random.default_rng(4)
BATCH, CHUNK, CHUNKS = 8, 20, 10
T = CHUNK * CHUNKS
t = np.arange(T + 1)
phase = rng.uniform(0, 2 * np.pi, BATCH)
freq = rng.uniform(0.05, 0.15, BATCH)
series = np.sin(freq[:, None] * t[None, :] + phase[:, None]).astype("float32")
x_full, y_full = series[:, :-1, None], series[:, 1:, None]

# chunk k of every sequence is batch k: row i of each batch continues row i of the previous one
x_chunks = np.concatenate([x_full[:, k * CHUNK:(k + 1) * CHUNK] for k in range(CHUNKS)])
y_chunks = np.concatenate([y_full[:, k * CHUNK:(k + 1) * CHUNK] for k in range(CHUNKS)])


def build(batch_size, stateful=True):
    inputs = keras.Input(shape=(None, 1), batch_size=batch_size)
    h = layers.LSTM(16, return_sequences=True, stateful=stateful, name="lstm")(inputs)
    return keras.Model(inputs, layers.Dense(1)(h))


class ResetStatesCallback(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.model.reset_states() if hasattr(self.model, "reset_states") else \
            self.model.get_layer("lstm").reset_states()


model = build(BATCH)
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
history = model.fit(x_chunks, y_chunks, batch_size=BATCH, epochs=30, shuffle=False, verbose=0,
                    callbacks=[ResetStatesCallback()])
print("loss", round(history.history["loss"][0], 4), "->", round(history.history["loss"][-1], 4))
assert history.history["loss"][-1] < 0.1 * history.history["loss"][0]

# streaming: one chunk after another with carried state equals the whole sequence at once
model.get_layer("lstm").reset_states()
streamed = np.concatenate([model.predict(x_full[:, k * CHUNK:(k + 1) * CHUNK], batch_size=BATCH, verbose=0)
                           for k in range(CHUNKS)], axis=1)
whole = build(BATCH, stateful=False)
whole.set_weights(model.get_weights())
np.testing.assert_allclose(streamed, whole.predict(x_full, batch_size=BATCH, verbose=0), rtol=1e-4, atol=1e-5)

# one step at a time (a streaming forecaster)
model.get_layer("lstm").reset_states()
steps = [model.predict(x_full[:, i:i + 1], batch_size=BATCH, verbose=0) for i in range(30)]
np.testing.assert_allclose(np.concatenate(steps, axis=1), streamed[:, :30], rtol=1e-4, atol=1e-5)
state_h = np.asarray(model.get_layer("lstm").states[0])
assert state_h.shape == (BATCH, 16) and np.abs(state_h).sum() > 0
model.get_layer("lstm").reset_states()
assert np.abs(np.asarray(model.get_layer("lstm").states[0])).sum() == 0
mse = np.mean((streamed[:, 20:] - y_full[:, 20:]) ** 2)
print("streaming one-step-ahead mse", mse)
assert mse < 0.01
