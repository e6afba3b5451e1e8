"""keras-io examples/generative/text_generation_with_miniature_gpt, imports changed only
(`import keras`, `from keras import layers, ops`, `tensorflow.data` / `tensorflow.strings` ->
corenn). The IMDB reviews are replaced by a small synthetic corpus and the model shrunk; the
causal attention mask built with ops, the TransformerBlock and TokenAndPositionEmbedding layers,
the TextVectorization pipeline that shifts tokens into (input, target) pairs, the
ignore-nothing SparseCategoricalCrossentropy on two outputs (logits and the block output, the
latter with loss None) and the top-k sampling TextGenerator callback are the example's."""
import random

import numpy as np
import corenn as keras
import corenn as tensorflow
from corenn import data as tf_data
from corenn import strings as tf_strings
from corenn.keras import layers, ops
from corenn.keras.layers import TextVectorization

keras.utils.set_random_seed(21)
random.seed(21)


def causal_attention_mask(batch_size, n_dest, n_src, dtype):
    """Mask the upper half of the dot product matrix in self attention: 1's in the lower
    triangle, counting from the lower right corner."""
    i = ops.arange(n_dest)[:, None]
    j = ops.arange(n_src)
    m = i >= j - n_src + n_dest
    mask = ops.cast(m, dtype)
    mask = ops.reshape(mask, [1, n_dest, n_src])
    mult = ops.concatenate([ops.expand_dims(batch_size, -1), ops.convert_to_tensor([1, 1])], 0)
    return ops.tile(mask, mult)


class TransformerBlock(layers.Layer):
    def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1):
        super().__init__()
        self.att = layers.MultiHeadAttention(num_heads, embed_dim)
        self.ffn = keras.Sequential([layers.Dense(ff_dim, activation="relu"), layers.Dense(embed_dim)])
        self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
        self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)
        self.dropout1 = layers.Dropout(rate)
        self.dropout2 = layers.Dropout(rate)

    def call(self, inputs):
        input_shape = ops.shape(inputs)
        batch_size = input_shape[0]
        seq_len = input_shape[1]
        causal_mask = causal_attention_mask(batch_size, seq_len, seq_len, "bool")
        attention_output = self.att(inputs, inputs, attention_mask=causal_mask)
        attention_output = self.dropout1(attention_output)
        out1 = self.layernorm1(inputs + attention_output)
        ffn_output = self.ffn(out1)
        ffn_output = self.dropout2(ffn_output)
        return self.layernorm2(out1 + ffn_output)


class TokenAndPositionEmbedding(layers.Layer):
    def __init__(self, maxlen, vocab_size, embed_dim):
        super().__init__()
        self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
        self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

    def call(self, x):
        maxlen = ops.shape(x)[-1]
        positions = ops.arange(0, maxlen, 1)
        positions = self.pos_emb(positions)
        x = self.token_emb(x)
        return x + positions


vocab_size = 40   # Only consider the top 40 words
maxlen = 10       # Max sequence size
embed_dim = 32    # Embedding size for each token
num_heads = 2     # Number of attention heads
feed_forward_dim = 32   # Hidden layer size in feed forward network inside transformer


def create_model():
    inputs = layers.Input(shape=(maxlen,), dtype="int32")
    embedding_layer = TokenAndPositionEmbedding(maxlen, vocab_size, embed_dim)
    x = embedding_layer(inputs)
    transformer_block = TransformerBlock(embed_dim, num_heads, feed_forward_dim)
    x = transformer_block(x)
    outputs = layers.Dense(vocab_size)(x)
    model = keras.Model(inputs=inputs, outputs=[outputs, x])
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile("adam", loss=[loss_fn, None])   # No loss and optimization based on word embeddings from transformer block
    return model


# the corpus: a few sentence patterns, so that the next word follows from the previous ones
subjects, verbs, objects = ["the cat", "a dog", "my friend"], ["sees", "likes", "finds"], ["the ball", "a house", "some bread"]
text_ds_lines = [f"{random.choice(subjects)} {random.choice(verbs)} {random.choice(objects)} today ."
                 for _ in range(600)]
