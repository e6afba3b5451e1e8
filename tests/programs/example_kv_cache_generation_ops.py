"""Autoregressive decoding with a key / value cache, as keras_hub's CachedMultiHeadAttention and
the Keras 3 generation guides write it with `keras.ops`: a decoder layer whose call takes a cache
tensor and an index, writes the new step's key and value with `ops.slice_update`, attends over
the cache with an explicit mask built from `ops.arange`, and `ops.while_loop` drives greedy
generation. The model is trained without a cache (causal attention over whole sequences); cached
generation must produce exactly the tokens and logits of uncached generation. Only the imports
changed."""
import numpy as np
from corenn import keras
from corenn.keras import layers, ops

VOCAB, LEN, DIM, HEADS = 12, 10, 32, 4
HEAD_DIM = DIM // HEADS


class CachedDecoder(layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.token_emb = layers.Embedding(VOCAB, DIM)
        self.pos_emb = layers.Embedding(LEN, DIM)
        self.q = layers.Dense(DIM)
        self.k = layers.Dense(DIM)
        self.v = layers.Dense(DIM)
        self.o = layers.Dense(DIM)
        self.norm = layers.LayerNormalization()
        self.ffn = layers.Dense(DIM, activation="relu")
        self.head = layers.Dense(VOCAB)

    def _split(self, x):
        b, t = ops.shape(x)[0], ops.shape(x)[1]
        return ops.transpose(ops.reshape(x, (b, t, HEADS, HEAD_DIM)), (0, 2, 1, 3))

    def _attend(self, q, k, v, mask):
        scores = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))) / np.sqrt(HEAD_DIM).astype("float32")
        scores = ops.where(mask, scores, -1e9)
        weights = ops.softmax(scores, axis=-1)
        out = ops.matmul(weights, v)
        b, t = ops.shape(out)[0], ops.shape(out)[2]
        return ops.reshape(ops.transpose(out, (0, 2, 1, 3)), (b, t, DIM))

    def call(self, tokens, cache=None, index=None):
        t = ops.shape(tokens)[1]
        start = 0 if index is None else index
        positions = ops.arange(t) + start
        x = self.token_emb(tokens) + self.pos_emb(positions)
        q, k, v = self._split(self.q(x)), self._split(self.k(x)), self._split(self.v(x))
        if cache is None:
            mask = ops.arange(t)[:, None] >= ops.arange(t)[None, :]
        else:
            # cache: (2, batch, heads, LEN, head_dim); write this step's key and value at `index`
            k_cache = ops.slice_update(cache[0], (0, 0, index, 0), k)
            v_cache = ops.slice_update(cache[1], (0, 0, index, 0), v)
            cache = ops.stack([k_cache, v_cache])
            k, v = k_cache, v_cache
            mask = ops.arange(LEN)[None, :] <= (ops.arange(t)[:, None] + index)
        h = self.norm(x + self.o(self._attend(q, k, v, mask[None, None])))
        logits = self.head(h + self.ffn(h))
        return logits if cache is None else (logits, cache)


keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
# sequences of a fixed permutation cycle: the next token is a function of the current one
cycle = rng.permutation(VOCAB)
succ = np.empty(VOCAB, int)
succ[cycle] = np.roll(cycle, -1)
starts = rng.integers(0, VOCAB, 1500)
seqs = [starts]
for _ in range(LEN):
    seqs.append(succ[seqs[-1]])
seqs = np.stack(seqs, 1)

decoder = CachedDecoder()
inputs = keras.Input((LEN,), dtype="int32")
model = keras.Model(inputs, decoder(inputs))
model.compile(keras.optimizers.Adam(3e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
hist = model.fit(seqs[:, :-1], seqs[:, 1:], batch_size=64, epochs=6, verbose=0)
print("accuracy", np.round(hist.history["accuracy"], 3))
assert hist.history["accuracy"][-1] > 0.95


def generate_uncached(prompt, steps):
    tokens = np.array(prompt)
    outs = []
    for _ in range(steps):
        logits = ops.convert_to_numpy(decoder(tokens))[:, -1]
        outs.append(logits)
        tokens = np.concatenate([tokens, logits.argmax(-1)[:, None]], 1)
    return tokens, np.stack(outs, 1)


def generate_cached(prompt, steps):
    batch = prompt.shape[0]
    cache = ops.zeros((2, batch, HEADS, LEN, HEAD_DIM))
    logits, cache = decoder(prompt, cache=cache, index=0)          # prefill
    next_token = ops.argmax(logits[:, -1], axis=-1)
    collected = [ops.convert_to_numpy(logits[:, -1])]
    tokens = [np.asarray(prompt)]

    def cond(i, token, cache):
        return i < prompt.shape[1] + steps - 1

    def body(i, token, cache):
        tokens.append(ops.convert_to_numpy(token)[:, None])
        logits, cache = decoder(ops.cast(token[:, None], "int32"), cache=cache, index=i)
        collected.append(ops.convert_to_numpy(logits[:, -1]))
        return i + 1, ops.argmax(logits[:, -1], axis=-1), cache

    _, last, _ = ops.while_loop(cond, body, (prompt.shape[1], next_token, cache))
    tokens.append(ops.convert_to_numpy(last)[:, None])
    return np.concatenate(tokens, 1), np.stack(collected, 1)


prompt = seqs[:5, :2].astype("int32")
plain_tokens, plain_logits = generate_uncached(prompt, 6)
cached_tokens, cached_logits = generate_cached(prompt, 6)
print(cached_tokens)
np.testing.assert_array_equal(cached_tokens, plain_tokens)
np.testing.assert_allclose(cached_logits, plain_logits, rtol=1e-4, atol=1e-4)
np.testing.assert_array_equal(plain_tokens, seqs[:5, :8])     # the learned cycle
