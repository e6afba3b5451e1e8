"""Side-by-side check of corenn against Keras 3 / TensorFlow (tools/side_by_side/README.md).
Run ``python keras_preprocessing.py keras`` (or ``tf``) in an environment with the oracle, then ``python keras_preprocessing.py
corenn`` with corenn: the second run prints what differs. Not a test: the oracle is not a
dependency; what it found became unit tests against NumPy references."""
import os
os.makedirs("/tmp/corenn_side_by_side", exist_ok=True)
import sys, os, numpy as np, pickle
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
which = sys.argv[1]
if which == "keras":
    import keras
    layers = keras.layers
else:
    from corenn import keras
    layers = keras.layers
texts = np.array(["The cat sat on the mat.", "the dog, the CAT!", "a bird", "cat cat dog"])
ints = np.array([[1, 5, 7], [5, 5, 2], [9, 1, 0]])
out = {}
def rec(name, f):
    try:
        r = f()
        out[name] = np.asarray(r.numpy() if hasattr(r, "numpy") else r)
    except Exception as e:
        print(which, "fail", name, type(e).__name__, str(e)[:150])
def tv(**kw):
    l = layers.TextVectorization(**kw); l.adapt(texts); return l
rec("tv_int", lambda: tv()(texts))
rec("tv_vocab", lambda: np.array(tv().get_vocabulary()))
rec("tv_maxtokens_seq", lambda: tv(max_tokens=5, output_sequence_length=6)(texts))
rec("tv_multi_hot", lambda: tv(output_mode="multi_hot", max_tokens=6)(texts))
rec("tv_count", lambda: tv(output_mode="count")(texts))
rec("tv_tfidf", lambda: tv(output_mode="tf_idf", max_tokens=7)(texts))
rec("tv_bigrams", lambda: tv(ngrams=2, max_tokens=10)(texts))
rec("tv_vocab_bigrams", lambda: np.array(tv(ngrams=2, max_tokens=10).get_vocabulary()))
rec("tv_nostd", lambda: tv(standardize=None, split="whitespace")(texts))
rec("tv_char", lambda: tv(split="character", output_sequence_length=8)(texts))
rec("tv_pad_left", lambda: tv(output_sequence_length=3, pad_to_max_tokens=False)(texts))
def sl(**kw):
    l = layers.StringLookup(**kw); l.adapt(np.array(["a", "b", "b", "c", "c", "c"])); return l
rec("sl_basic", lambda: sl()(np.array(["c", "a", "z"])))
rec("sl_vocab", lambda: np.array(sl().get_vocabulary()))
rec("sl_oov2_mask", lambda: sl(num_oov_indices=2, mask_token="")(np.array(["c", "", "z", "q"])))
rec("sl_onehot", lambda: sl(output_mode="one_hot")(np.array(["c", "a", "z"])))
rec("sl_invert", lambda: layers.StringLookup(vocabulary=["a", "b", "c"], invert=True)(np.array([1, 3, 0])))
rec("sl_maxtokens", lambda: np.array(sl(max_tokens=3).get_vocabulary()))
def il(**kw):
    l = layers.IntegerLookup(**kw); l.adapt(np.array([7, 7, 3, 3, 3, 9])); return l
rec("il_basic", lambda: il()(np.array([3, 9, 5])))
rec("il_vocab", lambda: np.array(il().get_vocabulary()))
rec("il_multihot", lambda: il(output_mode="multi_hot")(np.array([[3, 9], [5, 3]])))
rec("hash", lambda: layers.Hashing(num_bins=7)(np.array(["a", "b", "hello"])))
rec("hash_salt", lambda: layers.Hashing(num_bins=7, salt=13)(np.array(["a", "b", "hello"])))
rec("hash_int", lambda: layers.Hashing(num_bins=5)(ints))
rec("hash_mask", lambda: layers.Hashing(num_bins=5, mask_value="")(np.array(["", "x"])))
rec("cat_enc_count", lambda: layers.CategoryEncoding(num_tokens=10, output_mode="count")(ints))
rec("cat_enc_onehot", lambda: layers.CategoryEncoding(num_tokens=10, output_mode="one_hot")(np.array([1, 5, 9])))
rec("cat_enc_weights", lambda: layers.CategoryEncoding(num_tokens=10, output_mode="count")(ints, count_weights=np.ones((3, 3), "float32") * 0.5))
def disc(**kw):
    l = layers.Discretization(**kw); l.adapt(np.array([0.1, 0.5, 0.9, 1.5, 2.0, 3.0, 7.0])); return l
rec("disc_bins", lambda: disc(num_bins=3)(np.array([0.0, 0.95, 2.5, 9.0])))
rec("disc_bounds", lambda: np.array(disc(num_bins=4).bin_boundaries))
rec("disc_onehot", lambda: layers.Discretization(bin_boundaries=[0.0, 1.0], output_mode="one_hot")(np.array([-1.0, 0.5, 3.0])))
def norm(**kw):
    l = layers.Normalization(**kw); l.adapt(np.array([[1.0, 10.0], [2.0, 20.0], [4.0, 50.0]], "float32")); return l
rec("norm_basic", lambda: norm()(np.array([[1.0, 10.0]], "float32")))
rec("norm_invert", lambda: norm(invert=True)(np.array([[0.5, -0.5]], "float32")))
rec("norm_axis_none", lambda: norm(axis=None)(np.array([[1.0, 10.0]], "float32")))
rec("norm_given", lambda: layers.Normalization(mean=2.0, variance=4.0)(np.array([[1.0, 10.0]], "float32")))
rec("hashed_cross", lambda: layers.HashedCrossing(num_bins=10)((np.array(["a", "b"]), np.array([1, 2]))))
rec("hashed_cross_onehot", lambda: layers.HashedCrossing(num_bins=4, output_mode="one_hot")((np.array(["a", "b"]), np.array(["x", "y"]))))
if which == "keras":
    pickle.dump(out, open("/tmp/corenn_side_by_side/ref.pkl", "wb"))
else:
    ref = pickle.load(open("/tmp/corenn_side_by_side/ref.pkl", "rb"))
    for k, b in ref.items():
        if k not in out: print("MISSING", k); continue
        a = out[k]
        if a.dtype.kind in "OSU" or b.dtype.kind in "OSU":
            ok = [str(x) for x in np.ravel(a).tolist()] == [str(x.decode() if isinstance(x, bytes) else x) for x in np.ravel(b).tolist()] and a.shape == b.shape
        else:
            ok = a.shape == b.shape and np.allclose(a.astype(float), b.astype(float), rtol=1e-5, atol=1e-6)
        if not ok:
            print("DIFF", k, a.shape, b.shape, np.ravel(a)[:10].tolist(), "|", np.ravel(b)[:10].tolist())