batch_size = 32
text_ds = tf_data.Dataset.from_tensor_slices(text_ds_lines)
text_ds = text_ds.shuffle(buffer_size=256)
text_ds = text_ds.batch(batch_size)


def custom_standardization(input_string):
    """Remove html line-break tags and handle punctuation"""
    lowercased = tf_strings.lower(input_string)
    stripped_html = tf_strings.regex_replace(lowercased, "<br />", " ")
    return tf_strings.regex_replace(stripped_html, f"([{'!.,?'}])", r" \1")


vectorize_layer = TextVectorization(standardize=custom_standardization, max_tokens=vocab_size - 1,
                                    output_mode="int", output_sequence_length=maxlen + 1)
vectorize_layer.adapt(text_ds)
vocab = vectorize_layer.get_vocabulary()   # To get words back from token indices


def prepare_lm_inputs_labels(text):
    """Shift word sequences by 1 position so that the target for position (i) is word at
    position (i+1). The model will use all words up till position (i) to predict the next word."""
    text = tensorflow.expand_dims(text, -1)
    tokenized_sentences = vectorize_layer(text)
    x = tokenized_sentences[:, :-1]
    y = tokenized_sentences[:, 1:]
    return x, y


text_ds = text_ds.map(prepare_lm_inputs_labels, num_parallel_calls=tf_data.AUTOTUNE)
text_ds = text_ds.prefetch(tf_data.AUTOTUNE)


class TextGenerator(keras.callbacks.Callback):
    """Sample from the model after each epoch: feed a prompt, take the top-k logits of the
    next position, sample one token, append it, repeat."""

    def __init__(self, max_tokens, start_tokens, index_to_word, top_k=10, print_every=1):
        self.max_tokens = max_tokens
        self.start_tokens = start_tokens
        self.index_to_word = index_to_word
        self.print_every = print_every
        self.k = top_k
        self.generated = []

    def sample_from(self, logits):
        logits, indices = ops.top_k(logits, k=self.k, sorted=True)
        indices = np.asarray(indices).astype("int32")
        preds = keras.activations.softmax(ops.expand_dims(logits, 0))[0]
        preds = np.asarray(preds).astype("float32")
        return np.random.choice(indices, p=preds / preds.sum())

    def detokenize(self, number):
        return self.index_to_word[number]

    def on_epoch_end(self, epoch, logs=None):
        start_tokens = [_ for _ in self.start_tokens]
        if (epoch + 1) % self.print_every != 0:
            return
        num_tokens_generated = 0
        tokens_generated = []
        while num_tokens_generated <= self.max_tokens:
            pad_len = maxlen - len(start_tokens)
            sample_index = len(start_tokens) - 1
            if pad_len < 0:
                x = start_tokens[:maxlen]
                sample_index = maxlen - 1
            elif pad_len > 0:
                x = start_tokens + [0] * pad_len
            else:
                x = start_tokens
            x = np.array([x])
            y, _ = self.model.predict(x, verbose=0)
            sample_token = self.sample_from(y[0][sample_index])
            tokens_generated.append(sample_token)
            start_tokens.append(sample_token)
            num_tokens_generated = len(tokens_generated)
        txt = " ".join([self.detokenize(_) for _ in self.start_tokens + tokens_generated])
        self.generated.append(txt)
        print(f"generated text:\n{txt}\n")


word_to_index = {}
for index, word in enumerate(vocab):
    word_to_index[word] = index
start_prompt = "the cat"
start_tokens = [word_to_index.get(_, 1) for _ in start_prompt.split()]
num_tokens_generated = 4
text_gen_callback = TextGenerator(num_tokens_generated, start_tokens, vocab, top_k=2)

model = create_model()
np.random.seed(21)
history = model.fit(text_ds, verbose=0, epochs=6, callbacks=[text_gen_callback])
print(history.history)
assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
assert len(text_gen_callback.generated) == 6
# after training, the prompt continues as the corpus does: a verb, then an object
words = text_gen_callback.generated[-1].split()
print(words)
assert words[:2] == ["the", "cat"] and words[2] in verbs, words
assert " ".join(words[3:5]) in objects, words
