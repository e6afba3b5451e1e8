"""Sweep 17: gaps found in the Keras / TensorFlow surface -- RaggedTensor's static shape
(None for each ragged dimension, as TensorFlow), ``ragged_rank=1`` constants with uniform inner
dimensions, SparseTensor's int64 indices and dense_shape. Expected values are TensorFlow 2.21's,
written out by hand from its documented behaviour."""
import numpy as np
import pytest

import corenn as tf


def test_ragged_shape_has_none_for_the_ragged_dimension():
    r = tf.ragged.constant([[1, 2], [3]])
    assert r.shape == (2, None) and r.shape.as_list() == [2, None] and r.shape.rank == 2
    assert r.get_shape() == (2, None) and r.ragged_rank == 1
    # rows of one length are still a ragged dimension
    assert tf.ragged.constant([[1, 2], [3, 4]]).shape == (2, None)
    assert tf.RaggedTensor.from_row_lengths([1, 2, 3, 4], [2, 0, 2]).shape == (3, None)
    assert tf.RaggedTensor.from_uniform_row_length([1, 2, 3, 4], 2).shape == (2, None)
    assert tf.ragged.constant([["a", "b"], ["c"]]).shape == (2, None)
    assert tf.strings.split(["a b", "c"]).shape == (2, None)
    assert r[:1].shape == (1, None) and len(r) == 2
    nested = tf.ragged.constant([[[1, 2], [3]], [[5, 6]]])
    assert nested.shape == (2, None, None) and nested.ragged_rank == 2


def test_ragged_rank_one_keeps_uniform_inner_dimensions():
    r = tf.ragged.constant([[[1, 2], [3, 4]], [[5, 6]]], ragged_rank=1)
    assert r.shape == (2, None, 2) and r.ragged_rank == 1
    assert r.to_list() == [[[1, 2], [3, 4]], [[5, 6]]]
    np.testing.assert_array_equal(np.asarray(r.values), [[1, 2], [3, 4], [5, 6]])
    dense = np.asarray(r.to_tensor())
    np.testing.assert_array_equal(dense, [[[1, 2], [3, 4]], [[5, 6], [0, 0]]])
    np.testing.assert_array_equal(np.asarray(r.to_tensor(shape=[3, 1, 2])), [[[1, 2]], [[5, 6]], [[0, 0]]])
    with pytest.raises(ValueError, match="ragged_rank=1"):
        tf.ragged.constant([[[1, 2], [3]], [[5, 6]]], ragged_rank=1)


def test_nested_ragged_values_flat_values_and_to_tensor():
    nested = tf.ragged.constant([[[1, 2], [3]], [[5, 6]]])
    assert nested.values.to_list() == [[1, 2], [3], [5, 6]]
    np.testing.assert_array_equal(np.asarray(nested.flat_values), [1, 2, 3, 5, 6])
    np.testing.assert_array_equal(np.asarray(nested.to_tensor()), [[[1, 2], [3, 0]], [[5, 6], [0, 0]]])
    np.testing.assert_array_equal(np.asarray(nested.to_tensor(default_value=-1)),
                                  [[[1, 2], [3, -1]], [[5, 6], [-1, -1]]])


def test_sparse_tensor_parts_take_tensorflows_dtypes():
    st = tf.sparse.SparseTensor(indices=[[0, 0]], values=[1.0], dense_shape=[3, 4])
    assert st.indices.dtype == tf.int64 and st.dense_shape.dtype == tf.int64 and st.values.dtype == tf.float32
    assert st.shape == (3, 4) and st.get_shape().as_list() == [3, 4]
    # Python ints are int32 values (as tf.constant), int64 indices whatever they are given as
    ints = tf.sparse.SparseTensor(indices=np.array([[0, 0], [1, 2]], np.int32), values=[1, 2], dense_shape=[3, 4])
    assert ints.values.dtype == tf.int32 and ints.indices.dtype == tf.int64 and ints.dense_shape.dtype == tf.int64
    np.testing.assert_array_equal(np.asarray(tf.sparse.to_dense(ints)), [[1, 0, 0, 0], [0, 0, 2, 0], [0, 0, 0, 0]])
    assert tf.sparse.SparseTensor([[0]], [2 ** 40], [1]).values.dtype == tf.int64   # too big for int32
    assert tf.sparse.SparseTensor([[0]], np.array([3], np.int64), [1]).values.dtype == tf.int64
    with pytest.raises(TypeError, match="indices must be integers"):
        tf.sparse.SparseTensor(indices=[[0.5, 0]], values=[1.0], dense_shape=[3, 4])


