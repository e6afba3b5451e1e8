"""Elementwise ops, casts, row reductions, concatenation and two ragged levels on RaggedTensors
(the unicode guide's word segmentation), checked against the same computation on Python lists."""
import numpy as np
import pytest

import corenn as tf

ROWS = [[3, 1, 4, 1], [], [5, 9], [2]]


def _r(rows=ROWS):
    return tf.ragged.constant(rows)


def test_binary_ops_row_by_row():
    r = _r()
    assert tf.not_equal(r[:, 1:], r[:, :-1]).to_list() == [[a != b for a, b in zip(x[1:], x[:-1])] for x in ROWS]
    assert tf.add(r, r).to_list() == [[2 * v for v in x] for x in ROWS]
    assert tf.greater(r, 2).to_list() == [[v > 2 for v in x] for x in ROWS]
    assert tf.multiply(10, r).to_list() == [[10 * v for v in x] for x in ROWS]
    with pytest.raises(ValueError, match="differ in length"):
        tf.equal(r, _r([[1], [], [2], [3]]))
    with pytest.raises(ValueError, match="scalar"):
        tf.add(r, np.ones(3))


def test_cast_reduce_and_concat():
    r = _r()
    assert tf.reduce_sum(r, axis=1).numpy().tolist() == [sum(x) for x in ROWS]
    assert tf.reduce_max(_r([[1, 7], [3]]), axis=-1).numpy().tolist() == [7, 3]
    assert int(tf.reduce_sum(r)) == sum(map(sum, ROWS))
    assert tf.reduce_sum(r, axis=1, keepdims=True).numpy().shape == (4, 1)
    with pytest.raises(ValueError, match="empty row"):
        tf.reduce_max(r, axis=1)
    b = tf.cast(tf.greater(r, 2), tf.int64)
    assert b.to_list() == [[int(v > 2) for v in x] for x in ROWS]
    assert np.asarray(b[0]).dtype == np.int64
    joined = tf.concat([np.zeros((4, 1), "int32"), r], axis=1)
    assert joined.to_list() == [[0] + x for x in ROWS]
    assert tf.concat([r, r], axis=0).to_list() == ROWS + ROWS
    with pytest.raises(ValueError, match="same number of rows"):
        tf.concat([np.zeros((3, 1)), r], axis=1)


def test_two_ragged_levels_and_encoding_them():
    words = tf.RaggedTensor.from_row_starts(values=[104, 105, 32, 121, 111], row_starts=[0, 2, 3])
    sentences = tf.RaggedTensor.from_row_lengths(values=words, row_lengths=[2, 1])
    assert sentences.to_list() == [[[104, 105], [32]], [[121, 111]]]
    assert tf.strings.unicode_encode(sentences, "UTF-8").to_list() == [[b"hi", b" "], [b"yo"]]
    with pytest.raises(ValueError, match="row_splits must rise"):
        tf.RaggedTensor.from_row_lengths(values=words, row_lengths=[2, 2])
