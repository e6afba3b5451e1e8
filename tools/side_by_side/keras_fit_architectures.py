"""Side-by-side check of corenn against Keras 3 / TensorFlow (tools/side_by_side/README.md).
Run ``python keras_fit_architectures.py keras`` (or ``tf``) in an environment with the oracle, then ``python keras_fit_architectures.py
corenn`` with corenn: the second run prints what differs. Not a test: the oracle is not a
dependency; what it found became unit tests against NumPy references."""
import os
os.makedirs("/tmp/corenn_side_by_side", exist_ok=True)
import sys, numpy as np
which = sys.argv[1]
if which == "keras":
    import keras
    from keras import layers
else:
    from corenn import keras
    from corenn.keras import layers
rng = np.random.default_rng(4)
XI = rng.normal(size=(32, 10, 10, 3)).astype(np.float32); YI = rng.integers(0, 3, 32)
XS = rng.normal(size=(32, 8, 6)).astype(np.float32); YS = rng.integers(0, 3, 32)
def cnn():
    return keras.Sequential([keras.Input((10, 10, 3)), layers.Conv2D(4, 3, padding="same", activation="relu"), layers.BatchNormalization(),
        layers.DepthwiseConv2D(3, strides=2, padding="same"), layers.SeparableConv2D(5, 3, activation="elu"), layers.MaxPooling2D(2, padding="same"),
        layers.Conv2DTranspose(3, 3, strides=2, padding="same"), layers.GroupNormalization(groups=3), layers.GlobalAveragePooling2D(), layers.Dense(3)])
def attn():
    inp = keras.Input((8, 6))
    h = layers.Dense(8)(inp)
    a = layers.MultiHeadAttention(num_heads=2, key_dim=4)(h, h)
    h = layers.LayerNormalization()(h + a)
    h = layers.Conv1D(6, 3, padding="causal", activation="gelu")(h)
    h = layers.Bidirectional(layers.GRU(4, return_sequences=True))(h)
    h = layers.GlobalMaxPooling1D()(h)
    return keras.Model(inp, layers.Dense(3)(h))
def rnn():
    return keras.Sequential([keras.Input((8, 6)), layers.SimpleRNN(5, return_sequences=True), layers.LSTM(4, return_sequences=True, go_backwards=True),
        layers.TimeDistributed(layers.Dense(3)), layers.Flatten(), layers.Dropout(0.0), layers.Dense(3)])
CASES = {"cnn": (cnn, XI, YI), "attn": (attn, XS, YS), "rnn": (rnn, XS, YS)}
res = {}
for name, (make, x, y) in CASES.items():
    for opt in ["adam", "rmsprop", "sgd_m"]:
        m = make()
        o = {"adam": keras.optimizers.Adam(0.01), "rmsprop": keras.optimizers.RMSprop(0.005), "sgd_m": keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True)}[opt]
        m.compile(optimizer=o, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
        key = f"{name}_{opt}"
        if which == "keras":
            np.savez(f"/tmp/corenn_side_by_side/w7_{key}.npz", *m.get_weights())
        else:
            d = np.load(f"/tmp/corenn_side_by_side/w7_{key}.npz"); m.set_weights([d[f"arr_{i}"] for i in range(len(d.files))])
        h = m.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
        for k, v in h.history.items():
            res[f"{key}__{k}"] = np.array(v)
        res[f"{key}__pred"] = np.asarray(m.predict(x[:4], verbose=0))
if which == "keras":
    np.savez("/tmp/corenn_side_by_side/keras7.npz", **res)
else:
    ref = np.load("/tmp/corenn_side_by_side/keras7.npz")
    for k in ref.files:
        a, b = res[k], ref[k]
        ok = a.shape == b.shape and np.allclose(a, b, rtol=1e-3, atol=1e-4)
        print("OK  " if ok else "DIFF", k, np.abs(a - b).max() if a.shape == b.shape else (a.shape, b.shape))