def test_matmul_adjoint_and_hints_as_tensorflow():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 4, 3)).astype("float32"), rng.normal(size=(2, 5, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(tf.matmul(a, b, adjoint_b=True)), a @ b.transpose(0, 2, 1), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(np.asarray(tf.linalg.matmul(a, a, adjoint_a=True, b_is_sparse=True)),
                               a.transpose(0, 2, 1) @ a, rtol=1e-5, atol=1e-6)
    c = (rng.normal(size=(3, 3)) + 1j * rng.normal(size=(3, 3))).astype("complex64")
    np.testing.assert_allclose(np.asarray(tf.matmul(c, c, adjoint_a=True)), c.conj().T @ c, rtol=1e-5)
    with pytest.raises(ValueError, match="only one of transpose_a and adjoint_a"):
        tf.matmul(a, b, transpose_a=True, adjoint_a=True)
    # the gradient flows through the adjoint as through the transpose
    x = tf.Variable(a[0])
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(tf.matmul(x, b[0], adjoint_b=True))
    np.testing.assert_allclose(np.asarray(tape.gradient(y, x)), np.tile(b[0].sum(0), (4, 1)), rtol=1e-5)


def test_ragged_constant_of_arrays_and_merge_dims_as_tensorflow():
    # per-molecule (atoms, features) arrays, as keras.io's MPNN example builds its inputs
    r = tf.ragged.constant([np.ones((2, 3)), np.zeros((1, 3))], dtype=tf.float32)
    assert r.shape == (2, None, None) and r.ragged_rank == 2
    np.testing.assert_array_equal(np.asarray(r.merge_dims(0, 1).to_tensor()), [[1, 1, 1], [1, 1, 1], [0, 0, 0]])
    p = tf.ragged.constant([[[0, 1], [1, 0]], [[0, 1]]], dtype=tf.int64)
    merged = p.merge_dims(outer_axis=0, inner_axis=1)
    assert merged.shape == (3, None)
    np.testing.assert_array_equal(np.asarray(merged.to_tensor()), [[0, 1], [1, 0], [0, 1]])
    np.testing.assert_array_equal(np.asarray(p.merge_dims(0, 2)), [0, 1, 1, 0, 0, 1])
    assert p.merge_dims(1, 2).to_list() == [[0, 1, 1, 0], [0, 1]] and p.merge_dims(1, 2).shape == (2, None)
    q = tf.ragged.constant([[1, 2], [3]])
    np.testing.assert_array_equal(np.asarray(q.merge_dims(0, -1)), [1, 2, 3])
    u = tf.ragged.constant([[[1, 2], [3, 4]], [[5, 6]]], ragged_rank=1)
    np.testing.assert_array_equal(np.asarray(u.merge_dims(0, 1)), [[1, 2], [3, 4], [5, 6]])
    assert u.merge_dims(1, 2).to_list() == [[1, 2, 3, 4], [5, 6]]
    with pytest.raises(ValueError, match="outer_axis <= inner_axis"):
        p.merge_dims(2, 1)


def test_add_weight_takes_a_bare_int_shape_as_tf_keras_2():
    class Bias(tf.keras.layers.Layer):
        def build(self, input_shape):
            self.b = self.add_weight(shape=(input_shape[-1]), initializer="ones", name="b")   # (n) is an int

        def call(self, x):
            return x + self.b

    layer = Bias()
    np.testing.assert_array_equal(np.asarray(layer(np.zeros((2, 4), "float32"))), np.ones((2, 4)))
    assert tuple(layer.b.shape) == (4,)


def test_multi_head_attention_takes_a_4d_mask_shared_by_the_heads():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 8)).astype("float32")
    keep = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    mha = tf.keras.layers.MultiHeadAttention(2, 4)
    three = np.asarray(mha(x, x, attention_mask=keep[:, None, :]))
    four = np.asarray(mha(x, x, attention_mask=keep[:, None, None, :]))   # keras.io's MPNN readout
    np.testing.assert_allclose(four, three, rtol=1e-6, atol=1e-6)
    # the masked steps change nothing: the same as attending over the first three steps only
    short = np.asarray(mha(x[:1], x[:1, :3]))
    np.testing.assert_allclose(three[:1], short, rtol=1e-5, atol=1e-5)
    # a symbolic call takes it too
    inp = tf.keras.Input((5, 8))
    mask = tf.keras.Input((1, 1, 5))
    assert tf.keras.layers.MultiHeadAttention(2, 4)(inp, inp, attention_mask=mask).shape == (None, 5, 8)
    # a mask per head: each head attends its own steps (head 0 the kept ones, head 1 the others;
    # sample 1's second head has none and averages, as Keras' -1e9 adder leaves it uniform)
    per_head = np.stack([keep, ~keep], 1)[:, :, None, :]
    both = np.asarray(mha(x, x, attention_mask=per_head))
    assert both.shape == three.shape and not np.allclose(both, three, atol=1e-4)


