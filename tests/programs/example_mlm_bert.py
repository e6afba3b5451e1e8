"""keras.io example "End-to-end Masked Language Modeling with BERT", imports changed: a
`TextVectorization` with a custom standardisation whose vocabulary is rewritten with
`set_vocabulary` to end in "[mask]", the 15% / 90% / 10% BERT masking in NumPy with sample
weights, a functional BERT encoder (named MultiHeadAttention / LayerNorm / FFN Sequential layers),
a `MaskedLanguageModel(keras.Model)` that overrides `compute_loss` (an unreduced
`SparseCategoricalCrossentropy(reduction=None)` with sample weights, a module-level
`metrics.Mean` tracker) and `compute_metrics`, a callback that predicts the [mask] token each
epoch, `.keras` save + `load_model(custom_objects=...)`, a classifier on the frozen then unfrozen
pretrained encoder (`keras.Model(mlm_model.input, mlm_model.get_layer(...).output)`), and an
end-to-end model with a string Input and the vectorizer inside. keras_nlp's `PositionEmbedding`
is replaced by the example's earlier (tf.keras) form: a position `Embedding` initialised with
`weights=[sinusoid table]` and called on `tf.range`. IMDB is replaced by synthetic reviews; sizes
are cut down."""
import re
from dataclasses import dataclass
from pprint import pprint

import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers
from corenn.keras.layers import TextVectorization

keras.utils.set_random_seed(42)
np.random.seed(42)
rng = np.random.default_rng(42)


@dataclass
class Config:
    MAX_LEN = 12
    BATCH_SIZE = 32
    LR = 0.005
    VOCAB_SIZE = 60
    EMBED_DIM = 32
    NUM_HEAD = 4  # used in bert model
    FF_DIM = 32  # used in bert model
    NUM_LAYERS = 1


config = Config()

GOOD = ["awesome", "great", "wonderful", "superb"]
BAD = ["awful", "boring", "terrible", "dull"]
THINGS = ["movie", "film"]


def synthetic_reviews(n):
    reviews, labels = [], []
    for _ in range(n):
        y = int(rng.integers(0, 2))
        words = GOOD if y else BAD
        form = rng.integers(0, 3)
        w, t = words[rng.integers(0, 4)], THINGS[rng.integers(0, 2)]
        if form == 0:
            text = f"I have watched this {t} and it was {w}!"
        elif form == 1:
            text = f"This {t} was {w}, the actors were {words[rng.integers(0, 4)]}.<br />"
        else:
            text = f"What a {w} {t}; I would call it {words[rng.integers(0, 4)]}"
        reviews.append(text)
        labels.append(y)
    return reviews, np.array(labels)


train_reviews, y_train = synthetic_reviews(480)
test_reviews, y_test = synthetic_reviews(96)
all_reviews = train_reviews + test_reviews


def custom_standardization(input_data):
    lowercase = tf.strings.lower(input_data)
    stripped_html = tf.strings.regex_replace(lowercase, "<br />", " ")
    return tf.strings.regex_replace(stripped_html, "[%s]" % re.escape("!#$%&'()*+,-./:;<=>?@\\^_`{|}~"), "")


def get_vectorize_layer(texts, vocab_size, max_seq, special_tokens=["[MASK]"]):
    """Build Text vectorization layer"""
    vectorize_layer = TextVectorization(max_tokens=vocab_size, output_mode="int",
                                        standardize=custom_standardization, output_sequence_length=max_seq)
    vectorize_layer.adapt(texts)

    # Insert mask token in vocabulary
    vocab = vectorize_layer.get_vocabulary()
    vocab = vocab[2: vocab_size - len(special_tokens)] + ["[mask]"]
    vectorize_layer.set_vocabulary(vocab)
    return vectorize_layer


vectorize_layer = get_vectorize_layer(all_reviews, config.VOCAB_SIZE, config.MAX_LEN, special_tokens=["[mask]"])

# Get mask token id for masked language model
mask_token_id = vectorize_layer(["[mask]"]).numpy()[0][0]
assert mask_token_id == len(vectorize_layer.get_vocabulary()) - 1


def encode(texts):
    encoded_texts = vectorize_layer(texts)
    return encoded_texts.numpy()


def get_masked_input_and_labels(encoded_texts):
    # 15% BERT masking
    inp_mask = np.random.rand(*encoded_texts.shape) < 0.15
    # Do not mask special tokens
    inp_mask[encoded_texts <= 2] = False
    # Set targets to -1 by default, it means ignore
    labels = -1 * np.ones(encoded_texts.shape, dtype=int)
    # Set labels for masked tokens
    labels[inp_mask] = encoded_texts[inp_mask]

    # Prepare input
    encoded_texts_masked = np.copy(encoded_texts)
    # Set input to [MASK] which is the last token for the 90% of tokens
    # This means leaving 10% unchanged
    inp_mask_2mask = inp_mask & (np.random.rand(*encoded_texts.shape) < 0.90)
    encoded_texts_masked[inp_mask_2mask] = mask_token_id  # mask token is the last in the dict

    # Set 10% to a random token
    inp_mask_2random = inp_mask_2mask & (np.random.rand(*encoded_texts.shape) < 1 / 9)
    encoded_texts_masked[inp_mask_2random] = np.random.randint(3, mask_token_id, inp_mask_2random.sum())

    # Prepare sample_weights to pass to .fit() method
    sample_weights = np.ones(labels.shape)
    sample_weights[labels == -1] = 0

    # y_labels would be same as encoded_texts i.e input tokens
    y_labels = np.copy(encoded_texts)

    return encoded_texts_masked, y_labels, sample_weights


