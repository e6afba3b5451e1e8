"""corenn.data.Dataset against tf.data's documented behaviour: every expectation here is worked
out by hand from the tf.data API documentation (its examples, where it gives one)."""
import numpy as np
import pytest

import corenn as tf
from corenn.data import Dataset


def items(ds):
    """as_numpy_iterator's elements as plain Python values (lists, tuples, dicts, ints)."""
    def plain(x):
        if isinstance(x, dict):
            return {k: plain(v) for k, v in x.items()}
        if isinstance(x, tuple):
            return tuple(plain(v) for v in x)
        return np.asarray(x).tolist()
    return [plain(e) for e in ds.as_numpy_iterator()]


# -- sources ------------------------------------------------------------------------------------

def test_tf_data_resolves_after_import_corenn_as_tf():
    assert tf.data.Dataset is Dataset
    assert tf.data.AUTOTUNE == tf.data.experimental.AUTOTUNE == -1
    assert tf.data.INFINITE_CARDINALITY == -1 and tf.data.UNKNOWN_CARDINALITY == -2


def test_from_tensor_slices_of_a_list_a_tuple_and_a_dict():
    ds = Dataset.from_tensor_slices([1, 2, 3])
    assert items(ds) == [1, 2, 3]
    assert ds.element_spec == tf.TensorSpec((), "int32")     # Python ints are int32, as tf.constant
    assert items(Dataset.from_tensor_slices(([1, 2], [3, 4], [5, 6]))) == [(1, 3, 5), (2, 4, 6)]
    ds = Dataset.from_tensor_slices({"a": [1, 2], "b": [3, 4]})
    assert items(ds) == [{"a": 1, "b": 3}, {"a": 2, "b": 4}]
    x = np.arange(12, dtype=np.float64).reshape(4, 3)
    ds = Dataset.from_tensor_slices((x, np.arange(4)))
    spec = ds.element_spec
    assert spec[0] == tf.TensorSpec((3,), "float64") and spec[1] == tf.TensorSpec((), "int64")
    first = next(ds.as_numpy_iterator())
    np.testing.assert_array_equal(first[0], [0.0, 1.0, 2.0])
    assert first[0].dtype == np.float64     # NumPy arrays keep their dtype


def test_from_tensors_is_one_element():
    ds = Dataset.from_tensors([1, 2, 3])
    assert items(ds) == [[1, 2, 3]]
    assert int(ds.cardinality()) == 1
    assert ds.element_spec == tf.TensorSpec((3,), "int32")


def test_range_as_pythons_range_in_int64():
    assert items(Dataset.range(5)) == [0, 1, 2, 3, 4]
    assert items(Dataset.range(2, 5)) == [2, 3, 4]
    assert items(Dataset.range(1, 5, 2)) == [1, 3]
    assert items(Dataset.range(1, 5, -2)) == []
    assert items(Dataset.range(5, 1)) == []
    assert items(Dataset.range(5, 1, -2)) == [5, 3]
    assert Dataset.range(5).element_spec == tf.TensorSpec((), "int64")
    assert Dataset.range(3, output_type="int32").element_spec.dtype == np.int32
    assert int(Dataset.range(1, 5, 2).cardinality()) == 2


def test_zip_tuples_nesting_dicts_and_the_shortest_length():
    a, b, c = Dataset.range(1, 4), Dataset.range(4, 7), Dataset.range(7, 13)
    assert items(Dataset.zip(a, b)) == [(1, 4), (2, 5), (3, 6)]
    assert items(Dataset.zip((a, b))) == [(1, 4), (2, 5), (3, 6)]
    assert items(Dataset.zip(a, (b, c))) == [(1, (4, 7)), (2, (5, 8)), (3, (6, 9))]
    assert items(Dataset.zip({"x": a, "y": b})) == [{"x": 1, "y": 4}, {"x": 2, "y": 5}, {"x": 3, "y": 6}]
    assert items(Dataset.zip(a, c)) == [(1, 7), (2, 8), (3, 9)]     # c is longer: 3 elements
    assert int(Dataset.zip(a, c).cardinality()) == 3


