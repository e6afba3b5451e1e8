"""Sweep 22 (the CTC ASR example): Reshape((-1, F, 1)) of an input of unknown length has None in
its symbolic shape (Keras 3), so a Conv2D can follow; an inverse StringLookup / IntegerLookup
maps indices outside the vocabulary (ctc_decode's -1 padding) to the OOV token, as Keras does."""
import numpy as np

from corenn import keras
from corenn.keras import layers


def test_reshape_minus_one_of_unknown_length_is_none_and_conv_follows():
    inp = layers.Input((None, 12))
    x = layers.Reshape((-1, 12, 1))(inp)
    assert tuple(x.shape) == (None, None, 12, 1)
    y = layers.Conv2D(2, (3, 3), strides=(2, 2), padding="same")(x)
    assert tuple(y.shape) == (None, None, 6, 2)
    out = keras.Model(inp, y).predict(np.ones((2, 7, 12), "float32"), verbose=0)
    assert out.shape == (2, 4, 6, 2)
    # a known size still resolves the -1
    assert tuple(layers.Reshape((-1, 3))(layers.Input((4, 6))).shape) == (None, 8, 3)


def test_inverse_lookup_out_of_range_gives_oov_token():
    inv = layers.StringLookup(vocabulary=list("abc"), oov_token="", invert=True)
    assert list(np.asarray(inv(np.array([-1, 0, 1, 3, 99])))) == ["", "", "a", "c", ""]
    inv = layers.StringLookup(vocabulary=list("abc"), invert=True)
    assert list(np.asarray(inv(np.array([-1, 1, 4])))) == ["[UNK]", "a", "[UNK]"]
    inv = layers.IntegerLookup(vocabulary=[7, 8], invert=True)
    assert list(np.asarray(inv(np.array([-1, 1, 2, 5])))) == [-1, 7, 8, -1]