x_train = encode(train_reviews)  # encode reviews with vectorizer
train_classifier_ds = tf.data.Dataset.from_tensor_slices((x_train, y_train)).shuffle(1000).batch(config.BATCH_SIZE)

x_test = encode(test_reviews)
test_classifier_ds = tf.data.Dataset.from_tensor_slices((x_test, y_test)).batch(config.BATCH_SIZE)

# Build dataset for end to end model input (will be used at the end)
test_raw_classifier_ds = tf.data.Dataset.from_tensor_slices((test_reviews, y_test)).batch(config.BATCH_SIZE)

# Prepare data for masked language model
x_all_review = encode(all_reviews)
# (the example masks the corpus once; here it is repeated 4 times so that each token is masked
# somewhere, as many epochs over a larger corpus would)
x_masked_train, y_masked_labels, sample_weights = get_masked_input_and_labels(np.concatenate([x_all_review] * 4))

mlm_ds = tf.data.Dataset.from_tensor_slices((x_masked_train, y_masked_labels, sample_weights))
mlm_ds = mlm_ds.shuffle(1000).batch(config.BATCH_SIZE)


def bert_module(query, key, value, i):
    # Multi headed self-attention
    attention_output = layers.MultiHeadAttention(num_heads=config.NUM_HEAD, key_dim=config.EMBED_DIM // config.NUM_HEAD,
                                                 name="encoder_{}_multiheadattention".format(i))(query, key, value)
    attention_output = layers.Dropout(0.1, name="encoder_{}_att_dropout".format(i))(attention_output)
    attention_output = layers.LayerNormalization(epsilon=1e-6, name="encoder_{}_att_layernormalization".format(i))(
        query + attention_output)

    # Feed-forward layer
    ffn = keras.Sequential([layers.Dense(config.FF_DIM, activation="relu"), layers.Dense(config.EMBED_DIM)],
                           name="encoder_{}_ffn".format(i))
    ffn_output = ffn(attention_output)
    ffn_output = layers.Dropout(0.1, name="encoder_{}_ffn_dropout".format(i))(ffn_output)
    sequence_output = layers.LayerNormalization(epsilon=1e-6, name="encoder_{}_ffn_layernormalization".format(i))(
        attention_output + ffn_output)
    return sequence_output


