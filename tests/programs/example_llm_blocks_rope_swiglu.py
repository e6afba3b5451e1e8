"""Modern language-model blocks written with `keras.ops`, as Keras 3 / keras_hub code writes them:
an RMSNorm layer with a learned scale (checked against `keras.layers.RMSNormalization`), rotary
position embeddings (RoPE: the score of a rotated query and key depends only on their distance),
a SwiGLU feed-forward block (`ops.silu`, `ops.split`), all serializable with `get_config`, trained
in a small causal classifier and reloaded from a .keras file. Only the imports changed."""
import numpy as np
from corenn import keras
from corenn.keras import layers, ops


@keras.saving.register_keras_serializable(package="llm")
class RMSNorm(layers.Layer):
    def __init__(self, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def build(self, input_shape):
        self.scale = self.add_weight(name="scale", shape=(input_shape[-1],), initializer="ones")

    def call(self, x):
        var = ops.mean(ops.square(x), axis=-1, keepdims=True)
        return x * ops.rsqrt(var + self.epsilon) * self.scale

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


def rotary(x, positions, max_wavelength=10000.0):
    """x: (batch, seq, heads, dim) rotated by its position (the half-split RoPE layout)."""
    dim = ops.shape(x)[-1]
    freqs = 1.0 / ops.power(max_wavelength, ops.cast(ops.arange(0, dim, 2), "float32") / dim)
    angles = ops.cast(positions, "float32")[:, None] * freqs[None, :]          # (seq, dim/2)
    cos = ops.cos(angles)[None, :, None, :]
    sin = ops.sin(angles)[None, :, None, :]
    x1, x2 = ops.split(x, 2, axis=-1)
    return ops.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


@keras.saving.register_keras_serializable(package="llm")
class SwiGLU(layers.Layer):
    def __init__(self, hidden, **kwargs):
        super().__init__(**kwargs)
        self.hidden = hidden

    def build(self, input_shape):
        self.gate_up = layers.Dense(2 * self.hidden, use_bias=False)
        self.down = layers.Dense(input_shape[-1], use_bias=False)

    def call(self, x):
        gate, up = ops.split(self.gate_up(x), 2, axis=-1)
        return self.down(ops.silu(gate) * up)

    def get_config(self):
        return {**super().get_config(), "hidden": self.hidden}


@keras.saving.register_keras_serializable(package="llm")
class RoPEBlock(layers.Layer):
    def __init__(self, dim, heads, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.heads = dim, heads
        self.norm1, self.norm2 = RMSNorm(), RMSNorm()
        self.qkv = layers.Dense(3 * dim, use_bias=False)
        self.out = layers.Dense(dim, use_bias=False)
        self.ffn = SwiGLU(2 * dim)

    def call(self, x):
        b, t = ops.shape(x)[0], ops.shape(x)[1]
        hd = self.dim // self.heads
        q, k, v = ops.split(self.qkv(self.norm1(x)), 3, axis=-1)
        q, k, v = (ops.reshape(a, (b, t, self.heads, hd)) for a in (q, k, v))
        pos = ops.arange(t)
        q, k = rotary(q, pos), rotary(k, pos)
        scores = ops.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(hd).astype("float32")
        causal = ops.arange(t)[:, None] >= ops.arange(t)[None, :]
        scores = ops.where(causal[None, None], scores, -1e9)
        att = ops.einsum("bhqk,bkhd->bqhd", ops.softmax(scores, axis=-1), v)
        x = x + self.out(ops.reshape(att, (b, t, self.dim)))
        return x + self.ffn(self.norm2(x))

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "heads": self.heads}


rng = np.random.default_rng(0)
# RMSNorm equals Keras' RMSNormalization (scale 1 at start)
x = rng.normal(size=(3, 5, 8)).astype("float32")
np.testing.assert_allclose(ops.convert_to_numpy(RMSNorm(epsilon=1e-6)(x)),
                           ops.convert_to_numpy(layers.RMSNormalization(epsilon=1e-6)(x)), rtol=1e-5, atol=1e-6)
np.testing.assert_allclose(ops.convert_to_numpy(RMSNorm()(x)), x / np.sqrt((x ** 2).mean(-1, keepdims=True) + 1e-6),
                           rtol=1e-5, atol=1e-6)

# RoPE keeps norms, and q(m) . k(n) depends on m - n only
q = rng.normal(size=(1, 1, 1, 8)).astype("float32")
k = rng.normal(size=(1, 1, 1, 8)).astype("float32")
def rot_at(v, p):
    return ops.convert_to_numpy(rotary(np.repeat(v, p + 1, axis=1), ops.arange(p + 1)))[0, p, 0]
np.testing.assert_allclose(np.linalg.norm(rot_at(q, 7)), np.linalg.norm(q), rtol=1e-5)
np.testing.assert_allclose(rot_at(q, 5) @ rot_at(k, 3), rot_at(q, 9) @ rot_at(k, 7), rtol=1e-4)

# a causal classifier: is the running count of token 1 greater than that of token 2 at each step
keras.utils.set_random_seed(1)
tokens = rng.integers(0, 4, size=(1500, 12))
labels = (np.cumsum(tokens == 1, axis=1) > np.cumsum(tokens == 2, axis=1)).astype("int64")
inp = keras.Input((12,), dtype="int32")
h = layers.Embedding(4, 32)(inp)
h = RoPEBlock(32, 4)(h)
h = RMSNorm()(h)
out = layers.Dense(2)(h)
model = keras.Model(inp, out)
model.compile(keras.optimizers.Adam(3e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
hist = model.fit(tokens[:1200], labels[:1200], validation_data=(tokens[1200:], labels[1200:]), epochs=8,
                 batch_size=64, verbose=0)
print("val accuracy", np.round(hist.history["val_accuracy"], 3))
assert hist.history["val_accuracy"][-1] > 0.9

# causality: changing a later token leaves earlier predictions unchanged
probe = tokens[1200:1201].copy()
before = model.predict(probe, verbose=0)
probe[0, 8:] = (probe[0, 8:] + 1) % 4
after = model.predict(probe, verbose=0)
np.testing.assert_allclose(after[0, :8], before[0, :8], rtol=1e-4, atol=1e-5)

model.save("llm_blocks.keras")
again = keras.models.load_model("llm_blocks.keras")
np.testing.assert_allclose(again.predict(tokens[1200:1232], verbose=0), model.predict(tokens[1200:1232], verbose=0),
                           rtol=1e-5, atol=1e-5)
