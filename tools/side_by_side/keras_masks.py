"""Side-by-side check of corenn against Keras 3 / TensorFlow (tools/side_by_side/README.md).
Run ``python keras_masks.py keras`` (or ``tf``) in an environment with the oracle, then ``python keras_masks.py
corenn`` with corenn: the second run prints what differs. Not a test: the oracle is not a
dependency; what it found became unit tests against NumPy references."""
import os
os.makedirs("/tmp/corenn_side_by_side", exist_ok=True)
import sys, os, numpy as np, pickle
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
which = sys.argv[1]
if which == "keras":
    os.environ["KERAS_BACKEND"] = "torch"
    import keras
else:
    from corenn import keras
L = keras.layers
tok = np.array([[3, 5, 0, 0], [2, 0, 0, 0], [1, 4, 6, 7]])
out = {}
def build(name, body):
    inp = keras.Input((4,), dtype="int32")
    e = L.Embedding(9, 6, mask_zero=True)(inp)
    y = body(e, inp)
    m = keras.Model(inp, y)
    f = f"/tmp/corenn_side_by_side/w_{name}.npz"
    if which == "keras":
        np.savez(f, *m.get_weights())
    else:
        d = np.load(f); m.set_weights([d[f"arr_{i}"] for i in range(len(d.files))])
    r = m(tok)
    out[name] = np.asarray(keras.ops.convert_to_numpy(r) if which == "keras" else r)
    mk = getattr(r, "_keras_mask", None)
    out[name + "_mask"] = np.array([-1]) if mk is None else (np.asarray(keras.ops.convert_to_numpy(mk) if which == "keras" else mk) != 0).astype(np.int8)
C = {
 "lstm_seq": lambda e, i: L.LSTM(3, return_sequences=True)(e),
 "lstm_last": lambda e, i: L.LSTM(3)(e),
 "gru_back": lambda e, i: L.GRU(3, go_backwards=True)(e),
 "bidir": lambda e, i: L.Bidirectional(L.LSTM(2, return_sequences=True))(e),
 "bidir_sum": lambda e, i: L.Bidirectional(L.GRU(2), merge_mode="sum")(e),
 "gap": lambda e, i: L.GlobalAveragePooling1D()(e),
 "gmp": lambda e, i: L.GlobalMaxPooling1D()(e),
 "mha": lambda e, i: L.MultiHeadAttention(2, 3)(e, e),
 "mha_causal": lambda e, i: L.MultiHeadAttention(2, 3)(e, e, use_causal_mask=True),
 "attn": lambda e, i: L.Attention()([e, e]),
 "dense_td": lambda e, i: L.TimeDistributed(L.Dense(2))(e),
 "dense": lambda e, i: L.Dense(2)(e),
 "conv1d": lambda e, i: L.Conv1D(2, 2, padding="same")(e),
 "add_masks": lambda e, i: L.Add()([e, L.Dense(6)(e)]),
 "concat_masks": lambda e, i: L.Concatenate(axis=-1)([e, e]),
 "ln": lambda e, i: L.LayerNormalization()(e),
 "dropout_act": lambda e, i: L.Activation("tanh")(L.Dropout(0.5)(e)),
 "simple_rnn_zero": lambda e, i: L.SimpleRNN(3, return_sequences=True, zero_output_for_mask=True)(e) if True else None,
 "masking_layer": lambda e, i: L.LSTM(2)(L.Masking(mask_value=0.0)(L.Dense(3)(e))),
}
for n, b in C.items():
    try:
        build(n, b)
    except Exception as ex:
        print(which, "fail", n, type(ex).__name__, str(ex)[:150])
if which == "keras":
    pickle.dump(out, open("/tmp/corenn_side_by_side/ref.pkl", "wb"))
else:
    ref = pickle.load(open("/tmp/corenn_side_by_side/ref.pkl", "rb"))
    for k, b in ref.items():
        if k not in out: print("MISSING", k); continue
        a = out[k]
        if a.shape != b.shape or not np.allclose(a, b, rtol=1e-4, atol=1e-5):
            print("DIFF", k, a.shape, b.shape, np.ravel(a)[:8], np.ravel(b)[:8])
