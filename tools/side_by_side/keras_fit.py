"""Side-by-side check of corenn against Keras 3 / TensorFlow (tools/side_by_side/README.md).
Run ``python keras_fit.py keras`` (or ``tf``) in an environment with the oracle, then ``python keras_fit.py
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
X = rng.normal(size=(100, 6)).astype(np.float32)
Y = (X[:, :3] @ rng.normal(size=(3, 3)) > 0).argmax(-1)
Xs = rng.integers(1, 9, size=(60, 7)); Xs[::3, 5:] = 0; Ys = (Xs.sum(1) % 2)
def mlp(bn=False):
    m = keras.Sequential([keras.Input((6,)), layers.Dense(8, activation="relu")] + ([layers.BatchNormalization()] if bn else []) + [layers.Dense(3)])
    return m
CASES = {
 "plain": (lambda: mlp(), dict(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"]), dict(epochs=3, batch_size=16, shuffle=False)),
 "bn_valsplit": (lambda: mlp(True), dict(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"]), dict(epochs=3, batch_size=16, shuffle=False, validation_split=0.2)),
 "classw": (lambda: mlp(), dict(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"]), dict(epochs=2, batch_size=32, shuffle=False, class_weight={0: 1.0, 1: 3.0, 2: 0.5})),
 "samplew": (lambda: mlp(), dict(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"], weighted_metrics=["accuracy"]), dict(epochs=2, batch_size=32, shuffle=False, sample_weight=np.linspace(0.1, 2, 100).astype(np.float32))),
 "lossw_mse": (lambda: mlp(), dict(loss="mse", metrics=["mae"]), dict(epochs=2, batch_size=10, shuffle=False, y_onehot=True)),
 "lstm_mask": (lambda: keras.Sequential([keras.Input((7,)), layers.Embedding(10, 4, mask_zero=True), layers.LSTM(5), layers.Dense(2)]), dict(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"]), dict(epochs=2, batch_size=16, shuffle=False, seq=True)),
 "gru_seq_mask": (lambda: keras.Sequential([keras.Input((7,)), layers.Embedding(10, 4, mask_zero=True), layers.GRU(5, return_sequences=True), layers.GlobalAveragePooling1D(), layers.Dense(2)]), dict(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)), dict(epochs=2, batch_size=16, shuffle=False, seq=True)),
}

def multi():
    inp = keras.Input((6,), name="x")
    h = layers.Dense(8, activation="tanh", kernel_regularizer=keras.regularizers.L2(0.01))(inp)
    a = layers.Dense(3, name="cls")(h)
    b = layers.Dense(1, name="reg", activity_regularizer=keras.regularizers.L1(0.01))(h)
    return keras.Model(inp, {"cls": a, "reg": b})
CASES2 = {
 "multi": (multi, dict(loss={"cls": keras.losses.SparseCategoricalCrossentropy(from_logits=True), "reg": "mse"}, loss_weights={"cls": 1.0, "reg": 0.5}, metrics={"cls": ["accuracy"], "reg": ["mae"]}), dict(epochs=2, batch_size=20, shuffle=False, multi=True)),
 "valdata_sched": (lambda: mlp(), dict(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=[keras.metrics.SparseTopKCategoricalAccuracy(k=2)]), dict(epochs=3, batch_size=16, shuffle=False, validation_data=(X[:20], Y[:20]), callbacks=[keras.callbacks.LearningRateScheduler(lambda e, lr: lr * 0.5)])),
 "initial_epoch": (lambda: mlp(), dict(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)), dict(epochs=4, initial_epoch=2, batch_size=25, shuffle=False)),
 "huber_l2": (lambda: keras.Sequential([keras.Input((6,)), layers.Dense(4, kernel_regularizer="l2", bias_regularizer=keras.regularizers.L1L2(0.01, 0.02)), layers.Dense(3)]), dict(loss=keras.losses.Huber(0.3), metrics=["mse", keras.metrics.RootMeanSquaredError()]), dict(epochs=2, batch_size=13, shuffle=False, y_onehot=True)),
 "rlrop": (lambda: mlp(), dict(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)), dict(epochs=5, batch_size=50, shuffle=False, callbacks=[keras.callbacks.ReduceLROnPlateau(monitor="loss", patience=0, factor=0.3, min_delta=10.0)])),
}
CASES = CASES2
res = {}
for name, (make, comp, fitkw) in CASES.items():
    fitkw = dict(fitkw)
    seq = fitkw.pop("seq", False); onehot = fitkw.pop("y_onehot", False); multi_ = fitkw.pop("multi", False)
    keras.utils.set_random_seed(0)
    m = make()
    comp = dict(comp)
    m.compile(optimizer=keras.optimizers.Adam(0.01), **comp)
    if which == "keras":
        ws = [w.copy() for w in m.get_weights()]; np.savez(f"/tmp/corenn_side_by_side/w_{name}.npz", *ws)
    else:
        d = np.load(f"/tmp/corenn_side_by_side/w_{name}.npz"); m.set_weights([d[f"arr_{i}"] for i in range(len(d.files))])
    x, y = (Xs, Ys) if seq else (X, Y)
    if onehot:
        y = np.eye(3, dtype=np.float32)[y]
    if multi_:
        y = {"cls": y, "reg": X[:, :1] * 2}
    h = m.fit(x, y, verbose=0, **fitkw)
    for k, v in h.history.items():
        res[f"{name}__{k}"] = np.array(v, np.float64)
    ev = m.evaluate(x, y, verbose=0, return_dict=True)
    for k, v in ev.items():
        res[f"{name}__eval_{k}"] = np.array(v, np.float64)
    for i, w in enumerate(m.get_weights()):
        res[f"{name}__w{i}"] = np.asarray(w)
if which == "keras":
    np.savez("/tmp/corenn_side_by_side/keras.npz", **res)
else:
    ref = np.load("/tmp/corenn_side_by_side/keras.npz")
    for k in ref.files:
        if k not in res:
            print("MISSING", k); continue
        a, b = res[k], ref[k]
        if a.shape != b.shape or not np.allclose(a, b, rtol=2e-4, atol=2e-5):
            print("DIFF", k, a.ravel()[:4], b.ravel()[:4])
    print("extra", [k for k in res if k not in ref.files])