def test_from_generator_checks_the_signature_and_reruns_the_generator():
    calls = []

    def gen():
        calls.append(1)
        for i in range(1, 4):
            yield i, [1] * i

    ds = Dataset.from_generator(gen, output_signature=(tf.TensorSpec((), "int32"), tf.TensorSpec((None,), "int32")))
    assert items(ds) == [(1, [1]), (2, [1, 1]), (3, [1, 1, 1])]
    assert items(ds.take(1)) == [(1, [1])]
    assert len(calls) == 2                        # each pass calls the generator again
    assert ds.element_spec[1].shape == (None,)
    assert int(ds.cardinality()) == tf.data.UNKNOWN_CARDINALITY
    # padded_batch is what variable-length generated sequences need
    assert items(ds.padded_batch(2)) == [([1, 2], [[1, 0], [1, 1]]), ([3], [[1, 1, 1]])]

    def floats():
        yield 0.5, [1]
    bad = Dataset.from_generator(floats, output_signature=(tf.TensorSpec((), "int32"), tf.TensorSpec((None,), "int32")))
    with pytest.raises(TypeError, match=r"from_generator: element 0 has dtype float\d+, which does not convert"):
        list(bad)

    def wrong_shape():
        yield np.zeros(3, np.float32)
    bad = Dataset.from_generator(wrong_shape, output_signature=tf.TensorSpec((2,), "float32"))
    with pytest.raises(ValueError, match=r"element 0 has shape \(3,\), but output_signature expects \(2,\)"):
        list(bad)
    with pytest.raises(TypeError, match="must be a callable"):
        Dataset.from_generator(gen(), output_signature=tf.TensorSpec((), "int32"))
    # the older output_types / output_shapes
    ds = Dataset.from_generator(lambda: iter([[1, 2], [3, 4]]), output_types="float32", output_shapes=(2,))
    assert ds.element_spec == tf.TensorSpec((2,), "float32")
    assert next(ds.as_numpy_iterator()).dtype == np.float32


# -- batching -----------------------------------------------------------------------------------

def test_batch_and_drop_remainder():
    assert items(Dataset.range(8).batch(3)) == [[0, 1, 2], [3, 4, 5], [6, 7]]
    assert items(Dataset.range(8).batch(3, drop_remainder=True)) == [[0, 1, 2], [3, 4, 5]]
    assert Dataset.range(8).batch(3).element_spec.shape == (None,)
    assert Dataset.range(8).batch(3, drop_remainder=True).element_spec.shape == (3,)
    assert int(Dataset.range(8).batch(3).cardinality()) == 3
    assert int(Dataset.range(8).batch(3, drop_remainder=True).cardinality()) == 2
    # the per-element path (after a map) stacks the same batches as the row fast path
    slow = Dataset.range(8).map(lambda x: x).batch(3)
    assert items(slow) == [[0, 1, 2], [3, 4, 5], [6, 7]]


def test_batch_of_different_shapes_names_the_fix():
    ds = Dataset.range(1, 4).map(lambda x: np.full(int(x), x))
    with pytest.raises(ValueError, match=r"Dataset.batch: cannot batch elements of different shapes.*padded_batch"):
        list(ds.batch(2))


def test_unbatch_inverts_batch():
    ds = Dataset.from_tensor_slices((np.arange(10).reshape(5, 2), np.arange(5))).batch(2)
    back = ds.unbatch()
    assert items(back) == [([0, 1], 0), ([2, 3], 1), ([4, 5], 2), ([6, 7], 3), ([8, 9], 4)]
    assert back.element_spec[0].shape == (2,)


