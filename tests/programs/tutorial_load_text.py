"""TF tutorial "Load text" (load_data/text), imports changed: part 1, a directory of
per-class text files read by tf.keras.utils.text_dataset_from_directory, 'multi_hot' and 'int'
TextVectorization layers adapted on the text-only dataset, a linear model on the bag of words
and a Conv1D model on the token ids, and an export model with the vectorizer inside that takes
raw strings; part 2, one tf.data.TextLineDataset per file labelled by a map, concatenated,
shuffled once (reshuffle_each_iteration=False), split with take / skip, padded_batch of the
vectorized lines. The Stack Overflow questions and the Iliad translations are replaced by
synthetic sentences whose class shows in their words; checks: the datasets' shapes and
labels, the vocabulary, and accuracies well above chance."""
import pathlib
import re

import numpy as np

import corenn as tf
from corenn.keras import layers
from corenn.keras import losses

tf.random.set_seed(5)
rng = np.random.default_rng(5)
TOPICS = {
    "csharp": ["linq", "dotnet", "visual", "studio", "nuget"],
    "java": ["jvm", "maven", "spring", "gradle", "hibernate"],
    "javascript": ["node", "npm", "react", "browser", "dom"],
    "python": ["pip", "numpy", "pandas", "django", "flask"],
}
COMMON = ["how", "do", "i", "my", "code", "error", "when", "the", "a", "function", "with", "in", "get"]


def sentence(words, k=2):
    toks = list(rng.choice(COMMON, rng.integers(5, 10))) + list(rng.choice(words, k))
    rng.shuffle(toks)
    return " ".join(toks)


# Part 1: a directory of files, one folder per label
dataset_dir = pathlib.Path("stack_overflow")
for split, count in (("train", 150), ("test", 40)):
    for label, words in TOPICS.items():
        d = dataset_dir / split / label
        d.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            (d / f"{i}.txt").write_text(sentence(words).capitalize() + "?")

train_dir = dataset_dir/'train'
batch_size = 32
seed = 42

raw_train_ds = tf.keras.utils.text_dataset_from_directory(
    train_dir,
    batch_size=batch_size,
    validation_split=0.2,
    subset='training',
    seed=seed)
for text_batch, label_batch in raw_train_ds.take(1):
  for i in range(3):
    print("Question: ", text_batch.numpy()[i])
    print("Label:", label_batch.numpy()[i])
assert raw_train_ds.class_names == ["csharp", "java", "javascript", "python"]

raw_val_ds = tf.keras.utils.text_dataset_from_directory(
    train_dir,
    batch_size=batch_size,
    validation_split=0.2,
    subset='validation',
    seed=seed)

test_dir = dataset_dir/'test'
raw_test_ds = tf.keras.utils.text_dataset_from_directory(
    test_dir,
    batch_size=batch_size)

VOCAB_SIZE = 100

binary_vectorize_layer = layers.TextVectorization(
    max_tokens=VOCAB_SIZE,
    output_mode='multi_hot')

MAX_SEQUENCE_LENGTH = 16

int_vectorize_layer = layers.TextVectorization(
    max_tokens=VOCAB_SIZE,
    output_mode='int',
    output_sequence_length=MAX_SEQUENCE_LENGTH)

# Make a text-only dataset (without labels), then call `TextVectorization.adapt`.
train_text = raw_train_ds.map(lambda text, labels: text)
binary_vectorize_layer.adapt(train_text)
int_vectorize_layer.adapt(train_text)


def binary_vectorize_text(text, label):
  text = tf.expand_dims(text, -1)
  return binary_vectorize_layer(text), label


def int_vectorize_text(text, label):
  text = tf.expand_dims(text, -1)
  return int_vectorize_layer(text), label


# Retrieve a batch (of 32 reviews and labels) from the dataset.
text_batch, label_batch = next(iter(raw_train_ds))
first_question, first_label = text_batch[0], label_batch[0]
print("Question:", first_question)
print("'binary' vectorized question:",
      list(binary_vectorize_text(first_question, first_label)[0]))
