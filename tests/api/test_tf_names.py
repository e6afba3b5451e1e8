"""The TensorFlow names tutorials call on `tf` after `import corenn as tf` (corenn/_tf_api.py,
math.py, nn.py, strings.py, dtypes.py): values against the float64 NumPy reference, dtypes as
TensorFlow gives them, gradients through the tape, clear errors."""
import re
import string

import numpy as np
import pytest

import corenn as tf
import reference as ref


def test_dtype_objects_are_names_numpy_and_corenn_accept():
    assert tf.float32 == "float32" and tf.float32 == np.float32 and tf.float32 == np.dtype("float32")
    assert tf.float32 != tf.int32 and tf.string != "float32"
    assert tf.float32.name == "float32" and tf.float32.is_floating and tf.int64.is_integer
    assert tf.string == "string" and not tf.string.is_floating
    assert np.asarray([1, 2], tf.float32).dtype == np.float32
    assert tf.as_dtype(np.int64) is tf.int64 and tf.as_dtype(str) is tf.string
    assert tf.uint8.max == 255 and tf.int8.min == -128
    x = tf.constant([1.5, 2.5])
    assert x.dtype == tf.float32 and tf.cast(x, tf.int32).dtype == tf.int32
    with pytest.raises(TypeError, match="as_dtype"):
        tf.as_dtype("complex_thing")


def test_constant_and_convert_to_tensor_follow_tensorflow_dtypes():
    assert tf.constant([1, 2, 3]).dtype == "int32"       # Python ints: int32
    assert tf.constant(np.arange(3)).dtype == "int64"    # NumPy int64 stays
    assert tf.constant(np.ones(2)).dtype == "float32"    # float64 data: float32
    assert tf.constant([1, 2], dtype=tf.int64).dtype == "int64"
    assert tf.constant([1, 2], dtype=tf.float64).dtype == "float64"    # held as asked
    assert tf.constant(np.arange(3, dtype=np.uint8)).dtype == "uint8"  # NumPy's integers keep their type
    np.testing.assert_array_equal(tf.constant(7.0, shape=(2, 2)).numpy(), np.full((2, 2), 7.0))
    np.testing.assert_array_equal(tf.constant([1, 2, 3, 4], shape=(2, 2)).numpy(), [[1, 2], [3, 4]])
    text = tf.constant(["a b", "c"])
    assert isinstance(text, np.ndarray) and text.dtype == object and list(text) == ["a b", "c"]
    assert tf.constant("x") == "x"
    assert tf.convert_to_tensor([b"x"])[0] == "x"
    t = tf.convert_to_tensor([1.0, 2.0])
    assert isinstance(t, tf.Tensor) and tf.convert_to_tensor(t) is t


def test_reductions_match_numpy_and_keep_integer_dtypes(rng):
    x = rng.normal(size=(3, 4, 5)).astype(np.float32)
    x64 = ref.f64(x)
    for fn, np_fn in ((tf.reduce_sum, np.sum), (tf.reduce_mean, np.mean), (tf.reduce_max, np.max),
                      (tf.reduce_min, np.min), (tf.math.reduce_std, np.std),
                      (tf.math.reduce_variance, np.var)):
        for axis in (None, 0, -1, (0, 2), [1]):
            got = fn(x, axis=axis).numpy()
            want = np_fn(x64, axis=tuple(axis) if isinstance(axis, list) else axis)
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=f"{fn.__name__} {axis}")
        assert fn(x, axis=1, keepdims=True).shape == (3, 1, 5)
    ints = np.array([[1, 2], [4, 7]], np.int32)
    s = tf.reduce_sum(ints, axis=0)
    assert s.dtype == "int32" and s.numpy().tolist() == [5, 9]
    assert tf.reduce_mean(ints).numpy() == 3 and tf.reduce_mean(ints).dtype == "int32"  # 14 // 4
    assert bool(tf.reduce_any(ints > 6)) and not bool(tf.reduce_all(ints > 1))
    np.testing.assert_allclose(tf.reduce_logsumexp(x, axis=-1).numpy(),
                               np.log(np.exp(x64).sum(-1)), rtol=1e-5)


