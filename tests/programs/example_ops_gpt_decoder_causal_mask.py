"""A GPT-style decoder written with `keras.ops` only, as Keras 3 examples write backend-agnostic
layers: a token + sinusoidal position embedding (computed with ops.arange / ops.sin / ops.cos),
a causal self-attention mask built with ops.tril and passed as `attention_mask`, which must equal
MultiHeadAttention(use_causal_mask=True); trained on sequences that count upwards modulo the
vocabulary, then generating greedily token by token. Only the imports changed."""
import numpy as np
from corenn import keras
from corenn.keras import layers, ops

VOCAB, MAXLEN, EMBED, HEADS = 16, 12, 32, 2


class SinePositionEmbedding(layers.Layer):
    def __init__(self, vocab_size, maxlen, embed_dim, **kwargs):
        super().__init__(**kwargs)
        self.token_emb = layers.Embedding(vocab_size, embed_dim)
        self.maxlen, self.embed_dim = maxlen, embed_dim

    def call(self, x):
        length = ops.shape(x)[-1]
        positions = ops.cast(ops.arange(length), "float32")[:, None]
        dims = ops.cast(ops.arange(self.embed_dim // 2), "float32")[None, :]
        angles = positions / ops.power(10000.0, 2.0 * dims / self.embed_dim)
        pos = ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)
        return self.token_emb(x) * ops.sqrt(ops.cast(self.embed_dim, "float32")) + pos


def causal_attention_mask(batch_size, n_dest, n_src, dtype):
    i = ops.arange(n_dest)[:, None]
    j = ops.arange(n_src)
    m = i >= j - n_src + n_dest
    mask = ops.cast(m, dtype)
    mask = ops.reshape(mask, [1, n_dest, n_src])
    mult = ops.concatenate([ops.expand_dims(batch_size, -1), ops.convert_to_tensor([1, 1])], 0)
    return ops.tile(mask, mult)


class DecoderBlock(layers.Layer):
    def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1, **kwargs):
        super().__init__(**kwargs)
        self.att = layers.MultiHeadAttention(num_heads, embed_dim // num_heads)
        self.ffn = keras.Sequential([layers.Dense(ff_dim, activation="gelu"), layers.Dense(embed_dim)])
        self.norm1 = layers.LayerNormalization(epsilon=1e-6)
        self.norm2 = layers.LayerNormalization(epsilon=1e-6)
        self.drop1 = layers.Dropout(rate)
        self.drop2 = layers.Dropout(rate)

    def call(self, inputs, training=False):
        input_shape = ops.shape(inputs)
        batch_size, seq_len = input_shape[0], input_shape[1]
        mask = causal_attention_mask(batch_size, seq_len, seq_len, "bool")
        attn = self.att(inputs, inputs, attention_mask=mask)
        out1 = self.norm1(inputs + self.drop1(attn, training=training))
        return self.norm2(out1 + self.drop2(self.ffn(out1), training=training))


# the hand-built mask is the lower triangle, the same as use_causal_mask=True
m = ops.convert_to_numpy(causal_attention_mask(ops.convert_to_tensor(2), 5, 5, "int32"))
np.testing.assert_array_equal(m[1], np.tril(np.ones((5, 5), "int32")))
np.testing.assert_array_equal(ops.convert_to_numpy(ops.tril(ops.ones((5, 5)))), np.tril(np.ones((5, 5))))
mha = layers.MultiHeadAttention(2, 4)
q = np.random.default_rng(0).normal(size=(2, 5, 8)).astype("float32")
a = mha(q, q, use_causal_mask=True)
b = mha(q, q, attention_mask=ops.cast(m, "bool"))
np.testing.assert_allclose(ops.convert_to_numpy(a), ops.convert_to_numpy(b), rtol=1e-5, atol=1e-6)
# the first position attends only to itself: changing later tokens leaves it unchanged
q2 = q.copy()
q2[:, 3:] += 1.0
np.testing.assert_allclose(ops.convert_to_numpy(mha(q2, q2, use_causal_mask=True))[:, :3],
                           ops.convert_to_numpy(a)[:, :3], rtol=1e-5, atol=1e-6)

keras.utils.set_random_seed(1)
rng = np.random.default_rng(1)
starts = rng.integers(0, VOCAB, 2000)
seqs = (starts[:, None] + np.arange(MAXLEN + 1)[None, :]) % VOCAB
x_train, y_train = seqs[:, :-1], seqs[:, 1:]

inputs = layers.Input(shape=(MAXLEN,), dtype="int32")
x = SinePositionEmbedding(VOCAB, MAXLEN, EMBED)(inputs)
x = DecoderBlock(EMBED, HEADS, 64)(x)
outputs = layers.Dense(VOCAB)(x)
model = keras.Model(inputs=inputs, outputs=outputs)
model.compile(optimizer=keras.optimizers.Adam(3e-3),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
hist = model.fit(x_train, y_train, batch_size=64, epochs=4, verbose=0)
print("accuracy", hist.history["accuracy"])
assert hist.history["accuracy"][-1] > 0.95

# greedy generation, padding the prompt to MAXLEN as the miniature-GPT example does
prompt = [5, 6, 7]
tokens = list(prompt)
while len(tokens) < MAXLEN:
    pad = MAXLEN - len(tokens)
    x = np.array([tokens + [0] * pad])
    logits = model.predict(x, verbose=0)[0, len(tokens) - 1]
    tokens.append(int(ops.convert_to_numpy(ops.argmax(logits))))
print("generated", tokens)
assert tokens == [(5 + i) % VOCAB for i in range(MAXLEN)], tokens
