"""Side-by-side check of corenn against Keras 3 / TensorFlow (tools/side_by_side/README.md).
Run ``python keras_layers.py keras`` (or ``tf``) in an environment with the oracle, then ``python keras_layers.py
corenn`` with corenn: the second run prints what differs. Not a test: the oracle is not a
dependency; what it found became unit tests against NumPy references."""
import os
os.makedirs("/tmp/corenn_side_by_side", exist_ok=True)
import sys, numpy as np
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from keras_layers_cases import CASES
which = sys.argv[1]
if which == "keras":
    import keras
    out = {}
    for i, (cls, cfg, x) in enumerate(CASES):
        try:
            cfg2 = dict(cfg)
            if "layer" in cfg2:
                cfg2["layer"] = keras.layers.deserialize({"class_name": cfg["layer"]["class_name"], "config": cfg["layer"]["config"], "module": "keras.layers"})
            layer = getattr(keras.layers, cls)(**cfg2)
            if isinstance(x, tuple):
                y = layer(*x)
            else:
                y = layer(x)
            ys = y if isinstance(y, (list, tuple)) else [y]
            for k, w in enumerate(layer.get_weights()):
                out[f"{i}__w{k}"] = np.asarray(w)
            for k, v in enumerate(ys):
                out[f"{i}__y{k}"] = keras.ops.convert_to_numpy(v)
            if cls == "BatchNormalization":
                y = layer(x, training=True); out[f"{i}__y9"] = keras.ops.convert_to_numpy(y)
                for k, w in enumerate(layer.get_weights()): out[f"{i}__u{k}"] = np.asarray(w)
        except Exception as e:
            print("keras fail", i, cls, type(e).__name__, str(e)[:120])
    np.savez("/tmp/corenn_side_by_side/keras.npz", **out)
else:
    import corenn
    from corenn import keras
    ref = np.load("/tmp/corenn_side_by_side/keras.npz")
    for i, (cls, cfg, x) in enumerate(CASES):
        if f"{i}__y0" not in ref.files:
            continue
        try:
            cfg2 = dict(cfg)
            if "layer" in cfg2:
                cfg2["layer"] = getattr(keras.layers, cfg["layer"]["class_name"])(**cfg["layer"]["config"])
            layer = getattr(keras.layers, cls)(**cfg2)
            ws = [ref[f"{i}__w{k}"] for k in range(100) if f"{i}__w{k}" in ref.files]
            if isinstance(x, tuple):
                layer(*x)
            else:
                layer(x)
            if ws:
                layer.set_weights(ws)
            y = layer(*x) if isinstance(x, tuple) else layer(x)
            ys = y if isinstance(y, (list, tuple)) else [y]
            for k, v in enumerate(ys):
                r = ref[f"{i}__y{k}"]; a = np.asarray(v)
                if a.shape != r.shape:
                    print("SHAPE", i, cls, cfg, a.shape, r.shape); continue
                if not np.allclose(a, r, rtol=1e-4, atol=1e-5):
                    print("DIFF", i, cls, cfg, np.abs(a - r).max())
            if cls == "BatchNormalization":
                a = np.asarray(layer(x, training=True)); r = ref[f"{i}__y9"]
                print("BN train", np.abs(a - r).max(), [np.abs(np.asarray(w) - ref[f"{i}__u{k}"]).max() for k, w in enumerate(layer.get_weights())])
        except Exception as e:
            print("corenn fail", i, cls, cfg, type(e).__name__, str(e)[:200])
