"""keras.io example "Using pre-trained word embeddings", imports changed: a newsgroup corpus read
from one folder per class, shuffled with two `RandomState(seed)` generators, a `TextVectorization`
adapted on a batched `tf.data` dataset (`get_vocabulary`, calling it on `[["..."]]`), a GloVe text
file parsed with `np.fromstring` into an embedding matrix, a frozen `Embedding` built with
`build((1,))` and filled by `set_weights`, a Conv1D / MaxPooling1D / GlobalMaxPooling1D classifier,
and the end-to-end model on `Input(shape=(1,), dtype="string")` called on
`keras.ops.convert_to_tensor([["..."]])`. News20 and GloVe are replaced by three synthetic
newsgroups and a 16-dimensional embedding file whose vectors cluster by topic."""
import os

import numpy as np

from corenn import data as tf_data
from corenn import keras
from corenn.keras import layers

keras.utils.set_random_seed(9)
gen = np.random.default_rng(9)

# --- the corpus: one folder per newsgroup, one message per file, and a "GloVe" file ------------
TOPICS = {
    "comp.graphics": ["graphics", "image", "pixel", "render", "modeling", "polygon", "shader", "texture"],
    "rec.autos": ["car", "engine", "wheel", "brake", "dealer", "sedan", "gearbox", "tires"],
    "sci.space": ["orbit", "rocket", "nasa", "launch", "satellite", "planet", "shuttle", "lunar"],
}
COMMON = ["the", "a", "of", "and", "is", "about", "this", "message", "i", "we", "on", "for", "with", "it",
          "that", "some", "new", "good", "think", "know", "cat", "sat", "mat"]
data_dir = "20_newsgroup"
for topic, words in TOPICS.items():
    os.makedirs(os.path.join(data_dir, topic), exist_ok=True)
    for k in range(60):
        body = list(gen.choice(COMMON, gen.integers(25, 45))) + list(gen.choice(words, gen.integers(3, 7)))
        gen.shuffle(body)
        with open(os.path.join(data_dir, topic, str(1000 + k)), "w", encoding="latin-1") as f:
            header = ["Xref: cantaloupe.srv.cs.cmu.edu", f"Newsgroups: {topic}", "Path: cantaloupe!news",
                      "From: someone@example.com", f"Subject: {gen.choice(COMMON)}", f"Message-ID: <{k}@example>",
                      "Sender: news@example.com", "Organization: Example", "Date: 5 Apr 1993", "Lines: 3"]
            f.write("\n".join(header) + "\n" + " ".join(body) + "\n")
centers = {topic: gen.normal(size=16) for topic in TOPICS}
with open("glove.6B.16d.txt", "w") as f:
    for topic, words in TOPICS.items():
        for w in words:
            f.write(w + " " + " ".join(f"{v:.5f}" for v in centers[topic] + 0.1 * gen.normal(size=16)) + "\n")
    for w in COMMON:
        f.write(w + " " + " ".join(f"{v:.5f}" for v in 0.3 * gen.normal(size=16)) + "\n")

# --- the example ---------------------------------------------------------------------------
os.listdir(data_dir)
dirnames = os.listdir(data_dir)
print("Number of directories:", len(dirnames))
print("Directory names:", dirnames)

samples = []
labels = []
class_names = []
class_index = 0
for dirname in sorted(os.listdir(data_dir)):
    class_names.append(dirname)
    dirpath = os.path.join(data_dir, dirname)
    fnames = os.listdir(dirpath)
    print("Processing %s, %d files found" % (dirname, len(fnames)))
    for fname in fnames:
        fpath = os.path.join(dirpath, fname)
        with open(fpath, encoding="latin-1") as f:   # (the example leaves it open)
            content = f.read()
        lines = content.split("\n")
        lines = lines[10:]
        content = "\n".join(lines)
        samples.append(content)
        labels.append(class_index)
    class_index += 1

print("Classes:", class_names)
print("Number of samples:", len(samples))

# Shuffle the data
seed = 1337
rng = np.random.RandomState(seed)
rng.shuffle(samples)
rng = np.random.RandomState(seed)
rng.shuffle(labels)

