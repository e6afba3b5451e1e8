"""tf.strings additions: to_hash_bucket_strong (SipHash-2-4) and Hashing(salt=...), format,
ngrams, the unicode family and unsorted_segment_join.

SipHash is checked against the reference vector of its paper; buckets and Hashing bins against
values read from TensorFlow 2.21 / Keras 3; the text functions against plain-Python
definitions.
"""
import numpy as np
import pytest

import corenn as tf
from corenn._strings_more import siphash24

S = tf.strings


def _ragged(rows):
    out = np.empty(len(rows), object)
    for i, r in enumerate(rows):
        out[i] = r
    return out


def test_siphash_reference_vector_and_tensorflow_buckets():
    # Aumasson & Bernstein, SipHash paper, appendix A: key 00..0f, message 00..0e
    assert siphash24(0x0706050403020100, 0x0F0E0D0C0B0A0908, bytes(range(15))) == 0xA129CA6149BE45E5
    got = S.to_hash_bucket_strong(["", "a", "hello world", "Привет"], 1000000007, [1, 2])
    np.testing.assert_array_equal(got, [436933189, 142192448, 503275796, 393341489])
    np.testing.assert_array_equal(S.to_hash_bucket_strong(["abc"], 10, [0xFFFFFFFFFFFF, 2 ** 62 + 5]), [3])
    with pytest.raises(ValueError, match="key"):
        S.to_hash_bucket_strong(["a"], 10, [1])


def test_hashing_layer_salt_matches_keras():
    np.testing.assert_array_equal(np.asarray(tf.keras.layers.Hashing(num_bins=10, salt=133)(
        np.array(["a", "b", "hello"], object))), [7, 4, 0])
    np.testing.assert_array_equal(np.asarray(tf.keras.layers.Hashing(num_bins=10, salt=[1, 2], mask_value="")(
        np.array(["a", "", "hello"], object))), [9, 0, 8])
    np.testing.assert_array_equal(np.asarray(tf.keras.layers.Hashing(num_bins=100, salt=7)(np.array([[1], [25]]))),
                                  [[59], [43]])
    layer = tf.keras.layers.Hashing(num_bins=10, salt=133)
    assert layer.get_config()["salt"] == [133, 133]
    assert tf.keras.layers.Hashing.from_config(layer.get_config()).salt == [133, 133]
    with pytest.raises(ValueError, match="salt"):
        tf.keras.layers.Hashing(num_bins=10, salt="x")


def test_format_prints_tensors_as_tensorflow():
    assert S.format("x={} y={}", [tf.constant([1, 2, 3]), "hi"]) == 'x=[1 2 3] y="hi"'
    assert S.format("{}", tf.constant(np.arange(10))) == "[0 1 2 ... 7 8 9]"
    assert S.format("{}", tf.constant(np.arange(10)), summarize=2) == "[0 1 ... 8 9]"
    assert S.format("{}", tf.constant([[1.5, 2], [3, 4]])) == "[[1.5 2]\n [3 4]]"
    assert S.format("{}", tf.constant(np.arange(8).reshape(2, 2, 2))) == "[[[0 1]\n  [2 3]]\n\n [[4 5]\n  [6 7]]]"
    assert S.format("{}", tf.constant(np.arange(40).reshape(8, 5)), summarize=2) == \
        "[[0 1 ... 3 4]\n [5 6 ... 8 9]\n ...\n [30 31 ... 33 34]\n [35 36 ... 38 39]]"
    assert S.format("{} {}", [tf.constant([1e-7, 123456789.0, -0.5]), tf.constant(7)]) == "[1e-07 123456792 -0.5] 7"
    assert S.format("<>", [1], placeholder="<>") == "1"
    with pytest.raises(ValueError, match="placeholders"):
        S.format("{} {}", [1])