def test_fit_on_batches_whose_inputs_differ_in_length():
    """A batch of graphs: item features (n_items, 3) and each item's sample index (n_items,),
    summed per sample inside the model; y has one row per sample (4), as Keras passes such
    dataset batches on without checking their lengths."""
    class SegmentSum(tf.keras.layers.Layer):
        def call(self, inputs):
            items, owner = inputs
            return tf.math.unsorted_segment_sum(items, tf.cast(owner, "int32"), num_segments=4)

    items_in = tf.keras.Input((3,))
    owner_in = tf.keras.Input(())
    out = tf.keras.layers.Dense(1)(SegmentSum()([items_in, owner_in]))
    model = tf.keras.Model([items_in, owner_in], out)
    model.compile("sgd", "mse")
    rng = np.random.default_rng(0)

    def batches():
        for _ in range(6):
            sizes = rng.integers(1, 4, 4)
            owner = np.repeat(np.arange(4), sizes).astype("float32")
            items = rng.normal(size=(len(owner), 3)).astype("float32")
            target = np.add.reduceat(items.sum(1), np.concatenate([[0], np.cumsum(sizes)[:-1]]))
            yield (items, owner), target[:, None].astype("float32")

    history = model.fit(batches(), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    (items, owner), target = next(batches())
    pred = model.predict_on_batch([items, owner])
    w, b = model.layers[-1].get_weights()
    sums = np.stack([items[owner == k].sum(0) for k in range(4)])
    np.testing.assert_allclose(pred, sums @ w + b, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="same number of samples"):   # arrays are still checked
        model.fit([items, owner[:2]], target, verbose=0)


def test_strings_to_number_of_a_ragged_tensor_and_dataset_strings_as_bytes(tmp_path):
    r = tf.strings.to_number(tf.strings.split(np.array(["1,2.5", "3"]), ","), tf.float32)
    assert r.shape == (2, None) and r.to_list() == [[1.0, 2.5], [3.0]]
    np.testing.assert_array_equal(np.asarray(r.to_tensor()), [[1.0, 2.5], [3.0, 0.0]])
    ints = tf.strings.to_number(tf.strings.split(np.array(["1,2", "3"]), ","), tf.int32)
    assert ints.to_list() == [[1, 2], [3]] and ints.values.dtype == tf.int32
    # a CSV column and a map function's strings come out of the dataset as TensorFlow's bytes
    path = tmp_path / "d.csv"
    path.write_text("u1|a,b,c\nu2|d,e,f\n")

    def process(features):
        ids = tf.strings.split(features["ids"], ",").to_tensor()
        features["ids"] = ids[:, :-1]
        return features

    ds = tf.data.experimental.make_csv_dataset(str(path), batch_size=2, column_names=["user", "ids"], header=False,
                                               field_delim="|", shuffle=False, num_epochs=1).map(process)
    batch = next(iter(ds))
    assert batch["user"].numpy().tolist() == [b"u1", b"u2"]
    assert batch["ids"].numpy().tolist() == [[b"a", b"b"], [b"d", b"e"]]


def _write_wav(path, samples, rate=8000, channels=1):
    import wave
    with wave.open(str(path), "wb") as f:
        f.setnchannels(channels)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(np.asarray(samples, "<i2").tobytes())


def test_audio_dataset_from_directory(tmp_path):
    rng = np.random.default_rng(0)
    clips = {}
    for word, lengths in (("no", (5, 3)), ("yes", (4, 6, 2))):
        (tmp_path / word).mkdir()
        for i, n in enumerate(lengths):
            pcm = rng.integers(-32768, 32767, n)
            _write_wav(tmp_path / word / f"{i}.wav", pcm)
            clips[(word, i)] = pcm / 32768.0
    (tmp_path / "yes" / "notes.txt").write_text("not audio")
    ds = tf.keras.utils.audio_dataset_from_directory(str(tmp_path), batch_size=8, shuffle=False, verbose=False)
    assert ds.class_names == ["no", "yes"]
    audio, labels = next(iter(ds))
    # files in sorted order, each batch zero-padded to its longest clip, (samples, channels)
    assert tuple(audio.shape) == (5, 6, 1) and np.asarray(labels).tolist() == [0, 0, 1, 1, 1]
    assert labels.dtype == tf.int32 and audio.dtype == tf.float32
    for k, key in enumerate([("no", 0), ("no", 1), ("yes", 0), ("yes", 1), ("yes", 2)]):
        want = clips[key]
        np.testing.assert_allclose(np.asarray(audio)[k, :len(want), 0], want, atol=1e-7)
        assert not np.asarray(audio)[k, len(want):].any()
    fixed = tf.keras.utils.audio_dataset_from_directory(str(tmp_path), batch_size=2, shuffle=False,
                                                        output_sequence_length=4, label_mode="categorical",
                                                        verbose=False)
    shapes = [tuple(a.shape) for a, _ in fixed]
    assert shapes == [(2, 4, 1), (2, 4, 1), (1, 4, 1)]
    first_audio, first_labels = next(iter(fixed))
    np.testing.assert_allclose(np.asarray(first_audio)[0, :, 0], clips[("no", 0)][:4], atol=1e-7)
    np.testing.assert_array_equal(np.asarray(first_labels), [[1, 0], [1, 0]])
    train, val = tf.keras.utils.audio_dataset_from_directory(str(tmp_path), batch_size=4, validation_split=0.4,
                                                             subset="both", seed=1, verbose=False)
    assert sum(len(np.asarray(l)) for _, l in train) == 3 and sum(len(np.asarray(l)) for _, l in val) == 2
    with pytest.raises(ValueError, match="does not resample"):
        next(iter(tf.keras.utils.audio_dataset_from_directory(str(tmp_path), sampling_rate=16000, verbose=False)))
    with pytest.raises(ValueError, match="both ragged=True and output_sequence_length"):
        tf.keras.utils.audio_dataset_from_directory(str(tmp_path), ragged=True, output_sequence_length=4)


def test_fit_takes_one_callback_and_string_scalars_answer_dtype():
    model = tf.keras.Sequential([tf.keras.Input((2,)), tf.keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    seen = []
    callback = tf.keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(epoch))
    model.fit(np.ones((4, 2), "float32"), np.ones((4, 1), "float32"), epochs=2, verbose=0, callbacks=callback)
    assert seen == [0, 1]
    s = tf.constant("file.wav")
    assert s.dtype == tf.string and tf.string == s.dtype
    assert tf.string == tf.constant(["a", "b"]).dtype and tf.string != tf.constant([1.0]).dtype
    assert tf.float32 != tf.string


def test_string_tensors_from_zeros_concat_stack_and_tile_as_tensorflow():
    empty = tf.zeros([0, 1], dtype=tf.string)
    assert empty.shape == (0, 1) and tf.zeros([2], tf.string).numpy().tolist() == [b"", b""]
    steps = tf.concat((empty, [["Open"], ["Read"]]), axis=0)
    steps = tf.concat((steps, [["Train"]]), axis=0)
    assert steps.numpy().tolist() == [[b"Open"], [b"Read"], [b"Train"]]
    assert tf.stack([tf.constant(["a"]), tf.constant(["b"])]).numpy().tolist() == [[b"a"], [b"b"]]
    assert tf.squeeze(tf.constant([["a"], ["b"]]), axis=-1).numpy().tolist() == [b"a", b"b"]
    tiled = tf.tile([[["1st map"]]], [3, 1, 1])
    assert tiled.shape == (3, 1, 1) and tiled.numpy().reshape(-1).tolist() == [b"1st map"] * 3
    with pytest.raises(ValueError, match="multiples has 3 entries for a rank-2 input"):
        tf.tile([["a"]], [2, 1, 1])


def test_from_generator_takes_a_tuple_for_one_tensor_spec():
    """The tf.data performance guide yields (sample_idx,) against TensorSpec(shape=(1,)):
    TensorFlow converts the tuple to one array."""
    def gen(n):
        for i in range(n):
            yield (i,)

    ds = tf.data.Dataset.from_generator(gen, output_signature=tf.TensorSpec(shape=(1,), dtype=tf.int64),
                                        args=(3,))
    assert [x.numpy().tolist() for x in ds] == [[0], [1], [2]]

    def ragged_tuple():
        yield ([1, 2], [3])

    with pytest.raises(TypeError, match="tuple that is not one array"):
        list(tf.data.Dataset.from_generator(ragged_tuple, output_signature=tf.TensorSpec(shape=(None,),
                                                                                          dtype=tf.int64)))


def test_compile_still_runs_the_fused_loss_classes_for_names_and_functions():
    """losses.get('mse') is now the per-sample function (Keras 3); compile maps it, the name and the
    class name to the same fused MeanSquaredError, so fit runs the C++ loss kernel either way."""
    losses = tf.keras.losses
    model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(2)])
    for spec in ("mse", "mean_squared_error", "MeanSquaredError", losses.get("mse"), losses.mean_squared_error):
        model.compile("sgd", spec)
        assert type(model._losses[0]) is losses.MeanSquaredError
    for spec, cls in (("binary_crossentropy", losses.BinaryCrossentropy), ("mae", losses.MeanAbsoluteError),
                      (losses.get("categorical_crossentropy"), losses.CategoricalCrossentropy),
                      (losses.get("sparse_categorical_crossentropy"), losses.SparseCategoricalCrossentropy)):
        model.compile("sgd", spec)
        assert type(model._losses[0]) is cls
    # metric names in the logs: the string given, or the function's name (as Keras 3)
    x, y = np.ones((4, 3), "float32"), np.zeros((4, 2), "float32")
    model.compile("sgd", "mse", metrics=["mae", tf.keras.metrics.mean_absolute_error, tf.keras.metrics.get("mse")])
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert set(logs) == {"loss", "mae", "mean_absolute_error", "mean_squared_error"}
    assert logs["mae"] == pytest.approx(logs["mean_absolute_error"])


def test_shape_and_size_of_a_ragged_tensor_as_tensorflow():
    r = tf.ragged.constant([[1, 2], [3]])
    s = tf.shape(r)
    assert repr(s) == "<DynamicRaggedShape lengths=[2, (2, 1)] num_row_partitions=1>"
    assert int(s[0]) == 2 and s.rank == 2 and s.num_row_partitions == 1
    with pytest.raises(ValueError, match="Index 1 is not uniform"):
        s[1]
    assert int(tf.size(r)) == 3 and int(tf.rank(r)) == 2
    uniform = tf.shape(tf.ragged.constant([[[1, 2], [3, 4]], [[5, 6]]], ragged_rank=1))
    assert repr(uniform) == "<DynamicRaggedShape lengths=[2, (2, 1), 2] num_row_partitions=1>" and int(uniform[2]) == 2
    nested = tf.ragged.constant([[[1, 2], [3]], [[5, 6]]])
    assert repr(tf.shape(nested)) == "<DynamicRaggedShape lengths=[2, (2, 1), (2, 1, 2)] num_row_partitions=2>"
    assert int(tf.size(nested)) == 5 and int(tf.size(tf.strings.split(["a b", "c"]))) == 3
