"""Side-by-side check of model files between Keras 3 and corenn (tools/side_by_side/README.md).

Every layer configuration of keras_layers_cases.py, wrapped in a functional model (Input ->
layer -> output; two Inputs for the two-input layers), crosses the file boundary both ways:

    KERAS_BACKEND=torch python keras_files.py keras        # Keras writes .keras + .weights.h5
    python keras_files.py corenn                           # corenn loads them, compares, writes its own
                                                           # (save_format="keras3": Keras 3's archive)
    KERAS_BACKEND=torch python keras_files.py keras-read   # Keras loads corenn's files, compares
    python keras_files.py tfkeras                          # (TF venv) tf_keras 2 writes legacy .h5
    python keras_files.py corenn-h5                        # corenn loads the legacy .h5 files

Weights are drawn at random (moving statistics too), so a weight loaded into the wrong slot shows.
Not a test: the oracles are not dependencies; what it finds becomes unit tests (tests/interop).
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from keras_layers_cases import CASES  # noqa: E402

ROOT = "/tmp/corenn_side_by_side/files"
os.makedirs(ROOT, exist_ok=True)
TWO_INPUT = ("MultiHeadAttention", "GroupQueryAttention", "Attention", "AdditiveAttention", "Dot",
             "Concatenate")
SKIP_FILES = ("Hashing",)   # int inputs through a preprocessing layer: not a weights question


def inputs_of(x):
    return list(x) if isinstance(x, (tuple, list)) else [x]


def build(keras, i, cls, cfg, x):
    cfg = dict(cfg)
    if "layer" in cfg:
        sub = cfg["layer"]
        cfg["layer"] = getattr(keras.layers, sub["class_name"])(**sub["config"])
    xs = inputs_of(x)
    ins = [keras.Input(shape=a.shape[1:], dtype="int32" if a.dtype.kind == "i" else "float32")
           for a in xs]
    layer = getattr(keras.layers, cls)(**cfg)
    out = layer(*ins) if cls in ("MultiHeadAttention", "GroupQueryAttention") else \
        layer(ins) if len(ins) > 1 else layer(ins[0])
    model = keras.Model(ins if len(ins) > 1 else ins[0], out, name=f"case{i}")
    rng = np.random.default_rng(100 + i)
    ws = []
    for w in model.get_weights():
        v = rng.normal(size=w.shape).astype(w.dtype) * 0.5
        if cls == "BatchNormalization" and w.ndim == 1:
            v = np.abs(v) + 0.5     # positive moving variance (and the other vectors too: harmless)
        ws.append(v)
    if ws:
        model.set_weights(ws)
    return model


def predict(keras, model, x):
    y = model(inputs_of(x) if len(inputs_of(x)) > 1 else x)
    ys = y if isinstance(y, (list, tuple)) else [y]
    return [np.asarray(keras.ops.convert_to_numpy(v)) for v in ys]


def compare(tag, i, cls, got, want):
    if len(got) != len(want):
        print(f"{tag} OUTPUTS case {i} {cls}: {len(got)} vs {len(want)}")
        return
    for k, (a, r) in enumerate(zip(got, want)):
        if a.shape != r.shape:
            print(f"{tag} SHAPE case {i} {cls} output {k}: {a.shape} vs {r.shape}")
        elif not np.allclose(a, r, rtol=1e-4, atol=1e-5):
            print(f"{tag} DIFF case {i} {cls} output {k}: max {np.abs(a - r).max():.3g}")


def cases():
    for i, (cls, cfg, x) in enumerate(CASES):
        if cls not in SKIP_FILES:
            yield i, cls, cfg, x


def main(which):
    if which in ("keras", "keras-read"):
        import keras
        for i, cls, cfg, x in cases():
            try:
                if which == "keras":
                    model = build(keras, i, cls, cfg, x)
                    np.savez(f"{ROOT}/k{i}.npz", *predict(keras, model, x))
                    model.save(f"{ROOT}/k{i}.keras")
                    model.save_weights(f"{ROOT}/k{i}.weights.h5")
                else:
                    if not os.path.exists(f"{ROOT}/c{i}.keras"):
                        continue
                    ref = np.load(f"{ROOT}/c{i}.npz")
                    want = [ref[f"arr_{k}"] for k in range(len(ref.files))]
                    model = keras.models.load_model(f"{ROOT}/c{i}.keras")
                    compare("keras<-corenn .keras", i, cls, predict(keras, model, x), want)
                    model = build(keras, 1000 + i, cls, cfg, x)
                    model.load_weights(f"{ROOT}/c{i}.weights.h5")
                    compare("keras<-corenn .weights.h5", i, cls, predict(keras, model, x), want)
            except Exception as e:
                print(f"{which} FAIL case {i} {cls}: {type(e).__name__}: {str(e)[:300]}")
    elif which == "tfkeras":
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        import tf_keras as keras
        for i, cls, cfg, x in cases():
            try:
                if not hasattr(keras.layers, cls):
                    continue
                model = build(keras, i, cls, cfg, x)
                y = model(inputs_of(x) if len(inputs_of(x)) > 1 else x)
                ys = y if isinstance(y, (list, tuple)) else [y]
                np.savez(f"{ROOT}/t{i}.npz", *[np.asarray(v) for v in ys])
                model.save(f"{ROOT}/t{i}.h5")
            except Exception as e:
                print(f"tfkeras FAIL case {i} {cls}: {type(e).__name__}: {str(e)[:200]}")
    elif which in ("corenn", "corenn-h5"):
        from corenn import keras
        prefix, ext = ("k", ".keras") if which == "corenn" else ("t", ".h5")
        for i, cls, cfg, x in cases():
            path = f"{ROOT}/{prefix}{i}{ext}"
            if not os.path.exists(path):
                continue
            ref = np.load(f"{ROOT}/{prefix}{i}.npz")
            want = [ref[f"arr_{k}"] for k in range(len(ref.files))]
            try:
                model = keras.models.load_model(path)
                compare(f"corenn<-{ext}", i, cls, predict(keras, model, x), want)
            except Exception as e:
                print(f"corenn FAIL load case {i} {cls}: {type(e).__name__}: {str(e)[:300]}")
            if which != "corenn":
                continue
            try:
                model = build(keras, i, cls, cfg, x)
                model.load_weights(f"{ROOT}/k{i}.weights.h5")
                got = predict(keras, model, x)
                compare("corenn<-.weights.h5", i, cls, got, want)
                np.savez(f"{ROOT}/c{i}.npz", *got)
                model.save(f"{ROOT}/c{i}.keras", save_format="keras3")   # Keras 3's archive
                model.save_weights(f"{ROOT}/c{i}.weights.h5")
            except Exception as e:
                print(f"corenn FAIL weights/save case {i} {cls}: {type(e).__name__}: {str(e)[:300]}")
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "")