# Extract a training & validation split
validation_split = 0.2
num_validation_samples = int(validation_split * len(samples))
train_samples = samples[:-num_validation_samples]
val_samples = samples[-num_validation_samples:]
train_labels = labels[:-num_validation_samples]
val_labels = labels[-num_validation_samples:]

vectorizer = layers.TextVectorization(max_tokens=20000, output_sequence_length=200)
text_ds = tf_data.Dataset.from_tensor_slices(train_samples).batch(128)
vectorizer.adapt(text_ds)

print(vectorizer.get_vocabulary()[:5])
output = vectorizer([["the cat sat on the mat"]])
print(output.numpy()[0, :6])

voc = vectorizer.get_vocabulary()
word_index = dict(zip(voc, range(len(voc))))
test = ["the", "cat", "sat", "on", "the", "mat"]
print([word_index[w] for w in test])
np.testing.assert_array_equal(output.numpy()[0, :6], [word_index[w] for w in test])
assert output.shape == (1, 200) and voc[:2] == ["", "[UNK]"]

path_to_glove_file = "glove.6B.16d.txt"

embeddings_index = {}
with open(path_to_glove_file) as f:
    for line in f:
        word, coefs = line.split(maxsplit=1)
        coefs = np.fromstring(coefs, "f", sep=" ")
        embeddings_index[word] = coefs

print("Found %s word vectors." % len(embeddings_index))

num_tokens = len(voc) + 2
embedding_dim = 16
hits = 0
misses = 0

# Prepare embedding matrix
embedding_matrix = np.zeros((num_tokens, embedding_dim))
for word, i in word_index.items():
    embedding_vector = embeddings_index.get(word)
    if embedding_vector is not None:
        # Words not found in embedding index will be all-zeros.
        # This includes the representation for "padding" and "OOV"
        embedding_matrix[i] = embedding_vector
        hits += 1
    else:
        misses += 1
print("Converted %d words (%d misses)" % (hits, misses))

embedding_layer = layers.Embedding(num_tokens, embedding_dim, trainable=False)
embedding_layer.build((1,))
embedding_layer.set_weights([embedding_matrix])

int_sequences_input = keras.Input(shape=(None,), dtype="int32")
embedded_sequences = embedding_layer(int_sequences_input)
x = layers.Conv1D(32, 5, activation="relu")(embedded_sequences)
x = layers.MaxPooling1D(5)(x)
x = layers.Conv1D(32, 5, activation="relu")(x)
x = layers.MaxPooling1D(5)(x)
x = layers.Conv1D(32, 5, activation="relu")(x)
x = layers.GlobalMaxPooling1D()(x)
x = layers.Dense(32, activation="relu")(x)
x = layers.Dropout(0.5)(x)
preds = layers.Dense(len(class_names), activation="softmax")(x)
model = keras.Model(int_sequences_input, preds)
model.summary()

x_train = vectorizer(np.array([[s] for s in train_samples])).numpy()
x_val = vectorizer(np.array([[s] for s in val_samples])).numpy()

y_train = np.array(train_labels)
y_val = np.array(val_labels)

model.compile(loss="sparse_categorical_crossentropy", optimizer="rmsprop", metrics=["acc"])
history = model.fit(x_train, y_train, batch_size=32, epochs=10, validation_data=(x_val, y_val), verbose=0)
print(history.history["val_acc"])
assert history.history["loss"][-1] < history.history["loss"][0]
assert history.history["val_acc"][-1] > 0.8, history.history["val_acc"]   # chance is 1/3
# the embedding stayed frozen
np.testing.assert_array_equal(embedding_layer.get_weights()[0], embedding_matrix.astype("float32"))
assert len(model.non_trainable_weights) == 1 and embedding_layer.trainable is False

string_input = keras.Input(shape=(1,), dtype="string")
x = vectorizer(string_input)
preds = model(x)
end_to_end_model = keras.Model(string_input, preds)

probabilities = end_to_end_model(
    keras.ops.convert_to_tensor([["this message is about computer graphics and 3D modeling"]]))

print(class_names[np.argmax(probabilities[0])])
assert class_names[np.argmax(probabilities[0])] == "comp.graphics"
probabilities = end_to_end_model.predict(np.array([["the rocket will launch into orbit"], ["my car engine"]]),
                                         verbose=0)
assert [class_names[k] for k in np.argmax(probabilities, axis=1)] == ["sci.space", "rec.autos"]
