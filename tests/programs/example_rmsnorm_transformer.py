"""A pre-norm decoder-only Transformer with RMSNorm, the block modern language models use
(LLaMA-style: x + Attention(RMSNorm(x)), x + FFN(RMSNorm(x)), a gated SiLU feed-forward), written
the way keras.io's miniature-GPT example writes its model: token + position Embeddings,
MultiHeadAttention(use_causal_mask=True), Dense layers, sparse cross-entropy over every position;
RMSNorm written as Keras 3's LayerNormalization(rms_scaling=True), as such scripts do (Keras 3.15
computes it as x / std; keras.layers.RMSNormalization is the true RMS). Only the imports changed. The text is
a synthetic language: each sequence counts upward from a random start in a random step (mod the
vocabulary), so the next token follows from the previous two; the model must learn that from
context. Also checks that the attention is causal and that the RMS layers have no beta."""
import numpy as np

from corenn import keras
from corenn.keras import layers, ops

keras.utils.set_random_seed(5)

VOCAB, MAXLEN, EMBED, HEADS = 24, 12, 32, 2


class TokenAndPositionEmbedding(layers.Layer):
    def __init__(self, maxlen, vocab_size, embed_dim, **kwargs):
        super().__init__(**kwargs)
        self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
        self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

    def call(self, x):
        positions = ops.arange(0, ops.shape(x)[-1], 1)
        return self.token_emb(x) + self.pos_emb(positions)


class RMSNormDecoderBlock(layers.Layer):
    def __init__(self, embed_dim, num_heads, ff_dim, **kwargs):
        super().__init__(**kwargs)
        self.attn_norm = layers.LayerNormalization(rms_scaling=True, epsilon=1e-6)
        self.att = layers.MultiHeadAttention(num_heads, embed_dim // num_heads)
        self.ffn_norm = layers.LayerNormalization(rms_scaling=True, epsilon=1e-6)
        self.gate = layers.Dense(ff_dim, activation="silu")
        self.up = layers.Dense(ff_dim)
        self.down = layers.Dense(embed_dim)

    def call(self, x):
        h = self.attn_norm(x)
        x = x + self.att(h, h, use_causal_mask=True)
        h = self.ffn_norm(x)
        return x + self.down(self.gate(h) * self.up(h))


def counting_sequences(n, seed):
    rng = np.random.default_rng(seed)
    start = rng.integers(0, VOCAB, (n, 1))
    step = rng.integers(1, 4, (n, 1))
    seq = (start + step * np.arange(MAXLEN + 1)) % VOCAB
    return seq[:, :-1], seq[:, 1:]


inputs = keras.Input(shape=(MAXLEN,), dtype="int32")
x = TokenAndPositionEmbedding(MAXLEN, VOCAB, EMBED)(inputs)
x = RMSNormDecoderBlock(EMBED, HEADS, 64)(x)
x = RMSNormDecoderBlock(EMBED, HEADS, 64)(x)
x = layers.LayerNormalization(rms_scaling=True, epsilon=1e-6)(x)
outputs = layers.Dense(VOCAB)(x)
model = keras.Model(inputs, outputs)
model.compile(optimizer=keras.optimizers.Adam(3e-3),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])

x_train, y_train = counting_sequences(1200, 0)
x_val, y_val = counting_sequences(200, 1)
history = model.fit(x_train, y_train, batch_size=64, epochs=6, validation_data=(x_val, y_val), verbose=2)
print({k: [round(v, 3) for v in vals] for k, vals in history.history.items()})

# from the third position on the next token is determined: the model predicts it
pred = model.predict(x_val, verbose=0).argmax(-1)
later = (pred[:, 2:] == y_val[:, 2:]).mean()
print("next-token accuracy from position 2:", later)
assert later > 0.9, later

# causal: changing the last token changes no earlier prediction
probe = x_val[:4].copy()
before = model.predict(probe, verbose=0)
probe[:, -1] = (probe[:, -1] + 5) % VOCAB
after = model.predict(probe, verbose=0)
np.testing.assert_allclose(after[:, :-1], before[:, :-1], rtol=1e-4, atol=1e-5)
assert not np.allclose(after[:, -1], before[:, -1])

# RMSNorm layers: only a gamma (no centring, no beta), as Keras 3
rms = [l for l in model.layers if isinstance(l, layers.LayerNormalization)]
assert rms and all(l.rms_scaling and [w.name for w in l.weights] == ["gamma"] for l in rms)