def test_padded_batch_as_the_documentation_shows():
    a = Dataset.range(1, 5).map(lambda x: np.full(int(x), x))
    assert items(a.padded_batch(2)) == [[[1, 0], [2, 2]], [[3, 3, 3, 0], [4, 4, 4, 4]]]
    assert items(a.padded_batch(2, padded_shapes=5)) == [[[1, 0, 0, 0, 0], [2, 2, 0, 0, 0]],
                                                         [[3, 3, 3, 0, 0], [4, 4, 4, 4, 0]]]
    assert items(a.padded_batch(2, padding_values=np.int64(-1))) == [[[1, -1], [2, 2]],
                                                                     [[3, 3, 3, -1], [4, 4, 4, 4]]]
    with pytest.raises(ValueError, match="larger than the padded shape"):
        list(a.padded_batch(2, padded_shapes=3))


def test_rebatch_as_the_documentation_shows():
    ds = Dataset.range(8).batch(4)
    assert items(ds.rebatch(2)) == [[0, 1], [2, 3], [4, 5], [6, 7]]
    assert items(ds.rebatch([2, 1, 1])) == [[0, 1], [2], [3], [4, 5], [6], [7]]
    assert items(Dataset.range(6).batch(4).rebatch(4)) == [[0, 1, 2, 3], [4, 5]]


# -- order --------------------------------------------------------------------------------------

def test_shuffle_is_a_permutation_within_the_buffer_window():
    n, buffer = 50, 5
    order = items(Dataset.range(n).shuffle(buffer, seed=3))
    assert sorted(order) == list(range(n))
    assert order != list(range(n))
    # with a buffer of b, output i is one of the first i + b input elements
    assert all(v < i + buffer for i, v in enumerate(order))
    assert items(Dataset.range(n).shuffle(1)) == list(range(n))      # a buffer of one keeps the order


def test_shuffle_seed_and_reshuffle_each_iteration():
    ds = Dataset.range(20).shuffle(20, seed=7)
    first, second = items(ds), items(ds)
    assert sorted(first) == sorted(second) == list(range(20))
    assert first != second                                            # a new order per pass
    assert items(Dataset.range(20).shuffle(20, seed=7)) == first       # the seed fixes the sequence
    fixed = Dataset.range(20).shuffle(20, seed=7, reshuffle_each_iteration=False)
    assert items(fixed) == items(fixed)
    unseeded = Dataset.range(20).shuffle(20, reshuffle_each_iteration=False)
    assert items(unseeded) == items(unseeded)
    # unseeded orders come from corenn's generator: set_random_seed reproduces them
    tf.utils.set_random_seed(11)
    a = items(Dataset.range(20).shuffle(20))
    tf.utils.set_random_seed(11)
    assert items(Dataset.range(20).shuffle(20)) == a


def test_shuffle_before_batch_takes_the_fast_path_with_the_same_order():
    # rows gathered with np.take (fast path) and elements stacked one by one (after a map)
    # come out in the same order for the same seed
    fast = Dataset.from_tensor_slices(np.arange(30)).shuffle(8, seed=5).batch(4)
    slow = Dataset.from_tensor_slices(np.arange(30)).map(lambda x: x).shuffle(8, seed=5).batch(4)
    assert items(fast) == items(slow)
    assert sorted(sum(items(fast), [])) == list(range(30))


def test_shuffle_then_repeat_reshuffles_each_epoch_and_repeat_then_shuffle_mixes_epochs():
    per_epoch = items(Dataset.range(6).shuffle(6, seed=1).repeat(2))
    assert sorted(per_epoch[:6]) == sorted(per_epoch[6:]) == list(range(6))
    mixed = items(Dataset.range(6).repeat(2).shuffle(12, seed=1))
    assert sorted(mixed) == sorted(list(range(6)) * 2)


# -- element-wise transformations ----------------------------------------------------------------

