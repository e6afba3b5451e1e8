"""keras-io examples/generative/lstm_character_level_text_generation, imports changed only
(`import keras`, `from keras import layers` -> corenn). Nietzsche's text is replaced by a short
repetitive corpus; the one-hot bool arrays, the LSTM model, RMSprop and the temperature sampling
are the example's."""
import io  # noqa: F401  (the example reads its file with io.open)
import random

import numpy as np
import corenn as keras
from corenn.keras import layers

keras.utils.set_random_seed(13)
random.seed(13)
np.random.seed(13)
text = ("the cat sat on the mat. the dog sat on the logs. " * 30).lower()   # 49 chars: step 3 meets every offset
print("Corpus length:", len(text))

chars = sorted(list(set(text)))
print("Total chars:", len(chars))
char_indices = dict((c, i) for i, c in enumerate(chars))
indices_char = dict((i, c) for i, c in enumerate(chars))

# cut the text in semi-redundant sequences of maxlen characters
maxlen = 12
step = 3
sentences = []
next_chars = []
for i in range(0, len(text) - maxlen, step):
    sentences.append(text[i: i + maxlen])
    next_chars.append(text[i + maxlen])
print("Number of sequences:", len(sentences))

x = np.zeros((len(sentences), maxlen, len(chars)), dtype="bool")
y = np.zeros((len(sentences), len(chars)), dtype="bool")
for i, sentence in enumerate(sentences):
    for t, char in enumerate(sentence):
        x[i, t, char_indices[char]] = 1
    y[i, char_indices[next_chars[i]]] = 1

model = keras.Sequential(
    [
        keras.Input(shape=(maxlen, len(chars))),
        layers.LSTM(64),
        layers.Dense(len(chars), activation="softmax"),
    ]
)
optimizer = keras.optimizers.RMSprop(learning_rate=0.01)
model.compile(loss="categorical_crossentropy", optimizer=optimizer)


def sample(preds, temperature=1.0):
    # helper function to sample an index from a probability array
    preds = np.asarray(preds).astype("float64")
    preds = np.log(preds) / temperature
    exp_preds = np.exp(preds)
    preds = exp_preds / np.sum(exp_preds)
    probas = np.random.multinomial(1, preds, 1)
    return np.argmax(probas)


epochs = 6
batch_size = 32
losses = []
for epoch in range(epochs):
    history = model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
    losses.append(history.history["loss"][0])
    print()
    print("Generating text after epoch: %d" % epoch)

start_index = 0
generated_at = {}
for diversity in [0.2, 0.5, 1.0, 1.2]:
    print("...Diversity:", diversity)
    generated = ""
    sentence = text[start_index: start_index + maxlen]
    print('...Generating with seed: "' + sentence + '"')
    for i in range(60):
        x_pred = np.zeros((1, maxlen, len(chars)))
        for t, char in enumerate(sentence):
            x_pred[0, t, char_indices[char]] = 1.0
        preds = model.predict(x_pred, verbose=0)[0]
        next_index = sample(preds, diversity)
        next_char = indices_char[next_index]
        sentence = sentence[1:] + next_char
        generated += next_char
    print("...Generated: ", generated)
    generated_at[diversity] = generated

print(losses)
assert losses[-1] < 0.3 * losses[0], losses
# at a low temperature the model continues the corpus itself
cold = text[start_index: start_index + maxlen] + generated_at[0.2]
words = set(text.replace(".", " ").split())
made = cold.replace(".", " ").split()[:-1]   # the last word may be cut off
assert sum(w in words for w in made) >= 0.9 * len(made), cold