print("'int' vectorized question:",
      list(int_vectorize_text(first_question, first_label)[0]))
vocab = int_vectorize_layer.get_vocabulary()
assert vocab[:2] == ["", "[UNK]"] and "numpy" in vocab
ids = int_vectorize_text(first_question, first_label)[0].numpy()
assert ids.shape == (1, MAX_SEQUENCE_LENGTH)
words = re.sub(r"[^\w\s]", "", first_question.numpy().decode().lower()).split()
assert [vocab[i] for i in ids[0] if i] == words
mh = binary_vectorize_text(first_question, first_label)[0].numpy()
assert mh.shape == (1, len(binary_vectorize_layer.get_vocabulary())) and mh.sum() == len(set(words))

binary_train_ds = raw_train_ds.map(binary_vectorize_text)
binary_val_ds = raw_val_ds.map(binary_vectorize_text)
binary_test_ds = raw_test_ds.map(binary_vectorize_text)

int_train_ds = raw_train_ds.map(int_vectorize_text)
int_val_ds = raw_val_ds.map(int_vectorize_text)
int_test_ds = raw_test_ds.map(int_vectorize_text)

AUTOTUNE = tf.data.AUTOTUNE


def configure_dataset(dataset):
  return dataset.cache().prefetch(buffer_size=AUTOTUNE)


binary_train_ds = configure_dataset(binary_train_ds)
binary_val_ds = configure_dataset(binary_val_ds)
binary_test_ds = configure_dataset(binary_test_ds)

int_train_ds = configure_dataset(int_train_ds)
int_val_ds = configure_dataset(int_val_ds)
int_test_ds = configure_dataset(int_test_ds)

binary_model = tf.keras.Sequential([layers.Dense(4)])

binary_model.compile(
    loss=losses.SparseCategoricalCrossentropy(from_logits=True),
    optimizer='adam',
    metrics=['accuracy'])

history = binary_model.fit(
    binary_train_ds, validation_data=binary_val_ds, epochs=20, verbose=0)


def create_model(vocab_size, num_labels):
  model = tf.keras.Sequential([
      layers.Embedding(vocab_size, 64, mask_zero=True),
      layers.Conv1D(64, 5, padding="valid", activation="relu", strides=2),
      layers.GlobalMaxPooling1D(),
      layers.Dense(num_labels)
  ])
  return model


# `vocab_size` is `VOCAB_SIZE + 1` since `0` is used additionally for padding.
int_model = create_model(vocab_size=VOCAB_SIZE + 1, num_labels=4)
int_model.compile(
    loss=losses.SparseCategoricalCrossentropy(from_logits=True),
    optimizer='adam',
    metrics=['accuracy'])
history = int_model.fit(int_train_ds, validation_data=int_val_ds, epochs=5, verbose=0)

binary_loss, binary_accuracy = binary_model.evaluate(binary_test_ds, verbose=0)
int_loss, int_accuracy = int_model.evaluate(int_test_ds, verbose=0)

print("Binary model accuracy: {:2.2%}".format(binary_accuracy))
print("Int model accuracy: {:2.2%}".format(int_accuracy))
assert binary_accuracy > 0.5 and int_accuracy > 0.6, (binary_accuracy, int_accuracy)

export_model = tf.keras.Sequential(
    [binary_vectorize_layer, binary_model,
     layers.Activation('sigmoid')])

export_model.compile(
    loss=losses.SparseCategoricalCrossentropy(from_logits=False),
    optimizer='adam',
    metrics=['accuracy'])

# Test it with `raw_test_ds`, which yields raw strings
loss, accuracy = export_model.evaluate(raw_test_ds, verbose=0)
print("Accuracy: {:2.2%}".format(accuracy))
assert abs(accuracy - binary_accuracy) < 1e-6


def get_string_labels(predicted_scores_batch):
  predicted_int_labels = tf.math.argmax(predicted_scores_batch, axis=1)
  predicted_labels = tf.gather(raw_train_ds.class_names, predicted_int_labels)
  return predicted_labels


