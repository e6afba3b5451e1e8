"""The keras.io layers API reference, its less-used layers as the reference pages show them
(Cropping1D/2D/3D, UpSampling3D, Conv3DTranspose, SeparableConv1D, DepthwiseConv1D, EinsumDense,
AdditiveAttention, Attention with use_scale and score_mode="concat", GroupQueryAttention,
GaussianNoise, GaussianDropout, AlphaDropout, SpatialDropout1D/2D/3D, UnitNormalization), each
checked against NumPy from its own weights and then used in one small functional model that
trains. Only the imports changed."""
import numpy as np
from corenn import keras
from corenn.keras import layers

keras.utils.set_random_seed(7)
rng = np.random.default_rng(7)
npy = keras.ops.convert_to_numpy

# -- cropping and upsampling, as the reference pages' examples ----------------------------------
x = np.arange(2 * 3 * 2).reshape(2, 3, 2).astype("float32")
y = layers.Cropping1D(cropping=1)(x)
np.testing.assert_array_equal(npy(y), x[:, 1:2])
x = rng.normal(size=(2, 28, 28, 3)).astype("float32")
y = layers.Cropping2D(cropping=((2, 2), (4, 4)))(x)
assert tuple(y.shape) == (2, 24, 20, 3)
np.testing.assert_array_equal(npy(y), x[:, 2:-2, 4:-4])
x = rng.normal(size=(2, 28, 28, 10, 3)).astype("float32")
y = layers.Cropping3D(cropping=(2, 4, 2))(x)
assert tuple(y.shape) == (2, 24, 20, 6, 3)
np.testing.assert_array_equal(npy(y), x[:, 2:-2, 4:-4, 2:-2])
x = rng.normal(size=(2, 1, 2, 1, 3)).astype("float32")
y = layers.UpSampling3D(size=2)(x)
assert tuple(y.shape) == (2, 2, 4, 2, 3)
np.testing.assert_array_equal(npy(y), x.repeat(2, 1).repeat(2, 2).repeat(2, 3))

# -- Conv3DTranspose: shape and the scatter-add definition ----------------------------------------
x = rng.normal(size=(1, 3, 3, 3, 2)).astype("float32")
ct = layers.Conv3DTranspose(4, 2, strides=2, use_bias=False)
y = npy(ct(x))
assert y.shape == (1, 6, 6, 6, 4), y.shape
k = npy(ct.kernel)                       # (kd, kh, kw, out, in)
assert k.shape == (2, 2, 2, 4, 2), k.shape
ref = np.zeros((1, 6, 6, 6, 4))
for d in range(3):
    for h in range(3):
        for w in range(3):
            ref[0, 2 * d:2 * d + 2, 2 * h:2 * h + 2, 2 * w:2 * w + 2] += np.einsum("abcoi,i->abco", k, x[0, d, h, w])
np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-5)

# -- SeparableConv1D and DepthwiseConv1D against NumPy ------------------------------------------
x = rng.normal(size=(2, 10, 3)).astype("float32")
dw = layers.DepthwiseConv1D(kernel_size=3, depth_multiplier=2, use_bias=False)
y = npy(dw(x))
assert y.shape == (2, 8, 6)
kd = npy(dw.kernel)            # (3, in, mult)
ref = np.stack([np.einsum("bkc,kcm->bcm", x[:, t:t + 3], kd).reshape(2, 6) for t in range(8)], 1)
np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-5)
sep = layers.SeparableConv1D(4, 3, padding="same", depth_multiplier=1)
y = npy(sep(x))
assert y.shape == (2, 10, 4)
xp = np.pad(x, ((0, 0), (1, 1), (0, 0)))
kd, kp, b = (npy(w) for w in sep.weights)
mid = np.stack([np.einsum("bkc,kc->bc", xp[:, t:t + 3], kd[..., 0]) for t in range(10)], 1)
np.testing.assert_allclose(y, mid @ kp[0] + b, rtol=1e-4, atol=1e-5)

# -- EinsumDense, the reference page's three examples --------------------------------------------
layer = layers.EinsumDense("ab,bc->ac", output_shape=64, bias_axes="c")
y = layer(keras.Input(shape=(32,)))
assert tuple(y.shape) == (None, 64)
layer = layers.EinsumDense("abc,cd->abd", output_shape=(None, 64), bias_axes="d")
y = layer(keras.Input(shape=(32, 128)))
assert len(y.shape) == 3 and y.shape[-1] == 64
layer = layers.EinsumDense("abc,cde->abde", output_shape=(None, 8, 16), bias_axes="de")
x = rng.normal(size=(2, 5, 12)).astype("float32")
y = npy(layer(x))
kern, bias = npy(layer.kernel), npy(layer.bias)
assert kern.shape == (12, 8, 16) and bias.shape == (8, 16)
np.testing.assert_allclose(y, np.einsum("abc,cde->abde", x, kern) + bias, rtol=1e-4, atol=1e-5)

# -- attention layers ------------------------------------------------------------------------------
q = rng.normal(size=(2, 4, 6)).astype("float32")
v = rng.normal(size=(2, 5, 6)).astype("float32")
add = layers.AdditiveAttention()
out, scores = add([q, v], return_attention_scores=True)
scale = npy(add.scale)
logits = np.tanh(q[:, :, None, :] + v[:, None, :, :]) @ scale
w = np.exp(logits - logits.max(-1, keepdims=True))
w /= w.sum(-1, keepdims=True)
np.testing.assert_allclose(npy(scores), w, rtol=1e-4, atol=1e-5)
np.testing.assert_allclose(npy(out), w @ v, rtol=1e-4, atol=1e-5)
mask_v = np.array([[True] * 5, [True, True, True, False, False]])
out = add([q, v], mask=[None, mask_v])
ref = np.where(mask_v[:, None, :], logits, -np.inf)
w = np.exp(ref - ref.max(-1, keepdims=True))
w /= w.sum(-1, keepdims=True)
np.testing.assert_allclose(npy(out), w @ v, rtol=1e-4, atol=1e-5)

