"""Side-by-side check of corenn against Keras 3 / TensorFlow (tools/side_by_side/README.md).
Run ``python keras_optimizers.py keras`` (or ``tf``) in an environment with the oracle, then ``python keras_optimizers.py
corenn`` with corenn: the second run prints what differs. Not a test: the oracle is not a
dependency; what it found became unit tests against NumPy references."""
import os
os.makedirs("/tmp/corenn_side_by_side", exist_ok=True)
import sys, numpy as np
which = sys.argv[1]
if which == "keras":
    import keras
else:
    import corenn as keras
    from corenn import keras as _k
    keras = _k
rng = np.random.default_rng(5)
W0 = rng.normal(size=(4, 3)).astype(np.float32)
G = [rng.normal(size=(4, 3)).astype(np.float32) for _ in range(6)]
OPTS = {
 "sgd_mom_nest": ("SGD", dict(learning_rate=0.1, momentum=0.9, nesterov=True)),
 "sgd_wd": ("SGD", dict(learning_rate=0.1, weight_decay=0.01)),
 "adam_ams": ("Adam", dict(learning_rate=0.01, amsgrad=True)),
 "adam_clipnorm": ("Adam", dict(learning_rate=0.01, clipnorm=0.5)),
 "adam_gclip": ("Adam", dict(learning_rate=0.01, global_clipnorm=0.5)),
 "adam_clipvalue": ("Adam", dict(learning_rate=0.01, clipvalue=0.1)),
 "adamw": ("AdamW", dict(learning_rate=0.01, weight_decay=0.1)),
 "rms_centered": ("RMSprop", dict(learning_rate=0.01, centered=True, momentum=0.5)),
 "adagrad": ("Adagrad", dict(learning_rate=0.1)),
 "adadelta": ("Adadelta", dict(learning_rate=1.0)),
 "adamax": ("Adamax", dict(learning_rate=0.01)),
 "nadam": ("Nadam", dict(learning_rate=0.01)),
 "ftrl": ("Ftrl", dict(learning_rate=0.1, l1_regularization_strength=0.01, l2_regularization_strength=0.01)),
 "lion": ("Lion", dict(learning_rate=0.01)),
 "adafactor": ("Adafactor", dict(learning_rate=0.01)),
 "lamb": ("Lamb", dict(learning_rate=0.01)),
 "muon": ("Muon", dict(learning_rate=0.01)),
 "adam_ema": ("Adam", dict(learning_rate=0.01, use_ema=True, ema_momentum=0.5, ema_overwrite_frequency=3)),
 "adam_accum": ("Adam", dict(learning_rate=0.01, gradient_accumulation_steps=2)),
 "adam_sched": ("Adam", dict(learning_rate=None)),
 "sgd_loss_scale": ("LossScaleOptimizer", None),
}
out = {}
for name, (cls, kw) in OPTS.items():
    try:
        if name == "adam_sched":
            kw = dict(learning_rate=keras.optimizers.schedules.ExponentialDecay(0.01, decay_steps=2, decay_rate=0.5, staircase=True))
        if cls == "LossScaleOptimizer":
            opt = keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.1), initial_scale=4.0)
        else:
            opt = getattr(keras.optimizers, cls)(**kw)
        v = keras.Variable(W0.copy())
        for g in G:
            opt.apply_gradients([(keras.ops.convert_to_tensor(g * (4.0 if cls == "LossScaleOptimizer" else 1.0)), v)])
        if name == "adam_ema":
            opt.finalize_variable_values([v])
        out[name] = np.asarray(keras.ops.convert_to_numpy(v) if which == "keras" else v)
    except Exception as e:
        print(which, "fail", name, type(e).__name__, str(e)[:150])
if which == "keras":
    np.savez("/tmp/corenn_side_by_side/keras.npz", **out)
else:
    ref = np.load("/tmp/corenn_side_by_side/keras.npz")
    for k in ref.files:
        if k in out:
            d = np.abs(out[k] - ref[k]).max()
            print("OK " if d < 1e-5 else "DIFF", k, d)
