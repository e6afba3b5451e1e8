"""String tensors hold any bytes (TensorFlow's tf.string), not only UTF-8: the unicode
tutorial's UTF-16 constants and byte slices through a character, plus the small API pieces that
tutorial uses (length / unicode_split results with numpy(), ICU encoding spellings,
RaggedTensor.to_sparse / from_sparse, unicode_script of a ragged batch)."""
import numpy as np
import pytest

import corenn as tf


def test_non_utf8_bytes_round_trip_exactly():
    raw = "语言处理".encode("UTF-16-BE")
    t = tf.constant(raw)
    assert t.numpy() == raw
    v = tf.constant([raw, b"\xff\xfe", "ok"])
    assert list(v.numpy()) == [raw, b"\xff\xfe", b"ok"]
    assert int(tf.strings.length(v[1]).numpy()) == 2
    np.testing.assert_array_equal(tf.strings.length(v).numpy(), [8, 2, 2])
    # decoding the held bytes in their own encoding gives the characters back
    np.testing.assert_array_equal(tf.strings.unicode_decode(t, "UTF-16-BE").numpy(),
                                  [ord(c) for c in "语言处理"])


def test_substr_bytes_cuts_through_a_character():
    thanks = "Thanks 😊".encode("UTF-8")
    assert tf.strings.substr(thanks, pos=7, len=1).numpy() == b"\xf0"
    assert tf.strings.substr(thanks, pos=7, len=2).numpy() == b"\xf0\x9f"
    assert tf.strings.substr(thanks, pos=7, len=1, unit="UTF8_CHAR").numpy() == "😊".encode()
    assert (int(tf.strings.length(thanks).numpy()), int(tf.strings.length(thanks, unit="UTF8_CHAR").numpy())) \
        == (11, 8)


def test_encode_and_transcode_to_utf16_are_string_tensors():
    enc = tf.strings.unicode_encode([104, 233], "UTF-16-BE")
    assert enc.numpy() == "hé".encode("utf-16-be")
    tr = tf.strings.unicode_transcode(tf.constant("语言"), input_encoding="UTF8", output_encoding="UTF-16-BE")
    assert tr.numpy() == "语言".encode("utf-16-be")
    back = tf.strings.unicode_transcode(tr, input_encoding="UTF-16-BE", output_encoding="UTF-8")
    assert back.numpy() == "语言".encode("utf-8")
    # ICU's spellings; little-endian input decodes, encode stays with TensorFlow's three
    np.testing.assert_array_equal(tf.strings.unicode_decode("hé".encode("utf-16-le"), "utf16le").numpy(), [104, 233])
    with pytest.raises(ValueError, match="encoding must be one of"):
        tf.strings.unicode_encode([104], "UTF-16-LE")
    with pytest.raises(ValueError, match="encoding must be one of"):
        tf.strings.unicode_decode(b"x", "EBCDIC")


def test_unicode_split_and_bytes_split_of_one_string():
    s = "hé😊".encode()
    assert list(tf.strings.unicode_split(s, "UTF-8").numpy()) == [b"h", "é".encode(), "😊".encode()]
    assert list(tf.strings.bytes_split(s).numpy()) == [bytes([b]) for b in s]
    rows = tf.strings.bytes_split(["ab", "é"])
    assert rows.to_list() == [[b"a", b"b"], [b"\xc3", b"\xa9"]]


def test_ragged_to_sparse_and_back():
    r = tf.strings.unicode_decode(["hé", "", "abc"], "UTF-8")
    sp = r.to_sparse()
    np.testing.assert_array_equal(sp.dense_shape.numpy(), [3, 3])
    np.testing.assert_array_equal(sp.indices.numpy(), [[0, 0], [0, 1], [2, 0], [2, 1], [2, 2]])
    np.testing.assert_array_equal(sp.values.numpy(), [104, 233, 97, 98, 99])
    assert tf.RaggedTensor.from_sparse(sp).to_list() == [[104, 233], [], [97, 98, 99]]
    words = tf.strings.split(["a bc", "d"])
    assert tf.RaggedTensor.from_sparse(words.to_sparse()).to_list() == [[b"a", b"bc"], [b"d"]]
    gap = tf.SparseTensor(indices=[[0, 1]], values=[5], dense_shape=[1, 2])
    with pytest.raises(ValueError, match="without gaps"):
        tf.RaggedTensor.from_sparse(gap)


def test_unicode_script_of_a_ragged_batch():
    r = tf.strings.unicode_decode(["Бa", "芸 1"], "UTF-8")
    assert tf.strings.unicode_script(r).to_list() == [[8, 25], [17, 0, 0]]


def test_printing_a_non_utf8_string_shows_its_bytes():
    t = tf.constant("语".encode("UTF-16-BE"))
    assert str(t) == repr("语".encode("UTF-16-BE"))
    assert str(tf.constant("é ok")) == "é ok"
    assert tf.strings.join([tf.constant("a"), tf.constant(b"\xff")], "-").numpy() == b"a-\xff"