att = layers.Attention(use_scale=True, score_mode="dot")
out, scores = att([q, v, v], return_attention_scores=True, use_causal_mask=False)
logits = np.einsum("bqd,bkd->bqk", q, v) * float(npy(att.scale))
w = np.exp(logits - logits.max(-1, keepdims=True))
w /= w.sum(-1, keepdims=True)
np.testing.assert_allclose(npy(scores), w, rtol=1e-4, atol=1e-5)
att = layers.Attention(score_mode="concat")
out = att([q, v])
logits = float(npy(att.concat_score_weight)) * np.tanh(q[:, :, None, :] + v[:, None, :, :]).sum(-1)
w = np.exp(logits - logits.max(-1, keepdims=True))
w /= w.sum(-1, keepdims=True)
np.testing.assert_allclose(npy(out), w @ v, rtol=1e-4, atol=1e-5)

gqa = layers.GroupQueryAttention(head_dim=4, num_query_heads=4, num_key_value_heads=2)
out, scores = gqa(q, v, return_attention_scores=True)
assert tuple(out.shape) == (2, 4, 6) and tuple(scores.shape) == (2, 4, 4, 5)
np.testing.assert_allclose(npy(scores).sum(-1), 1.0, rtol=1e-5)

# -- noise and dropout layers: identity at inference, their statistics in training ----------------
big = np.ones((200, 50), "float32")
for layer in (layers.GaussianNoise(0.5), layers.GaussianDropout(0.3), layers.AlphaDropout(0.2)):
    np.testing.assert_array_equal(npy(layer(big, training=False)), big)
noisy = npy(layers.GaussianNoise(0.5, seed=1)(big, training=True))
assert abs(noisy.mean() - 1.0) < 0.03 and abs(noisy.std() - 0.5) < 0.03
gd = npy(layers.GaussianDropout(0.3, seed=1)(big, training=True))
assert abs(gd.mean() - 1.0) < 0.03 and abs(gd.std() - np.sqrt(0.3 / 0.7)) < 0.03
z = rng.normal(size=(400, 100)).astype("float32")
ad = npy(layers.AlphaDropout(0.2, seed=1)(z, training=True))
assert abs(ad.mean()) < 0.05 and abs(ad.std() - 1.0) < 0.05       # self-normalizing: mean 0, var 1 kept
counts = np.unique(ad, return_counts=True)[1]
assert 0.15 < counts.max() / ad.size < 0.25                     # dropped units all take one value
sd = npy(layers.SpatialDropout1D(0.5, seed=1)(np.ones((8, 6, 16), "float32"), training=True))
assert set(np.unique(sd)) <= {0.0, 2.0} and (sd == sd[:, :1, :]).all()   # whole channels drop
sd = npy(layers.SpatialDropout2D(0.5, seed=1)(np.ones((4, 3, 3, 16), "float32"), training=True))
assert (sd == sd[:, :1, :1, :]).all() and 0 < (sd == 0).mean() < 1
sd = npy(layers.SpatialDropout3D(0.5, seed=1)(np.ones((4, 2, 2, 2, 16), "float32"), training=True))
assert (sd == sd[:, :1, :1, :1, :]).all() and 0 < (sd == 0).mean() < 1

un = npy(layers.UnitNormalization(axis=-1)(q))
np.testing.assert_allclose(np.linalg.norm(un, axis=-1), 1.0, rtol=1e-5)

# -- the layers together in one model that trains ----------------------------------------------------
x_train = rng.normal(size=(256, 16, 4)).astype("float32")
y_train = (x_train[:, 2:14, 0].sum(1) > 0).astype("float32")
inputs = keras.Input(shape=(16, 4))
h = layers.GaussianNoise(0.05)(inputs)
h = layers.Cropping1D((2, 2))(h)
h = layers.SeparableConv1D(16, 3, padding="same", activation="relu")(h)
h = layers.DepthwiseConv1D(3, padding="same")(h)
h = layers.SpatialDropout1D(0.1)(h)
h = layers.EinsumDense("abc,cd->abd", output_shape=(None, 8), bias_axes="d", activation="relu")(h)
h = layers.AdditiveAttention()([h, h])
h = layers.GlobalAveragePooling1D()(h)
h = layers.AlphaDropout(0.05)(h)
outputs = layers.Dense(1, activation="sigmoid")(h)
model = keras.Model(inputs, outputs)
model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy", metrics=["accuracy"])
history = model.fit(x_train, y_train, batch_size=32, epochs=10, verbose=0)
losses = history.history["loss"]
print("loss", losses[0], "->", losses[-1], "accuracy", history.history["accuracy"][-1])
assert losses[-1] < 0.8 * losses[0], losses
reloaded = keras.Model.from_config(model.get_config())
reloaded.set_weights(model.get_weights())
np.testing.assert_allclose(npy(reloaded.predict(x_train[:8], verbose=0)),
                           npy(model.predict(x_train[:8], verbose=0)), rtol=1e-5, atol=1e-6)