def test_map_unpacks_tuples_and_passes_dicts_whole():
    assert items(Dataset.range(1, 6).map(lambda x: x * 2)) == [2, 4, 6, 8, 10]
    pairs = Dataset.zip(Dataset.range(3), Dataset.range(3, 6))
    assert items(pairs.map(lambda x, y: x + y)) == [3, 5, 7]
    assert items(pairs.map(lambda x, y: [y, x])) == [(3, 0), (4, 1), (5, 2)]   # a list result is a tuple
    d = Dataset.from_tensor_slices({"a": [1, 2], "b": [10, 20]})
    assert items(d.map(lambda e: e["a"] + e["b"])) == [11, 22]
    # corenn Tensors (ops, layers) are results too
    out = items(Dataset.from_tensor_slices(np.array([[1.0, -2.0]], np.float32)).map(tf.ops.relu))
    assert out == [[1.0, 0.0]]
    assert Dataset.range(3).map(lambda x: (x, np.float32(x) / 2)).element_spec[1] == tf.TensorSpec((), "float32")
    ds = Dataset.range(3).map(lambda x: x, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    assert items(ds) == [0, 1, 2]


def test_filter_and_its_unknown_cardinality():
    ds = Dataset.range(10).filter(lambda x: x % 2 == 0)
    assert items(ds) == [0, 2, 4, 6, 8]
    assert int(ds.cardinality()) == tf.data.UNKNOWN_CARDINALITY
    with pytest.raises(TypeError, match="length is unknown"):
        len(ds)
    with pytest.raises(ValueError, match="predicate must return a scalar boolean"):
        list(Dataset.from_tensor_slices(np.ones((2, 3))).filter(lambda x: x > 0))


def test_repeat_take_skip_and_their_cardinalities():
    ds = Dataset.from_tensor_slices([1, 2, 3])
    assert items(ds.repeat(3)) == [1, 2, 3] * 3
    assert int(ds.repeat(3).cardinality()) == 9
    assert int(ds.repeat().cardinality()) == tf.data.INFINITE_CARDINALITY
    with pytest.raises(TypeError, match="infinite"):
        len(ds.repeat())
    assert items(ds.repeat().take(7)) == [1, 2, 3, 1, 2, 3, 1]
    assert int(ds.repeat().take(7).cardinality()) == 7
    r = Dataset.range(10)
    assert items(r.take(3)) == [0, 1, 2] and items(r.skip(7)) == [7, 8, 9]
    assert items(r.take(-1)) == list(range(10)) and items(r.skip(-1)) == []
    assert int(r.take(20).cardinality()) == 10 and int(r.skip(20).cardinality()) == 0
    assert len(r.skip(3)) == 7
    # take accepts cardinality()'s result, as scripts write `ds.take(ds.cardinality() // 5)`
    assert len(r.take(r.cardinality() // 5)) == 2


def test_shard_takes_every_nth_element():
    ds = Dataset.range(10)
    assert items(ds.shard(3, 0)) == [0, 3, 6, 9]
    assert items(ds.shard(3, 1)) == [1, 4, 7]
    assert int(ds.shard(3, 1).cardinality()) == 3 and int(ds.shard(3, 0).cardinality()) == 4
    # the shards of a shuffled dataset partition it (same seed on every worker)
    parts = [items(ds.shuffle(10, seed=2, reshuffle_each_iteration=False).shard(2, i)) for i in range(2)]
    assert sorted(parts[0] + parts[1]) == list(range(10))
    assert items(ds.shard(2, 1).batch(2)) == [[1, 3], [5, 7], [9]]
    with pytest.raises(ValueError, match=r"Dataset.shard: index must be in \[0, num_shards\)"):
        ds.shard(2, 2)


def test_prefetch_cache_concatenate_enumerate():
    r = Dataset.range(5)
    assert items(r.prefetch(tf.data.AUTOTUNE)) == list(range(5))
    calls = []
    cached = r.map(lambda x: calls.append(1) or x).cache()
    assert items(cached) == list(range(5)) and len(calls) == 5
    assert items(cached) == list(range(5)) and len(calls) == 5       # replayed, map not called again
    shuffled = Dataset.range(10).shuffle(10, seed=4).cache()
    assert items(shuffled) == items(shuffled)                          # the first pass's order, kept
    partial = r.map(lambda x: calls.append(1) or x).cache()
    assert items(partial.take(2)) == [0, 1]
    assert items(partial) == list(range(5))                            # a partial pass cached nothing
    assert items(Dataset.range(1, 4).concatenate(Dataset.range(4, 8))) == [1, 2, 3, 4, 5, 6, 7]
    assert int(Dataset.range(3).concatenate(Dataset.range(4)).cardinality()) == 7
    with pytest.raises(TypeError, match="concatenate: the datasets' elements differ"):
        Dataset.range(3).concatenate(Dataset.zip(Dataset.range(3), Dataset.range(3)))
    assert items(Dataset.from_tensor_slices([7, 8, 9]).enumerate(start=5)) == [(5, 7), (6, 8), (7, 9)]


def test_window_flat_map_interleave():
    w = Dataset.range(7).window(3, shift=2)
    assert [items(x) for x in w] == [[0, 1, 2], [2, 3, 4], [4, 5, 6], [6]]
    assert [items(x) for x in Dataset.range(7).window(3, shift=2, drop_remainder=True)] == \
        [[0, 1, 2], [2, 3, 4], [4, 5, 6]]
    assert [items(x) for x in Dataset.range(7).window(2, shift=3)] == [[0, 1], [3, 4], [6]]
    flat = Dataset.range(7).window(3, 1, drop_remainder=True).flat_map(lambda x: x.batch(3))
    assert items(flat) == [[0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5], [4, 5, 6]]
    inter = Dataset.range(1, 6).interleave(lambda x: Dataset.from_tensors(x).repeat(6), cycle_length=2,
                                           block_length=4)
    assert items(inter) == [1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 3, 3, 4, 4,
                            5, 5, 5, 5, 5, 5]


def test_reduce_apply_take_while_single_element():
    assert int(Dataset.range(5).reduce(np.int64(0), lambda s, x: s + x)) == 10
    assert items(Dataset.range(5).apply(lambda d: d.skip(3))) == [3, 4]
    assert items(Dataset.range(9).take_while(lambda x: x < 4)) == [0, 1, 2, 3]
    assert int(Dataset.range(1).get_single_element()) == 0
    with pytest.raises(ValueError, match="more than one element"):
        Dataset.range(2).get_single_element()


def test_iteration_gives_arrays_with_numpy_and_as_numpy_iterator_gives_plain_values():
    ds = Dataset.from_tensor_slices((np.arange(6, dtype=np.float32).reshape(3, 2), [0, 1, 2])).batch(2)
    for x, y in ds.take(1):
        assert isinstance(x, np.ndarray)
        np.testing.assert_array_equal(x.numpy(), [[0, 1], [2, 3]])
        assert type(x.numpy()) is np.ndarray
        assert y.numpy().tolist() == [0, 1]
    scalar = next(iter(Dataset.range(3)))
    assert scalar.numpy() == 0 and isinstance(scalar.numpy(), np.integer)
    first = next(Dataset.range(3).as_numpy_iterator())
    assert type(first) is np.int64
    strings = list(Dataset.from_tensor_slices(["a", "bc"]).as_numpy_iterator())
    assert strings == [b"a", b"bc"]                                    # strings are bytes, as in tf.data


def test_bad_arguments_name_the_call():
    with pytest.raises(ValueError, match=r"from_tensor_slices: all components must have the same size.*\(3,\), \(2,\)"):
        Dataset.from_tensor_slices((np.zeros(3), np.zeros(2)))
    with pytest.raises(ValueError, match="from_tensor_slices: each component must have a first dimension"):
        Dataset.from_tensor_slices(5)
    with pytest.raises(ValueError, match="Dataset.batch: batch_size must be >= 1, got 0"):
        Dataset.range(3).batch(0)
    with pytest.raises(TypeError, match="Dataset.batch: batch_size must be an integer"):
        Dataset.range(3).batch(2.5)
    with pytest.raises(ValueError, match="Dataset.shuffle: buffer_size must be >= 1"):
        Dataset.range(3).shuffle(0)
    with pytest.raises(TypeError, match="Dataset.map: map_func must be callable"):
        Dataset.range(3).map(3)
    with pytest.raises(ValueError, match="Dataset.unbatch: element 0 cannot be split into rows"):
        list(Dataset.from_tensors((np.zeros(3), np.zeros(2))).unbatch())


def test_sample_and_choose_from_datasets():
    a, b = Dataset.from_tensors(np.int64(0)).repeat(), Dataset.from_tensors(np.int64(1)).repeat()
    drawn = items(Dataset.sample_from_datasets([a, b], weights=[0.8, 0.2], seed=1).take(2000))
    assert 0.75 < drawn.count(0) / 2000 < 0.85
    assert drawn == items(Dataset.sample_from_datasets([a, b], weights=[0.8, 0.2], seed=1).take(2000))
    # an exhausted dataset drops out; with stop_on_empty_dataset it ends the result
    short, long = Dataset.range(3), Dataset.range(10, 20)
    mixed = items(Dataset.sample_from_datasets([short, long], seed=2))
    assert sorted(mixed) == [0, 1, 2] + list(range(10, 20))
    stopped = items(Dataset.sample_from_datasets([short, long], seed=2, stop_on_empty_dataset=True))
    assert len(stopped) < 13 and stopped == mixed[:len(stopped)]
    chosen = Dataset.choose_from_datasets([Dataset.range(0, 3), Dataset.range(10, 13)],
                                          Dataset.from_tensor_slices(np.array([0, 1, 1, 0, 0], np.int64)))
    assert items(chosen) == [0, 10, 11, 1, 2]
    assert tf.data.experimental.sample_from_datasets is Dataset.sample_from_datasets


def test_text_line_dataset_and_list_files(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"first line\nsecond\r\nthird")
    (tmp_path / "b.txt").write_bytes(b"other\n")
    assert items(tf.data.TextLineDataset(str(tmp_path / "a.txt"))) == [b"first line", b"second", b"third"]
    files = Dataset.list_files(str(tmp_path / "*.txt"), shuffle=False)
    assert items(files) == [str(tmp_path / "a.txt").encode(), str(tmp_path / "b.txt").encode()]
    assert items(tf.data.TextLineDataset(files)) == [b"first line", b"second", b"third", b"other"]
    assert sorted(items(Dataset.list_files(str(tmp_path / "*.txt"), seed=3))) == items(files)
    with pytest.raises(ValueError, match="list_files: no files match"):
        Dataset.list_files(str(tmp_path / "*.csv"))


def test_tensor_spec_shape_is_a_tensor_shape():
    """element_spec[i].shape.as_list(), as the tf.data guide reads a from_generator spec."""
    import corenn as tf
    ds = tf.data.Dataset.from_generator(
        lambda: iter([(np.arange(3, dtype=np.int32), np.int32(1))]),
        output_signature=(tf.TensorSpec(shape=(None,), dtype=tf.int32), tf.TensorSpec(shape=(), dtype=tf.int32)))
    spec = ds.element_spec[0]
    assert spec.shape.as_list() == [None] and spec.shape.rank == 1
    assert ds.element_spec[1].shape.as_list() == []
    assert tf.TensorSpec((2, 3)).shape == (2, 3) and tf.TensorSpec((2, 3)).shape.num_elements() == 6
    assert tf.TensorSpec(None).shape is None
