"""utils.pad_sequences (= keras.preprocessing.sequence.pad_sequences) against a list-based
reference of Keras' rules, plus its errors."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import corenn
from corenn import keras


def reference(seqs, maxlen, padding, truncating, value):
    """Keras' rule, one Python list per row: truncate, then pad."""
    maxlen = max((len(s) for s in seqs), default=0) if maxlen is None else maxlen
    rows = []
    for s in seqs:
        s = list(s)
        if len(s) > maxlen:
            s = s[len(s) - maxlen:] if truncating == "pre" else s[:maxlen]
        pad = [value] * (maxlen - len(s))
        rows.append(pad + s if padding == "pre" else s + pad)
    return rows


@settings(max_examples=200, deadline=None)
@given(seqs=st.lists(st.lists(st.integers(-50, 50), max_size=7), max_size=6),
       maxlen=st.one_of(st.none(), st.integers(0, 9)),
       padding=st.sampled_from(["pre", "post"]), truncating=st.sampled_from(["pre", "post"]),
       value=st.integers(-3, 3))
def test_matches_the_reference(seqs, maxlen, padding, truncating, value):
    got = corenn.utils.pad_sequences(seqs, maxlen=maxlen, padding=padding, truncating=truncating,
                                     value=value)
    want = reference(seqs, maxlen, padding, truncating, value)
    assert got.dtype == np.int32
    assert got.shape == (len(seqs), max((len(s) for s in seqs), default=0) if maxlen is None else maxlen)
    assert got.tolist() == want


def test_the_keras_spellings_are_the_same_function():
    assert keras.preprocessing.sequence.pad_sequences is corenn.utils.pad_sequences
    assert keras.utils.pad_sequences is corenn.utils.pad_sequences
    from corenn.keras.preprocessing.sequence import pad_sequences
    assert pad_sequences is corenn.utils.pad_sequences


def test_steps_with_a_shape_and_float_dtype():
    seqs = [np.ones((2, 3)), np.full((4, 3), 2.0)]
    out = corenn.utils.pad_sequences(seqs, maxlen=3, dtype="float32", padding="post", value=-1.0)
    assert out.shape == (2, 3, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out[0, :2], 1.0)
    np.testing.assert_array_equal(out[0, 2], -1.0)
    np.testing.assert_array_equal(out[1], 2.0)   # 'pre' truncation kept the last 3 of 4 steps


def test_feeds_an_embedding_model():
    seqs = [[3, 1, 4], [1, 5], [9, 2, 6, 5, 3]]
    x = keras.preprocessing.sequence.pad_sequences(seqs, maxlen=4)
    model = keras.Sequential([keras.Input((4,), dtype="int32"), keras.layers.Embedding(10, 3),
                              keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1)])
    assert model.predict(x, verbose=0).shape == (3, 1)


@pytest.mark.parametrize("kwargs, match", [
    (dict(padding="middle"), "padding"), (dict(truncating="both"), "truncating"),
    (dict(maxlen=-1), "maxlen"), (dict(maxlen=2.5), "maxlen"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        corenn.utils.pad_sequences([[1, 2, 3]], **kwargs)


def test_bad_sequences():
    with pytest.raises(ValueError, match="list of iterables"):
        corenn.utils.pad_sequences([[1, 2], 3])
    with pytest.raises(ValueError, match="steps of sequence 1"):
        corenn.utils.pad_sequences([np.ones((2, 3)), np.ones((2, 4))], dtype="float32")