def _ngrams(tokens, n, sep=" "):
    return [sep.join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def test_ngrams():
    rows = [["a", "b", "c", "d"], ["e", "f"]]
    assert S.ngrams(_ragged(rows), 2).to_list() == [[s.encode() for s in _ngrams(r, 2)] for r in rows]
    dense = S.ngrams(tf.constant([["a", "b", "c"], ["d", "e", "f"]]), (1, 2), separator="_")
    assert np.asarray(dense).tolist() == [["a", "b", "c", "a_b", "b_c"], ["d", "e", "f", "d_e", "e_f"]]
    short = _ragged([["a", "b"], ["c"]])
    assert S.ngrams(short, 3, pad_values=("<s>", "</s>"), padding_width=1).to_list() == \
        [[b"<s> a b", b"a b </s>"], [b"<s> c </s>"]]
    assert S.ngrams(short, 3, preserve_short_sequences=True).to_list() == [[b"a b"], [b"c"]]
    assert S.ngrams(short, 2, pad_values="#").to_list() == [[b"# a", b"a b", b"b #"], [b"# c", b"c #"]]


def test_unicode_family():
    words = ["héllo", "€"]
    assert S.unicode_decode(words, "UTF-8").to_list() == [[ord(c) for c in w] for w in words]
    np.testing.assert_array_equal(np.asarray(S.unicode_decode("ab", "UTF-8")), [97, 98])
    cps, offs = S.unicode_decode_with_offsets(["héllo"], "UTF-8")
    assert offs.to_list() == [[0, 1, 3, 4, 5]]
    chars, offs = S.unicode_split_with_offsets(["hé€"], "UTF-8")
    assert chars.to_list() == [[b"h", "é".encode(), "€".encode()]] and offs.to_list() == [[0, 1, 3]]
    assert list(S.unicode_encode(_ragged([[104, 233], [8364]]), "UTF-8")) == ["hé", "€"]
    assert S.unicode_encode([104, 233], "UTF-16-BE").numpy() == "hé".encode("utf-16-be")
    assert list(S.unicode_transcode(["héllo"], "UTF-8", "UTF-16-BE").numpy()) == ["héllo".encode("utf-16-be")]
    assert S.unicode_transcode("héllo", "UTF-8", "UTF-8") == "héllo"
    # malformed UTF-8: one replacement per bad byte, or skipped
    np.testing.assert_array_equal(np.asarray(S.unicode_decode(b"\xffab", "UTF-8")), [65533, 97, 98])
    np.testing.assert_array_equal(np.asarray(S.unicode_decode(b"\xffab", "UTF-8", errors="ignore")), [97, 98])
    with pytest.raises(ValueError):
        S.unicode_decode(b"\xffab", "UTF-8", errors="strict")
    # ICU script codes (values read from TensorFlow)
    np.testing.assert_array_equal(np.asarray(S.unicode_script([ord(c) for c in "aЖα中ア한1 ,ب"])),
                                  [25, 8, 14, 17, 22, 18, 0, 0, 0, 2])
    np.testing.assert_array_equal(np.asarray(S.unicode_script([0x0301, 0x10FFFF, 0x0E01, 0x0905, 0x05D0, 0x3042])),
                                  [1, 103, 38, 10, 19, 20])
    np.testing.assert_array_equal(np.asarray(S.unicode_script([ord(c) for c in "éÀ—€。、ー々"])),
                                  [25, 25, 0, 0, 0, 0, 0, 17])


def test_unsorted_segment_join():
    assert list(S.unsorted_segment_join(["a", "b", "c", "d"], [1, 0, 1, 3], 4, separator="-")) == \
        ["b", "a-c", "", "d"]
    out = S.unsorted_segment_join([["a", "b"], ["c", "d"]], [0, 0], 1)
    assert np.asarray(out).tolist() == [["ac", "bd"]]
    with pytest.raises(ValueError, match="segment"):
        S.unsorted_segment_join(["a"], [2], 2)
