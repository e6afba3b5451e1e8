"""Invariants of corenn.data pipelines over random sizes (hypothesis): what tf.data guarantees
for any dataset length, batch size, buffer size and shard count."""
import numpy as np
from hypothesis import given, settings, strategies as st

from corenn.data import Dataset

SETTINGS = settings(max_examples=60, deadline=None)


def values(ds):
    return [np.asarray(e).tolist() for e in ds.as_numpy_iterator()]


@SETTINGS
@given(n=st.integers(0, 40), size=st.integers(1, 12), drop=st.booleans(), per_element=st.booleans())
def test_batch_cardinality_and_contents(n, size, drop, per_element):
    ds = Dataset.range(n)
    if per_element:   # elements stacked one by one instead of sliced from the source
        ds = ds.map(lambda x: x)
    batches = values(ds.batch(size, drop_remainder=drop))
    assert len(batches) == (n // size if drop else -(-n // size))
    assert int(Dataset.range(n).batch(size, drop_remainder=drop).cardinality()) == len(batches)
    flat = [v for b in batches for v in b]
    assert flat == list(range(len(flat))) and len(flat) == (n - n % size if drop else n)
    assert all(len(b) == size for b in batches[:-1])
    assert values(ds.batch(size).unbatch()) == list(range(n))


@SETTINGS
@given(n=st.integers(0, 40), buffer=st.integers(1, 50), seed=st.integers(0, 2**31), size=st.integers(1, 7))
def test_shuffle_is_a_permutation_with_bounded_displacement(n, buffer, seed, size):
    order = values(Dataset.range(n).shuffle(buffer, seed=seed))
    assert sorted(order) == list(range(n))
    assert all(v < i + buffer for i, v in enumerate(order))
    # the row fast path (shuffle then batch) draws the same order
    batched = values(Dataset.range(n).shuffle(buffer, seed=seed).batch(size))
    assert [v for b in batched for v in b] == order


@SETTINGS
@given(n=st.integers(0, 40), shards=st.integers(1, 6), data=st.data())
def test_shards_partition_the_dataset(n, shards, data):
    parts = [values(Dataset.range(n).shard(shards, i)) for i in range(shards)]
    assert sorted(v for p in parts for v in p) == list(range(n))
    index = data.draw(st.integers(0, shards - 1))
    assert int(Dataset.range(n).shard(shards, index).cardinality()) == len(parts[index])


@SETTINGS
@given(n=st.integers(0, 30), k=st.integers(0, 35), times=st.integers(0, 3))
def test_take_skip_repeat_compose(n, k, times):
    ds = Dataset.range(n)
    assert values(ds.take(k)) + values(ds.skip(k)) == list(range(n))
    assert int(ds.take(k).cardinality()) == len(values(ds.take(k)))
    assert int(ds.skip(k).cardinality()) == len(values(ds.skip(k)))
    assert values(ds.repeat(times)) == list(range(n)) * times
    assert int(ds.repeat(times).cardinality()) == n * times
