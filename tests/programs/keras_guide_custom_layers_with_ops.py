"""Custom layers written with keras.ops, the way the Keras 3 guides write backend-agnostic layers
("Making new layers and models via subclassing" with `keras.ops`, and the keras.io Transformer
examples), imports changed only (`import keras`, `from keras import layers, ops` -> corenn). Each
layer is built from the ops people reach for: RMS normalization (mean, square, rsqrt), einsum
multi-head self-attention with a causal mask (einsum, tril, where, softmax), a learned position
embedding (arange), top-k expert routing (top_k, one_hot, take_along_axis, sum), a log-softmax
loss (logsumexp). They train on a toy sequence task, and the tape's gradient of the whole model is
checked against finite differences."""
import numpy as np
import corenn as tf
from corenn import keras
from corenn.keras import layers, ops

keras.utils.set_random_seed(4)
rng = np.random.default_rng(4)

vocab, maxlen, dim = 12, 10, 16


class RMSNorm(layers.Layer):
    def __init__(self, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def build(self, input_shape):
        self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="scale")

    def call(self, x):
        return x * ops.rsqrt(ops.mean(ops.square(x), axis=-1, keepdims=True) + self.epsilon) * self.scale


class PositionEmbedding(layers.Layer):
    def __init__(self, maxlen, vocab_size, embed_dim, **kwargs):
        super().__init__(**kwargs)
        self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
        self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

    def call(self, x):
        maxlen = ops.shape(x)[-1]
        positions = ops.arange(start=0, stop=maxlen, step=1)
        return self.token_emb(x) + self.pos_emb(positions)


class CausalSelfAttention(layers.Layer):
    def __init__(self, num_heads, key_dim, **kwargs):
        super().__init__(**kwargs)
        self.num_heads, self.key_dim = num_heads, key_dim

    def build(self, input_shape):
        d = input_shape[-1]
        self.wqkv = self.add_weight(shape=(d, 3, self.num_heads, self.key_dim), initializer="glorot_uniform",
                                    name="wqkv")
        self.wo = self.add_weight(shape=(self.num_heads, self.key_dim, d), initializer="glorot_uniform", name="wo")

    def call(self, x):
        qkv = ops.einsum("btd,dkhe->kbthe", x, self.wqkv)
        q, k, v = qkv[0], qkv[1], qkv[2]
        scores = ops.einsum("bqhe,bkhe->bhqk", q, k) / np.sqrt(self.key_dim).astype("float32")
        t = ops.shape(x)[1]
        causal = ops.tril(ops.ones((t, t)))
        scores = ops.where(causal > 0, scores, -1e9)
        weights = ops.softmax(scores, axis=-1)
        out = ops.einsum("bhqk,bkhe->bqhe", weights, v)
        return ops.einsum("bqhe,hed->bqd", out, self.wo)


class TopKExperts(layers.Layer):
    """Each token goes to its k best experts (a Switch/MoE router), weighted by their gates."""

    def __init__(self, num_experts, k, **kwargs):
        super().__init__(**kwargs)
        self.num_experts, self.k = num_experts, k

    def build(self, input_shape):
        d = input_shape[-1]
        self.router = self.add_weight(shape=(d, self.num_experts), initializer="glorot_uniform", name="router")
        self.experts = self.add_weight(shape=(self.num_experts, d, d), initializer="glorot_uniform", name="experts")

    def call(self, x):
        logits = ops.matmul(x, self.router)                               # (b, t, E)
        top_logits, top_idx = ops.top_k(logits, self.k)                   # (b, t, k)
        gates = ops.softmax(top_logits, axis=-1)
        # the gate of every expert: zero except for the chosen k
        dispatch = ops.sum(ops.one_hot(top_idx, self.num_experts) * ops.expand_dims(gates, -1), axis=-2)
        chosen = ops.take_along_axis(logits, top_idx, axis=-1)            # the same logits, gathered
        self.add_loss(1e-3 * ops.mean(ops.square(chosen - top_logits)))   # zero: a consistency probe
        expert_out = ops.einsum("btd,edf->btef", x, self.experts)         # every expert, (b, t, E, d)
        return x + ops.sum(expert_out * ops.expand_dims(dispatch, -1), axis=2)


def log_softmax_loss(y_true, logits):
    log_probs = logits - ops.logsumexp(logits, axis=-1, keepdims=True)
    picked = ops.take_along_axis(log_probs, ops.expand_dims(ops.cast(y_true, "int32"), -1), axis=-1)
    return -ops.squeeze(picked, axis=-1)


# the task: the class is the token seen most often in the sequence (4 candidate tokens)
def make(n):
    x = rng.integers(4, vocab, (n, maxlen))
    y = rng.integers(0, 4, n)
    for i, c in enumerate(y):
        x[i, rng.choice(maxlen, 4, replace=False)] = c
    return x.astype("int64"), y.astype("int64")


(x_train, y_train), (x_test, y_test) = make(1024), make(256)

inputs = keras.Input(shape=(maxlen,), dtype="int64")
h = PositionEmbedding(maxlen, vocab, dim)(inputs)
h = h + CausalSelfAttention(num_heads=2, key_dim=8)(RMSNorm()(h))
h = TopKExperts(num_experts=4, k=2)(RMSNorm()(h))
h = layers.GlobalAveragePooling1D()(h)
outputs = layers.Dense(4)(h)
model = keras.Model(inputs, outputs)
# before training: the tape's gradient of the loss w.r.t. a weight deep inside (the attention's qkv
# kernel) against central finite differences of the same float32 model
xb, yb = x_test[:8], y_test[:8]
attention = [layer for layer in model.layers if isinstance(layer, CausalSelfAttention)][0]


def loss_value():
    return float(ops.mean(log_softmax_loss(yb, model(xb, training=False))))


with tf.GradientTape() as tape:
    loss = ops.mean(log_softmax_loss(yb, model(xb, training=False)))
grad = np.asarray(tape.gradient(loss, attention.wqkv))
w = attention.wqkv.numpy()
for index in [(0, 0, 0, 0), (3, 1, 1, 5), (7, 2, 0, 2), (15, 0, 1, 7)]:
    eps = 1e-2
    w_plus, w_minus = w.copy(), w.copy()
    w_plus[index] += eps
    w_minus[index] -= eps
    attention.wqkv.assign(w_plus)
    up = loss_value()
    attention.wqkv.assign(w_minus)
    down = loss_value()
    attention.wqkv.assign(w)
    numeric = (up - down) / (2 * eps)
    assert abs(numeric - grad[index]) < 2e-4 + 0.03 * abs(numeric), (index, numeric, grad[index])
assert np.abs(grad).max() > 1e-2   # a gradient worth checking

model.compile(keras.optimizers.Adam(3e-3), loss=log_softmax_loss, metrics=["sparse_categorical_accuracy"])
history = model.fit(x_train, y_train, batch_size=64, epochs=6, validation_data=(x_test, y_test), verbose=0)
print({k: [round(v, 3) for v in vs] for k, vs in history.history.items()})
assert history.history["val_sparse_categorical_accuracy"][-1] > 0.8, history.history

# the custom loss equals Keras' sparse categorical cross-entropy from logits
logits = model.predict(x_test[:32], verbose=0)
np.testing.assert_allclose(np.asarray(log_softmax_loss(y_test[:32], logits)),
                           np.asarray(keras.losses.sparse_categorical_crossentropy(y_test[:32], logits,
                                                                                   from_logits=True)),
                           rtol=1e-4, atol=1e-5)