def get_pos_encoding_matrix(max_len, d_emb):
    pos_enc = np.array([[pos / np.power(10000, 2 * (j // 2) / d_emb) for j in range(d_emb)]
                        if pos != 0 else np.zeros(d_emb) for pos in range(max_len)])
    pos_enc[1:, 0::2] = np.sin(pos_enc[1:, 0::2])  # dim 2i
    pos_enc[1:, 1::2] = np.cos(pos_enc[1:, 1::2])  # dim 2i+1
    return pos_enc


loss_fn = keras.losses.SparseCategoricalCrossentropy(reduction=None)
loss_tracker = keras.metrics.Mean(name="loss")


class MaskedLanguageModel(keras.Model):

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None):
        loss = loss_fn(y, y_pred, sample_weight)
        loss_tracker.update_state(loss, sample_weight=sample_weight)
        return keras.ops.sum(loss)

    def compute_metrics(self, x, y, y_pred, sample_weight):
        # Return a dict mapping metric names to current value
        return {"loss": loss_tracker.result()}

    @property
    def metrics(self):
        # We list our `Metric` objects here so that `reset_states()` can be
        # called automatically at the start of each epoch
        # or at the start of `evaluate()`.
        return [loss_tracker]


def create_masked_language_bert_model():
    inputs = layers.Input((config.MAX_LEN,), dtype="int64")

    word_embeddings = layers.Embedding(config.VOCAB_SIZE, config.EMBED_DIM, name="word_embedding")(inputs)
    position_embeddings = layers.Embedding(
        input_dim=config.MAX_LEN,
        output_dim=config.EMBED_DIM,
        weights=[get_pos_encoding_matrix(config.MAX_LEN, config.EMBED_DIM)],
        name="position_embedding",
    )(tf.range(start=0, limit=config.MAX_LEN, delta=1))
    embeddings = word_embeddings + position_embeddings

    encoder_output = embeddings
    for i in range(config.NUM_LAYERS):
        encoder_output = bert_module(encoder_output, encoder_output, encoder_output, i)

    mlm_output = layers.Dense(config.VOCAB_SIZE, name="mlm_cls", activation="softmax")(encoder_output)
    mlm_model = MaskedLanguageModel(inputs, mlm_output, name="masked_bert_model")

    optimizer = keras.optimizers.Adam(learning_rate=config.LR)
    mlm_model.compile(optimizer=optimizer)
    return mlm_model


id2token = dict(enumerate(vectorize_layer.get_vocabulary()))
token2id = {y: x for x, y in id2token.items()}
predicted_tokens = []


class MaskedTextGenerator(keras.callbacks.Callback):
    def __init__(self, sample_tokens, top_k=5):
        self.sample_tokens = sample_tokens
        self.k = top_k

    def decode(self, tokens):
        return " ".join([id2token[t] for t in tokens if t != 0])

    def convert_ids_to_tokens(self, id):
        return id2token[id]

    def on_epoch_end(self, epoch, logs=None):
        prediction = self.model.predict(self.sample_tokens, verbose=0)

        masked_index = np.where(self.sample_tokens == mask_token_id)
        masked_index = masked_index[1]
        mask_prediction = prediction[0][masked_index]

        top_indices = mask_prediction[0].argsort()[-self.k:][::-1]
        values = mask_prediction[0][top_indices]
        predicted_tokens.append([self.convert_ids_to_tokens(p) for p in top_indices])

        for i in range(len(top_indices)):
            p = top_indices[i]
            v = values[i]
            tokens = np.copy(sample_tokens[0])
            tokens[masked_index[0]] = p
            result = {
                "input_text": self.decode(sample_tokens[0].numpy()),
                "prediction": self.decode(tokens),
                "probability": v,
                "predicted mask token": self.convert_ids_to_tokens(p),
            }
            pprint(result)


sample_tokens = vectorize_layer(["I have watched this [mask] and it was awesome"])
generator_callback = MaskedTextGenerator(sample_tokens.numpy())

bert_masked_model = create_masked_language_bert_model()
bert_masked_model.summary()

history = bert_masked_model.fit(mlm_ds, epochs=6, callbacks=[generator_callback], verbose=0)
print("MLM loss per epoch:", [round(v, 3) for v in history.history["loss"]])
assert history.history["loss"][-1] < 0.6 * history.history["loss"][0], history.history["loss"]
assert set(predicted_tokens[-1][:2]) & set(THINGS), predicted_tokens[-1]      # "this [mask] and" -> movie / film
bert_masked_model.save("bert_mlm_imdb.keras")

# Load pretrained bert model
mlm_model = keras.models.load_model("bert_mlm_imdb.keras", custom_objects={"MaskedLanguageModel": MaskedLanguageModel})
assert isinstance(mlm_model, MaskedLanguageModel)
np.testing.assert_allclose(mlm_model.predict(x_test[:4], verbose=0), bert_masked_model.predict(x_test[:4], verbose=0),
                           rtol=1e-5, atol=1e-6)
pretrained_bert_model = keras.Model(mlm_model.input, mlm_model.get_layer("encoder_0_ffn_layernormalization").output)

# Freeze it
pretrained_bert_model.trainable = False


def create_classifier_bert_model():
    inputs = layers.Input((config.MAX_LEN,), dtype="int64")
    sequence_output = pretrained_bert_model(inputs)
    pooled_output = layers.GlobalMaxPooling1D()(sequence_output)
    hidden_layer = layers.Dense(64, activation="relu")(pooled_output)
    outputs = layers.Dense(1, activation="sigmoid")(hidden_layer)
    classifer_model = keras.Model(inputs, outputs, name="classification")
    optimizer = keras.optimizers.Adam()
    classifer_model.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["accuracy"])
    return classifer_model


classifer_model = create_classifier_bert_model()
classifer_model.summary()

frozen = [w.copy() for w in pretrained_bert_model.get_weights()]
# Train the classifier with frozen BERT stage
classifer_model.fit(train_classifier_ds, epochs=3, validation_data=test_classifier_ds, verbose=0)
assert all(np.array_equal(a, b) for a, b in zip(frozen, pretrained_bert_model.get_weights()))

# Unfreeze the BERT model for fine-tuning
pretrained_bert_model.trainable = True
optimizer = keras.optimizers.Adam()
classifer_model.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["accuracy"])
history = classifer_model.fit(train_classifier_ds, epochs=3, validation_data=test_classifier_ds, verbose=0)
assert not all(np.array_equal(a, b) for a, b in zip(frozen, pretrained_bert_model.get_weights()))
assert history.history["val_accuracy"][-1] > 0.85, history.history


def get_end_to_end(model):
    inputs_string = keras.Input(shape=(1,), dtype="string")
    indices = vectorize_layer(inputs_string)
    outputs = model(indices)
    end_to_end_model = keras.Model(inputs_string, outputs, name="end_to_end_model")
    optimizer = keras.optimizers.Adam(learning_rate=config.LR)
    end_to_end_model.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["accuracy"])
    return end_to_end_model


end_to_end_classification_model = get_end_to_end(classifer_model)
_, accuracy = end_to_end_classification_model.evaluate(test_raw_classifier_ds)
assert abs(accuracy - history.history["val_accuracy"][-1]) < 1e-6, (accuracy, history.history["val_accuracy"])
