"""tf.lookup tables, tf.sets and tf.bitwise: dict / Python-set / NumPy references; the
StaticVocabularyTable's out-of-vocabulary buckets are FarmHash Fingerprint64 (values compared
with TensorFlow 2.21)."""
import numpy as np
import pytest

import corenn as tf
from corenn.layers._farmhash import fingerprint64


def test_static_tables(tmp_path):
    init = tf.lookup.KeyValueTensorInitializer(tf.constant(["a", "b", "c"]), tf.constant([7, 8, 9], tf.int64))
    t = tf.lookup.StaticHashTable(init, default_value=-1)
    np.testing.assert_array_equal(np.asarray(t.lookup(tf.constant(["a", "z", "c"]))), [7, -1, 9])
    assert int(np.asarray(t.size())) == 3
    np.testing.assert_array_equal(np.asarray(t.lookup(np.array([["b"], ["q"]], object))), [[8], [-1]])
    v = tf.lookup.StaticVocabularyTable(init, num_oov_buckets=5)
    want = [7, 3 + fingerprint64(b"zz") % 5, 3 + fingerprint64(b"hello") % 5, 9]
    np.testing.assert_array_equal(np.asarray(v.lookup(tf.constant(["a", "zz", "hello", "c"]))), want)
    np.testing.assert_array_equal(np.asarray(v.lookup(tf.constant(["a", "zz", "hello", "c"]))), [7, 5, 4, 9])  # TF's
    assert int(np.asarray(v.size())) == 8
    ints = tf.lookup.StaticVocabularyTable(tf.lookup.KeyValueTensorInitializer(
        tf.constant([10, 20], tf.int64), tf.constant([0, 1], tf.int64)), 3)
    np.testing.assert_array_equal(np.asarray(ints.lookup(tf.constant([10, 33, 44], tf.int64))), [0, 4, 3])
    p = tmp_path / "v.txt"
    p.write_text("x\ny\nz\n")
    tt = tf.lookup.StaticHashTable(tf.lookup.TextFileInitializer(
        str(p), tf.string, tf.lookup.TextFileIndex.WHOLE_LINE, tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER), -1)
    np.testing.assert_array_equal(np.asarray(tt.lookup(tf.constant(["z", "q", "x"]))), [2, -1, 0])
    m = tf.lookup.experimental.MutableHashTable(tf.string, tf.int64, -1)
    m.insert(tf.constant(["k", "j"]), tf.constant([5, 6], tf.int64))
    m.remove(tf.constant(["j"]))
    np.testing.assert_array_equal(np.asarray(m.lookup(tf.constant(["k", "j"]))), [5, -1])
    with pytest.raises(ValueError):
        tf.lookup.KeyValueTensorInitializer(["a"], [1, 2])


def test_sets():
    a = np.array([[1, 2, 3], [4, 5, 6]])
    b = np.array([[3, 1, 9], [7, 8, 4]])
    for op, fn in ((tf.sets.intersection, set.intersection), (tf.sets.union, set.union),
                   (tf.sets.difference, lambda x, y: x - y)):
        s = op(a, b)
        rows = [sorted(fn(set(a[i]), set(b[i]))) for i in range(2)]
        got = [[int(v) for (r, _), v in zip(np.asarray(s.indices).tolist(), np.asarray(s.values)) if r == i]
               for i in range(2)]
        assert got == rows
        assert s.shape == (2, max(len(r) for r in rows))
    np.testing.assert_array_equal(np.asarray(tf.sets.size(tf.sets.union(a, b))), [4, 5])
    assert list(tf.sets.difference(np.array([["a", "b"]], object), np.array([["b", "c"]], object), aminusb=False)
                .values) == ["c"]
    with pytest.raises(TypeError, match="SparseTensor"):
        tf.sets.size(a)


def test_bitwise():
    x, y = np.array([12, 10]), np.array([10, 6])
    np.testing.assert_array_equal(np.asarray(tf.bitwise.bitwise_and(x, y)), x & y)
    np.testing.assert_array_equal(np.asarray(tf.bitwise.bitwise_or(x, y)), x | y)
    np.testing.assert_array_equal(np.asarray(tf.bitwise.bitwise_xor(x, y)), x ^ y)
    np.testing.assert_array_equal(np.asarray(tf.bitwise.left_shift(np.array([1, 3]), np.array([2, 1]))), [4, 6])
    np.testing.assert_array_equal(np.asarray(tf.bitwise.right_shift(np.array([8, -8]), np.array([2, 1]))), [2, -4])
    np.testing.assert_array_equal(np.asarray(tf.bitwise.invert(tf.constant([0, 5]))), [-1, -6])
    np.testing.assert_array_equal(np.asarray(tf.bitwise.invert(tf.constant([0, 5], tf.uint8))), [255, 250])
    with pytest.raises(TypeError, match="bitwise_and"):
        tf.bitwise.bitwise_and([1.5], [2.0])
