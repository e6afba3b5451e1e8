"""Side-by-side check of corenn against Keras 3 / TensorFlow (tools/side_by_side/README.md).
Run ``python keras_ops.py keras`` (or ``tf``) in an environment with the oracle, then ``python keras_ops.py
corenn`` with corenn: the second run prints what differs. Not a test: the oracle is not a
dependency; what it found became unit tests against NumPy references."""
import os
os.makedirs("/tmp/corenn_side_by_side", exist_ok=True)
import sys, numpy as np
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from keras_ops_cases import CASES
which = sys.argv[1]
if which == "keras":
    import keras; ops = keras.ops
else:
    import corenn; ops = corenn.keras.ops
def flat(r):
    if isinstance(r, (list, tuple)):
        return [a for x in r for a in flat(x)]
    return [np.asarray(keras.ops.convert_to_numpy(r) if which == "keras" else r)]
out, errs = {}, {}
for name, (op, args, kw) in CASES.items():
    try:
        fn = ops
        for part in op.split("."): fn = getattr(fn, part)
        r = fn(*args, **kw)
        for k, a in enumerate(flat(r)):
            out[f"{name}__{k}"] = a
    except Exception as e:
        errs[name] = f"{type(e).__name__}: {str(e)[:150]}"
if which == "keras":
    np.savez("/tmp/corenn_side_by_side/keras.npz", **out); print("keras errors:", errs)
else:
    ref = np.load("/tmp/corenn_side_by_side/keras.npz")
    print("corenn errors:", {k: v for k, v in errs.items()})
    for key in sorted(set(k.split("__")[0] for k in ref.files)):
        ks = [k for k in ref.files if k.split("__")[0] == key]
        for k in ks:
            if k not in out:
                print("MISSING", k); continue
            a, b = out[k], ref[k]
            if a.shape != b.shape:
                print("SHAPE", k, a.shape, b.shape); continue
            if b.dtype.kind in "fc":
                bad = not np.allclose(a.astype(np.float64), b.astype(np.float64), rtol=1e-4, atol=1e-5, equal_nan=True)
            else:
                bad = not np.array_equal(a, b)
            if bad:
                print("DIFF", k, np.abs(a.astype(np.float64) - b.astype(np.float64)).max() if a.size else "", a.ravel()[:4], b.ravel()[:4])
            if a.dtype != b.dtype and not (a.dtype.kind == b.dtype.kind):
                print("DTYPE", k, a.dtype, b.dtype)
