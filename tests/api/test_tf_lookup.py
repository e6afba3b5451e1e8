"""tf.lookup (python/corenn/lookup.py): StaticHashTable and StaticVocabularyTable against the
answers TensorFlow 2.21 gives for the same calls (written down here) and a dict reference."""
import numpy as np
import pytest

import corenn as tf


def test_static_hash_table_gives_values_and_the_default_in_the_keys_shape():
    init = tf.lookup.KeyValueTensorInitializer(["a", "b", "c"], [0, 1, 1])
    table = tf.lookup.StaticHashTable(init, default_value=-1)
    got = table.lookup(tf.constant([["b", "z"], ["a", "c"]]))
    # TensorFlow 2.21: [[1, -1], [0, 1]], int32; size 3 (int64)
    assert got.dtype == "int32"
    np.testing.assert_array_equal(np.asarray(got), [[1, -1], [0, 1]])
    assert int(table.size()) == 3 and table.key_dtype == "string"
    keys, values = table.export()
    assert list(keys.numpy()) == [b"a", b"b", b"c"] and np.asarray(values).tolist() == [0, 1, 1]
    np.testing.assert_array_equal(np.asarray(table[np.array(["c", "q"])]), [1, -1])


def test_integer_keys_string_and_float_values():
    t = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer([1, 2], ["one", "two"]), default_value="?")
    assert list(t.lookup(tf.constant([2, 3])).numpy()) == [b"two", b"?"]
    f = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(["a", "b"], [0.5, 1.5]), -1.0)
    got = f.lookup(tf.constant(["b", "x"]))
    assert got.dtype == "float32"
    np.testing.assert_array_equal(np.asarray(got), [1.5, -1.0])
    rng = np.random.default_rng(0)
    keys = rng.permutation(1000)[:50]
    vals = rng.integers(0, 9, 50)
    big = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(keys, vals), default_value=-7)
    query = rng.integers(0, 1000, (4, 6))
    ref = dict(zip(keys.tolist(), vals.tolist()))
    np.testing.assert_array_equal(np.asarray(big.lookup(query)), [[ref.get(int(q), -7) for q in row] for row in query])


def test_static_vocabulary_table_hashes_oov_keys_into_tensorflow_s_buckets():
    v = tf.lookup.StaticVocabularyTable(
        tf.lookup.KeyValueTensorInitializer(["x", "y"], tf.constant([0, 1], tf.int64)), num_oov_buckets=3)
    # TensorFlow 2.21: [0, 4, 3, 1], size 5
    np.testing.assert_array_equal(np.asarray(v.lookup(tf.constant(["x", "q", "hello", "y"]))), [0, 4, 3, 1])
    assert int(v.size()) == 5
    ints = tf.lookup.StaticVocabularyTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant([5, 7], tf.int64), tf.constant([0, 1], tf.int64)), 4)
    np.testing.assert_array_equal(np.asarray(ints.lookup(tf.constant([7, 9, 12345], tf.int64))), [1, 3, 2])


def test_bad_tables_and_keys_raise_naming_the_call():
    with pytest.raises(ValueError, match="KeyValueTensorInitializer"):
        tf.lookup.KeyValueTensorInitializer(["a", "b"], [1])
    table = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(["a"], [1]), default_value=0)
    with pytest.raises(TypeError, match="StaticHashTable.lookup"):
        table.lookup(tf.constant([1.5]))
    with pytest.raises(TypeError, match="StaticHashTable"):
        tf.lookup.StaticHashTable({"a": 1}, default_value=0)
