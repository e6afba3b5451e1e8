"""Sweep 21 of issue 13 (keras.io examples and TensorFlow tutorials run with only their imports
changed): what the programs in tests/programs/ added in sweep 21 found missing."""
import numpy as np
import pytest

import corenn as tf
from corenn import keras, ops


def test_comparison_results_index_as_bool_masks():
    # the TF Core MLP guide's per-digit breakdown: test_classes[y_test == label]
    rng = np.random.default_rng(0)
    a = rng.normal(size=(6, 4)).astype("float32")
    labels = np.array([2, 0, 2, 1, 0, 2], "int64")
    x, y = tf.constant(a), tf.constant(labels)
    np.testing.assert_array_equal(x[y == 2].numpy(), a[labels == 2])
    np.testing.assert_array_equal(x[:, x[0] > 0].numpy(), a[:, a[0] > 0])
    np.testing.assert_array_equal(x[~(y == 0)].numpy(), a[labels != 0])
    np.testing.assert_array_equal(x[tf.logical_and(y > 0, y < 2)].numpy(), a[(labels > 0) & (labels < 2)])
    np.testing.assert_array_equal(x[tf.cast([1, 0, 0, 1, 1, 0], tf.bool)].numpy(), a[[0, 3, 4]])
    np.testing.assert_array_equal(x[ops.isfinite(x[:, 0])].numpy(), a)
    np.testing.assert_array_equal(y[keras.ops.not_equal(y, 2)].numpy(), labels[labels != 2])
    # a comparison is a bool tensor, as Keras'
    assert (y == 2).dtype == "bool" and (y == 2).dtype == tf.bool
    np.testing.assert_array_equal((y == 2).numpy(), labels == 2)


def test_bool_mask_index_gradient_scatters_back():
    a = np.arange(-3.0, 3.0, dtype="float32").reshape(2, 3)
    v = tf.Variable(a)
    with tf.GradientTape() as tape:
        s = tf.reduce_sum(v[v > 0.0] ** 2)
    np.testing.assert_allclose(tape.gradient(s, v).numpy(), np.where(a > 0, 2 * a, 0.0))


def test_float_tensor_index_still_refused():
    # a float tensor that is not a comparison's result is no mask: an error names the subscript
    x = tf.constant(np.zeros((3, 2), "float32"))
    with pytest.raises(IndexError, match="Tensor subscript"):
        x[tf.constant([1.0, 0.0, 1.0])]


def test_scalar_numpy_is_a_numpy_scalar():
    # TensorFlow's t.numpy() of a 0-d tensor is a NumPy scalar (hashable: a dict key)
    acc = tf.reduce_mean(tf.cast(tf.equal(tf.constant([1, 2, 3]), tf.constant([1, 0, 3])), tf.float32))
    v = acc.numpy()
    assert isinstance(v, np.float32) and abs(v - 2 / 3) < 1e-6
    assert {v: "digit"}[v] == "digit"
    n = tf.constant(7).numpy()
    assert isinstance(n, np.integer) and n == 7
    # higher ranks stay zero-copy arrays
    t = tf.constant(np.arange(3.0, dtype="float32"))
    assert isinstance(t.numpy(), np.ndarray) and t.numpy().shape == (3,)


@pytest.mark.parametrize("draw", [
    lambda: tf.random.uniform([2, 3], -0.001, 0.001, dtype=tf.float64),   # PointNet's jitter
    lambda: tf.random.normal([2], dtype="float64"),
    lambda: keras.random.uniform((2,), dtype="float64"),
    lambda: tf.random.stateless_uniform([2], seed=[1, 2], dtype=tf.float64),
])
def test_float64_random_draws_are_float64_tensors(draw):
    # a float64 draw is made in float64 (NumPy's generator draws doubles), not rounded to float32
    t = draw()
    assert t.dtype == "float64" and np.asarray(t).dtype == np.float64
    a = np.asarray(t)
    assert np.isfinite(a).all() and (a.astype(np.float32).astype(np.float64) != a).any()


def test_random_draws_keep_their_dtypes():
    assert tf.random.uniform([2], maxval=5, dtype=tf.int32).dtype == "int32"
    assert tf.random.uniform([2], maxval=5, dtype=tf.int64).dtype == "int64"
    assert keras.random.randint((3,), 0, 4).dtype == "int32"
    u = tf.random.uniform([], dtype=tf.float32)
    assert u.dtype == "float32" and u.shape == ()


def test_tf_concat_of_one_tensor_or_array_gives_it_back():
    # TF's concat wraps a value that is not a list: tf.concat(model.predict(ds), axis=0)
    a = np.arange(6.0, dtype="float32").reshape(2, 3)
    for value in (a, tf.constant(a)):
        for axis in (0, 1):
            out = tf.concat(value, axis=axis)
            assert tuple(out.shape) == (2, 3)
            np.testing.assert_array_equal(np.asarray(out), a)
    np.testing.assert_array_equal(np.asarray(tf.concat([a, a], axis=0)), np.concatenate([a, a]))
    np.testing.assert_array_equal(np.asarray(tf.concat((a, a), 1)), np.concatenate([a, a], 1))


def test_warmstart_embedding_matrix_copies_shared_terms():
    # TF-Keras 2's keras.utils.warmstart_embedding_matrix (TF tutorial "Warm-start embedding
    # layer matrix"); values checked against tf_keras 2.21
    base = np.arange(8.0, dtype="float32").reshape(4, 2)
    out = keras.utils.warmstart_embedding_matrix(["", "[UNK]", "the", "a"], ["", "[UNK]", "a", "new", "the"],
                                                 tf.constant(base))
    out = np.asarray(out)
    assert out.shape == (5, 2)
    np.testing.assert_array_equal(out[[0, 1, 2, 4]], base[[0, 1, 3, 2]])
    assert np.all(np.abs(out[3]) <= 0.05)   # "uniform": U(-0.05, 0.05) for the new term
    # a repeated base term takes its last row; another initializer for the new rows
    out = keras.utils.warmstart_embedding_matrix(["a", "b", "a"], ["a", "c"], np.arange(6.0).reshape(3, 2),
                                                 new_embeddings_initializer=keras.initializers.Constant(9.0))
    np.testing.assert_array_equal(np.asarray(out), [[4.0, 5.0], [9.0, 9.0]])


def test_warmstart_embedding_matrix_reads_vocabulary_files_and_checks_rows(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("x\ny\n", encoding="utf-8")
    out = keras.utils.warmstart_embedding_matrix(str(path), ["y", "x"], np.eye(2, dtype="float32"))
    np.testing.assert_array_equal(np.asarray(out), [[0.0, 1.0], [1.0, 0.0]])
    with pytest.raises(ValueError, match="warmstart_embedding_matrix: base_embeddings"):
        keras.utils.warmstart_embedding_matrix(["x", "y", "z"], ["x"], np.eye(2, dtype="float32"))
