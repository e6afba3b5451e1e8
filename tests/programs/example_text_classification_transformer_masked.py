"""keras-io examples/nlp/text_classification_with_transformer, in the variant that pads with a
masked token 0 (`Embedding(mask_zero=True)`), imports changed only (`import keras`, `from keras
import layers, ops` -> corenn). IMDB is replaced by synthetic token sequences of random lengths
whose label depends on which of two marker tokens appears more often. The Keras mask travels from
the token embedding through the Transformer block (whose `call` takes `mask` and turns it into the
attention mask, and which sets `supports_masking`) to GlobalAveragePooling1D, so padding changes
nothing: the same review padded to another length gets the same prediction."""
import numpy as np
from corenn import keras
from corenn.keras import layers, ops

keras.utils.set_random_seed(9)
rng = np.random.default_rng(9)

vocab_size = 40  # Only consider the top 40 words
maxlen = 24  # Only consider the first 24 words of each movie review


class TransformerBlock(layers.Layer):
    def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1, **kwargs):
        super().__init__(**kwargs)
        self.att = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
        self.ffn = keras.Sequential([layers.Dense(ff_dim, activation="relu"), layers.Dense(embed_dim)])
        self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
        self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)
        self.dropout1 = layers.Dropout(rate)
        self.dropout2 = layers.Dropout(rate)
        self.supports_masking = True   # the output keeps the input's mask

    def call(self, inputs, mask=None, training=False):
        attention_mask = None
        if mask is not None:   # (batch, T) -> (batch, 1, T): every query ignores the padded keys
            attention_mask = ops.expand_dims(ops.cast(mask, "int32"), 1)
        attn_output = self.att(inputs, inputs, attention_mask=attention_mask)
        attn_output = self.dropout1(attn_output, training=training)
        out1 = self.layernorm1(inputs + attn_output)
        ffn_output = self.ffn(out1)
        ffn_output = self.dropout2(ffn_output, training=training)
        return self.layernorm2(out1 + ffn_output)


class TokenAndPositionEmbedding(layers.Layer):
    def __init__(self, maxlen, vocab_size, embed_dim, **kwargs):
        super().__init__(**kwargs)
        self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim, mask_zero=True)
        self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

    def call(self, x):
        maxlen = ops.shape(x)[-1]
        positions = ops.arange(start=0, stop=maxlen, step=1)
        positions = self.pos_emb(positions)
        x = self.token_emb(x)
        return x + positions

    def compute_mask(self, inputs, mask=None):
        return self.token_emb.compute_mask(inputs)


def make(n):
    xs, ys = [], []
    for _ in range(n):
        length = int(rng.integers(6, maxlen - 4))
        seq = rng.integers(3, vocab_size, length)
        label = int(rng.integers(0, 2))
        marks = rng.choice(length, 3, replace=False)
        seq[marks[:2]] = 1 + label      # two of the label's marker
        seq[marks[2]] = 2 - label       # one of the other
        xs.append(list(seq))
        ys.append(label)
    return xs, np.array(ys)


(x_train, y_train), (x_val, y_val) = make(1200), make(300)
print(len(x_train), "Training sequences")
print(len(x_val), "Validation sequences")
x_train = keras.utils.pad_sequences(x_train, maxlen=maxlen)
x_val = keras.utils.pad_sequences(x_val, maxlen=maxlen)
assert x_train.shape == (1200, maxlen) and (x_train == 0).any()

embed_dim = 16  # Embedding size for each token
num_heads = 2  # Number of attention heads
ff_dim = 16  # Hidden layer size in feed forward network inside transformer

inputs = layers.Input(shape=(maxlen,))
embedding_layer = TokenAndPositionEmbedding(maxlen, vocab_size, embed_dim)
x = embedding_layer(inputs)
transformer_block = TransformerBlock(embed_dim, num_heads, ff_dim)
x = transformer_block(x)
x = layers.GlobalAveragePooling1D()(x)
x = layers.Dropout(0.1)(x)
x = layers.Dense(20, activation="relu")(x)
x = layers.Dropout(0.1)(x)
outputs = layers.Dense(2, activation="softmax")(x)

model = keras.Model(inputs=inputs, outputs=outputs)
model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(x_train, y_train, batch_size=32, epochs=6, validation_data=(x_val, y_val), verbose=0)
print({k: [round(v, 3) for v in vs] for k, vs in history.history.items()})
assert history.history["val_accuracy"][-1] > 0.85, history.history["val_accuracy"]

# masking makes padding invisible: the padded steps are out of the attention keys and of the
# pooled average, so whatever the padding token embeds to changes no prediction
probe = model.predict(x_val[:64], verbose=0)
weights = embedding_layer.token_emb.get_weights()[0]
scrambled = weights.copy()
scrambled[0] = rng.normal(0, 5.0, embed_dim)
embedding_layer.token_emb.set_weights([scrambled])
np.testing.assert_allclose(model.predict(x_val[:64], verbose=0), probe, rtol=1e-4, atol=1e-5)
# while a real token's embedding does change them (the check above can fail)
scrambled[5] = rng.normal(0, 5.0, embed_dim)
embedding_layer.token_emb.set_weights([scrambled])
assert not np.allclose(model.predict(x_val[:64], verbose=0), probe, rtol=1e-4, atol=1e-5)
embedding_layer.token_emb.set_weights([weights])
np.testing.assert_array_equal(np.asarray(embedding_layer.token_emb.compute_mask(x_val[:4])), x_val[:4] != 0)
