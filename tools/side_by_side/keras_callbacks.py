"""Side-by-side check of corenn against Keras 3 / TensorFlow (tools/side_by_side/README.md).
Run ``python keras_callbacks.py keras`` (or ``tf``) in an environment with the oracle, then ``python keras_callbacks.py
corenn`` with corenn: the second run prints what differs. Not a test: the oracle is not a
dependency; what it found became unit tests against NumPy references."""
import os
os.makedirs("/tmp/corenn_side_by_side", exist_ok=True)
import sys, os, numpy as np, pickle, tempfile
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
which = sys.argv[1]
if which == "keras":
    import keras
else:
    from corenn import keras
L = keras.layers
rng = np.random.default_rng(2)
X = rng.normal(size=(64, 5)).astype(np.float32); Y = (X @ rng.normal(size=(5, 1)) + 0.3 * rng.normal(size=(64, 1))).astype(np.float32)
out = {}
def model(tag):
    m = keras.Sequential([keras.Input((5,)), L.Dense(6, activation="tanh"), L.Dense(1)])
    m.compile(keras.optimizers.SGD(0.05), "mse", metrics=["mae"])
    f = f"/tmp/corenn_side_by_side/w_{tag}.npz"
    if which == "keras" and not os.path.exists(f):
        np.savez(f, *m.get_weights())
    else:
        d = np.load(f); m.set_weights([d[f"arr_{i}"] for i in range(len(d.files))])
    return m
def run(tag, cbs, epochs=12, **kw):
    m = model(tag)
    h = m.fit(X, Y, batch_size=16, epochs=epochs, shuffle=False, verbose=0, callbacks=cbs, validation_split=0.25, **kw)
    out[tag + "_epochs"] = np.array(h.epoch)
    for k, v in h.history.items():
        out[f"{tag}_{k}"] = np.array(v, np.float64)
    out[tag + "_w"] = np.concatenate([w.ravel() for w in m.get_weights()])
run("es", [keras.callbacks.EarlyStopping(monitor="val_loss", patience=1, min_delta=0.05)])
run("es_restore", [keras.callbacks.EarlyStopping(monitor="val_mae", patience=2, min_delta=0.02, restore_best_weights=True)])
run("es_baseline", [keras.callbacks.EarlyStopping(monitor="loss", patience=2, baseline=0.5)])
run("es_start", [keras.callbacks.EarlyStopping(monitor="val_loss", patience=0, min_delta=0.5, start_from_epoch=3)])
run("rlrop", [keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1, min_delta=0.02, cooldown=1, min_lr=0.01)])
run("lrs", [keras.callbacks.LearningRateScheduler(lambda e, lr: 0.05 if e < 3 else lr * 0.7)])
run("terminate", [keras.callbacks.TerminateOnNaN()])
tmp = tempfile.mkdtemp()
ck = keras.callbacks.ModelCheckpoint(os.path.join(tmp, "best.weights.h5"), monitor="val_loss", save_best_only=True, save_weights_only=True)
run("ckpt", [ck])
m = model("ckpt"); m.load_weights(os.path.join(tmp, "best.weights.h5")); out["ckpt_loaded"] = np.concatenate([w.ravel() for w in m.get_weights()])
csvp = os.path.join(tmp, "log.csv")
run("csv", [keras.callbacks.CSVLogger(csvp)], epochs=3)
out["csv_header"] = np.array(open(csvp).readline().strip())
if which == "keras":
    pickle.dump(out, open("/tmp/corenn_side_by_side/ref.pkl", "wb"))
else:
    ref = pickle.load(open("/tmp/corenn_side_by_side/ref.pkl", "rb"))
    for k, b in ref.items():
        if k not in out: print("MISSING", k); continue
        a = out[k]
        if b.dtype.kind in "US":
            if str(a) != str(b): print("DIFF", k, a, "|", b)
            continue
        if a.shape != b.shape or not np.allclose(a, b, rtol=1e-4, atol=1e-5):
            print("DIFF", k, a.shape, b.shape, np.ravel(a)[:6], np.ravel(b)[:6])
    print("extra", [k for k in out if k not in ref])