def test_argmax_defaults_to_axis_zero_and_one_hot_handles_out_of_range():
    x = np.array([[1.0, 9.0, 3.0], [7.0, 2.0, 8.0]])
    assert tf.argmax(x).numpy().tolist() == [1, 0, 1]           # TensorFlow: axis 0
    assert tf.argmax(x, axis=1).numpy().tolist() == [1, 2]
    assert tf.argmax(x, axis=1).dtype == "int64"
    assert tf.math.argmin(x, axis=-1, output_type=tf.int32).dtype == "int32"
    oh = tf.one_hot([0, 2, 5, -1], depth=3).numpy()
    np.testing.assert_array_equal(oh, [[1, 0, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0]])
    oh = tf.one_hot([1], 2, on_value=5, off_value=-1, dtype=tf.int32)
    assert oh.dtype == "int32" and oh.numpy().tolist() == [[-1, 5]]


def test_shape_functions_work_on_numbers_and_strings():
    x = tf.constant([[1.0, 2.0]])
    assert tf.expand_dims(x, -1).shape == (1, 2, 1) and tf.squeeze(tf.expand_dims(x, 0)).shape == (2,)
    assert tf.reshape(x, [2, 1]).shape == (2, 1) and tf.concat([x, x], axis=0).shape == (2, 2)
    assert tf.stack([x, x], axis=1).shape == (1, 2, 2) and tf.transpose(x).shape == (2, 1)
    assert tf.shape(x).numpy().tolist() == [1, 2] and int(tf.rank(x)) == 2 and int(tf.size(x)) == 2
    words = tf.constant(["a", "b"])
    e = tf.expand_dims(words, -1)
    assert e.shape == (2, 1) and e.dtype == object and e[1, 0] == "b"
    assert tf.concat([words, words], 0).tolist() == ["a", "b", "a", "b"]
    assert tf.range(5).dtype == "int32" and tf.range(0.0, 1.0, 0.25).numpy().tolist() == [0, 0.25, 0.5, 0.75]
    np.testing.assert_allclose(tf.linspace(0.0, 250, 251).numpy()[[0, 1, 250]], [0, 1, 250])
    assert tf.zeros([2, 3]).shape == (2, 3) and tf.ones(4, dtype=tf.int32).dtype == "int32"
    assert tf.matmul(np.eye(2), np.ones((3, 2)), transpose_b=True).shape == (2, 3)


def test_nn_and_math_functions_match_the_reference(rng):
    z = rng.normal(size=(4, 6)).astype(np.float32)
    z64 = ref.f64(z)
    np.testing.assert_allclose(tf.nn.softmax(z).numpy(), ref.activation("softmax", z64), rtol=1e-5)
    np.testing.assert_allclose(tf.nn.log_softmax(z).numpy(), ref._log_softmax(z64), rtol=1e-5, atol=1e-6)
    for name in ("relu", "sigmoid", "tanh", "elu", "selu", "softplus"):
        np.testing.assert_allclose(getattr(tf.nn, name)(z).numpy(), ref.activation(name, z64, alpha=1.0),
                                   rtol=1e-5, atol=1e-6, err_msg=name)
    np.testing.assert_allclose(tf.nn.leaky_relu(z, alpha=0.1).numpy(), np.where(z64 > 0, z64, 0.1 * z64), rtol=1e-6)
    np.testing.assert_allclose(tf.math.l2_normalize(z, axis=1).numpy(),
                               z64 / np.linalg.norm(z64, axis=1, keepdims=True), rtol=1e-5)
    y = (rng.random((4, 6)) > 0.5).astype(np.float32)
    np.testing.assert_allclose(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=z).numpy(),
                               ref.loss_per_sample("binary_crossentropy", z64[..., None], y[..., None],
                                                   from_logits=True), rtol=1e-5, atol=1e-6)
    labels = rng.integers(0, 6, 4)
    np.testing.assert_allclose(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=z).numpy(),
                               -ref._log_softmax(z64)[np.arange(4), labels], rtol=1e-5)
    values, indices = tf.math.top_k(z, k=2)
    np.testing.assert_array_equal(indices.numpy(), np.argsort(-z64, axis=1)[:, :2])
    cm = tf.math.confusion_matrix([0, 1, 1, 2], [0, 2, 1, 2], num_classes=3).numpy()
    np.testing.assert_array_equal(cm, [[1, 0, 0], [0, 1, 1], [0, 0, 1]])
    with pytest.raises(ValueError, match="sparse_softmax_cross_entropy_with_logits"):
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[6, 0, 0, 0], logits=z)


