"""keras-io examples/nlp/text_classification_from_scratch, imports changed: review files read with
text_dataset_from_directory (validation split by seed), a TextVectorization with a custom
standardization written with tf.strings, adapted on a mapped dataset and applied in a tf.data
map, a Conv1D / GlobalMaxPooling1D model on int64 token ids, and the end-to-end model on raw
strings. The IMDB download becomes 500 synthetic reviews written as files in the same
aclImdb/{train,test}/{neg,pos} layout; sizes are smaller (2,000 tokens, sequences of 64,
embedding 32, 32 filters) and Adam's rate is 3e-3 for 8 short epochs (the example: 3 epochs of 625 batches)."""
import os
import re
import string

import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers

from _text_data import reviews

keras.utils.set_random_seed(0)

for split, count, seed in (("train", 400, 31), ("test", 100, 32)):
    texts, labels = reviews(count, seed)
    for i, (text, label) in enumerate(zip(texts, labels)):
        folder = os.path.join("aclImdb", split, "pos" if label else "neg")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, f"{i}_{7 if label else 3}.txt"), "w") as f:
            f.write(text)

print(sorted(os.listdir("aclImdb/train")))

batch_size = 32
raw_train_ds = keras.utils.text_dataset_from_directory(
    "aclImdb/train",
    batch_size=batch_size,
    validation_split=0.2,
    subset="training",
    seed=1337,
)
raw_val_ds = keras.utils.text_dataset_from_directory(
    "aclImdb/train",
    batch_size=batch_size,
    validation_split=0.2,
    subset="validation",
    seed=1337,
)
raw_test_ds = keras.utils.text_dataset_from_directory(
    "aclImdb/test", batch_size=batch_size
)

print(f"Number of batches in raw_train_ds: {raw_train_ds.cardinality()}")
print(f"Number of batches in raw_val_ds: {raw_val_ds.cardinality()}")
print(f"Number of batches in raw_test_ds: {raw_test_ds.cardinality()}")
assert int(raw_train_ds.cardinality()) == 10 and int(raw_val_ds.cardinality()) == 3

# It's important to take a look at your raw data to ensure your normalization
# and tokenization will work as expected. We can do that by taking a few
# examples from the training set and looking at them.
# This is one of the places where eager execution shines:
# we can just evaluate these tensors using .numpy()
# instead of needing to evaluate them in a Session/Graph context.
for text_batch, label_batch in raw_train_ds.take(1):
    for i in range(5):
        print(text_batch.numpy()[i])
        print(label_batch.numpy()[i])


# Having looked at our data above, we see that the raw text contains HTML break
# tags of the form '<br />'. These tags will not be removed by the default
# standardizer (which doesn't strip HTML). Because of this, we will need to
# create a custom standardization function.
def custom_standardization(input_data):
    lowercase = tf.strings.lower(input_data)
    stripped_html = tf.strings.regex_replace(lowercase, "<br />", " ")
    return tf.strings.regex_replace(
        stripped_html, f"[{re.escape(string.punctuation)}]", ""
    )


# Model constants.
max_features = 2000
embedding_dim = 32
sequence_length = 64

# Now that we have our custom standardization, we can instantiate our text
# vectorization layer. We are using this layer to normalize, split, and map
# strings to integers, so we set our 'output_mode' to 'int'.
# Note that we're using the default split function,
# and the custom standardization defined above.
# We also set an explicit maximum sequence length, since the CNNs later in our
# model won't support ragged sequences.
vectorize_layer = keras.layers.TextVectorization(
    standardize=custom_standardization,
    max_tokens=max_features,
    output_mode="int",
    output_sequence_length=sequence_length,
)

# Now that the vectorize_layer has been created, call `adapt` on a text-only
# dataset to create the vocabulary. You don't have to batch, but for very large
# datasets this means you're not keeping spare copies of the dataset in memory.

# Let's make a text-only dataset (no labels):
text_ds = raw_train_ds.map(lambda x, y: x)
# Let's call `adapt`:
vectorize_layer.adapt(text_ds)
vocab = vectorize_layer.get_vocabulary()
assert vocab[:2] == ["", "[UNK]"] and "br" not in vocab and "movie" in vocab


def vectorize_text(text, label):
    text = tf.expand_dims(text, -1)
    return vectorize_layer(text), label


# Vectorize the data.
train_ds = raw_train_ds.map(vectorize_text)
val_ds = raw_val_ds.map(vectorize_text)
test_ds = raw_test_ds.map(vectorize_text)

# Do async prefetching / buffering of the data for best performance on GPU.
train_ds = train_ds.cache().prefetch(buffer_size=10)
val_ds = val_ds.cache().prefetch(buffer_size=10)
test_ds = test_ds.cache().prefetch(buffer_size=10)

for x, y in train_ds.take(1):
    assert x.shape == (batch_size, sequence_length) and x.dtype == np.int64

# A integer input for vocab indices.
inputs = keras.Input(shape=(None,), dtype="int64")

# Next, we add a layer to map those vocab indices into a space of dimensionality
# 'embedding_dim'.
x = layers.Embedding(max_features, embedding_dim)(inputs)
x = layers.Dropout(0.5)(x)

# Conv1D + global max pooling
x = layers.Conv1D(32, 7, padding="valid", activation="relu", strides=3)(x)
x = layers.Conv1D(32, 7, padding="valid", activation="relu", strides=3)(x)
x = layers.GlobalMaxPooling1D()(x)

# We add a vanilla hidden layer:
x = layers.Dense(32, activation="relu")(x)
x = layers.Dropout(0.5)(x)

# We project onto a single unit output layer, and squash it with a sigmoid:
predictions = layers.Dense(1, activation="sigmoid", name="predictions")(x)

model = keras.Model(inputs, predictions)

# Compile the model with binary crossentropy loss and an adam optimizer.
model.compile(loss="binary_crossentropy", optimizer=keras.optimizers.Adam(3e-3), metrics=["accuracy"])

epochs = 8

# Fit the model using the train and test datasets.
history = model.fit(train_ds, validation_data=val_ds, epochs=epochs, verbose=0)
print(history.history)

loss, accuracy = model.evaluate(test_ds)
print("test accuracy", accuracy)
assert accuracy > 0.75, (accuracy, history.history)

# A string input
inputs = keras.Input(shape=(1,), dtype="string")
# Turn strings into vocab indices
indices = vectorize_layer(inputs)
# Turn vocab indices into predictions
outputs = model(indices)

# Our end to end model
end_to_end_model = keras.Model(inputs, outputs)
end_to_end_model.compile(
    loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"]
)

# Test it with `raw_test_ds`, which yields raw strings
loss_e2e, accuracy_e2e = end_to_end_model.evaluate(raw_test_ds)
print("end-to-end accuracy", accuracy_e2e)
np.testing.assert_allclose(accuracy_e2e, accuracy, rtol=1e-6)
scores = end_to_end_model.predict(np.array([["a wonderful brilliant film"], ["boring awful waste"]]), verbose=0)
assert scores[0, 0] > 0.5 > scores[1, 0], scores
