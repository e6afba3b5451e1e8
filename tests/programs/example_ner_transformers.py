"""keras-io examples/nlp/ner_transformers (named entity recognition with a Transformer), imports
changed only (`import keras`, `from keras import layers, ops`, `tensorflow.data` -> corenn). The
CoNLL-2003 files are replaced by synthetic sentences whose entity words carry B-/I- tags; the
subclassed NERModel, its TransformerBlock and TokenAndPositionEmbedding, the padded_batch pipeline
and the CustomNonPaddingTokenLoss (reduction=None cross-entropy masked by the labels) are the
example's."""
import random

import numpy as np
import corenn as keras
from corenn import data as tf_data
from corenn.keras import layers, ops

keras.utils.set_random_seed(22)
random.seed(22)


class TransformerBlock(layers.Layer):
    def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1):
        super().__init__()
        self.att = keras.layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
        self.ffn = keras.Sequential([keras.layers.Dense(ff_dim, activation="relu"), keras.layers.Dense(embed_dim)])
        self.layernorm1 = keras.layers.LayerNormalization(epsilon=1e-6)
        self.layernorm2 = keras.layers.LayerNormalization(epsilon=1e-6)
        self.dropout1 = keras.layers.Dropout(rate)
        self.dropout2 = keras.layers.Dropout(rate)

    def call(self, inputs, training=False):
        attn_output = self.att(inputs, inputs)
        attn_output = self.dropout1(attn_output, training=training)
        out1 = self.layernorm1(inputs + attn_output)
        ffn_output = self.ffn(out1)
        ffn_output = self.dropout2(ffn_output, training=training)
        return self.layernorm2(out1 + ffn_output)


class TokenAndPositionEmbedding(layers.Layer):
    def __init__(self, maxlen, vocab_size, embed_dim):
        super().__init__()
        self.token_emb = keras.layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
        self.pos_emb = keras.layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

    def call(self, inputs):
        maxlen = ops.shape(inputs)[-1]
        positions = ops.arange(start=0, stop=maxlen, step=1)
        position_embeddings = self.pos_emb(positions)
        token_embeddings = self.token_emb(inputs)
        return token_embeddings + position_embeddings


class NERModel(keras.Model):
    def __init__(self, num_tags, vocab_size, maxlen=128, embed_dim=32, num_heads=2, ff_dim=32):
        super().__init__()
        self.embedding_layer = TokenAndPositionEmbedding(maxlen, vocab_size, embed_dim)
        self.transformer_block = TransformerBlock(embed_dim, num_heads, ff_dim)
        self.dropout1 = layers.Dropout(0.1)
        self.ff = layers.Dense(ff_dim, activation="relu")
        self.dropout2 = layers.Dropout(0.1)
        self.ff_final = layers.Dense(num_tags, activation="softmax")

    def call(self, inputs, training=False):
        x = self.embedding_layer(inputs)
        x = self.transformer_block(x)
        x = self.dropout1(x, training=training)
        x = self.ff(x)
        x = self.dropout2(x, training=training)
        x = self.ff_final(x)
        return x


# tags as the example maps them: 0 is padding
mapping = {0: "[PAD]", 1: "O", 2: "B-PER", 3: "I-PER", 4: "B-LOC", 5: "I-LOC"}
num_tags = len(mapping)
first_names, last_names = ["anna", "peter", "maria", "john"], ["smith", "berg", "rossi"]
places = ["paris", "berlin", "rome", "lima"]
fillers = ["met", "in", "the", "visited", "said", "today", "with", "from", "and"]
vocabulary = ["[UNK]"] + first_names + last_names + places + fillers
word_index = {w: i + 1 for i, w in enumerate(vocabulary)}   # 0 pads
vocab_size = len(word_index) + 2


def sentence():
    words, tags = [], []
    for _ in range(random.randint(2, 4)):
        r = random.random()
        if r < 0.3:
            words += [random.choice(first_names), random.choice(last_names)]
            tags += [2, 3]
        elif r < 0.5:
            words += [random.choice(places)]
            tags += [4]
        else:
            words += [random.choice(fillers)]
            tags += [1]
    return words, tags


def lowercase_and_convert_to_ids(tokens):
    return [word_index.get(t.lower(), 1) for t in tokens]


samples = [sentence() for _ in range(500)]


def generate():
    for words, tags in samples:
        yield np.array(lowercase_and_convert_to_ids(words), "int64"), np.array(tags, "int64")


batch_size = 32
train_dataset = tf_data.Dataset.from_generator(
    generate, output_signature=(keras.TensorSpec(shape=(None,), dtype="int64"),
                                keras.TensorSpec(shape=(None,), dtype="int64")))
train_dataset = train_dataset.padded_batch(batch_size)

ner_model = NERModel(num_tags, vocab_size, embed_dim=32, num_heads=4, ff_dim=64)


class CustomNonPaddingTokenLoss(keras.losses.Loss):
    def __init__(self, name="custom_ner_loss"):
        super().__init__(name=name)

    def call(self, y_true, y_pred):
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=False, reduction=None)
        loss = loss_fn(y_true, y_pred)
        mask = ops.cast((y_true > 0), dtype="float32")
        loss = loss * mask
        return ops.sum(loss) / ops.sum(mask)


loss = CustomNonPaddingTokenLoss()
ner_model.compile(optimizer="adam", loss=loss)
history = ner_model.fit(train_dataset, epochs=6, verbose=0)
print(history.history)
assert history.history["loss"][-1] < 0.3 * history.history["loss"][0]


def tokenize_and_convert_to_ids(text):
    tokens = text.split()
    return lowercase_and_convert_to_ids(tokens)


# Sample inference using the trained model
sample_input = tokenize_and_convert_to_ids("Maria Rossi visited Lima with John Smith")
sample_input = ops.reshape(sample_input, [1, -1])
output = ner_model.predict(sample_input)
prediction = np.argmax(output, axis=-1)[0]
prediction = [mapping[i] for i in prediction]
print(prediction)
assert prediction == ["B-PER", "I-PER", "O", "B-LOC", "O", "B-PER", "I-PER"], prediction


def calculate_metrics(dataset):
    all_true_tag_ids, all_predicted_tag_ids = [], []
    for x, y in dataset:
        output = ner_model.predict(x, verbose=0)
        predictions = np.argmax(output, axis=-1)
        predictions = np.reshape(predictions, [-1])
        true_tag_ids = np.reshape(y, [-1])
        mask = (true_tag_ids > 0) & (predictions > 0)
        all_true_tag_ids.append(true_tag_ids[mask])
        all_predicted_tag_ids.append(predictions[mask])
    true = np.concatenate(all_true_tag_ids)
    pred = np.concatenate(all_predicted_tag_ids)
    return float(np.mean(true == pred))


token_accuracy = calculate_metrics(train_dataset)
print("token accuracy", token_accuracy)
assert token_accuracy > 0.95, token_accuracy