inputs = [
    "how do I extract keys from a dict into a list with numpy pandas?",  # 'python'
    "debug public static void main(string[] args) {...} maven jvm",  # 'java'
]
predicted_scores = export_model.predict(tf.constant(inputs), verbose=0)
predicted_labels = get_string_labels(predicted_scores)
for input, label in zip(inputs, predicted_labels):
  print("Question: ", input)
  print("Predicted label: ", label.numpy())
want = [raw_train_ds.class_names[k].encode() for k in np.argmax(predicted_scores, axis=1)]
assert [label.numpy() for label in predicted_labels] == want

# Part 2: one TextLineDataset per file, labelled by a map
FILE_NAMES = ['cowper.txt', 'derby.txt', 'butler.txt']
STYLE = [["wrath", "hector", "spear"], ["achilles", "shield", "troy"], ["ship", "greeks", "sea"]]
parent_dir = pathlib.Path("iliad")
parent_dir.mkdir()
for name, words in zip(FILE_NAMES, STYLE):
  (parent_dir / name).write_text("\n".join(sentence(words) for _ in range(150)) + "\n")


def labeler(example, index):
  return example, tf.cast(index, tf.int64)


labeled_data_sets = []

for i, file_name in enumerate(FILE_NAMES):
  lines_dataset = tf.data.TextLineDataset(str(parent_dir/file_name))
  labeled_dataset = lines_dataset.map(lambda ex: labeler(ex, i))
  labeled_data_sets.append(labeled_dataset)

BUFFER_SIZE = 50000
BATCH_SIZE = 64
VALIDATION_SIZE = 90

all_labeled_data = labeled_data_sets[0]
for labeled_dataset in labeled_data_sets[1:]:
  all_labeled_data = all_labeled_data.concatenate(labeled_dataset)

all_labeled_data = all_labeled_data.shuffle(
    BUFFER_SIZE, reshuffle_each_iteration=False)

firsts = []
for text, label in all_labeled_data.take(10):
  print("Sentence: ", text.numpy())
  print("Label:", label.numpy())
  firsts.append(int(label.numpy()))
assert firsts == [int(l.numpy()) for _, l in all_labeled_data.take(10)]   # shuffled once
all_labels = [int(l.numpy()) for _, l in all_labeled_data]
assert sorted(all_labels) == [0] * 150 + [1] * 150 + [2] * 150

vectorize_layer = layers.TextVectorization(max_tokens=VOCAB_SIZE, output_mode='int',
                                           output_sequence_length=MAX_SEQUENCE_LENGTH)
vectorize_layer.adapt(all_labeled_data.map(lambda text, label: text))


def vectorize_text(text, label):
  text = tf.expand_dims(text, -1)
  return tf.squeeze(vectorize_layer(text), axis=0), label


all_encoded_data = all_labeled_data.map(vectorize_text)
train_data = all_encoded_data.skip(VALIDATION_SIZE).shuffle(BUFFER_SIZE)
validation_data = all_encoded_data.take(VALIDATION_SIZE)
train_data = train_data.padded_batch(BATCH_SIZE)
validation_data = validation_data.padded_batch(BATCH_SIZE)
sample_text, sample_labels = next(iter(validation_data))
print("Text batch shape: ", sample_text.shape)
assert tuple(sample_text.shape) == (BATCH_SIZE, MAX_SEQUENCE_LENGTH) and tuple(sample_labels.shape) == (BATCH_SIZE,)

model = create_model(vocab_size=VOCAB_SIZE + 1, num_labels=3)
model.compile(
    optimizer='adam',
    loss=losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=['accuracy'])
history = model.fit(train_data, validation_data=validation_data, epochs=4, verbose=0)
loss, accuracy = model.evaluate(validation_data, verbose=0)
print("Loss: ", loss)
print("Accuracy: {:2.2%}".format(accuracy))
assert accuracy > 0.7, accuracy