def test_tf_functions_are_differentiable_under_the_tape(rng):
    w = tf.Tensor.from_numpy(rng.normal(size=(3, 4)).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(w)
        loss = tf.reduce_mean(tf.square(tf.nn.relu(w))) + tf.reduce_sum(tf.nn.softmax(w)[:, 0])
    g = np.asarray(tape.gradient(loss, w))
    w64 = ref.f64(w)

    def f(a):
        return np.mean(np.maximum(a, 0) ** 2) + ref._softmax(a)[:, 0].sum()
    np.testing.assert_allclose(g, ref.numerical_grad(f, w64), rtol=1e-3, atol=1e-5)


def test_random_set_seed_makes_draws_and_initializers_repeat():
    tf.random.set_seed(3)
    a = tf.random.normal([3]).numpy()
    layer_a = tf.keras.layers.Dense(2)
    layer_a.build((None, 4))
    tf.random.set_seed(3)
    b = tf.random.normal([3]).numpy()
    layer_b = tf.keras.layers.Dense(2)
    layer_b.build((None, 4))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(layer_a.get_weights()[0], layer_b.get_weights()[0])
    u = tf.random.uniform([1000], maxval=None).numpy()
    assert 0.0 <= u.min() and u.max() < 1.0
    with pytest.raises(TypeError, match="seed"):
        tf.random.set_seed("x")


def test_strings_map_over_arrays_and_single_strings():
    texts = np.array(["Hello, World!<br />Bye", "ABC def"], dtype=object)
    low = tf.strings.lower(texts)
    assert low.tolist() == ["hello, world!<br />bye", "abc def"] and tf.strings.lower("Q") == "q"
    cleaned = tf.strings.regex_replace(tf.strings.regex_replace(low, "<br />", " "),
                                       "[%s]" % re.escape(string.punctuation), "")
    assert cleaned.tolist() == ["hello world bye", "abc def"]
    assert tf.strings.regex_replace("aaa", "a", "b", replace_global=False) == "baa"
    assert tf.strings.regex_replace("ab", r"(a)(b)", r"\2\1") == "ba"
    parts = tf.strings.split(cleaned)
    assert parts.shape == (2, None) and list(parts[0]) == ["hello", "world", "bye"] and tf.strings.split("a-b", "-").numpy().tolist() == [b"a", b"b"]
    assert tf.strings.length(np.array(["é", "ab"]), unit="UTF8_CHAR").tolist() == [1, 2]
    assert tf.strings.length("é").item() == 2
    assert tf.strings.join([np.array(["a", "b"]), "x"], separator="-").tolist() == ["a-x", "b-x"]
    assert tf.strings.reduce_join(np.array([["a", "b"], ["c", "d"]]), axis=1).tolist() == ["ab", "cd"]
    assert tf.strings.strip(" x ") == "x" and tf.strings.upper(np.array([b"q"]))[0] == "Q"
    np.testing.assert_array_equal(tf.strings.to_number(np.array(["1.5", "2"])), [1.5, 2.0])
    assert tf.strings.as_string(np.array([1, 2])).tolist() == ["1", "2"]
    with pytest.raises(TypeError, match="tf.strings.lower"):
        tf.strings.lower(np.array([1, 2]))


def test_version_and_module_names():
    assert tf.version.VERSION == tf.__version__
    assert tf.keras.layers.Dense is not None and tf.metrics.BinaryAccuracy is not None
    tf.print("printed", tf.constant([1, 2]))


def test_integer_tensors_index_lists_and_img_to_array():
    names = ["a", "b", "c"]
    scores = tf.nn.softmax(np.array([0.1, 3.0, 0.2]))
    assert names[np.argmax(scores)] == "b" and names[tf.argmax(scores)] == "b"
    assert list(range(tf.constant(3))) == [0, 1, 2]
    with pytest.raises(TypeError, match="integer Tensor"):
        names[tf.constant(1.0)]
    with pytest.raises(TypeError, match="one-element"):
        names[tf.constant([1, 2])]
    img = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    arr = tf.keras.utils.img_to_array(img)
    assert arr.dtype == np.float32 and arr.shape == (2, 2, 3) and arr[1, 1, 2] == 11.0
    assert tf.keras.utils.img_to_array(img[..., 0]).shape == (2, 2, 1)
    assert tf.keras.utils.img_to_array(img, data_format="channels_first").shape == (3, 2, 2)
    with pytest.raises(ValueError, match="img_to_array"):
        tf.keras.utils.img_to_array(np.zeros(3))


def test_argmax_of_a_vector_is_a_scalar():
    i = tf.math.argmax(np.array([0.1, 0.9, 0.3]))
    assert i.shape == () and ["a", "b", "c"][i.numpy()] == "b"


def test_constant_initializer_takes_arrays_and_none_is_glorot_uniform():
    bias = np.log([0.02 / 0.98])
    layer = tf.keras.layers.Dense(1, bias_initializer=tf.keras.initializers.Constant(bias))
    layer.build((None, 3))
    np.testing.assert_allclose(layer.get_weights()[1], bias.astype(np.float32))
    init = tf.keras.initializers.Constant([1.0, 2.0])
    np.testing.assert_array_equal(np.asarray(init((2, 2))), [[1, 2], [1, 2]])
    assert tf.keras.initializers.Constant.from_config(init.get_config()).get_config() == {"value": [1.0, 2.0]}
    with pytest.raises(ValueError, match="broadcast"):
        init((3,))
    assert isinstance(tf.keras.initializers.get(None), tf.keras.initializers.GlorotUniform)
    none_bias = tf.keras.layers.Dense(4, bias_initializer=None)
    none_bias.build((None, 3))
    b = none_bias.get_weights()[1]
    assert np.all(np.abs(b) <= np.sqrt(6 / (1 + 4))) and np.any(b != 0)


def test_linalg_and_config(rng):
    a = rng.normal(size=(3, 3)) + 3 * np.eye(3)
    a32 = a.astype(np.float32)
    np.testing.assert_allclose(tf.linalg.inv(a32).numpy(), np.linalg.inv(a), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(float(tf.linalg.det(a32)), np.linalg.det(a), rtol=1e-4)
    b = rng.normal(size=(3, 2))
    np.testing.assert_allclose(tf.linalg.solve(a32, b.astype(np.float32)).numpy(),
                               np.linalg.solve(a, b), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(tf.linalg.matmul(a32, a32, transpose_a=True).numpy(), a.T @ a, rtol=1e-5)
    np.testing.assert_allclose(float(tf.linalg.trace(a32)), np.trace(a), rtol=1e-5)
    np.testing.assert_allclose(tf.linalg.band_part(a32, 0, -1).numpy(), np.triu(a), rtol=1e-6)
    np.testing.assert_allclose(tf.linalg.band_part(a32, 1, 0).numpy(), np.tril(np.triu(a, -1)), rtol=1e-6)
    devices = tf.config.list_physical_devices()
    assert devices[0].device_type == "CPU" and tf.config.list_physical_devices("cpu") == devices[:1]
    assert tf.config.threading.get_intra_op_parallelism_threads() == tf.get_num_threads()


def test_star_import_does_not_shadow_builtins():
    import builtins
    assert not [n for n in tf.__all__ if n in dir(builtins)]
    assert all(hasattr(tf, n) for n in tf.__all__)
    assert tf.range(3).numpy().tolist() == [0, 1, 2] and tf.bool == "bool"


def test_regex_replace_reads_re2_rewrites():
    # TensorFlow 2.21 (RE2): \0 is the whole match, \\ a backslash, other characters literal
    got = tf.strings.regex_replace("¿Todavía está en casa?", "[.?!,¿]", r" \0 ")
    assert got == " ¿ Todavía está en casa ? "
    assert tf.strings.regex_replace("a.b", "[.]", r"<\0\\>") == "a<.\\>b"
    assert tf.strings.regex_replace("ab", "a", "x\n") == "x\nb"
    assert list(tf.strings.regex_replace(["x,y", "z"], "(,)", r"[\1]").numpy()) == [b"x[,]y", b"z"]
    with pytest.raises(ValueError, match="regex_replace"):
        tf.strings.regex_replace("ab", "a", r"\q")
    with pytest.raises(ValueError, match="group 3"):
        tf.strings.regex_replace("ab", "(a)", r"\3")


def test_reduce_join_keeps_long_rows_whole():
    # TensorFlow 2.21: ['a b', 'longer words here x'] (a join sized by its first row cut the rest)
    w = tf.constant([["a", "b"], ["longer words here", "x"]])
    assert list(tf.strings.reduce_join(w, axis=-1, separator=" ").numpy()) == [b"a b", b"longer words here x"]
    assert list(tf.strings.reduce_join(w, axis=0, separator="|").numpy()) == [b"a|longer words here", b"b|x"]
    assert tf.strings.reduce_join(w, axis=1, keepdims=True).numpy().tolist() == [[b"ab"], [b"longer words herex"]]


def test_bool_and_small_integer_fills_keep_their_dtype():
    # tf.zeros([n, 1], dtype=tf.bool): done flags, bool tensors as comparisons give
    done = tf.zeros([3, 1], dtype=tf.bool)
    assert done.dtype == tf.bool and not np.asarray(done).any()
    flags = done | (tf.constant([[1], [2], [3]]) == 2)
    assert flags.dtype == tf.bool
    np.testing.assert_array_equal(np.asarray(flags), [[False], [True], [False]])
    ones = tf.ones([2], "uint8")
    assert ones.dtype == "uint8" and np.asarray(ones).dtype == np.uint8 and np.asarray(ones).tolist() == [1, 1]
    assert np.asarray(tf.keras.ops.full((2,), True, dtype="bool")).tolist() == [True, True]
    assert tf.keras.ops.zeros_like(done).dtype == tf.bool


def test_ragged_rows_index_and_slice_as_tensorflow():
    r = tf.ragged.constant([[4, 3, 2], [2, 3], [1]])
    assert r[0].numpy().tolist() == [4, 3, 2]
    assert [row.numpy().tolist() for row in r] == [[4, 3, 2], [2, 3], [1]]
    assert r[:, :-1].to_list() == [[4, 3], [2], []]          # each row without its last item
    assert r[1:, 1:].to_list() == [[3], []]
    np.testing.assert_array_equal(np.asarray(r[:2, :-1].to_tensor()), [[4, 3], [2, 0]])
    assert int(r[0, 1]) == 3


def test_unique_with_counts_and_qr_answer_tensorflows_field_names():
    u = tf.unique_with_counts([4, 1, 4, 2, 1, 4])
    assert type(u).__name__ == "UniqueWithCounts"
    assert u.y.numpy().tolist() == [4, 1, 2] and u.idx.numpy().tolist() == [0, 1, 0, 2, 1, 0]
    assert u.count.numpy().tolist() == [3, 2, 1]
    y, idx, count = u   # still a 3-tuple
    assert count is u.count
    m = np.array([[2.0, 1.0], [1.0, 3.0], [0.0, 1.0]], np.float32)
    q, r = tf.linalg.qr(m)
    res = tf.linalg.qr(m)
    np.testing.assert_allclose(np.asarray(res.q) @ np.asarray(res.r), m, atol=1e-5)
    assert np.asarray(q).shape == (3, 2) and np.allclose(np.tril(np.asarray(r), -1), 0)
